"""The Module API (registration, traversal, state, modes, casting, printing), the seeded init
functions, module-level gradient checks in float64 and the errors on bad input.

Gradient checks: for a module built in float64 and a scalar loss sum(output * R) with R a
fixed random array, ``assert_module_gradients`` compares the analytic gradient of every
parameter and every differentiable input with central finite differences (eps 1e-6, each
parameter perturbed in place), entry by entry: |analytic - numeric| <= 1e-6 + 1e-5 |numeric|.
``npformer.gradcheck`` then checks the full Jacobian of the module's function of its inputs.
"""
import math
from collections import OrderedDict

import numpy as np
import pytest

import npformer as nf
import npformer.nn as nn
from npformer.nn import init

F64 = np.float64


# ---------------------------------------------------------------------------- helpers
def assert_module_gradients(module, forward, inputs, seed=0, eps=1e-6, atol=1e-6, rtol=1e-5, run_gradcheck=True):
    """Check d loss / d (every parameter of ``module`` and every array in ``inputs``) against
    central finite differences, for loss = sum(output * R) (sum over outputs when ``forward``
    returns a tuple).

    ``inputs`` maps argument names to float64 arrays; ``forward(**tensors)`` runs the module.
    Constants (ids, masks) belong in the closure. Every parameter must be float64.
    """
    params = list(module.named_parameters())
    for name, param in params:
        assert param.numpy().dtype == F64, f"{name} is {param.numpy().dtype}: build the module with dtype=np.float64"
    arrays = {name: np.array(value, dtype=F64) for name, value in inputs.items()}

    def outputs_of(out):
        return out if isinstance(out, tuple) else (out,)

    # analytic
    module.zero_grad()
    leaves = {name: nf.tensor(a.copy(), requires_grad=True) for name, a in arrays.items()}
    outs = outputs_of(forward(**leaves))
    rng = np.random.default_rng(seed)
    upstream = [rng.standard_normal(o.shape) for o in outs]
    loss = None
    for o, r in zip(outs, upstream):
        term = (o * nf.tensor(r)).sum()
        loss = term if loss is None else loss + term
    loss.backward()
    analytic = {}
    for name, param in params:
        analytic["param " + name] = np.zeros_like(param.numpy()) if param.grad is None else param.grad.numpy().copy()
    for name, leaf in leaves.items():
        analytic["input " + name] = np.zeros_like(leaf.numpy()) if leaf.grad is None else leaf.grad.numpy().copy()
    module.zero_grad()

    def value():
        with nf.no_grad():
            outs = outputs_of(forward(**{name: nf.tensor(a) for name, a in arrays.items()}))
        return sum(float(np.sum(o.numpy() * r)) for o, r in zip(outs, upstream))

    def numeric_gradient(array):
        grad = np.zeros_like(array)
        flat, gflat = array.reshape(-1), grad.reshape(-1)
        for i in range(flat.size):
            original = flat[i]
            flat[i] = original + eps
            plus = value()
            flat[i] = original - eps
            minus = value()
            flat[i] = original
            gflat[i] = (plus - minus) / (2 * eps)
        return grad

    checked = 0
    targets = [("param " + n, p.numpy()) for n, p in params] + [("input " + n, a) for n, a in arrays.items()]
    for label, array in targets:
        before = array.copy()
        numeric = numeric_gradient(array)
        assert np.array_equal(array, before), f"{label} was not restored after perturbation"
        got = analytic[label]
        assert got.shape == array.shape, f"{label}: gradient shape {got.shape}, value shape {array.shape}"
        bad = np.abs(got - numeric) > atol + rtol * np.abs(numeric)
        if np.any(bad):
            index = np.unravel_index(np.argmax(np.abs(got - numeric) * bad), got.shape)
            raise AssertionError(f"{label}: analytic {got[index]!r} vs numeric {numeric[index]!r} at {index} "
                                 f"({int(bad.sum())} of {bad.size} entries off)")
        checked += array.size
    assert checked > 0

    if run_gradcheck and arrays:
        names = list(arrays)
        tensors = [nf.tensor(arrays[n].copy(), requires_grad=True) for n in names]
        assert nf.gradcheck(lambda *xs: forward(**dict(zip(names, xs))), tensors)


def randn(rng, *shape):
    return rng.standard_normal(shape)


class Tiny(nn.Module):
    """Linear -> ReLU -> Linear with a buffer, a non-persistent buffer and a submodule list."""

    def __init__(self, generator=None, dtype=None):
        super().__init__()
        self.inp = nn.Linear(4, 3, dtype=dtype, generator=generator)
        self.layers = nn.ModuleList([nn.Linear(3, 3, dtype=dtype, generator=generator),
                                     nn.Linear(3, 2, bias=False, dtype=dtype, generator=generator)])
        self.register_buffer("scale", nf.tensor(np.full(2, 2.0), dtype=dtype or np.float32))
        self.register_buffer("cache", nf.tensor(np.zeros(3), dtype=dtype or np.float32), persistent=False)

    def forward(self, x):
        h = nf.relu(self.inp(x))
        for layer in self.layers:
            h = layer(h)
        return h * self.scale


# ---------------------------------------------------------------------------- registration
def test_attribute_assignment_registers_parameters_modules_and_buffers():
    m = Tiny()
    assert list(m._parameters) == []
    assert list(m._modules) == ["inp", "layers"]
    assert list(m.inp._parameters) == ["weight", "bias"]
    assert isinstance(m.inp.weight, nn.Parameter) and m.inp.weight.requires_grad
    assert [n for n, _ in m.named_buffers()] == ["scale", "cache"]
    m.extra = nn.Parameter(np.ones(2, dtype=np.float32))
    assert "extra" in dict(m.named_parameters())
    # as PyTorch: a parameter name only takes a Parameter or None until it is deleted
    with pytest.raises(TypeError, match="cannot assign 'npformer.nn.layers.Linear' as parameter 'extra'"):
        m.extra = nn.Linear(2, 2)
    m.extra = None
    assert "extra" in m._parameters and m.extra is None and "extra" not in dict(m.named_parameters())
    del m.extra
    m.extra = nn.Linear(2, 2)
    assert "extra" not in m._parameters and "extra" in m._modules
    # a Parameter assigned over a module's name moves it between registries (PyTorch does too)
    m.extra = nn.Parameter(np.ones(2, dtype=np.float32))
    assert "extra" in m._parameters and "extra" not in m._modules
    del m.extra
    assert "extra" not in m._parameters and not hasattr(m, "extra")
    # a plain attribute is not registered
    m.note = "hello"
    assert "note" not in m._parameters and "note" not in m._modules and "note" not in m._buffers


def test_module_without_init_call_raises():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))

    with pytest.raises(AttributeError, match="Module.__init__"):
        Broken()


def test_register_parameter_none_and_later_assignment():
    m = nn.Linear(4, 3, bias=False)
    assert m.bias is None
    assert "bias" in m._parameters and m._parameters["bias"] is None
    assert list(m.state_dict()) == ["weight"]
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.bias = nn.Parameter(np.zeros(3, dtype=np.float32))
    assert list(m.state_dict()) == ["weight", "bias"]
    m.register_parameter("bias", None)
    assert m.bias is None and list(m.state_dict()) == ["weight"]
    with pytest.raises(TypeError, match="cannot assign 'numpy.ndarray' object to parameter 'extra'"):
        m.register_parameter("extra", np.ones(3, dtype=np.float32))    # as PyTorch: a Parameter or None
    m.register_parameter("extra", nn.Parameter(np.ones(3, dtype=np.float32)))
    assert isinstance(m.extra, nn.Parameter) and "extra" in m.state_dict()
    with pytest.raises(KeyError, match="attribute 'in_features' already exists"):
        m.register_parameter("in_features", None)
    with pytest.raises(KeyError, match="parameter name can.*t contain"):
        m.register_parameter("a.b", None)


def test_assigning_a_non_parameter_to_a_parameter_name_raises():
    m = nn.Linear(4, 3)
    with pytest.raises(TypeError, match="weight"):
        m.weight = np.zeros((3, 4), dtype=np.float32)
    with pytest.raises(TypeError, match="weight"):
        m.weight = nf.tensor(np.zeros((3, 4), dtype=np.float32))     # a Tensor is not a Parameter
    assert isinstance(m.weight, nn.Parameter)
    m.bias = None                                                    # None is allowed
    assert m.bias is None and "bias" not in m.state_dict()
    seq = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="module"):
        setattr(seq, "0", 3)


def test_buffers_persistent_and_non_persistent():
    m = Tiny()
    state = m.state_dict()
    assert "scale" in state and "cache" not in state
    assert [n for n, _ in m.named_buffers()] == ["scale", "cache"]
    assert all(not b.requires_grad for b in m.buffers())
    # re-assigning a buffer keeps it a (non-)persistent buffer
    m.cache = nf.tensor(np.ones(3, dtype=np.float32))
    assert "cache" not in m.state_dict() and m._buffers["cache"] is m.cache
    with pytest.raises(TypeError, match="cache"):
        m.cache = np.ones(3)
    # a non-persistent buffer is not expected by load_state_dict
    fresh = Tiny(generator=nf.Generator(5))
    assert fresh.load_state_dict(m.state_dict()) == ([], [])
    # as PyTorch, a buffer is a Tensor or None
    with pytest.raises(TypeError, match="cannot assign 'numpy.ndarray' object to buffer 'table'"):
        m.register_buffer("table", np.arange(3.0))
    m.register_buffer("table", nf.tensor(np.arange(3.0)))
    assert isinstance(m.table, nf.Tensor) and m.table.dtype == np.float64 and m.get_buffer("table") is m.table


def test_module_list_sequential_module_dict_naming_and_behaviour():
    layers = nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 4)])
    layers.append(nn.Linear(4, 5))
    assert len(layers) == 3 and layers[-1].out_features == 5
    assert [layer.out_features for layer in layers] == [3, 4, 5]
    assert [layer.out_features for layer in layers[1:]] == [4, 5]
    layers.extend([nn.Linear(5, 6)])

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = layers

    names = [n for n, _ in Net().named_parameters()]
    assert names[:2] == ["layers.0.weight", "layers.0.bias"]
    assert "layers.3.bias" in names and len(names) == 8

    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    x = nf.tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    expected = seq[2](nf.relu(seq[0](x)))
    np.testing.assert_array_equal(seq(x).numpy(), expected.numpy())

    named = nn.Sequential(OrderedDict([("up", nn.Linear(4, 3)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_parameters()] == ["up.weight", "up.bias"]
    assert named(x).shape == (5, 3)

    blocks = nn.ModuleDict({"enc": nn.Linear(2, 2), "dec": nn.Linear(2, 3)})
    blocks["head"] = nn.Linear(3, 1)
    assert "head" in blocks and "nope" not in blocks and len(blocks) == 3
    assert list(blocks) == ["enc", "dec", "head"] == list(blocks.keys())
    assert blocks["dec"].out_features == 3
    assert [n for n, _ in blocks.named_parameters()][:2] == ["enc.weight", "enc.bias"]
    assert "head.weight" in blocks.state_dict()


# ---------------------------------------------------------------------------- traversal
def test_named_parameters_order_and_dotted_names():
    m = Tiny()
    assert [n for n, _ in m.named_parameters()] == [
        "inp.weight", "inp.bias", "layers.0.weight", "layers.0.bias", "layers.1.weight"]
    assert [n for n, _ in m.named_parameters(prefix="model")][0] == "model.inp.weight"
    assert [n for n, _ in m.inp.named_parameters(recurse=False)] == ["weight", "bias"]
    assert list(m.named_parameters(recurse=False)) == []
    assert m.num_parameters() == 4 * 3 + 3 + 3 * 3 + 3 + 3 * 2


def test_tied_parameters_listed_once_but_under_both_names_in_state_dict():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(7, 4)
            self.head = nn.Linear(4, 7, bias=False)
            self.head.weight = self.embed.weight

    m = Tied()
    assert len(list(m.parameters())) == 1
    assert [n for n, _ in m.named_parameters()] == ["embed.weight"]
    assert len(list(m.named_parameters(remove_duplicate=False))) == 2
    state = m.state_dict()
    assert list(state) == ["embed.weight", "head.weight"]
    assert state["embed.weight"].numpy() is state["head.weight"].numpy() is m.embed.weight.numpy()
    assert m.num_parameters() == 7 * 4


def test_shared_module_appears_under_every_name_in_state_dict_as_in_pytorch():
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.b = self.a

    m = Shared()
    assert len(list(m.parameters())) == 2
    assert list(m.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    # and a checkpoint saved that way (PyTorch's) loads strictly
    state = {"a.weight": np.ones((2, 2)), "a.bias": np.zeros(2), "b.weight": np.ones((2, 2)), "b.bias": np.zeros(2)}
    assert m.load_state_dict(state) == ([], [])


def test_named_modules_children_and_apply_order():
    m = Tiny()
    assert [n for n, _ in m.named_modules()] == ["", "inp", "layers", "layers.0", "layers.1"]
    assert list(m.children()) == [m.inp, m.layers]
    assert [n for n, _ in m.named_children()] == ["inp", "layers"]
    visited = []
    names = {id(mod): name for name, mod in m.named_modules()}
    assert m.apply(lambda mod: visited.append(names[id(mod)])) is m
    assert visited == ["inp", "layers.0", "layers.1", "layers", ""]       # children first, then self
    # apply can re-initialise: every Linear weight set to 0.5
    m.apply(lambda mod: init.constant_(mod.weight, 0.5) if isinstance(mod, nn.Linear) else None)
    assert all(np.all(p.numpy() == 0.5) for n, p in m.named_parameters() if n.endswith("weight"))


# ---------------------------------------------------------------------------- state
def _block(seed, dtype=np.float64, **options):
    return nn.TransformerBlock(8, 2, 12, dtype=dtype, generator=nf.Generator(seed), **options)


def test_state_dict_round_trip_into_a_fresh_model_reproduces_outputs_exactly():
    rng = np.random.default_rng(0)
    x = nf.tensor(rng.standard_normal((2, 5, 8)))
    memory = nf.tensor(rng.standard_normal((2, 3, 8)))
    source = _block(1, causal=True, cross_attention=True)
    target = _block(2, causal=True, cross_attention=True)
    assert not np.array_equal(source(x, memory).numpy(), target(x, memory).numpy())
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(target(x, memory).numpy(), source(x, memory).numpy())
    # a copy, not a reference: changing the source afterwards does not change the target
    source.ffn.up.weight.data += 1
    assert not np.array_equal(target.ffn.up.weight.numpy(), source.ffn.up.weight.numpy())


def test_load_state_dict_casts_dtypes():
    source = _block(1, dtype=np.float64)
    target = _block(2, dtype=np.float32)
    target.load_state_dict(source.state_dict())
    for (name, ours), theirs in zip(target.state_dict().items(), source.state_dict().values()):
        assert ours.dtype == np.float32, name
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy().astype(np.float32))


def test_load_state_dict_keeps_tied_weights_tied_and_writes_in_place():
    class Tied(nn.Module):
        def __init__(self, seed):
            super().__init__()
            g = nf.Generator(seed)
            self.embed = nn.Embedding(7, 4, dtype=F64, generator=g)
            self.head = nn.Linear(4, 7, bias=False, dtype=F64, generator=g)
            self.head.weight = self.embed.weight

    source, target = Tied(1), Tied(2)
    array_before = target.embed.weight.numpy()
    target.load_state_dict(source.state_dict())
    assert target.head.weight is target.embed.weight
    assert target.embed.weight.numpy() is array_before                  # written in place
    np.testing.assert_array_equal(target.head.weight.numpy(), source.embed.weight.numpy())


def test_load_state_dict_strict_lists_missing_unexpected_and_mismatched_at_once():
    m = Tiny()
    state = OrderedDict(Tiny().state_dict())
    del state["layers.0.bias"]
    del state["scale"]
    state["surprise.weight"] = np.zeros(3, dtype=np.float32)
    state["inp.weight"] = np.zeros((3, 5), dtype=np.float32)
    before = {n: a.numpy().copy() for n, a in m.state_dict().items()}
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(state)
    message = str(info.value)
    assert message.startswith("Error(s) in loading state_dict for Tiny:")
    assert 'Missing key(s) in state_dict: "scale", "layers.0.bias". ' in message     # PyTorch's order
    assert 'Unexpected key(s) in state_dict: "surprise.weight". ' in message
    assert ("size mismatch for inp.weight: copying a param with shape (3, 5) from checkpoint, the shape in "
            "current model is (3, 4).") in message
    # nothing was written
    for name, array in m.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_load_state_dict_non_strict_returns_keys_but_refuses_shape_mismatch():
    source, m = Tiny(generator=nf.Generator(1)), Tiny(generator=nf.Generator(2))
    state = OrderedDict(source.state_dict())
    del state["layers.1.weight"]
    state["surprise"] = np.zeros(2)
    missing, unexpected = m.load_state_dict(state, strict=False)
    assert missing == ["layers.1.weight"] and unexpected == ["surprise"]
    np.testing.assert_array_equal(m.inp.weight.numpy(), source.inp.weight.numpy())
    assert not np.array_equal(m.layers[1].weight.numpy(), source.layers[1].weight.numpy())

    state["inp.bias"] = np.zeros(4, dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"size mismatch for inp\.bias: copying a param with shape \(4,\) "
                                           r"from checkpoint, the shape in current model is \(3,\)"):
        m.load_state_dict(state, strict=False)


def test_load_state_dict_accepts_tensors():
    source, m = Tiny(generator=nf.Generator(1)), Tiny(generator=nf.Generator(2))
    m.load_state_dict({n: nf.tensor(a) for n, a in source.state_dict().items()})
    np.testing.assert_array_equal(m.layers[0].weight.numpy(), source.layers[0].weight.numpy())


# ---------------------------------------------------------------------------- modes and grads
def test_train_eval_recurse_and_dropout_is_identity_in_eval():
    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5, generator=nf.Generator(0)),
                      nn.ModuleList([nn.Dropout(0.1)]))
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    x = nf.tensor(np.random.default_rng(0).standard_normal((50, 20)).astype(np.float32))
    np.testing.assert_array_equal(m[1](x).numpy(), x.numpy())
    assert m.train() is m and all(mod.training for mod in m.modules())
    m.train(False)
    assert not m[2][0].training
    m.train(True)
    y = m[1](x).numpy()
    dropped = y == 0
    assert dropped.any() and (~dropped).any()
    assert 0.35 < dropped.mean() < 0.65
    np.testing.assert_allclose(y[~dropped], 2 * x.numpy()[~dropped], rtol=1e-6)


def test_zero_grad_set_to_none_and_not():
    m = Tiny(dtype=F64)
    x = nf.tensor(np.random.default_rng(0).standard_normal((3, 4)))
    m(x).sum().backward()
    assert all(p.grad is not None and np.any(p.grad.numpy() != 0) for p in m.parameters())
    grads = [p.grad for p in m.parameters()]
    m.zero_grad(set_to_none=False)
    for p, g in zip(m.parameters(), grads):
        assert p.grad is g and p.grad.shape == p.shape and np.all(p.grad.numpy() == 0)     # zeroed in place
    m(x).sum().backward()
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_requires_grad_false_stops_parameter_gradients():
    m = Tiny(dtype=F64)
    assert m.requires_grad_(False) is m
    x = nf.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    m(x).sum().backward()
    assert all(p.grad is None for p in m.parameters())
    assert x.grad is not None and np.any(x.grad.numpy() != 0)
    out = m(nf.tensor(np.ones((1, 4))))
    assert not out.requires_grad
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_to_double_float_cast_parameters_and_buffers():
    m = Tiny()
    m.register_buffer("ids", nf.tensor(np.arange(3)))
    assert all(t.dtype == np.float32 for t in list(m.parameters()) + [m.scale, m.cache])
    x = nf.tensor(np.ones((2, 4)))
    m(nf.tensor(np.ones((2, 4), dtype=np.float32))).sum().backward()
    params = list(m.parameters())
    assert m.to(np.float64) is m
    assert all(p is q for p, q in zip(m.parameters(), params))              # the same Parameter objects
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in m.parameters())   # grads cast too
    assert m.scale.dtype == np.float64 and m.cache.dtype == np.float64     # non-persistent too
    assert m.ids.dtype == np.int64                                         # integers are not cast
    assert m(x).dtype == np.float64
    m.float()
    assert all(t.dtype == np.float32 for t in list(m.parameters()) + [m.scale, m.cache])
    m.double()
    assert all(t.dtype == np.float64 for t in list(m.parameters()) + [m.scale, m.cache])


# ---------------------------------------------------------------------------- repr
def test_repr_is_a_readable_tree():
    text = repr(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.ModuleList([nn.Linear(3, 2, bias=False)])))
    lines = text.splitlines()
    assert lines[0] == "Sequential("
    assert lines[1] == "  (0): Linear(in_features=4, out_features=3, bias=True)"
    assert lines[2] == "  (1): ReLU()"
    assert lines[3] == "  (2): ModuleList("
    assert lines[4] == "    (0): Linear(in_features=3, out_features=2, bias=False)"
    assert lines[5] == "  )"
    assert lines[6] == ")"
    assert repr(nn.Linear(4, 3)) == "Linear(in_features=4, out_features=3, bias=True)"
    block = repr(nn.TransformerBlock(8, 2, 16))
    assert "  (self_attn): AttentionHeads(" in block
    assert "    (q_proj): Linear(in_features=8, out_features=8, bias=True)" in block
    assert "(up): Linear(in_features=8, out_features=16, bias=True)" in block


# ---------------------------------------------------------------------------- init
def _param(shape, dtype=F64):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


INITS = {
    "uniform_": lambda t, g: init.uniform_(t, -0.3, 0.7, generator=g),
    "normal_": lambda t, g: init.normal_(t, 0.2, 1.5, generator=g),
    "trunc_normal_": lambda t, g: init.trunc_normal_(t, 0.1, 0.5, -0.4, 0.9, generator=g),
    "xavier_uniform_": lambda t, g: init.xavier_uniform_(t, generator=g),
    "xavier_normal_": lambda t, g: init.xavier_normal_(t, generator=g),
    "kaiming_uniform_": lambda t, g: init.kaiming_uniform_(t, a=math.sqrt(5), generator=g),
    "kaiming_normal_": lambda t, g: init.kaiming_normal_(t, nonlinearity="relu", generator=g),
}


@pytest.mark.parametrize("name", sorted(INITS))
def test_init_is_reproducible_with_a_generator_and_dtype_independent(name):
    fill = INITS[name]
    a = fill(_param((30, 20)), nf.Generator(7)).numpy()
    b = fill(_param((30, 20)), nf.Generator(7)).numpy()
    c = fill(_param((30, 20)), nf.Generator(8)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    single = fill(_param((30, 20), np.float32), nf.Generator(7)).numpy()
    assert single.dtype == np.float32
    np.testing.assert_array_equal(single, a.astype(np.float32))        # same draws, rounded
    # the default generator, reseeded by manual_seed
    nf.manual_seed(3)
    d = fill(_param((30, 20)), None).numpy()
    nf.manual_seed(3)
    np.testing.assert_array_equal(fill(_param((30, 20)), None).numpy(), d)


def test_init_functions_return_their_tensor_and_fill_in_place():
    t = _param((4, 3))
    array = t.numpy()
    assert init.normal_(t, generator=nf.Generator(0)) is t and t.numpy() is array
    assert init.zeros_(t) is t and np.all(t.numpy() == 0)
    assert init.ones_(t) is t and np.all(t.numpy() == 1)
    assert init.constant_(t, 2.5) is t and np.all(t.numpy() == 2.5)


def _check_uniform(values, low, high):
    assert values.min() >= low and values.max() <= high
    width = high - low
    assert values.min() < low + 0.01 * width and values.max() > high - 0.01 * width   # fills the range
    n = values.size
    se = width / math.sqrt(12 * n)
    assert abs(values.mean() - (low + high) / 2) < 5 * se
    assert abs(values.std() - width / math.sqrt(12)) < 5 * width / math.sqrt(12) / math.sqrt(n)


def _check_normal(values, mean, std, kurtosis=3.0):
    n = values.size
    assert abs(values.mean() - mean) < 5 * std / math.sqrt(n)
    # standard error of the sample std: std sqrt((kurtosis - 1) / (4 n))
    assert abs(values.std() - std) < 5 * std * math.sqrt((kurtosis - 1) / (4 * n))


def test_uniform_bounds_and_statistics():
    values = init.uniform_(_param((400, 500)), -0.3, 0.7, generator=nf.Generator(0)).numpy()
    _check_uniform(values, -0.3, 0.7)


def test_xavier_uniform_and_kaiming_uniform_bounds():
    shape = (300, 700)                      # fan_in 700, fan_out 300
    values = init.xavier_uniform_(_param(shape), gain=2.0, generator=nf.Generator(0)).numpy()
    _check_uniform(values, -2.0 * math.sqrt(6 / 1000), 2.0 * math.sqrt(6 / 1000))
    values = init.kaiming_uniform_(_param(shape), generator=nf.Generator(1)).numpy()      # a=0: gain sqrt(2)
    bound = math.sqrt(2) * math.sqrt(3 / 700)
    _check_uniform(values, -bound, bound)
    values = init.kaiming_uniform_(_param(shape), a=math.sqrt(5), generator=nf.Generator(2)).numpy()
    _check_uniform(values, -1 / math.sqrt(700), 1 / math.sqrt(700))                    # torch.nn.Linear's
    values = init.kaiming_uniform_(_param(shape), mode="fan_out", nonlinearity="relu",
                                   generator=nf.Generator(3)).numpy()
    bound = math.sqrt(2) * math.sqrt(3 / 300)
    _check_uniform(values, -bound, bound)
    conv = init.xavier_uniform_(_param((20, 10, 3, 3)), generator=nf.Generator(4)).numpy()   # receptive field 9
    assert np.abs(conv).max() <= math.sqrt(6 / (90 + 180))


def test_normal_xavier_normal_kaiming_normal_statistics():
    _check_normal(init.normal_(_param((400, 500)), 0.2, 1.5, generator=nf.Generator(0)).numpy(), 0.2, 1.5)
    values = init.xavier_normal_(_param((300, 700)), gain=0.5, generator=nf.Generator(1)).numpy()
    _check_normal(values, 0.0, 0.5 * math.sqrt(2 / 1000))
    values = init.kaiming_normal_(_param((300, 700)), nonlinearity="relu", generator=nf.Generator(2)).numpy()
    _check_normal(values, 0.0, math.sqrt(2) / math.sqrt(700))
    values = init.kaiming_normal_(_param((300, 700)), mode="fan_out", nonlinearity="tanh",
                                  generator=nf.Generator(3)).numpy()
    _check_normal(values, 0.0, 5 / 3 / math.sqrt(300))


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.1, 0.5, -0.4, 0.9), (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal_stays_inside_and_matches_truncated_moments(mean, std, a, b):
    values = init.trunc_normal_(_param((400, 500)), mean, std, a, b, generator=nf.Generator(0)).numpy()
    assert values.min() >= a and values.max() <= b
    alpha, beta = (a - mean) / std, (b - mean) / std

    def pdf(z):
        return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    def cdf(z):
        return 0.5 * (1 + math.erf(z / math.sqrt(2)))
    z = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / z
    expected_mean = mean + std * shift
    expected_std = std * math.sqrt(1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - shift ** 2)
    _check_normal(values, expected_mean, expected_std)
    assert values.min() < a + 0.05 * (b - a) and values.max() > b - 0.05 * (b - a)


def test_fan_in_and_fan_out_need_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_param((5,)))


def test_linear_init_bound_and_embedding_padding_row():
    lin = nn.Linear(64, 3000, generator=nf.Generator(0))
    bound = 1 / math.sqrt(64)
    _check_uniform(lin.weight.numpy().astype(F64), -bound, bound)
    assert np.abs(lin.bias.numpy()).max() <= bound and np.abs(lin.bias.numpy()).max() > 0.95 * bound
    lin64 = nn.Linear(64, 3000, dtype=F64, generator=nf.Generator(0))
    np.testing.assert_array_equal(lin.weight.numpy(), lin64.weight.numpy().astype(np.float32))
    np.testing.assert_array_equal(lin.bias.numpy(), lin64.bias.numpy().astype(np.float32))

    emb = nn.Embedding(500, 64, padding_idx=3, generator=nf.Generator(0))
    assert np.all(emb.weight.numpy()[3] == 0)
    others = np.delete(emb.weight.numpy(), 3, axis=0).astype(F64)
    assert np.all(np.any(others != 0, axis=1))
    _check_normal(others, 0.0, 1.0)
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    assert np.all(nn.Embedding(5, 2, padding_idx=-1).weight.numpy()[4] == 0)


def test_shapes_only_builds_placeholders_that_nothing_draws_into():
    def block():
        return nn.TransformerBlock(16, 4, d_ff=32, cross_attention=True, dtype=F64, generator=nf.Generator(3))

    real = block()
    with nn.shapes_only():
        skeleton = block()
        embedding = nn.Embedding(10 ** 9, 4096, padding_idx=0)
        table = nn.SinusoidalPositionalEmbedding(10 ** 9, 4096)
        rotary, alibi = nn.RotaryEmbedding(10 ** 6), nn.ALiBi(10 ** 8)
    assert list(skeleton.state_dict()) == list(real.state_dict())
    for (name, a), b in zip(skeleton.state_dict().items(), real.state_dict().values()):
        a = a.numpy()
        assert (a.shape, a.dtype) == (b.shape, b.dtype) and not a.flags.writeable and a.strides == (0,) * a.ndim, name
    for array in (embedding.weight.numpy(), table.table.numpy(), rotary.inv_freq, alibi.slopes):
        assert array.nbytes > 10 ** 6 and array.strides == (0,) * array.ndim
    assert rotary.inv_freq.dtype == F64 and alibi.slopes.shape == (10 ** 8,)
    # an initialiser leaves a placeholder as it is and draws nothing from the generator
    generator = nf.Generator(5)
    init.normal_(skeleton.ffn.up.weight, generator=generator)
    init.ones_(skeleton.ffn.up.bias)
    np.testing.assert_array_equal(nn.Linear(3, 2, generator=generator).weight.numpy(),
                                  nn.Linear(3, 2, generator=nf.Generator(5)).weight.numpy())
    # outside the context, the same construction allocates and draws as before
    again = block()
    for name, array in real.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[name].numpy(), array.numpy(), err_msg=name)
        assert again.state_dict()[name].numpy().flags.writeable


# ---------------------------------------------------------------------------- gradient checks
def test_assert_module_gradients_catches_a_wrong_gradient():
    """The helper can fail: a module whose backward is wrong by a factor is caught."""

    class Twice(nf.Function, register=False):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, grad):
            return grad * 0.0          # wrong: d(x^2)/dx = 2x

    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.array([0.5, -1.5]))

        def forward(self, x):
            return Twice.apply(self.w) * x

    module = Bad()
    with pytest.raises(AssertionError, match="param w"):
        assert_module_gradients(module, lambda x: module(x), {"x": randn(np.random.default_rng(0), 3, 2)},
                                run_gradcheck=False)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(bias):
    rng = np.random.default_rng(1)
    m = nn.Linear(3, 4, bias=bias, dtype=F64, generator=nf.Generator(0))
    assert_module_gradients(m, lambda x: m(x), {"x": randn(rng, 2, 5, 3)})


@pytest.mark.parametrize("padding_idx", [None, 0])
def test_embedding_gradients(padding_idx):
    m = nn.Embedding(6, 3, padding_idx=padding_idx, dtype=F64, generator=nf.Generator(0))
    ids = nf.tensor(np.array([[1, 4, 4], [5, 2, 1]]))            # repeated ids, never the padding id
    assert_module_gradients(m, lambda: m(ids), {})
    m.zero_grad()
    m(nf.tensor(np.array([[0, 3, 0]]))).sum().backward()
    if padding_idx == 0:
        assert np.all(m.weight.grad.numpy()[0] == 0)                     # the padding row gets no gradient
    else:
        np.testing.assert_array_equal(m.weight.grad.numpy()[0], np.full(3, 2.0))


@pytest.mark.parametrize("affine, bias", [(True, True), (True, False), (False, False)])
def test_layer_norm_gradients(affine, bias):
    rng = np.random.default_rng(2)
    m = nn.LayerNorm(5, elementwise_affine=affine, bias=bias, dtype=F64)
    for p in m.parameters():                                     # away from the 1/0 defaults
        p.numpy()[...] = rng.standard_normal(p.shape)
    assert len(list(m.parameters())) == int(affine) + int(affine and bias)
    assert_module_gradients(m, lambda x: m(x), {"x": randn(rng, 2, 3, 5)})


@pytest.mark.parametrize("affine", [True, False])
def test_rms_norm_gradients(affine):
    rng = np.random.default_rng(3)
    m = nn.RMSNorm(5, eps=1e-6, elementwise_affine=affine, dtype=F64)
    for p in m.parameters():
        p.numpy()[...] = rng.standard_normal(p.shape)
    assert_module_gradients(m, lambda x: m(x), {"x": randn(rng, 2, 3, 5)})


def test_dropout_gradients_with_a_fixed_generator():
    rng = np.random.default_rng(4)
    generator = nf.Generator(11)
    m = nn.Dropout(0.3, generator=generator)

    def forward(x):
        generator.manual_seed(11)                                # the same mask on every evaluation
        return m(x)

    out = forward(nf.tensor(np.ones((4, 6))))
    assert np.any(out.numpy() == 0) and np.any(out.numpy() != 0)
    assert_module_gradients(m, forward, {"x": randn(rng, 4, 6)})


@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_tanh", "silu", "swiglu", "geglu", "geglu_tanh"])
def test_feed_forward_gradients(activation):
    rng = np.random.default_rng(5)
    m = nn.FeedForward(4, 6, activation=activation, dtype=F64, generator=nf.Generator(1))
    assert (m.gate is not None) == (activation in ("swiglu", "geglu", "geglu_tanh"))
    assert_module_gradients(m, lambda x: m(x), {"x": randn(rng, 2, 3, 4)})


def _mha_case(name, rng):
    """(module, forward, inputs) for one attention configuration."""
    B, L, S = 2, 3, 4
    if name == "self":
        m = nn.AttentionHeads(4, 2, dtype=F64, generator=nf.Generator(0))
        return m, lambda x: m(x), {"x": randn(rng, B, L, 4)}
    if name == "self no bias":
        m = nn.AttentionHeads(4, 2, bias=False, dtype=F64, generator=nf.Generator(0))
        assert m.q_proj.bias is None and m.out_proj.bias is None
        return m, lambda x: m(x), {"x": randn(rng, B, L, 4)}
    if name == "causal":
        m = nn.AttentionHeads(4, 2, dtype=F64, generator=nf.Generator(0))
        return m, lambda x: m(x, is_causal=True), {"x": randn(rng, B, L + 1, 4)}
    if name == "cross":
        m = nn.AttentionHeads(4, 2, dtype=F64, generator=nf.Generator(0))
        return m, lambda x, memory: m(x, memory), {"x": randn(rng, B, L, 4), "memory": randn(rng, B, S, 4)}
    if name == "cross separate value":
        m = nn.AttentionHeads(4, 2, dtype=F64, generator=nf.Generator(0))
        return m, lambda x, k, v: m(x, k, v), {"x": randn(rng, B, L, 4), "k": randn(rng, B, S, 4),
                                               "v": randn(rng, B, S, 4)}
    if name == "grouped query":
        m = nn.AttentionHeads(8, 4, n_kv_heads=2, dtype=F64, generator=nf.Generator(0))
        assert m.k_proj.weight.shape == (4, 8)
        return m, lambda x: m(x, is_causal=True), {"x": randn(rng, B, L, 8)}
    if name == "multi query cross":
        m = nn.AttentionHeads(8, 4, n_kv_heads=1, dtype=F64, generator=nf.Generator(0))
        return m, lambda x, memory: m(x, memory), {"x": randn(rng, B, L, 8), "memory": randn(rng, B, S, 8)}
    if name in ("padding and position bias", "grouped padding and position bias"):
        heads, kv = (4, 2) if name.startswith("grouped") else (2, 2)
        d = 2 * heads
        m = nn.AttentionHeads(d, heads, n_kv_heads=kv, dtype=F64, generator=nf.Generator(0))
        padding = np.array([[False, False, True, True], [False, True, False, False]])
        return m, lambda x, memory, bias: m(x, memory, key_padding_mask=padding, position_bias=bias), {
            "x": randn(rng, B, L, d), "memory": randn(rng, B, S, d), "bias": randn(rng, 1, heads, L, S)}
    if name == "self causal padding, bias and float mask":
        m = nn.AttentionHeads(4, 2, dtype=F64, generator=nf.Generator(0))
        padding = np.array([[False, False, True], [False, False, False]])
        return m, lambda x, bias, mask: m(x, key_padding_mask=padding, position_bias=bias, attn_mask=mask,
                                          is_causal=True), {
            "x": randn(rng, B, L, 4), "bias": randn(rng, B, 2, L, L), "mask": randn(rng, L, L)}
    if name == "need weights":
        m = nn.AttentionHeads(4, 2, dtype=F64, generator=nf.Generator(0))
        allowed = np.array([[True, False, True, True], [True, True, False, True], [True, True, True, False]])
        return m, lambda x, memory: m(x, memory, attn_mask=allowed, need_weights=True), {
            "x": randn(rng, B, L, 4), "memory": randn(rng, B, S, 4)}
    raise KeyError(name)


MHA_CASES = ["self", "self no bias", "causal", "cross", "cross separate value", "grouped query", "multi query cross",
             "padding and position bias", "grouped padding and position bias",
             "self causal padding, bias and float mask", "need weights"]


@pytest.mark.parametrize("name", MHA_CASES)
def test_multi_head_attention_gradients(name):
    module, forward, inputs = _mha_case(name, np.random.default_rng(6))
    assert_module_gradients(module, forward, inputs)


BLOCK_CASES = [(norm_first, norm, cross, bias)
               for norm_first in (True, False) for norm in ("layernorm", "rmsnorm")
               for cross in (False, True) for bias in (True, False)]


@pytest.mark.parametrize("norm_first, norm, cross, bias", BLOCK_CASES)
def test_transformer_block_gradients(norm_first, norm, cross, bias):
    rng = np.random.default_rng(7)
    block = nn.TransformerBlock(4, 2, 6, norm=norm, norm_first=norm_first, bias=bias, causal=cross,
                                cross_attention=cross, activation="gelu" if bias else "swiglu", dtype=F64,
                                generator=nf.Generator(3))
    for name, p in block.named_parameters():                     # norms away from their 1/0 defaults
        if "norm" in name:
            p.numpy()[...] += 0.3 * rng.standard_normal(p.shape)
    padding = np.array([[False, False, False], [False, False, True]])
    if cross:
        memory_padding = np.array([[False, True, False, False], [False, False, False, True]])
        assert_module_gradients(block, lambda x, memory: block(x, memory, key_padding_mask=padding,
                                                               memory_key_padding_mask=memory_padding),
                                {"x": randn(rng, 2, 3, 4), "memory": randn(rng, 2, 4, 4)})
    else:
        assert_module_gradients(block, lambda x: block(x, key_padding_mask=padding), {"x": randn(rng, 2, 3, 4)})


def test_transformer_block_gradients_grouped_query_with_position_bias():
    rng = np.random.default_rng(8)
    block = nn.TransformerBlock(8, 4, 6, n_kv_heads=2, norm="rmsnorm", causal=True, activation="silu",
                                dtype=F64, generator=nf.Generator(4))
    assert_module_gradients(block, lambda x, bias: block(x, position_bias=bias),
                            {"x": randn(rng, 2, 3, 8), "bias": randn(rng, 1, 4, 3, 3)})


# ---------------------------------------------------------------------------- bad input
def test_bad_head_counts():
    with pytest.raises(ValueError) as info:
        nn.AttentionHeads(6, 4)
    assert "d_model (6)" in str(info.value) and "n_heads (4)" in str(info.value)
    with pytest.raises(ValueError) as info:
        nn.AttentionHeads(12, 4, n_kv_heads=3)
    assert "n_heads (4)" in str(info.value) and "n_kv_heads (3)" in str(info.value)


def test_bad_query_shape():
    m = nn.AttentionHeads(4, 2)
    with pytest.raises(ValueError) as info:
        m(nf.tensor(np.zeros((3, 4), dtype=np.float32)))
    message = str(info.value)
    assert "query" in message and "(batch, length, d_model=4)" in message and "(3, 4)" in message
    with pytest.raises(ValueError, match=r"query.*d_model=4.*\(2, 3, 5\)"):
        m(nf.tensor(np.zeros((2, 3, 5), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"key must be \(batch=2, length, d_model=4\).*\(1, 3, 4\)"):
        m(nf.tensor(np.zeros((2, 3, 4), dtype=np.float32)), nf.tensor(np.zeros((1, 3, 4), dtype=np.float32)))


def test_bad_value_shape():
    m = nn.AttentionHeads(4, 2)
    x = nf.tensor(np.zeros((2, 3, 4), dtype=np.float32))
    key = nf.tensor(np.zeros((2, 5, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"value.*\(1, 5, 4\)"):
        m(x, key, nf.tensor(np.zeros((1, 5, 4), dtype=np.float32)))


def test_is_causal_applies_when_key_and_value_are_passed_explicitly():
    m = nn.AttentionHeads(4, 2, dtype=F64, generator=nf.Generator(0))
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    expected = m(nf.tensor(x), is_causal=True).numpy()
    np.testing.assert_allclose(m(nf.tensor(x), nf.tensor(x), nf.tensor(x), is_causal=True).numpy(), expected,
                               rtol=1e-12, atol=1e-12)


def test_bad_key_padding_mask():
    m = nn.AttentionHeads(4, 2)
    x = nf.tensor(np.zeros((2, 3, 4), dtype=np.float32))
    with pytest.raises(ValueError) as info:
        m(x, key_padding_mask=np.zeros((2, 5), dtype=bool))
    message = str(info.value)
    assert "key_padding_mask" in message and "batch=2" in message and "key length=3" in message
    assert "(2, 5)" in message
    with pytest.raises(ValueError, match="key_padding_mask must be bool"):
        m(x, key_padding_mask=np.zeros((2, 3)))


def test_bad_attn_mask_and_position_bias():
    m = nn.AttentionHeads(4, 2)
    x = nf.tensor(np.zeros((2, 3, 4), dtype=np.float32))
    with pytest.raises(ValueError) as info:
        m(x, attn_mask=np.ones((2, 3), dtype=bool))
    message = str(info.value)
    assert "attn_mask" in message and "(2, 3)" in message and "(2, 2, 3, 3)" in message
    with pytest.raises(ValueError, match=r"position_bias of shape \(3, 2, 3, 3\)"):
        m(x, position_bias=nf.tensor(np.zeros((3, 2, 3, 3), dtype=np.float32)))


def test_load_state_dict_wrong_shape_names_the_key_and_both_shapes():
    m = nn.Linear(4, 3)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict({"weight": np.zeros((3, 5)), "bias": np.zeros(3)})
    message = str(info.value)
    assert "size mismatch for weight: copying a param with shape (3, 5) from checkpoint" in message
    assert "the shape in current model is (3, 4)" in message
