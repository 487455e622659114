"""Losses, the activations composed from primitives, Embedding's options and the containers,
checked against plain NumPy formulas and finite differences (no torch needed; the parity with
torch is in tests/crosscheck/test_losses_vs_torch.py and test_module_vs_torch.py)."""
import warnings

import numpy as np
import pytest

import npformer as nf
import npformer.functional as F
import npformer.nn as nn

RNG = np.random.default_rng(0)


def leaf(array):
    return nf.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def reduce(values, reduction):
    return values if reduction == "none" else values.sum() if reduction == "sum" else values.mean()


# ---------------------------------------------------------------------------- loss formulas
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_elementwise_losses_equal_their_formulas(reduction):
    x, y = RNG.standard_normal((3, 4)) * 1.5, RNG.standard_normal((3, 4))
    d = x - y
    formulas = {
        "mse_loss": (d ** 2, {}),
        "l1_loss": (np.abs(d), {}),
        "smooth_l1_loss": (np.where(np.abs(d) < 0.5, 0.5 * d ** 2 / 0.5, np.abs(d) - 0.25), {"beta": 0.5}),
        "huber_loss": (np.where(np.abs(d) <= 0.7, 0.5 * d ** 2, 0.7 * (np.abs(d) - 0.35)), {"delta": 0.7}),
    }
    for name, (expected, options) in formulas.items():
        got = getattr(F, name)(nf.tensor(x), nf.tensor(y), reduction=reduction, **options).numpy()
        np.testing.assert_allclose(got, reduce(expected, reduction), rtol=1e-13, err_msg=name)


def test_binary_cross_entropy_and_with_logits_equal_their_formulas():
    x, y, w, p = RNG.standard_normal((3, 4)), RNG.uniform(0, 1, (3, 4)), RNG.uniform(0.5, 2, 4), RNG.uniform(1, 3, 4)
    s = 1 / (1 + np.exp(-x))
    expected = -w * (p * y * np.log(s) + (1 - y) * np.log(1 - s))
    got = F.binary_cross_entropy_with_logits(nf.tensor(x), nf.tensor(y), nf.tensor(w), reduction="none",
                                             pos_weight=nf.tensor(p)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    got = F.binary_cross_entropy(nf.tensor(s), nf.tensor(y), nf.tensor(w), reduction="sum").item()
    assert got == pytest.approx(np.sum(-w * (y * np.log(s) + (1 - y) * np.log(1 - s))), rel=1e-12)
    # saturated probabilities: logs clamped at -100, gradient finite
    probs = leaf([0.0, 1.0])
    loss = F.binary_cross_entropy(probs, nf.tensor([1.0, 0.0]), reduction="sum")
    loss.backward()
    assert loss.item() == 200.0 and np.all(np.isfinite(probs.grad.numpy()))


def test_kl_div_reductions_and_zero_targets():
    log_p = np.log(RNG.dirichlet(np.ones(5), size=4))
    q = RNG.dirichlet(np.ones(5), size=4)
    q[0, 2] = 0.0
    pointwise = np.where(q > 0, q * (np.log(np.where(q > 0, q, 1)) - log_p), 0.0)
    expected = {"none": pointwise, "sum": pointwise.sum(), "batchmean": pointwise.sum() / 4, "mean": pointwise.mean()}
    for reduction, value in expected.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                   # "mean" warns, as in PyTorch
            got = F.kl_div(nf.tensor(log_p), nf.tensor(q), reduction=reduction).numpy()
        np.testing.assert_allclose(got, value, rtol=1e-13, err_msg=reduction)
    got = F.kl_div(nf.tensor(log_p), nf.tensor(log_p), reduction="sum", log_target=True).item()
    assert got == pytest.approx(0.0, abs=1e-15)               # KL(p || p) = 0
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(nf.tensor(log_p), nf.tensor(q))


@pytest.mark.parametrize("name, make", [
    ("mse_loss", lambda x, y: F.mse_loss(x, y, weight=nf.tensor(np.linspace(0.5, 2, 12).reshape(3, 4)))),
    ("l1_loss", lambda x, y: F.l1_loss(x, y, reduction="sum")),
    ("smooth_l1_loss", lambda x, y: F.smooth_l1_loss(x, y, beta=0.4)),
    ("huber_loss", lambda x, y: F.huber_loss(x, y, delta=0.3, reduction="none")),
    ("kl_div", lambda x, y: F.kl_div(x, y, reduction="batchmean", log_target=True)),
    ("bce_with_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, nf.sigmoid(y), reduction="sum",
                                                                         pos_weight=nf.tensor([1.0, 2.0, 0.5, 3.0]))),
])
def test_loss_gradients_in_input_and_target_match_finite_differences(name, make):
    x, y = RNG.standard_normal((3, 4)) * 1.5, RNG.standard_normal((3, 4))
    y[np.abs(x - y) < 0.1] += 0.3                              # away from the kinks of |d|
    assert nf.gradcheck(make, [leaf(x), leaf(y)])


def test_legacy_size_average_and_reduce_choose_the_reduction():
    x, y = nf.tensor(RNG.standard_normal(5)), nf.tensor(RNG.standard_normal(5))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert F.mse_loss(x, y, size_average=False).item() == pytest.approx(F.mse_loss(x, y, reduction="sum").item())
    with pytest.warns(UserWarning):
        assert F.mse_loss(x, y, reduce=False).shape == (5,)
    with pytest.warns(UserWarning):
        assert nn.L1Loss(size_average=False, reduce=True).reduction == "sum"


def test_loss_modules_register_weights_as_buffers():
    loss = nn.CrossEntropyLoss(weight=nf.tensor([1.0, 2.0, 3.0]), label_smoothing=0.1)
    assert list(loss.state_dict()) == ["weight"] and repr(loss) == "CrossEntropyLoss()"
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=nf.tensor([2.0])).state_dict()) == ["pos_weight"]
    logits, target = nf.tensor(RNG.standard_normal((4, 3))), nf.tensor([0, 2, 1, 2])
    assert loss(logits, target).item() == F.cross_entropy(logits, target, nf.tensor([1.0, 2.0, 3.0]),
                                                           label_smoothing=0.1).item()
    assert loss.double() is loss and loss.weight.dtype == np.float64


def test_bad_loss_input_gets_one_clear_error():
    x = nf.tensor(np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.l1_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.huber_loss(x, x, weight=nf.tensor(np.ones(3)))
    with pytest.raises(ValueError, match="binary_cross_entropy: weight of shape"):
        F.binary_cross_entropy(x, x, nf.tensor(np.ones((4, 2, 3))))
    with pytest.raises(ValueError, match="mse_loss: target of shape"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            F.mse_loss(x, nf.tensor(np.zeros(4)))
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(x, x, beta=-1.0)


# ---------------------------------------------------------------------------- activations
ACTIVATIONS = {
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda a: np.where(a > 0, a, 0.2 * a)),
    "elu": (lambda x: F.elu(x, 0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(np.minimum(a, 0)))),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 0.8), lambda a: np.clip(a, -0.5, 0.8)),
    "relu6": (F.relu6, lambda a: np.clip(a, 0, 6)),
    "logsigmoid": (F.logsigmoid, lambda a: -np.log1p(np.exp(-a))),
    "mish": (F.mish, lambda a: a * np.tanh(np.log1p(np.exp(a)))),
    "glu": (lambda x: F.glu(x, 1), lambda a: a[:, :2] / (1 + np.exp(-a[:, 2:]))),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations_equal_their_formulas_and_finite_differences(name):
    ours, formula = ACTIVATIONS[name]
    x = RNG.uniform(0.15, 8.0, (3, 4)) * np.where(RNG.random((3, 4)) < 0.5, -1, 1)   # away from kinks
    x[np.abs(x - 0.8) < 0.1] = 1.5
    x[np.abs(x + 0.5) < 0.1] = -1.5
    np.testing.assert_allclose(ours(nf.tensor(x)).numpy(), formula(x), rtol=1e-12, atol=1e-15)
    assert nf.gradcheck(ours, [leaf(x)])


def test_elu_does_not_overflow_for_large_inputs():
    x = leaf([1000.0, -1000.0])
    F.elu(x).sum().backward()
    assert x.grad.numpy().tolist() == [1.0, 0.0]


def test_inplace_activation_writes_its_input_and_keeps_the_graph():
    x = leaf(RNG.standard_normal(6))
    h = x * 2.0
    out = nn.LeakyReLU(0.1, inplace=True)(h)
    assert out is h
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(x.numpy() > 0, 2.0, 0.2))


def test_softmax_without_dim_picks_pytorchs_legacy_dim_and_warns():
    x = nf.tensor(RNG.standard_normal((2, 3)))
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        np.testing.assert_allclose(nn.Softmax()(x).numpy(), F.softmax(x, 1).numpy())
    with pytest.warns(UserWarning):
        np.testing.assert_allclose(nn.LogSoftmax()(nf.tensor(RNG.standard_normal(3))).numpy().shape, (3,))


def test_flatten_unflatten_and_identity():
    x = nf.tensor(RNG.standard_normal((2, 3, 4)))
    assert nn.Flatten()(x).shape == (2, 12) and nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Unflatten(2, (2, -1))(x).shape == (2, 3, 2, 2)
    with pytest.raises(RuntimeError, match="don't multiply up"):
        nn.Unflatten(1, (2, 2))(x)
    assert nn.Identity(54, unused="ignored")(x) is x


# ---------------------------------------------------------------------------- embedding options
def test_embedding_max_norm_renormalises_the_rows_it_looks_up():
    weight = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    emb = nn.Embedding.from_pretrained(nf.tensor(weight), max_norm=1.0)
    out = emb(nf.tensor([0, 1])).numpy()
    np.testing.assert_allclose(out[0], np.array([3.0, 4.0]) / (5.0 + 1e-7))
    np.testing.assert_array_equal(out[1], [0.3, 0.4])           # under the norm: unchanged
    np.testing.assert_array_equal(emb.weight.numpy()[2], [6.0, 8.0])      # not looked up: unchanged
    assert emb.weight._version == 1


def test_embedding_scale_grad_by_freq_divides_by_the_count_in_the_batch():
    emb = nn.Embedding(4, 2, scale_grad_by_freq=True, padding_idx=3, dtype=np.float64)
    emb(nf.tensor([[0, 0, 0, 1], [2, 1, 3, 3]])).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.numpy(), [[1, 1], [1, 1], [1, 1], [0, 0]])
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(AssertionError, match="Shape of weight does not match"):
        nn.Embedding(4, 2, _weight=nf.zeros(3, 2))
    assert not nn.Embedding(4, 2, _freeze=True).weight.requires_grad


# ---------------------------------------------------------------------------- module details
def test_state_dict_holds_detached_tensors_sharing_memory_and_state_arrays_holds_the_arrays():
    from npformer.nn.module import state_arrays
    layer = nn.Linear(3, 2)
    state = layer.state_dict()
    assert isinstance(state["weight"], nf.Tensor) and not state["weight"].requires_grad
    assert state["weight"].numpy() is layer.weight.numpy()
    assert state_arrays(layer)["weight"] is layer.weight.numpy()
    assert state._metadata[""] == {"version": 1}
    assert layer.state_dict(keep_vars=True)["weight"] is layer.weight


def test_load_state_dict_accepts_arrays_and_tensors_and_bumps_versions():
    source, target = nn.Linear(3, 2, generator=nf.Generator(1)), nn.Linear(3, 2, generator=nf.Generator(2))
    mixed = {"weight": source.weight.numpy().copy(), "bias": nf.tensor(source.bias.numpy())}
    version = target.weight._version
    assert repr(target.load_state_dict(mixed)) == "<All keys matched successfully>"
    np.testing.assert_array_equal(target.weight.numpy(), source.weight.numpy())
    assert target.weight._version == version + 1                         # an in-place write, as copy_
    with pytest.raises(RuntimeError, match="expected a Tensor or an ndarray"):
        target.load_state_dict({"weight": [[1.0] * 3] * 2, "bias": np.zeros(2)})
    scalar = nn.Module()
    scalar.register_buffer("scale", nf.tensor(1.0))
    scalar.load_state_dict({"scale": np.array([4.0])})                   # PyTorch 0.3's (1,) scalars
    assert scalar.scale.item() == 4.0


def test_getattr_finds_values_put_straight_into_the_registries():
    m = nn.Module()
    p = nn.Parameter(np.ones(2))
    m._parameters["direct"] = p                          # as some PyTorch utilities do
    assert m.direct is p and [n for n, _ in m.named_parameters()] == ["direct"]
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'missing'"):
        m.missing


def test_half_and_bfloat16():
    layer = nn.Linear(2, 2).half()
    assert layer.weight.dtype == np.float16
    with pytest.raises(TypeError, match="NumPy has no bfloat16"):
        layer.bfloat16()


def test_sequential_and_module_list_indexing_errors():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    assert isinstance(seq[-1], nn.Tanh) and isinstance(seq[-2], nn.ReLU)
    with pytest.raises(IndexError, match="index 2 is out of range"):
        seq[2]
    layers = nn.ModuleList([nn.ReLU()])
    with pytest.raises(IndexError, match="index -2 is out of range"):
        layers[-2]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        layers.extend(5)
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        nn.ParameterList()(1)
    assert len(nn.ParameterDict({"a": nf.ones(1)})) == 1
