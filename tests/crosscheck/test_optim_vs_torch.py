"""npformer.optim against torch.optim: the same parameters and gradients for 10 steps give the
same parameters and optimizer state, step by step, for SGD, Adam, AdamW and Adagrad over two
parameter groups; the constructors' signatures, the param_groups' keys, named parameters and the
implementation flags (foreach, fused, capturable, differentiable) as torch 2.13 has them on the
CPU; npformer's own schedules (ScheduleSetter) against torch.optim.lr_scheduler where torch has
the same schedule. (Gradient clipping: test_nn_utils_vs_torch.py; torch's schedulers:
test_lr_scheduler_vs_torch.py.)

Relative error = max |ours - torch| / max(max |torch|, 1) (tests/helpers.relative_error);
float64 must agree to 1e-12 and float32 to 1e-6 (measured: about 4e-16 and 2e-7). The
gradients span five orders of magnitude and include exact zeros, so Adam's sqrt(v) + eps sees
both regimes.
"""
import copy

import numpy as np
import pytest

import npformer as nf
import npformer.nn as nn
from npformer import optim
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-6}
SHAPES = [(4, 3), (6,), (2, 3, 2), ()]
STEPS = 10

# (name, optimizer hyperparameters, group-1 overrides, group-2 overrides): the two groups differ
# in lr and weight decay (and, where it matters, momentum or betas)
CASES = [
    ("SGD", dict(lr=0.1), dict(), dict(lr=0.03)),
    ("SGD", dict(lr=0.1, momentum=0.9), dict(weight_decay=0.1), dict(lr=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True), dict(weight_decay=0.05), dict(lr=0.02, momentum=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3), dict(weight_decay=0.2), dict(dampening=0.0)),
    ("SGD", dict(lr=0.05, momentum=0.9, maximize=True), dict(weight_decay=0.1), dict(lr=0.01)),
    ("Adam", dict(lr=1e-2), dict(), dict(lr=3e-3)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1), dict(), dict(lr=3e-3, weight_decay=0.0)),
    ("Adam", dict(lr=1e-2, amsgrad=True), dict(weight_decay=0.05), dict(betas=(0.8, 0.99))),
    ("Adam", dict(lr=2e-2, betas=(0.3, 0.9), eps=1e-4), dict(), dict(lr=1e-2, maximize=True)),
    ("AdamW", dict(lr=1e-2), dict(weight_decay=0.1), dict(weight_decay=0.0)),
    ("AdamW", dict(lr=1e-2, amsgrad=True), dict(weight_decay=0.3), dict(lr=5e-3)),
    ("AdamW", dict(lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1), dict(), dict(lr=3e-3, amsgrad=True)),
    ("Adam", dict(lr=1e-2, decoupled_weight_decay=True), dict(weight_decay=0.1), dict(lr=3e-3)),
    ("AdamW", dict(lr=1e-2, fused=True), dict(weight_decay=0.1), dict(foreach=None)),
    ("SGD", dict(lr=0.1, momentum=0.9, foreach=True), dict(), dict(lr=0.03, foreach=False)),
    ("Adagrad", dict(lr=0.1), dict(), dict(lr=0.03)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1), dict(), dict(initial_accumulator_value=0.2)),
    ("Adagrad", dict(lr=0.05, eps=1e-3, maximize=True), dict(weight_decay=0.05), dict(lr_decay=0.01)),
]


def case_id(case):
    name, hyper, g1, g2 = case
    return f"{name}-{hyper}-{g1}-{g2}".replace(" ", "")


def inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = [np.array(rng.standard_normal(s), dtype=dtype) for s in SHAPES]
    # gradients of varied scale, some entries exactly zero, so v spans orders of magnitude
    grads = []
    for _ in range(STEPS):
        step = []
        for s in SHAPES:
            g = rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2, size=s)
            step.append(np.array(np.where(rng.random(s) < 0.1, 0.0, g), dtype=dtype))
        grads.append(step)
    return params, grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_optimizer_matches_torch(case, dtype):
    name, hyper, group1, group2 = case
    initial, grads = inputs(dtype)
    ours = [nn.Parameter(p.copy()) for p in initial]
    theirs = [torch.nn.Parameter(torch.tensor(p.copy())) for p in initial]
    opt = getattr(optim, name)([dict(group1, params=ours[:2]), dict(group2, params=ours[2:])], **hyper)
    ref = getattr(torch.optim, name)([dict(group1, params=theirs[:2]), dict(group2, params=theirs[2:])], **hyper)
    for ours_group, torch_group in zip(opt.param_groups, ref.param_groups):
        assert list(ours_group) == list(torch_group)                   # torch's keys, in torch's order
        for key, value in ours_group.items():
            if key != "params":
                assert value == torch_group[key], key
    if name == "Adagrad":                                              # its state is made at construction
        assert_same_state(opt.state_dict(), ref.state_dict(), dtype, 0)

    worst = 0.0
    for t in range(STEPS):
        for p, q, g in zip(ours, theirs, grads[t]):
            p.grad = nf.tensor(g)
            q.grad = torch.tensor(g.copy())
        opt.step()
        ref.step()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            assert p.dtype == dtype
            error = relative_error(p.numpy(), q.detach().numpy())
            worst = max(worst, error)
            assert error <= TOLERANCE[dtype], f"step {t + 1}, parameter {i}: {error:.2e}"
    # the optimizer state too, entry by entry
    worst = max(worst, assert_same_state(opt.state_dict(), ref.state_dict(), dtype, STEPS))
    record_torch_error(f"optim {case_id(case)} {np.dtype(dtype).name}", worst)


def assert_same_state(ours, theirs, dtype, steps):
    """The same state_dict: groups with torch's keys and values; state entries with torch's keys,
    arrays equal to torch's tensors, ``step`` an int equal to torch's float tensor."""
    assert ours["param_groups"] == theirs["param_groups"]
    ours_state, torch_state = ours["state"], theirs["state"]
    assert sorted(ours_state) == sorted(torch_state)
    worst = 0.0
    for index, entry in torch_state.items():
        assert list(ours_state[index]) == list(entry)                  # the same keys in the same order
        for key, value in entry.items():
            if key == "step":
                assert ours_state[index][key] == int(value.item()) == (steps if steps is not None else value.item())
            else:
                error = relative_error(ours_state[index][key], value.numpy())
                worst = max(worst, error)
                assert error <= TOLERANCE[dtype], f"state {index} {key}: {error:.2e}"
    return worst


def test_resuming_from_torch_state_continues_like_torch():
    """A torch optimizer state_dict (tensors converted to arrays, the groups as torch saved
    them) loads into npformer, which then takes the same steps torch takes."""
    initial, grads = inputs(np.float64, seed=3)
    theirs = [torch.nn.Parameter(torch.tensor(p.copy())) for p in initial]
    groups = lambda ps: [{"params": ps[:2], "weight_decay": 0.1}, {"params": ps[2:], "lr": 3e-3}]  # noqa: E731
    ref = torch.optim.AdamW(groups(theirs), lr=1e-2, amsgrad=True)
    for t in range(STEPS):
        for q, g in zip(theirs, grads[t]):
            q.grad = torch.tensor(g)
        ref.step()
        if t == 4:
            saved = copy.deepcopy(ref.state_dict())                   # torch's holds live tensors
            params_then = [q.detach().numpy().copy() for q in theirs]
    ours = [nn.Parameter(p) for p in params_then]
    opt = optim.AdamW(groups(ours), lr=1e-2, amsgrad=True)
    opt.load_state_dict({                                              # torch's groups as they are
        "param_groups": saved["param_groups"],
        "state": {i: {k: (v.numpy() if k != "step" else v.item()) for k, v in e.items()}
                  for i, e in saved["state"].items()}})
    for t in range(5, STEPS):
        for p, g in zip(ours, grads[t]):
            p.grad = nf.tensor(g)
        opt.step()
    error = max(relative_error(p.numpy(), q.detach().numpy()) for p, q in zip(ours, theirs))
    record_torch_error("optim AdamW resumed from a torch state_dict", error)
    assert error <= 1e-12


# ---------------------------------------------------------------------------- schedules
def torch_lrs(make_scheduler, base_lr, steps):
    """The lr of torch's first param group at steps 0 .. steps-1 (scheduler.step() after each
    optimizer.step(), as in a training loop)."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=base_lr)
    scheduler = make_scheduler(opt)
    return _lrs(opt, scheduler, steps)


def _lrs(opt, scheduler, steps):
    """The first group's lr at steps 0 .. steps-1, each optimizer.step() followed by scheduler.step()
    (torch's and ours take the same calls)."""
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return np.array(lrs)


def our_lrs(schedule, steps):
    """The lr a ScheduleSetter sets at steps 0 .. steps-1."""
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=123.0)
    scheduler = optim.ScheduleSetter(opt, schedule)
    return _lrs(opt, scheduler, steps)


def compare_schedules(what, ours, theirs, tolerance=1e-12):
    # the lrs are small numbers: compare relative to the peak lr, not to 1
    scale = float(np.max(np.abs(theirs)))
    error = float(np.max(np.abs(ours - theirs))) / scale
    record_torch_error(what, error)
    assert error <= tolerance, f"{what}: {error:.2e}"


LR, MIN_LR, WARMUP, DECAY = 6e-4, 6e-5, 20, 300


def test_warmup_cosine_matches_lambda_lr_with_nanogpts_formula():
    schedule = optim.WarmupCosine(LR, WARMUP, DECAY, MIN_LR)
    theirs = torch_lrs(lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda it: schedule(it) / LR), LR,
                       DECAY + 50)
    compare_schedules("schedule WarmupCosine vs LambdaLR", our_lrs(schedule, DECAY + 50), theirs)


def test_warmup_cosine_matches_linear_then_cosine_annealing():
    """nanoGPT's warmup is LinearLR from 1/(w+1) to w/(w+1) over w-1 steps; its decay is
    CosineAnnealingLR(T_max = lr_decay_iters - warmup_iters, eta_min = min_lr)."""
    def make(opt):
        warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / (WARMUP + 1), end_factor=WARMUP / (WARMUP + 1),
                                                   total_iters=WARMUP - 1)
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=DECAY - WARMUP, eta_min=MIN_LR)
        return torch.optim.lr_scheduler.SequentialLR(opt, [warmup, cosine], milestones=[WARMUP])

    theirs = torch_lrs(make, LR, DECAY + 1)                            # torch's cosine rises again after
    ours = our_lrs(optim.WarmupCosine(LR, WARMUP, DECAY, MIN_LR), DECAY + 1)
    compare_schedules("schedule WarmupCosine vs LinearLR + CosineAnnealingLR", ours, theirs)


def test_warmup_linear_matches_two_linear_lrs():
    def make(opt):
        warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / (WARMUP + 1), end_factor=WARMUP / (WARMUP + 1),
                                                   total_iters=WARMUP - 1)
        decay = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=MIN_LR / LR,
                                                  total_iters=DECAY - WARMUP)
        return torch.optim.lr_scheduler.SequentialLR(opt, [warmup, decay], milestones=[WARMUP])

    theirs = torch_lrs(make, LR, DECAY + 50)                           # LinearLR holds end_factor after
    ours = our_lrs(optim.WarmupLinear(LR, WARMUP, DECAY, MIN_LR), DECAY + 50)
    compare_schedules("schedule WarmupLinear vs LinearLR + LinearLR", ours, theirs)


def test_noam_and_constant_match_lambda_lr():
    noam = optim.Noam(512, 400, factor=2.0)
    theirs = torch_lrs(lambda opt: torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 2.0 * 512 ** -0.5 * min(max(step, 1) ** -0.5, max(step, 1) * 400 ** -1.5)), 1.0, 2000)
    compare_schedules("schedule Noam vs LambdaLR", our_lrs(noam, 2000), theirs)
    theirs = torch_lrs(lambda opt: torch.optim.lr_scheduler.ConstantLR(opt, factor=1.0, total_iters=0), 3e-4, 10)
    compare_schedules("schedule Constant vs ConstantLR", our_lrs(optim.Constant(3e-4), 10), theirs, tolerance=0.0)


# ---------------------------------------------------------------------------- torch's surface
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad"])
def test_signatures_defaults_and_group_keys_are_torchs(name):
    import inspect
    ours, theirs = inspect.signature(getattr(optim, name)), inspect.signature(getattr(torch.optim, name))
    assert list(ours.parameters) == list(theirs.parameters)
    assert [p.kind for p in ours.parameters.values()] == [p.kind for p in theirs.parameters.values()]
    assert [p.default for p in ours.parameters.values()] == [p.default for p in theirs.parameters.values()]
    p, q = nn.Parameter(np.zeros(2)), torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))
    opt, ref = getattr(optim, name)([p]), getattr(torch.optim, name)([q])
    assert opt.defaults == ref.defaults and list(opt.defaults) == list(ref.defaults)
    assert opt.state_dict()["param_groups"] == ref.state_dict()["param_groups"]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad"])
def test_implementation_flags_behave_as_torch_on_the_cpu(name):
    """foreach and fused run (one NumPy path: the same numbers as without them); fused with
    foreach or differentiable fails as in torch; differentiable=True and capturable=True without
    fused, which torch on the CPU accepts and then fails at step(), fail at construction."""
    def make(lib, **flags):
        p = nn.Parameter(np.ones(3)) if lib is optim else torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
        return lib, p, getattr(lib, name)([p], lr=0.1, **flags)

    plain = None
    for flags in [dict(), dict(foreach=True), dict(foreach=False), dict(fused=True), dict(fused=False)]:
        for lib in (optim, torch.optim):
            _, p, opt = make(lib, **flags)
            p.grad = nf.tensor(np.array([1.0, -2.0, 0.5])) if lib is optim else torch.tensor([1.0, -2.0, 0.5],
                                                                                             dtype=torch.float64)
            opt.step()
            opt.step()
            value = p.numpy().copy() if lib is optim else p.detach().numpy()
            plain = value if plain is None else plain
            assert relative_error(value, plain) <= 1e-15, (flags, lib.__name__)
    for flags, match in [(dict(fused=True, foreach=True), "`fused` and `foreach` cannot be `True` together"),
                         (dict(fused=True, differentiable=True), "`fused` does not support `differentiable`")]:
        with pytest.raises(RuntimeError, match=match):
            make(optim, **flags)
        with pytest.raises(RuntimeError, match=match):
            make(torch.optim, **flags)
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        make(optim, differentiable=True)
    if name in ("Adam", "AdamW"):
        with pytest.raises(ValueError, match="capturable=True needs parameters on a CUDA"):
            make(optim, capturable=True)
        make(optim, capturable=True, fused=True)                        # torch runs this on the CPU too
    with pytest.raises(ValueError, match="foreach must be None, True or False"):
        make(optim, foreach="yes")


def test_named_parameters_record_param_names_as_torch():
    model = nn.Linear(3, 2)
    reference = torch.nn.Linear(3, 2)
    opt = optim.AdamW(model.named_parameters(), lr=1e-2)
    ref = torch.optim.AdamW(reference.named_parameters(), lr=1e-2)
    assert opt.param_groups[0]["param_names"] == ref.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.state_dict()["param_groups"] == ref.state_dict()["param_groups"]
    extra, torch_extra = nn.Parameter(np.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="all optimizer param groups should be with/without names"):
        opt.add_param_group({"params": [extra]})
    with pytest.raises(ValueError, match="all optimizer param groups should be with/without names"):
        ref.add_param_group({"params": [torch_extra]})
    opt.add_param_group({"params": [("extra", extra)], "lr": 0.5})
    ref.add_param_group({"params": [("extra", torch_extra)], "lr": 0.5})
    assert opt.state_dict()["param_groups"] == ref.state_dict()["param_groups"]
    with pytest.raises(ValueError, match="with/without names"):
        optim.SGD([("a", nn.Parameter(np.zeros(1))), nn.Parameter(np.zeros(1))])


def test_add_param_group_takes_the_defaults_and_steps_as_torch():
    initial, grads = inputs(np.float64, seed=4)
    ours = [nn.Parameter(p.copy()) for p in initial]
    theirs = [torch.nn.Parameter(torch.tensor(p.copy())) for p in initial]
    opt = optim.Adam(ours[:2], lr=1e-2, weight_decay=0.1)
    ref = torch.optim.Adam(theirs[:2], lr=1e-2, weight_decay=0.1)
    for t in range(STEPS):
        if t == 3:
            opt.add_param_group({"params": ours[2:], "lr": 5e-3, "amsgrad": True})
            ref.add_param_group({"params": theirs[2:], "lr": 5e-3, "amsgrad": True})
            assert opt.state_dict()["param_groups"] == ref.state_dict()["param_groups"]
        for p, q, g in zip(ours, theirs, grads[t]):
            p.grad = nf.tensor(g)
            q.grad = torch.tensor(g.copy())
        opt.step()
        ref.step()
    error = max(relative_error(p.numpy(), q.detach().numpy()) for p, q in zip(ours, theirs))
    record_torch_error("optim Adam add_param_group mid-run float64", error)
    assert error <= 1e-12
    assert_same_state(opt.state_dict(), ref.state_dict(), np.float64, None)       # steps 10 and 7


def test_an_lr_written_into_param_groups_is_what_step_uses():
    initial, grads = inputs(np.float64, seed=5)
    ours = [nn.Parameter(p.copy()) for p in initial]
    theirs = [torch.nn.Parameter(torch.tensor(p.copy())) for p in initial]
    opt = optim.SGD(ours, lr=0.1, momentum=0.9)
    ref = torch.optim.SGD(theirs, lr=0.1, momentum=0.9)
    for t in range(STEPS):
        opt.param_groups[0]["lr"] = ref.param_groups[0]["lr"] = 0.1 / (t + 1)
        opt.param_groups[0]["momentum"] = ref.param_groups[0]["momentum"] = 0.5 + 0.04 * t
        for p, q, g in zip(ours, theirs, grads[t]):
            p.grad = nf.tensor(g)
            q.grad = torch.tensor(g.copy())
        opt.step()
        ref.step()
    error = max(relative_error(p.numpy(), q.detach().numpy()) for p, q in zip(ours, theirs))
    record_torch_error("optim SGD lr and momentum changed between steps float64", error)
    assert error <= 1e-12
