"""SGD, Adam and AdamW against the textbook formulas of tests/optim/references.py, parameter
groups, skipped parameters, zero_grad, dtype preservation, the constructor's checks and
decay_groups.

Gradients are a fixed random sequence (one per step), so the reference needs no autograd;
the weight-decay terms still make each update depend on the current parameter.
"""
import numpy as np
import pytest

import npformer as nf
import npformer.nn as nn
from npformer import optim
from npformer.models import GPT, GPTConfig
from tests.helpers import relative_error
from tests.optim import references

STEPS = 6
SHAPES = [(3, 4), (5,), ()]


def make_params(dtype=np.float64, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(np.array(rng.standard_normal(shape), dtype=dtype)) for shape in shapes]


def make_grads(params, steps=STEPS, seed=1):
    """grads[t][i]: the gradient of parameter i at step t."""
    rng = np.random.default_rng(seed)
    return [[np.array(rng.standard_normal(p.numpy().shape), dtype=p.numpy().dtype) for p in params]
            for _ in range(steps)]


def run(optimizer, params, grads, after_step=None):
    """Feed the gradients, one step each; return every parameter after every step."""
    history = []
    for t, step_grads in enumerate(grads):
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else nf.tensor(g)
        optimizer.step()
        history.append([p.numpy().copy() for p in params])
        if after_step is not None:
            after_step(t)
    return history


def assert_matches_reference(history, initial, grads, reference, tol=1e-13, **hyper):
    for i, p0 in enumerate(initial):
        expected = reference(p0, [g[i] for g in grads], **hyper)
        for t in range(len(grads)):
            error = relative_error(history[t][i], expected[t])
            assert error <= tol, f"parameter {i}, step {t + 1}: relative error {error:.2e} > {tol:.0e}"


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.8, dampening=0.3),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.2),
    dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True),
    dict(lr=0.1, momentum=0.5, dampening=0.5, weight_decay=0.01, maximize=True),
]

ADAM_CASES = [
    dict(lr=1e-2),
    dict(lr=1e-2, weight_decay=0.1),
    dict(lr=1e-2, amsgrad=True),
    dict(lr=3e-2, betas=(0.3, 0.8), eps=1e-3),            # 1 - beta1 >= 0.5: the other lerp branch
    dict(lr=1e-2, weight_decay=0.05, amsgrad=True, maximize=True),
]


@pytest.mark.parametrize("hyper", SGD_CASES, ids=str)
def test_sgd_matches_the_formula(hyper):
    params = make_params()
    initial = [p.numpy().copy() for p in params]
    grads = make_grads(params)
    history = run(optim.SGD(params, **hyper), params, grads)
    assert_matches_reference(history, initial, grads, references.sgd, **hyper)


@pytest.mark.parametrize("hyper", ADAM_CASES, ids=str)
def test_adam_matches_the_formula(hyper):
    params = make_params()
    initial = [p.numpy().copy() for p in params]
    grads = make_grads(params)
    history = run(optim.Adam(params, **hyper), params, grads)
    assert_matches_reference(history, initial, grads, references.adam, **hyper)


@pytest.mark.parametrize("hyper", ADAM_CASES + [dict(lr=1e-2, weight_decay=0.3)], ids=str)
def test_adamw_matches_the_formula(hyper):
    hyper = dict(hyper)
    hyper.setdefault("weight_decay", 1e-2)          # AdamW's default, which the reference shares
    params = make_params()
    initial = [p.numpy().copy() for p in params]
    grads = make_grads(params)
    history = run(optim.AdamW(params, **hyper), params, grads)
    assert_matches_reference(history, initial, grads, references.adamw, **hyper)


ADAGRAD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, lr_decay=0.1),
    dict(lr=0.05, weight_decay=0.2, initial_accumulator_value=0.5),
    dict(lr=0.05, eps=1e-2, maximize=True, weight_decay=0.05, lr_decay=0.02),
]


@pytest.mark.parametrize("hyper", ADAGRAD_CASES, ids=str)
def test_adagrad_matches_the_formula(hyper):
    params = make_params()
    initial = [p.numpy().copy() for p in params]
    grads = make_grads(params)
    optimizer = optim.Adagrad(params, **hyper)
    assert all(optimizer.state[p]["step"] == 0 for p in params)        # made at construction, as torch
    history = run(optimizer, params, grads)
    assert_matches_reference(history, initial, grads, references.adagrad, **hyper)


def test_adam_with_decoupled_weight_decay_is_adamw():
    grads = make_grads(make_params())
    a, b = make_params(), make_params()
    adam = optim.Adam(a, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)
    adamw = optim.AdamW(b, lr=1e-2, weight_decay=0.1)
    assert adam.param_groups[0]["decoupled_weight_decay"] is adamw.param_groups[0]["decoupled_weight_decay"] is True
    for x, y in zip(run(adam, a, grads)[-1], run(adamw, b, grads)[-1]):
        np.testing.assert_array_equal(x, y)


def test_step_bumps_the_parameters_version_so_a_stale_graph_refuses_backward():
    w = nn.Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()                 # saves w
    w.grad = nf.tensor(np.ones(2))
    before = w._version
    opt.step()
    assert w._version == before + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_adam_and_adamw_differ_only_through_weight_decay():
    grads = make_grads(make_params())
    results = []
    for cls, wd in [(optim.Adam, 0.0), (optim.AdamW, 0.0), (optim.Adam, 0.1), (optim.AdamW, 0.1)]:
        params = make_params()
        results.append(run(cls(params, lr=1e-2, weight_decay=wd), params, grads)[-1])
    assert all(np.array_equal(a, b) for a, b in zip(results[0], results[1]))
    assert not np.allclose(results[2][0], results[3][0])


def test_defaults_are_torchs():
    p = make_params()
    flags = dict(foreach=None, differentiable=False, fused=None)
    assert optim.SGD(p).defaults == dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                                         maximize=False, **flags)
    adam, adamw = optim.Adam(p), optim.AdamW(p)
    assert adam.defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                                 maximize=False, capturable=False, decoupled_weight_decay=False, **flags)
    assert adamw.defaults == dict(adam.defaults, weight_decay=1e-2, decoupled_weight_decay=True)
    assert optim.Adagrad(p).defaults == dict(lr=1e-2, lr_decay=0, eps=1e-10, weight_decay=0,
                                             initial_accumulator_value=0, maximize=False, **flags)


# ---------------------------------------------------------------------------- parameter groups
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_param_groups_use_their_own_hyperparameters(name):
    cls = getattr(optim, name)
    reference = {"SGD": references.sgd, "Adam": references.adam, "AdamW": references.adamw}[name]
    common = dict(momentum=0.9) if name == "SGD" else dict(betas=(0.8, 0.99))
    params = make_params()
    initial = [p.numpy().copy() for p in params]
    grads = make_grads(params)
    groups = [{"params": params[:2], "lr": 0.05, "weight_decay": 0.1},
              {"params": params[2:], "weight_decay": 0.0}]                   # lr from the default
    optimizer = cls(groups, lr=0.01, **common)
    assert [g["lr"] for g in optimizer.param_groups] == [0.05, 0.01]
    history = run(optimizer, params, grads)
    for i in range(len(params)):
        lr, wd = (0.05, 0.1) if i < 2 else (0.01, 0.0)
        expected = reference(initial[i], [g[i] for g in grads], lr=lr, weight_decay=wd, **common)
        assert relative_error(history[-1][i], expected[-1]) <= 1e-13


@pytest.mark.parametrize("name", ["SGD", "AdamW"])
def test_changing_group_lr_between_steps_takes_effect(name):
    cls = getattr(optim, name)
    reference = references.sgd if name == "SGD" else references.adamw
    params = make_params()
    initial = [p.numpy().copy() for p in params]
    grads = make_grads(params)
    lrs = [0.1 * (t + 1) / STEPS for t in range(STEPS)]
    optimizer = cls(params, lr=lrs[0], **({"momentum": 0.9} if name == "SGD" else {}))

    def schedule(t):
        if t + 1 < STEPS:
            for group in optimizer.param_groups:
                group["lr"] = lrs[t + 1]

    history = run(optimizer, params, grads, after_step=schedule)
    for i in range(len(params)):
        expected = reference(initial[i], [g[i] for g in grads], lr=None, lrs=lrs,
                             **({"momentum": 0.9} if name == "SGD" else {}))
        assert relative_error(history[-1][i], expected[-1]) <= 1e-13


def test_a_single_group_dict_and_a_single_tensor_are_accepted():
    p = make_params()
    assert optim.SGD({"params": p, "lr": 0.5}).param_groups[0]["lr"] == 0.5
    opt = optim.Adam([{"params": p[0]}, {"params": p[1:]}])
    assert [len(g["params"]) for g in opt.param_groups] == [1, 2]
    opt = optim.SGD(iter(p), lr=0.1)                                # any iterable
    assert len(opt.param_groups[0]["params"]) == 3


def test_add_param_group_and_extra_group_keys():
    p = make_params()
    opt = optim.AdamW(p[:1], lr=1e-3)
    opt.add_param_group({"params": p[1:], "lr": 1e-4, "name": "no decay"})
    assert opt.param_groups[1]["weight_decay"] == 1e-2 and opt.param_groups[1]["name"] == "no decay"
    assert opt.state_dict()["param_groups"][1]["params"] == [1, 2]


# ---------------------------------------------------------------------------- steps and grads
@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.Adagrad])
def test_parameters_without_grad_are_skipped(cls):
    params = make_params()
    before = params[1].numpy().copy()
    grads = make_grads(params)
    for step_grads in grads:
        step_grads[1] = None
    grads[2][2] = None                                     # parameter 2 misses one step
    opt = cls(params, lr=0.1, **({"momentum": 0.9} if cls is optim.SGD else {}))
    run(opt, params, grads)
    assert np.array_equal(params[1].numpy(), before)
    if cls is optim.Adagrad:                                # state for all, made at construction
        assert opt.state[params[1]]["step"] == 0 and not opt.state[params[1]]["sum"].any()
    else:
        assert params[1] not in opt.state or not opt.state[params[1]]
    if cls is not optim.SGD:
        assert opt.state[params[0]]["step"] == STEPS
        assert opt.state[params[2]]["step"] == STEPS - 1
    assert sorted(opt.state_dict()["state"]) == ([0, 1, 2] if cls is optim.Adagrad else [0, 2])


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.Adagrad])
def test_step_never_writes_to_the_gradient(cls):
    params = make_params()
    opt = cls(params, lr=0.1, weight_decay=0.1, maximize=True, **({"momentum": 0.9, "nesterov": True}
                                                                       if cls is optim.SGD else {}))
    grads = make_grads(params, steps=3)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = nf.tensor(g)
        opt.step()
        for p, g in zip(params, step_grads):
            assert np.array_equal(p.grad, g)


def test_state_is_reachable_by_parameter():
    params = make_params()
    opt = optim.Adam(params, lr=0.1, amsgrad=True)
    run(opt, params, make_grads(params, steps=2))
    state = opt.state[params[0]]
    assert state["step"] == 2 and sorted(state) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert state["exp_avg"].shape == params[0].numpy().shape
    assert len(opt.state) == 3 and all(any(p is q for q in params) for p in opt.state)


def test_zero_grad():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = nf.ones_like(p)
    grad0 = params[0].grad.numpy()
    opt.zero_grad(set_to_none=False)
    assert params[0].grad.numpy() is grad0 and not grad0.any()     # zeroed in place
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    opt.zero_grad(set_to_none=False)                       # None stays None
    assert all(p.grad is None for p in params)


def test_step_with_closure_returns_the_loss():
    w = nn.Parameter(np.array([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_array_equal(w.numpy(), [0.5, -1.0])      # w - 0.25 * 2w


def test_training_reduces_a_loss_end_to_end():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(4, 16, dtype=np.float64, generator=nf.Generator().manual_seed(0)), nn.Tanh(),
                          nn.Linear(16, 1, dtype=np.float64, generator=nf.Generator().manual_seed(1)))
    x, y = rng.standard_normal((32, 4)), rng.standard_normal((32, 1))
    opt = optim.AdamW(optim.decay_groups(model, 0.01), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = nf.functional.mse_loss(model(nf.tensor(x)), nf.tensor(y))
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_read_only_parameter_arrays_are_copied_before_the_update():
    data = np.arange(3.0)
    data.flags.writeable = False
    p = nn.Parameter(data)
    p.grad = nf.tensor(np.ones(3))
    optim.SGD([p], lr=0.5).step()
    np.testing.assert_array_equal(p.numpy(), [-0.5, 0.5, 1.5])
    np.testing.assert_array_equal(data, [0.0, 1.0, 2.0])


def test_a_gradient_of_the_wrong_shape_is_refused_when_assigned():
    # As in PyTorch, the .grad setter checks the shape, so an optimizer never sees one.
    p = nn.Parameter(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match=r"shape \(3, 2\).*shape \(2, 3\)"):
        p.grad = nf.tensor(np.zeros((3, 2)))


# ---------------------------------------------------------------------------- float32
@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda p: optim.Adam(p, lr=1e-2, weight_decay=0.1, amsgrad=True),
    lambda p: optim.AdamW(p, lr=1e-2, maximize=True),
    lambda p: optim.Adagrad(p, lr=1e-2, weight_decay=0.1, lr_decay=0.01, maximize=True),
], ids=["SGD", "Adam", "AdamW", "Adagrad"])
def test_float32_stays_float32(make):
    params32 = make_params(np.float32)
    params64 = [nn.Parameter(p.numpy().astype(np.float64)) for p in params32]
    grads32 = make_grads(params32)
    grads64 = [[g.astype(np.float64) for g in step] for step in grads32]
    opt32, opt64 = make(params32), make(params64)
    run(opt32, params32, grads32)
    run(opt64, params64, grads64)
    for p32, p64 in zip(params32, params64):
        assert p32.numpy().dtype == np.float32
        for key, value in opt32.state[p32].items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, key
        assert relative_error(p32.numpy(), p64.numpy()) < 1e-5
    for group in opt32.param_groups:
        assert all(type(v) in (float, bool, tuple, type(None)) for k, v in group.items() if k != "params")


# ---------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize("make, match", [
    (lambda p: optim.SGD(p, lr=-1.0), "lr"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.1), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: optim.SGD(p, lr=float("nan")), "lr"),
    (lambda p: optim.Adagrad(p, lr_decay=-0.1), "lr_decay"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1.0), "initial_accumulator_value"),
    (lambda p: optim.Adam(p, decoupled_weight_decay=1), "decoupled_weight_decay"),
    (lambda p: optim.SGD(p, fused=1), "fused"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "beta1"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "beta2"),
    (lambda p: optim.Adam(p, betas=0.9), "betas"),
    (lambda p: optim.Adam(p, eps=-1e-8), "eps"),
    (lambda p: optim.AdamW(p, amsgrad="yes"), "amsgrad"),
    (lambda p: optim.Adam([{"params": p, "lr": -1.0}]), "parameter group 0: invalid lr"),
    (lambda p: optim.Adam([]), "empty parameter list"),
    (lambda p: optim.Adam([{"params": p[:2]}, {"params": p[1:]}]), "more than one parameter group"),
    (lambda p: optim.Adam([p[0], p[0]]), "twice"),
    (lambda p: optim.Adam([{"lr": 1.0}]), "'params'"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_hyperparameters_are_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make(make_params())


def test_bad_parameters_are_type_errors():
    p = make_params()
    with pytest.raises(TypeError, match="sets"):
        optim.SGD(set(p), lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(p[0], lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="floating-point"):
        optim.SGD([nf.tensor(np.arange(3))], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        x = nf.tensor(np.ones(3), requires_grad=True)
        optim.SGD([x * 2], lr=0.1)
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        optim.Optimizer(p, {"lr": optim.REQUIRED})


# ---------------------------------------------------------------------------- decay_groups
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        gen = nf.Generator().manual_seed(0)
        self.embed = nn.Embedding(10, 4, generator=gen)
        self.positions = nn.LearnedPositionalEmbedding(8, 4, generator=gen)
        self.norm = nn.LayerNorm(4)
        self.rms = nn.RMSNorm(4)
        self.proj = nn.Linear(4, 4, generator=gen)
        self.head = nn.Linear(4, 10, bias=False, generator=gen)
        self.head.weight = self.embed.weight                 # tied, as GPT-2


def names_of(model, params):
    ids = {id(p) for p in params}
    return sorted(name for name, p in model.named_parameters() if id(p) in ids)


def test_decay_groups_decays_linear_weights_only():
    model = Tiny()
    decay, no_decay = optim.decay_groups(model, 0.1, lr=3e-4)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert decay["lr"] == no_decay["lr"] == 3e-4
    assert names_of(model, decay["params"]) == ["proj.weight"]
    assert names_of(model, no_decay["params"]) == ["embed.weight", "norm.bias", "norm.weight", "positions.weight",
                                                   "proj.bias", "rms.weight"]
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    optimizer = optim.AdamW([decay, no_decay])
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.1, 0.0]


def test_decay_groups_on_gpt():
    config = GPTConfig(vocab_size=17, max_positions=8, d_model=8, n_layers=2, n_heads=2)
    model = GPT(config, dtype=np.float64, generator=nf.Generator().manual_seed(0))
    decay, no_decay = optim.decay_groups(model, 0.1)
    decayed = names_of(model, decay["params"])
    assert decayed and all(name.endswith(".weight") for name in decayed)
    shapes = {name: p.numpy().ndim for name, p in model.named_parameters()}
    assert all(shapes[name] == 2 for name in decayed)
    kept = names_of(model, no_decay["params"])
    assert "embed_tokens.weight" in kept and "embed_positions.weight" in kept      # lm_head is tied to it
    assert all(name.endswith(".bias") or "norm" in name or name.startswith("embed") for name in kept), kept
    # nanoGPT's dim >= 2 rule differs exactly by the embedding tables
    nanogpt = sorted(name for name, p in model.named_parameters() if p.numpy().ndim >= 2)
    assert sorted(set(nanogpt) - set(decayed)) == ["embed_positions.weight", "embed_tokens.weight"]
