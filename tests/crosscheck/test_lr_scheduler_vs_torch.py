"""npformer.optim.lr_scheduler against torch.optim.lr_scheduler (torch 2.13).

Each case builds the same scheduler over the same optimizer (three parameter groups with
different lrs) in both libraries and compares, step by step:

- every group's lr (and momentum or beta1, which OneCycleLR and CyclicLR cycle), get_last_lr()
  and last_epoch, over enough steps to pass every milestone, restart and phase;
- state_dict(): the same keys and the same values, at construction and after steps;
- resuming: torch's scheduler and optimizer state, taken mid-run, loaded into a fresh npformer
  scheduler and optimizer, continue with torch's lrs; and npformer's own round trip.

Both compute in Python floats with the same formulas, so the lrs agree to the last bit in
practice; the bound is 1e-12 relative to the largest lr. ReduceLROnPlateau is driven by a fixed
metric sequence with plateaus; step(epoch) (the closed forms) is compared too. Finally a real
training run (gradients, SGD + OneCycleLR, Adam + CyclicLR) checks that the lr and momentum a
scheduler writes into param_groups are what optimizer.step() uses.
"""
import copy
import math
import warnings
from collections import Counter

import numpy as np
import pytest

import npformer as nf
import npformer.nn as nn
from npformer import optim
from npformer.optim import lr_scheduler as ours_module
from tests.conftest import record_torch_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")
from torch.optim import lr_scheduler as torch_module  # noqa: E402

TOLERANCE = 1e-12
LRS = (0.1, 0.03, 0.5)          # the three groups' lrs


class Halve:
    """A callable object (its __dict__ is saved by LambdaLR.state_dict, as torch does)."""

    def __init__(self, every):
        self.every = every

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


def lambda_lr(L, o):
    return L.LambdaLR(o, [lambda e: 0.95 ** e, Halve(3), lambda e: 1.0 / (1 + e)])


# (id, optimizer name, momentum kind, scheduler factory taking the lr_scheduler module and the
# optimizer, steps); every factory builds the same scheduler under either library
CASES = [
    ("LambdaLR", "SGD", lambda_lr, 30),
    ("LambdaLR-one", "SGD", lambda L, o: L.LambdaLR(o, lambda e: 1.0 - e / 40), 30),
    ("MultiplicativeLR", "SGD", lambda L, o: L.MultiplicativeLR(o, [lambda e: 0.9, Halve(4), lambda e: 1.01]), 30),
    ("StepLR", "SGD", lambda L, o: L.StepLR(o, step_size=4), 30),
    ("StepLR-gamma", "Adam", lambda L, o: L.StepLR(o, 3, gamma=0.7), 30),
    ("MultiStepLR", "SGD", lambda L, o: L.MultiStepLR(o, [3, 7, 7, 20], gamma=0.5), 30),
    ("ConstantLR", "SGD", lambda L, o: L.ConstantLR(o), 12),
    ("ConstantLR-factor", "Adam", lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=7), 12),
    ("LinearLR", "SGD", lambda L, o: L.LinearLR(o), 12),
    ("LinearLR-down", "SGD", lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.05, total_iters=9), 15),
    ("ExponentialLR", "SGD", lambda L, o: L.ExponentialLR(o, gamma=0.9), 30),
    ("PolynomialLR", "SGD", lambda L, o: L.PolynomialLR(o), 10),
    ("PolynomialLR-power", "Adam", lambda L, o: L.PolynomialLR(o, total_iters=12, power=2.5), 20),
    ("CosineAnnealingLR", "SGD", lambda L, o: L.CosineAnnealingLR(o, T_max=10), 45),
    ("CosineAnnealingLR-eta", "Adam", lambda L, o: L.CosineAnnealingLR(o, T_max=7, eta_min=0.01), 45),
    ("CosineAnnealingWarmRestarts", "SGD", lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=5), 30),
    ("CosineAnnealingWarmRestarts-mult", "SGD",
     lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=1e-3), 50),
    ("OneCycleLR", "SGD", lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.3, 2.0], total_steps=40), 40),
    ("OneCycleLR-linear-3phase", "Adam",
     lambda L, o: L.OneCycleLR(o, max_lr=0.2, epochs=5, steps_per_epoch=7, pct_start=0.25, anneal_strategy="linear",
                               three_phase=True, div_factor=10.0, final_div_factor=100.0), 35),
    ("OneCycleLR-no-momentum", "SGD",
     lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=20, cycle_momentum=False, pct_start=0.5), 20),
    ("CyclicLR", "SGD", lambda L, o: L.CyclicLR(o, base_lr=0.01, max_lr=[0.1, 0.2, 0.3], step_size_up=4), 40),
    ("CyclicLR-triangular2", "SGD",
     lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=5, mode="triangular2"), 40),
    ("CyclicLR-exp_range-adam", "Adam",
     lambda L, o: L.CyclicLR(o, [0.001, 0.002, 0.003], 0.1, step_size_up=5, mode="exp_range", gamma=0.97), 40),
    ("CyclicLR-scale_fn", "SGD",
     lambda L, o: L.CyclicLR(o, 0.01, 0.1, step_size_up=2, scale_fn=Halve(2), scale_mode="iterations",
                             cycle_momentum=False), 20),
    ("SequentialLR", "SGD",
     lambda L, o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=4), L.ExponentialLR(o, 0.9)],
                                 milestones=[5]), 30),
    ("SequentialLR-warmup-cosine", "Adam",
     lambda L, o: L.SequentialLR(o, [L.ConstantLR(o, factor=0.1, total_iters=3), L.CosineAnnealingLR(o, T_max=10),
                                     L.StepLR(o, 2)], milestones=[3, 13]), 30),
    ("ChainedScheduler", "SGD",
     lambda L, o: L.ChainedScheduler([L.ConstantLR(o, factor=0.5, total_iters=3), L.ExponentialLR(o, 0.9),
                                      L.MultiStepLR(o, [4, 8])]), 20),
    ("ChainedScheduler-optimizer", "Adam",
     lambda L, o: L.ChainedScheduler([L.LinearLR(o, 0.2, total_iters=5), L.CosineAnnealingLR(o, 9)], optimizer=o), 25),
]


def case_id(case):
    return case[0]


def make_optimizer(lib, name, dtype=np.float64):
    """Three groups with LRS; SGD with momentum (so CyclicLR/OneCycleLR can cycle it)."""
    hyper = dict(momentum=0.9) if name == "SGD" else dict(betas=(0.9, 0.99))
    if lib == "torch":
        params = [torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)) for _ in LRS]
        groups = [{"params": [p], "lr": lr} for p, lr in zip(params, LRS)]
        return getattr(torch.optim, name)(groups, **hyper), params
    params = [nn.Parameter(np.zeros(2, dtype=dtype)) for _ in LRS]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, LRS)]
    return getattr(optim, name)(groups, **hyper), params


def observe(optimizer, scheduler):
    """Every group's lr and momentum (or beta1), then get_last_lr() and last_epoch."""
    row = []
    for group in optimizer.param_groups:
        row.append(group["lr"])
        row.append(group["betas"][0] if "betas" in group else group["momentum"])
    row.extend(scheduler.get_last_lr())
    row.append(getattr(scheduler, "last_epoch", 0))
    return row


def run(optimizer, scheduler, steps):
    rows = [observe(optimizer, scheduler)]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        rows.append(observe(optimizer, scheduler))
    return np.array(rows, dtype=np.float64)


def lr_error(ours, theirs):
    """max |ours - theirs| over the run, relative to the largest value."""
    if ours.shape != theirs.shape:
        raise AssertionError(f"shapes differ: {ours.shape} vs {theirs.shape}")
    return float(np.max(np.abs(ours - theirs)) / max(float(np.max(np.abs(theirs))), 1e-300))


def assert_same_state(ours, theirs, where):
    """Equal state dicts: the same keys, and values equal (floats to TOLERANCE, relative)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{where}: {type(ours).__name__} is not a dict"
        assert set(ours) == set(theirs), f"{where}: keys differ: {sorted(set(ours) ^ set(theirs), key=str)}"
        if isinstance(theirs, Counter):
            assert isinstance(ours, Counter), where
        for key in theirs:
            assert_same_state(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(theirs), f"{where}: {ours!r} vs {theirs!r}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same_state(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float) and not isinstance(ours, bool):
        assert isinstance(ours, (int, float)), f"{where}: {ours!r} vs {theirs!r}"
        if math.isinf(theirs) or math.isnan(theirs):
            assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), f"{where}: {ours!r} vs {theirs!r}"
        else:
            assert abs(ours - theirs) <= TOLERANCE * max(abs(theirs), 1e-300), f"{where}: {ours!r} vs {theirs!r}"
    else:
        assert type(ours) is type(theirs) and ours == theirs, f"{where}: {ours!r} vs {theirs!r}"


@pytest.fixture(autouse=True)
def _no_order_warnings():
    # both libraries warn alike about step order (tested below); the runs here step correctly
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ---------------------------------------------------------------------------- lr sequences
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_lr_sequence_and_state_dict_match_torch(case):
    name, optimizer_name, factory, steps = case
    theirs_opt, _ = make_optimizer("torch", optimizer_name)
    ours_opt, _ = make_optimizer("npformer", optimizer_name)
    theirs = factory(torch_module, theirs_opt)
    ours = factory(ours_module, ours_opt)
    assert_same_state(ours.state_dict(), theirs.state_dict(), f"{name} at construction")
    for ours_group, torch_group in zip(ours_opt.param_groups, theirs_opt.param_groups):
        assert set(ours_group) == set(torch_group)           # initial_lr, max_lr, base_momentum, ...
    error = lr_error(run(ours_opt, ours, steps), run(theirs_opt, theirs, steps))
    record_torch_error(f"lr_scheduler {name} lrs float64", error)
    assert error <= TOLERANCE, f"{name}: {error:.2e}"
    assert_same_state(ours.state_dict(), theirs.state_dict(), f"{name} after {steps} steps")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_resuming_from_torch_state_continues_like_torch(case):
    """Torch's scheduler and optimizer state after k steps, loaded into a fresh npformer
    scheduler and optimizer (in torch's order: scheduler, then optimizer), continue alike."""
    name, optimizer_name, factory, steps = case
    k = steps // 2 + 1
    theirs_opt, _ = make_optimizer("torch", optimizer_name)
    theirs = factory(torch_module, theirs_opt)
    run(theirs_opt, theirs, k)
    saved_scheduler = copy.deepcopy(theirs.state_dict())
    saved_optimizer = copy.deepcopy(theirs_opt.state_dict())

    ours_opt, _ = make_optimizer("npformer", optimizer_name)
    ours = factory(ours_module, ours_opt)
    ours.load_state_dict(saved_scheduler)
    ours_opt.load_state_dict(saved_optimizer)                  # no per-parameter state: no gradients
    assert_same_state(ours.state_dict(), theirs.state_dict(), f"{name} loaded")
    error = lr_error(run(ours_opt, ours, steps - k), run(theirs_opt, theirs, steps - k))
    record_torch_error(f"lr_scheduler {name} resumed float64", error)
    assert error <= TOLERANCE, f"{name}: {error:.2e}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_own_state_dict_round_trip(case):
    name, optimizer_name, factory, steps = case
    k = steps // 3 + 1
    first_opt, _ = make_optimizer("npformer", optimizer_name)
    first = factory(ours_module, first_opt)
    run(first_opt, first, k)
    second_opt, _ = make_optimizer("npformer", optimizer_name)
    second = factory(ours_module, second_opt)
    second.load_state_dict(copy.deepcopy(first.state_dict()))
    second_opt.load_state_dict(copy.deepcopy(first_opt.state_dict()))
    a, b = run(first_opt, first, steps - k), run(second_opt, second, steps - k)
    np.testing.assert_array_equal(a, b)


def test_lambda_lr_state_dict_keeps_callable_objects_and_drops_functions():
    theirs_opt, _ = make_optimizer("torch", "SGD")
    ours_opt, _ = make_optimizer("npformer", "SGD")
    theirs, ours = lambda_lr(torch_module, theirs_opt), lambda_lr(ours_module, ours_opt)
    assert ours.state_dict()["lr_lambdas"] == theirs.state_dict()["lr_lambdas"] == [None, {"every": 3}, None]
    saved = ours.state_dict()
    saved["lr_lambdas"] = [None, {"every": 7}, None]
    fresh_opt, _ = make_optimizer("npformer", "SGD")
    fresh = lambda_lr(ours_module, fresh_opt)
    fresh.load_state_dict(saved)
    assert fresh.lr_lambdas[1].every == 7 and saved["lr_lambdas"][1] == {"every": 7}


# ---------------------------------------------------------------------------- ReduceLROnPlateau
METRICS = [1.0, 0.9, 0.9, 0.9, 0.9, 0.85, 0.8499, 0.8499, 0.8499, 0.8499, 0.8499, 0.7, 0.71, 0.72, 0.73, 0.74,
           0.75, 0.76, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]


@pytest.mark.parametrize("settings", [
    dict(patience=2),
    dict(mode="max", patience=1, factor=0.5),
    dict(patience=1, threshold=0.01, threshold_mode="abs", cooldown=2),
    dict(patience=0, factor=0.3, min_lr=[0.01, 0.0, 0.2]),
    dict(patience=1, factor=0.5, min_lr=0.02, eps=1e-3),
    dict(mode="max", threshold_mode="abs", threshold=0.0, patience=3),
], ids=str)
def test_reduce_lr_on_plateau_matches_torch(settings):
    metrics = METRICS if settings.get("mode") != "max" else [-m for m in METRICS]
    results, states = [], []
    for lib, module in (("npformer", ours_module), ("torch", torch_module)):
        opt, _ = make_optimizer(lib, "SGD")
        scheduler = module.ReduceLROnPlateau(opt, **settings)
        rows = []
        for metric in metrics:
            opt.step()
            scheduler.step(metric)
            rows.append(observe(opt, scheduler)
                        + [scheduler.best, scheduler.num_bad_epochs, scheduler.cooldown_counter])
        results.append(np.array(rows, dtype=np.float64))
        states.append(scheduler.state_dict())
    error = lr_error(*results)
    record_torch_error(f"lr_scheduler ReduceLROnPlateau {settings} float64", error)
    assert error <= TOLERANCE
    assert_same_state(states[0], states[1], "ReduceLROnPlateau")
    # resuming from torch's state mid-run
    opt, _ = make_optimizer("npformer", "SGD")
    torch_opt, _ = make_optimizer("torch", "SGD")
    theirs = torch_module.ReduceLROnPlateau(torch_opt, **settings)
    for metric in metrics[:12]:
        theirs.step(metric)
    ours = ours_module.ReduceLROnPlateau(opt, **settings)
    ours.load_state_dict(copy.deepcopy(theirs.state_dict()))
    opt.load_state_dict(copy.deepcopy(torch_opt.state_dict()))
    for metric in metrics[12:]:
        ours.step(metric)
        theirs.step(metric)
        assert ours.get_last_lr() == theirs.get_last_lr()


# ---------------------------------------------------------------------------- step(epoch)
@pytest.mark.parametrize("factory", [
    lambda L, o: L.StepLR(o, 3, 0.5),
    lambda L, o: L.MultiStepLR(o, [2, 5, 5, 9]),
    lambda L, o: L.ConstantLR(o, 0.5, 4),
    lambda L, o: L.LinearLR(o, 0.2, 0.9, 6),
    lambda L, o: L.ExponentialLR(o, 0.8),
    lambda L, o: L.PolynomialLR(o, 7, 1.5),
    lambda L, o: L.CosineAnnealingLR(o, 8, 0.01),
    lambda L, o: L.LambdaLR(o, lambda e: 0.9 ** e),
], ids=["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
        "LambdaLR"])
def test_step_with_an_epoch_uses_the_closed_form_as_torch(factory):
    epochs = [3, 4, 9, 2, 0, 6, 11, 7]
    rows = []
    for lib, module in (("npformer", ours_module), ("torch", torch_module)):
        opt, _ = make_optimizer(lib, "SGD")
        scheduler = factory(module, opt)
        row = []
        for epoch in epochs:
            opt.step()
            with pytest.warns(UserWarning, match="epoch"):
                scheduler.step(epoch)
            row.append(observe(opt, scheduler))
        rows.append(np.array(row))
    error = lr_error(*rows)
    record_torch_error("lr_scheduler step(epoch) closed forms float64", error)
    assert error <= TOLERANCE


def test_cosine_warm_restarts_with_fractional_epochs_matches_torch():
    epochs = [0.0, 0.5, 1.25, 2.9, 3.0, 7.5, 8.99, 20.0, 21.3, 4.0, 45.0]
    rows = []
    for lib, module in (("npformer", ours_module), ("torch", torch_module)):
        for t_mult in (1, 2, 3):
            opt, _ = make_optimizer(lib, "SGD")
            scheduler = module.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=t_mult, eta_min=0.001)
            for epoch in epochs:
                opt.step()
                scheduler.step(epoch)
                rows.append(observe(opt, scheduler) + [scheduler.T_cur, scheduler.T_i])
    half = len(rows) // 2
    error = lr_error(np.array(rows[:half]), np.array(rows[half:]))
    record_torch_error("lr_scheduler CosineAnnealingWarmRestarts fractional epochs float64", error)
    assert error <= TOLERANCE


# ---------------------------------------------------------------------------- the names and warnings
def test_the_same_public_names_and_signatures_as_torch():
    import inspect
    assert set(ours_module.__all__) == set(torch_module.__all__)
    for name in torch_module.__all__:
        ours, theirs = getattr(ours_module, name), getattr(torch_module, name)
        a, b = inspect.signature(ours.__init__).parameters, inspect.signature(theirs.__init__).parameters
        assert list(a) == list(b), name
        assert [p.default for p in a.values()] == [p.default for p in b.values()], name
        for method in ("step", "state_dict", "load_state_dict", "get_last_lr", "get_lr"):
            if hasattr(theirs, method):
                assert list(inspect.signature(getattr(ours, method)).parameters) == \
                    list(inspect.signature(getattr(theirs, method)).parameters), f"{name}.{method}"
    assert not hasattr(optim, "LRScheduler") and not hasattr(torch.optim, "LRScheduler")
    with pytest.raises(AttributeError, match="optim.ScheduleSetter"):
        optim.LRScheduler                                         # noqa: B018


def test_warnings_as_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        for lib, module in (("npformer", ours_module), ("torch", torch_module)):
            opt, _ = make_optimizer(lib, "SGD")
            scheduler = module.StepLR(opt, 2)
            with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
                scheduler.step()                                  # before any optimizer.step()
            with pytest.warns(UserWarning, match="get_last_lr"):
                scheduler.get_lr()                                # outside step()
            opt, _ = make_optimizer(lib, "SGD")
            scheduler = module.StepLR(opt, 2)
            opt.step()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                scheduler.step()                                  # the right order: no warning


def test_user_subclass_overriding_get_lr():
    class Halving(ours_module.LRScheduler):
        def get_lr(self):
            return [base_lr * 0.5 ** self.last_epoch for base_lr in self.base_lrs]

    opt, _ = make_optimizer("npformer", "SGD")
    scheduler = Halving(opt)
    for _ in range(3):
        opt.step()
        scheduler.step()
    assert scheduler.get_last_lr() == [lr / 8 for lr in LRS] == [g["lr"] for g in opt.param_groups]
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)


# ---------------------------------------------------------------------------- the optimizer uses them
@pytest.mark.parametrize("optimizer_name, factory", [
    ("SGD", lambda L, o: L.OneCycleLR(o, max_lr=[0.5, 0.2, 1.0], total_steps=12)),
    ("Adam", lambda L, o: L.CyclicLR(o, 0.001, 0.05, step_size_up=3)),
    ("Adam", lambda L, o: L.SequentialLR(o, [L.LinearLR(o, 0.1, total_iters=3), L.CosineAnnealingLR(o, 6)], [3])),
], ids=["SGD-OneCycleLR", "Adam-CyclicLR", "Adam-warmup-cosine"])
def test_the_lrs_and_momenta_a_scheduler_sets_are_what_step_uses(optimizer_name, factory):
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((12, len(LRS), 2))
    theirs_opt, theirs_params = make_optimizer("torch", optimizer_name)
    ours_opt, ours_params = make_optimizer("npformer", optimizer_name)
    theirs, ours = factory(torch_module, theirs_opt), factory(ours_module, ours_opt)
    worst = 0.0
    for t in range(12):
        for p, q, g in zip(ours_params, theirs_params, grads[t]):
            p.grad = nf.tensor(g.copy())
            q.grad = torch.tensor(g.copy())
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        for p, q in zip(ours_params, theirs_params):
            expected = q.detach().numpy()
            worst = max(worst, float(np.max(np.abs(p.numpy() - expected)) / max(np.max(np.abs(expected)), 1.0)))
    record_torch_error(f"lr_scheduler {optimizer_name} parameters under a scheduler float64", worst)
    assert worst <= 1e-12


# ---------------------------------------------------------------------------- bad input
def test_bad_arguments_are_clear_errors():
    opt, _ = make_optimizer("npformer", "SGD")
    L = ours_module
    with pytest.raises(TypeError, match="is not an Optimizer"):
        L.StepLR(object(), 2)
    with pytest.raises(ValueError, match="step_size must be a finite number > 0"):
        L.StepLR(opt, 0)
    with pytest.raises(ValueError, match="T_max must be a finite number > 0"):
        L.CosineAnnealingLR(opt, 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        L.ConstantLR(opt, factor=2.0)
    with pytest.raises(ValueError, match="Expected 3 lr_lambdas, but got 2"):
        L.LambdaLR(opt, [lambda e: 1.0] * 2)
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        L.LambdaLR(opt, 0.5)
    with pytest.raises(ValueError, match="last_epoch must be an int >= -1"):
        L.StepLR(opt, 2, last_epoch=-3)
    with pytest.raises(KeyError, match="initial_lr"):
        L.StepLR(opt, 2, last_epoch=4)                           # resuming needs initial_lr in the groups
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        L.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode maximum is unknown"):
        L.ReduceLROnPlateau(opt, mode="maximum")
    with pytest.raises(ValueError, match="total_steps OR"):
        L.OneCycleLR(opt, 1.0)
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        scheduler = L.OneCycleLR(opt, 1.0, total_steps=3)
        for _ in range(4):
            opt.step()
            scheduler.step()
    other, _ = make_optimizer("npformer", "SGD")
    with pytest.raises(ValueError, match="same optimizer"):
        L.SequentialLR(opt, [L.ExponentialLR(opt, 0.9), L.ExponentialLR(other, 0.9)], [2])
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        L.SequentialLR(opt, [L.ExponentialLR(opt, 0.9)], [2])
    scheduler = L.StepLR(opt, 2)
    with pytest.raises(ValueError, match=r"unexpected entries \['T_max', 'eta_min'\]"):
        scheduler.load_state_dict(L.CosineAnnealingLR(other, 5).state_dict())
    with pytest.raises(ValueError, match="'lr_lambdas'"):
        L.LambdaLR(other, lambda e: 1.0).load_state_dict({"last_epoch": 3})
