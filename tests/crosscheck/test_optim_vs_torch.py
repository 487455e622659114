"""npformer.optim against torch.optim: the same parameters and gradients for 10 steps give the
same parameters and optimizer state, step by step, for SGD, Adam and AdamW over two parameter
groups; clip_grad_norm_ against torch.nn.utils.clip_grad_norm_; the schedules against
torch.optim.lr_scheduler where torch has the same schedule.

Relative error = max |ours - torch| / max(max |torch|, 1) (tests/helpers.relative_error);
float64 must agree to 1e-12 and float32 to 1e-6 (measured: about 4e-16 and 2e-7). The
gradients span five orders of magnitude and include exact zeros, so Adam's sqrt(v) + eps sees
both regimes.
"""
import copy
import math
import warnings

import numpy as np
import pytest

import npformer.nn as nn
from npformer import optim
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-6}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
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
    assert set(opt.param_groups[0]) <= set(ref.param_groups[0])          # the same hyperparameter names
    for ours_group, torch_group in zip(opt.param_groups, ref.param_groups):
        for key, value in ours_group.items():
            if key != "params":
                assert value == torch_group[key], key

    worst = 0.0
    for t in range(STEPS):
        for p, q, g in zip(ours, theirs, grads[t]):
            p.grad = g.copy()
            q.grad = torch.tensor(g.copy())
        opt.step()
        ref.step()
        for i, (p, q) in enumerate(zip(ours, theirs)):
            assert p.data.dtype == dtype
            error = relative_error(p.data, q.detach().numpy())
            worst = max(worst, error)
            assert error <= TOLERANCE[dtype], f"step {t + 1}, parameter {i}: {error:.2e}"
    # the optimizer state too, entry by entry
    ours_state, torch_state = opt.state_dict()["state"], ref.state_dict()["state"]
    assert sorted(ours_state) == sorted(torch_state)
    for index, entry in torch_state.items():
        assert sorted(ours_state[index]) == sorted(entry)
        for key, value in entry.items():
            if key == "step":
                assert ours_state[index][key] == int(value.item()) == STEPS
            else:
                error = relative_error(ours_state[index][key], value.numpy())
                worst = max(worst, error)
                assert error <= TOLERANCE[dtype], f"state {index} {key}: {error:.2e}"
    record_torch_error(f"optim {case_id(case)} {np.dtype(dtype).name}", worst)


def test_resuming_from_torch_state_continues_like_torch():
    """A torch optimizer state_dict (tensors converted to arrays, torch-only group flags
    dropped) loads into npformer, which then takes the same steps torch takes."""
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
    names = set(opt.param_groups[0])
    opt.load_state_dict({
        "param_groups": [{k: v for k, v in g.items() if k in names} for g in saved["param_groups"]],
        "state": {i: {k: (v.numpy() if k != "step" else v.item()) for k, v in e.items()}
                  for i, e in saved["state"].items()}})
    for t in range(5, STEPS):
        for p, g in zip(ours, grads[t]):
            p.grad = g.copy()
        opt.step()
    error = max(relative_error(p.data, q.detach().numpy()) for p, q in zip(ours, theirs))
    record_torch_error("optim AdamW resumed from a torch state_dict", error)
    assert error <= 1e-12


# ---------------------------------------------------------------------------- clipping
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf, 0.0])
@pytest.mark.parametrize("max_norm", [0.1, 1e4])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    _, grads = inputs(dtype, seed=1)
    ours = [nn.Parameter(np.zeros(s, dtype=dtype)) for s in SHAPES]
    theirs = [torch.nn.Parameter(torch.zeros(s, dtype=TORCH_DTYPE[dtype])) for s in SHAPES]
    for p, q, g in zip(ours, theirs, grads[0]):
        p.grad = g.copy()
        q.grad = torch.tensor(g.copy())
    ours[1].grad = None
    theirs[1].grad = None
    total = optim.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total.dtype == dtype
    error = relative_error(total, expected.numpy())
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
            continue
        error = max(error, relative_error(p.grad, q.grad.numpy()))
    record_torch_error(f"clip_grad_norm_ p={norm_type} max_norm={max_norm} {np.dtype(dtype).name}", error)
    assert error <= (1e-14 if dtype == np.float64 else 1e-6)


def test_clip_grad_norm_non_finite_matches_torch():
    for bad in (np.inf, np.nan):
        g = np.array([1.0, bad, -2.0])
        p, q = nn.Parameter(np.zeros(3)), torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
        p.grad, q.grad = g.copy(), torch.tensor(g.copy())
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            total = optim.clip_grad_norm_([p], 1.0)
        expected = torch.nn.utils.clip_grad_norm_([q], 1.0)
        np.testing.assert_array_equal(total, expected.numpy())
        np.testing.assert_array_equal(p.grad, q.grad.numpy())          # NaN where torch has NaN
        with pytest.raises(RuntimeError, match="non-finite"):
            optim.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
        with pytest.raises(RuntimeError, match="non-finite"):
            torch.nn.utils.clip_grad_norm_([q], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_matches_torch():
    _, grads = inputs(np.float64, seed=2)
    for g in grads[0]:
        p, q = nn.Parameter(np.zeros_like(g)), torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64))
        p.grad, q.grad = g.copy(), torch.tensor(g.copy())
        optim.clip_grad_value_([p], 0.05)
        torch.nn.utils.clip_grad_value_([q], 0.05)
        np.testing.assert_array_equal(p.grad, q.grad.numpy())


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
    """The lr our LRScheduler sets at steps 0 .. steps-1."""
    opt = optim.SGD([nn.Parameter(np.zeros(1))], lr=123.0)
    scheduler = optim.LRScheduler(opt, schedule)
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
