"""npformer.nn's Module, containers, layers and init against torch.nn's.

- Layers: the same constructor signature and defaults (compared with inspect), the same repr
  and state-dict keys; torch's weights loaded into ours through load_state_dict (torch tensors
  are accepted as they are); then the output and the gradients of the input and of every
  parameter, for a fixed random upstream gradient, in float64 with relative error
  max |ours - torch| / max(max |torch|, 1) <= 1e-10.
- Module: one small GPT-like model written once against either library (ModuleDict,
  ModuleList, a tied embedding, buffers persistent or not) gives the same names, orders,
  state-dict keys, load_state_dict results and errors, casting, deepcopy behaviour and numbers.
- Containers: the same operations on both give the same children in the same order.
- init: PyTorch's formulas (fans, gains, bounds, standard deviations) on both, checked on the
  samples statistically; deterministic initialisers give equal tensors.
"""
import copy
import inspect
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import npformer as nf
import npformer.nn as nn
from npformer.nn import init
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")
tnn = torch.nn

TOLERANCE = 1e-10


# ---------------------------------------------------------------------------- layers
LAYERS = {
    # name: (constructor arguments, input shape, input kind)
    "Linear": ((5, 3), (2, 4, 5), "float"),
    "Linear no bias": ((5, 3, False), (4, 5), "float"),
    "Embedding": ((7, 4), (2, 3), "ids"),
    "Embedding padding_idx": ((7, 4, 2), (2, 3), "ids"),
    "Embedding max_norm": ((7, 4, None, 1.5), (2, 3), "ids"),
    "Embedding max_norm p=1 scale_grad_by_freq": ((7, 4, 1, 2.0, 1.0, True), (3, 3), "ids"),
    "LayerNorm": ((6,), (2, 3, 6), "float"),
    "LayerNorm two dims, no bias": (((3, 6), 1e-3, True, False), (2, 3, 6), "float"),
    "LayerNorm no affine": ((6, 1e-5, False), (2, 6), "float"),
    "RMSNorm": ((6,), (2, 3, 6), "float"),
    "RMSNorm eps": (((3, 6), 1e-4), (2, 3, 6), "float"),
    "RMSNorm no affine": ((6, None, False), (4, 6), "float"),
    "Dropout p=0": ((0.0,), (3, 4), "float"),
    "ReLU": ((), (3, 4), "float"),
    "GELU": ((), (3, 4), "float"),
    "GELU tanh": (("tanh",), (3, 4), "float"),
    "SiLU": ((), (3, 4), "float"),
    "Tanh": ((), (3, 4), "float"),
    "Sigmoid": ((), (3, 4), "float"),
    "LogSigmoid": ((), (3, 4), "float"),
    "Softmax": ((1,), (2, 3, 4), "float"),
    "LogSoftmax": ((-1,), (2, 3, 4), "float"),
    "Softmax implicit dim": ((), (2, 3), "float"),
    "LeakyReLU": ((0.2,), (3, 4), "float"),
    "ELU": ((0.7,), (3, 4), "float"),
    "Softplus": ((2.0, 5.0), (3, 4), "float"),
    "Mish": ((), (3, 4), "float"),
    "Hardtanh": ((-0.5, 0.8), (3, 4), "float"),
    "ReLU6": ((), (3, 4), "float"),
    "GLU": ((1,), (3, 4), "float"),
    "Identity": ((), (3, 4), "float"),
    "Flatten": ((), (2, 3, 4), "float"),
    "Unflatten": ((1, (2, 2)), (3, 4), "float"),
}


def _class(name):
    return name.split()[0]


def _inputs(shape, kind, rng):
    if kind == "ids":
        ids = rng.integers(0, 7, shape)
        ids.reshape(-1)[:3] = [1, 1, 2]                         # a repeated id, and the padding id
        return ids
    x = rng.standard_normal(shape) * 2
    if shape == (3, 4):
        x[0, :3] = [7.0, -7.0, 0.5]                           # past Softplus's threshold and Hardtanh's bounds
    return x


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name):
    args, shape, kind = LAYERS[name]
    rng = np.random.default_rng(sorted(LAYERS).index(name))
    torch.manual_seed(0)
    theirs = getattr(tnn, _class(name))(*args).double()
    ours = getattr(nn, _class(name))(*args).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():                                      # norms away from their ones and zeros
        for param in theirs.parameters():
            param.add_(torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(param.shape))))
    assert ours.load_state_dict(theirs.state_dict()) == ([], [])        # torch's tensors, as they are

    x = _inputs(shape, kind, rng)
    ours_x = nf.tensor(x, requires_grad=kind == "float")
    theirs_x = torch.tensor(x, requires_grad=kind == "float")
    with pytest.warns(UserWarning, match="Implicit dimension") if "implicit" in name else _nothing():
        ours_out = ours(ours_x)
    with pytest.warns(UserWarning, match="Implicit dimension") if "implicit" in name else _nothing():
        theirs_out = theirs(theirs_x)
    assert ours_out.shape == tuple(theirs_out.shape)
    errors = {"output": relative_error(ours_out.numpy(), theirs_out.detach().numpy())}
    upstream = rng.standard_normal(ours_out.shape)
    ours_out.backward(nf.tensor(upstream))
    theirs_out.backward(torch.from_numpy(upstream))
    if kind == "float":
        errors["input gradient"] = relative_error(ours_x.grad.numpy(), theirs_x.grad.numpy())
    theirs_params = dict(theirs.named_parameters())
    for key, param in ours.named_parameters():
        errors[key + " gradient"] = relative_error(param.grad.numpy(), theirs_params[key].grad.numpy())
    for key, value in theirs.state_dict().items():             # max_norm renormalises the weight in place
        errors[key + " after forward"] = relative_error(ours.state_dict()[key].numpy(), value.numpy())
    worst = max(errors, key=errors.get)
    record_torch_error(f"nn.{name} float64", errors[worst])
    assert errors[worst] <= TOLERANCE, f"{name}: {worst} relative error {errors[worst]:.3e}"


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _parameters(cls):
    """(name, default) of a constructor's positional-or-keyword parameters; keyword-only ones
    (npformer's own extras such as generator=) are left out."""
    signature = inspect.signature(cls.__init__)
    return [(p.name, p.default) for p in list(signature.parameters.values())[1:]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL, p.VAR_KEYWORD)]


MODULE_CLASSES = sorted({_class(name) for name in LAYERS} | {
    "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "CrossEntropyLoss",
    "NLLLoss", "KLDivLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss"})


@pytest.mark.parametrize("name", MODULE_CLASSES)
def test_constructor_signature_and_defaults_are_torchs(name):
    assert _parameters(getattr(nn, name)) == _parameters(getattr(tnn, name))


@pytest.mark.parametrize("method", ["state_dict", "load_state_dict", "named_parameters", "named_buffers",
                                    "named_modules", "parameters", "buffers", "children", "named_children",
                                    "modules", "train", "eval", "zero_grad", "requires_grad_", "register_buffer",
                                    "register_parameter", "add_module", "register_module", "get_submodule",
                                    "set_submodule", "get_parameter", "get_buffer", "apply", "cpu", "float", "double",
                                    "half", "type", "extra_repr"])
def test_module_method_signatures_are_torchs(method):
    ours = inspect.signature(getattr(nn.Module, method))
    theirs = inspect.signature(getattr(tnn.Module, method))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == \
           [(p.name, p.kind, p.default) for p in theirs.parameters.values()]


def test_embedding_from_pretrained_and_freeze():
    weights = np.arange(12.0).reshape(4, 3)
    for freeze in (True, False):
        ours = nn.Embedding.from_pretrained(nf.tensor(weights), freeze=freeze, padding_idx=1)
        theirs = tnn.Embedding.from_pretrained(torch.tensor(weights), freeze=freeze, padding_idx=1)
        assert repr(ours) == repr(theirs)
        assert ours.weight.requires_grad == theirs.weight.requires_grad == (not freeze)
        ids = np.array([[0, 1, 3]])
        np.testing.assert_array_equal(ours(nf.tensor(ids)).numpy(), theirs(torch.tensor(ids)).detach().numpy())
    shared = nf.tensor(weights)
    assert nn.Embedding.from_pretrained(shared).weight.numpy() is shared.numpy()        # not copied, as torch


def test_dropout_and_inplace_activations_behave_as_torchs():
    x = np.random.default_rng(0).standard_normal((50, 40))
    ours, theirs = nn.Dropout(0.3), tnn.Dropout(0.3)
    assert repr(ours) == repr(theirs) == "Dropout(p=0.3, inplace=False)"
    ours.eval(), theirs.eval()
    np.testing.assert_array_equal(ours(nf.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy())
    ours.train()
    dropped = ours(nf.tensor(x)).numpy()
    kept = dropped != 0
    np.testing.assert_allclose(dropped[kept], x[kept] / 0.7, rtol=1e-15)        # inverted dropout
    assert abs(kept.mean() - 0.7) < 0.05
    for cls, args in [("ReLU", (True,)), ("SiLU", (True,)), ("LeakyReLU", (0.1, True)), ("ELU", (1.0, True)),
                      ("Hardtanh", (-1.0, 1.0, True)), ("Dropout", (0.5, True))]:
        mine, yours = getattr(nn, cls)(*args), getattr(tnn, cls)(*args)
        assert repr(mine) == repr(yours)
        a, b = nf.tensor(x.copy()), torch.tensor(x.copy())
        out_a, out_b = mine(a), yours(b)
        assert out_a is a and out_b is b                       # the input itself, written in place
        if cls != "Dropout":
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        tnn.Dropout(1.5)


# ---------------------------------------------------------------------------- one model, two libraries
def tiny_gpt(lib, nn_lib):
    """A nanoGPT-shaped model written only with the API both libraries share."""

    class Block(nn_lib.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn_lib.LayerNorm(8)
            self.attn = nn_lib.Linear(8, 8)
            self.mlp = nn_lib.Sequential(OrderedDict([("c_fc", nn_lib.Linear(8, 16)), ("gelu", nn_lib.GELU()),
                                                      ("c_proj", nn_lib.Linear(16, 8)),
                                                      ("dropout", nn_lib.Dropout(0.0))]))
            self.register_buffer("bias", lib.ones(6, 6), persistent=False)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(x)

    class TinyGPT(nn_lib.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn_lib.ModuleDict(dict(
                wte=nn_lib.Embedding(11, 8), wpe=nn_lib.Embedding(6, 8),
                h=nn_lib.ModuleList([Block() for _ in range(2)]), ln_f=nn_lib.LayerNorm(8)))
            self.lm_head = nn_lib.Linear(8, 11, bias=False)
            self.transformer.wte.weight = self.lm_head.weight            # tied, as nanoGPT
            self.register_buffer("steps", lib.zeros(1, dtype=lib.int64))

        def forward(self, ids):
            positions = lib.arange(ids.shape[1])
            x = self.transformer.wte(ids) + self.transformer.wpe(positions)
            for block in self.transformer.h:
                x = block(x)
            return self.lm_head(self.transformer.ln_f(x))

    return TinyGPT()


def _pair():
    torch.manual_seed(0)
    theirs = tiny_gpt(torch, tnn).double()
    ours = tiny_gpt(nf, nn).double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def test_model_names_orders_and_state_dict_keys_are_torchs():
    ours, theirs = _pair()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_parameters(remove_duplicate=False)] == \
           [n for n, _ in theirs.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_parameters(prefix="model")] == \
           [n for n, _ in theirs.named_parameters(prefix="model")]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict(prefix="m.")) == list(theirs.state_dict(prefix="m."))
    assert list(ours.state_dict(keep_vars=True)) == list(theirs.state_dict(keep_vars=True))
    assert repr(ours) == repr(theirs)
    assert {"transformer", "lm_head", "steps", "state_dict"} <= set(dir(ours))
    assert not [name for name in dir(ours.transformer.h) if name[0].isdigit()]       # as torch's dir()


def test_model_state_dict_values_share_memory_and_are_detached_as_torchs():
    ours, theirs = _pair()
    state, state_t = ours.state_dict(), theirs.state_dict()
    assert all(isinstance(v, nf.Tensor) and not isinstance(v, nn.Parameter) for v in state.values())
    assert all(not v.requires_grad for v in state.values()) and all(not v.requires_grad for v in state_t.values())
    assert state["lm_head.weight"].numpy() is ours.lm_head.weight.numpy()
    kept = ours.state_dict(keep_vars=True)
    assert kept["lm_head.weight"] is ours.lm_head.weight is kept["transformer.wte.weight"]
    assert state_t["lm_head.weight"].data_ptr() == state_t["transformer.wte.weight"].data_ptr()
    state["lm_head.weight"][0, 0] = 5.0                        # written through, as torch
    assert ours.lm_head.weight.numpy()[0, 0] == 5.0


def test_model_forward_and_every_gradient_match_torch():
    ours, theirs = _pair()
    ids = np.random.default_rng(1).integers(0, 11, (2, 5))
    ours_out, theirs_out = ours(nf.tensor(ids)), theirs(torch.tensor(ids))
    upstream = np.random.default_rng(2).standard_normal(ours_out.shape)
    ours_out.backward(nf.tensor(upstream))
    theirs_out.backward(torch.from_numpy(upstream))
    errors = {"output": relative_error(ours_out.numpy(), theirs_out.detach().numpy())}
    theirs_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        errors[name] = relative_error(param.grad.numpy(), theirs_params[name].grad.numpy())
    worst = max(errors, key=errors.get)
    record_torch_error("tiny GPT module float64", errors[worst])
    assert errors[worst] <= TOLERANCE, f"{worst}: {errors[worst]:.3e}"
    # zero_grad: to None by default, to zeros in place otherwise, as torch
    grad = ours.lm_head.weight.grad
    ours.zero_grad(set_to_none=False), theirs.zero_grad(set_to_none=False)
    assert ours.lm_head.weight.grad is grad and not grad.numpy().any()
    ours.zero_grad(), theirs.zero_grad()
    assert ours.lm_head.weight.grad is None and theirs.lm_head.weight.grad is None


def test_load_state_dict_results_and_errors_are_torchs():
    ours, theirs = _pair()
    result = ours.load_state_dict(theirs.state_dict())
    assert repr(result) == repr(theirs.load_state_dict(theirs.state_dict())) == "<All keys matched successfully>"
    state = OrderedDict(theirs.state_dict())
    del state["transformer.ln_f.bias"], state["steps"]
    state["surprise"] = torch.zeros(2)
    state["transformer.h.0.attn.extra"] = torch.zeros(2)
    ours_result = ours.load_state_dict(state, strict=False)
    theirs_result = theirs.load_state_dict(state, strict=False)
    assert ours_result == theirs_result
    assert ours_result.missing_keys == theirs_result.missing_keys
    assert ours_result.unexpected_keys == theirs_result.unexpected_keys
    assert repr(ours_result) == repr(theirs_result)
    with pytest.raises(RuntimeError) as ours_error:
        ours.load_state_dict(state)
    with pytest.raises(RuntimeError) as theirs_error:
        theirs.load_state_dict(state)
    assert str(ours_error.value) == str(theirs_error.value)
    wrong = OrderedDict(theirs.state_dict())
    wrong["lm_head.weight"] = torch.zeros(11, 9, dtype=torch.float64)
    with pytest.raises(RuntimeError) as ours_error:
        ours.load_state_dict(wrong, strict=False)
    with pytest.raises(RuntimeError) as theirs_error:
        theirs.load_state_dict(wrong, strict=False)
    assert str(ours_error.value) == str(theirs_error.value).replace("torch.Size([11, 9])", "(11, 9)").replace(
        "torch.Size([11, 8])", "(11, 8)")
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        ours.load_state_dict([1, 2])


def test_load_state_dict_assign_takes_the_given_tensors():
    ours, theirs = _pair()
    source = {name: nf.tensor(value.numpy() + 1.0) for name, value in theirs.state_dict().items()}
    source["steps"] = nf.tensor(np.array([3]))
    weight_before = ours.transformer.wpe.weight
    ours.load_state_dict(source, assign=True)
    assert ours.transformer.wpe.weight is not weight_before
    assert ours.transformer.wpe.weight.numpy() is source["transformer.wpe.weight"].numpy()      # its memory
    assert isinstance(ours.transformer.wpe.weight, nn.Parameter) and ours.transformer.wpe.weight.requires_grad
    assert ours.steps is source["steps"]
    theirs_source = {name: torch.from_numpy(value.numpy()) for name, value in source.items()}
    theirs.load_state_dict(theirs_source, assign=True)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_to_float_double_half_type_cast_floats_only_and_keep_parameters_as_torch():
    ours, theirs = _pair()
    params = list(ours.parameters())
    for call in (lambda m: m.float(), lambda m: m.half(), lambda m: m.double(), lambda m: m.to(torch_or_nf(m).float32),
                 lambda m: m.to("cpu", torch_or_nf(m).float64), lambda m: m.to(dtype=torch_or_nf(m).float32),
                 lambda m: m.to(torch_or_nf(m).zeros(1, dtype=torch_or_nf(m).float64))):
        assert call(ours) is ours and call(theirs) is theirs
        assert [str(p.dtype).replace("torch.", "") for p in ours.parameters()] == \
               [str(p.dtype).replace("torch.", "") for p in theirs.parameters()]
        assert [str(b.dtype).replace("torch.", "") for b in ours.buffers()] == \
               [str(b.dtype).replace("torch.", "") for b in theirs.buffers()]         # int64 steps untouched
    assert all(p is q for p, q in zip(ours.parameters(), params))
    assert ours.transformer.wte.weight is ours.lm_head.weight                          # still tied
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes"):
        ours.to(nf.int64)
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes"):
        theirs.to(torch.int64)
    ours.type(nf.float32)
    theirs.type(torch.float32)
    assert [str(b.dtype).replace("torch.", "") for b in ours.buffers()] == ["float32"] * 3   # type casts all
    assert [str(b.dtype).replace("torch.", "") for b in theirs.buffers()] == ["float32"] * 3
    assert ours.cpu() is ours and ours.to("cpu") is ours and ours.to(nf.device("cpu")) is ours
    with pytest.raises(RuntimeError, match="npformer runs on the CPU"):
        ours.to("cuda")
    with pytest.raises(RuntimeError, match="npformer runs on the CPU"):
        ours.cuda()


def torch_or_nf(module):
    return torch if isinstance(module, tnn.Module) else nf


def test_train_eval_requires_grad_and_apply_as_torch():
    ours, theirs = _pair()
    assert ours.eval() is ours and not any(m.training for m in ours.modules())
    assert ours.train() is ours and all(m.training for m in ours.modules())
    for module in (ours, theirs):
        with pytest.raises(ValueError, match="training mode is expected to be boolean"):
            module.train("yes")
    ours.transformer.h.requires_grad_(False), theirs.transformer.h.requires_grad_(False)
    assert [p.requires_grad for p in ours.parameters()] == [p.requires_grad for p in theirs.parameters()]
    visited, visited_t = [], []
    ours.apply(lambda m: visited.append(type(m).__name__))
    theirs.apply(lambda m: visited_t.append(type(m).__name__))
    assert visited == visited_t


def test_deepcopy_gives_an_independent_model_with_ties_kept_as_torch():
    ours, theirs = _pair()
    ids = np.array([[1, 2, 3]])
    ours(nf.tensor(ids)).sum().backward()
    theirs(torch.tensor(ids)).sum().backward()
    for model in (ours, theirs):
        twin = copy.deepcopy(model)
        assert twin.lm_head.weight is twin.transformer.wte.weight                   # tied within the copy
        assert twin.lm_head.weight is not model.lm_head.weight
        assert twin.lm_head.weight.grad is None                                     # Parameter copies drop .grad
        assert [n for n, _ in twin.named_parameters()] == [n for n, _ in model.named_parameters()]
        with torch.no_grad(), nf.no_grad():
            twin.lm_head.weight.fill_(0.25)
        assert not (np.asarray(model.lm_head.weight.detach()) == 0.25).all()
    out, out_t = ours(nf.tensor(ids)), theirs(torch.tensor(ids))
    for model, tensor in ((ours, out), (theirs, out_t)):
        model.cache = tensor                                   # a non-leaf tensor attribute
        with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
            copy.deepcopy(model)
        del model.cache
    plain = nf.tensor([1.0, 2.0], requires_grad=True)
    (plain * 3).sum().backward()
    twin = copy.deepcopy(plain)
    assert twin.requires_grad and twin.grad.numpy().tolist() == [3.0, 3.0] and twin.numpy() is not plain.numpy()


def test_pickle_round_trip_keeps_values_and_ties():
    ours = nn.ModuleDict({"wte": nn.Embedding(5, 3), "head": nn.Linear(3, 5, bias=False),
                          "blocks": nn.Sequential(nn.Linear(3, 3), nn.GELU(), nn.LayerNorm(3))})
    ours.head.weight = ours.wte.weight
    ours.register_buffer("steps", nf.tensor([4]))
    again = pickle.loads(pickle.dumps(ours))
    assert again.head.weight is again.wte.weight and again.head.weight is not ours.head.weight
    assert repr(again) == repr(ours) and again.steps.numpy().tolist() == [4]
    for (name, a), b in zip(ours.state_dict().items(), again.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_assignment_errors_and_lookups_are_torchs():
    for lib, nn_lib, prefix in ((nf, nn, "npformer"), (torch, tnn, "torch")):
        layer = nn_lib.Linear(3, 2)
        with pytest.raises(TypeError, match=r"cannot assign '.*' as parameter 'weight' \(.*Parameter or None "
                                            r"expected\)"):
            layer.weight = lib.zeros(2, 3)
        layer.weight = nn_lib.Parameter(lib.zeros(2, 3))                   # a Parameter replaces it
        with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
            layer.nope
        holder = nn_lib.Sequential(nn_lib.Linear(2, 2))
        with pytest.raises(TypeError, match=r"as child module '0' \(.*Module or None expected\)"):
            setattr(holder, "0", 3)
        with pytest.raises(AttributeError, match="Sequential has no attribute `5`"):
            holder.get_submodule("5")
        with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
            holder.get_submodule("0.weight")
        with pytest.raises(AttributeError, match="`bias` is not a buffer"):
            holder.get_buffer("0.bias")
        assert holder.get_parameter("0.bias") is holder[0].bias and holder.get_submodule("") is holder
        with pytest.raises(KeyError, match="attribute 'forward' already exists"):
            holder.register_buffer("forward", lib.zeros(1))
        with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward"'):
            nn_lib.Module()(1)
        del layer.weight
        assert "weight" not in layer._parameters and not hasattr(layer, "weight")


def test_parameter_shares_memory_and_prints_as_torchs():
    t = nf.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert p.numpy() is t.numpy() and p.requires_grad and p.is_leaf
    t.add_(1.0)
    assert p._version == t._version == 1 and p.numpy().tolist() == [2.0, 3.0]
    assert repr(p).splitlines()[0] == repr(tnn.Parameter(torch.ones(2))).splitlines()[0] == "Parameter containing:"
    assert "requires_grad=True" in repr(p) and "requires_grad" not in repr(nn.Parameter(t, requires_grad=False))
    assert isinstance(p * 2, nf.Tensor) and not isinstance(p * 2, nn.Parameter)
    assert not isinstance(p.detach(), nn.Parameter) and not isinstance(p.data, nn.Parameter)
    assert nn.Parameter().shape == tuple(tnn.Parameter().shape) == (0,)
    with pytest.raises(RuntimeError, match="floating"):
        nn.Parameter(nf.tensor([1, 2]))


# ---------------------------------------------------------------------------- containers
def _describe(container):
    return [(name, type(module).__name__, getattr(module, "out_features", None))
            for name, module in container.named_children()]


def test_module_list_operations_as_torchs():
    results = []
    for nn_lib in (nn, tnn):
        layers = nn_lib.ModuleList([nn_lib.Linear(2, i + 1) for i in range(3)])
        layers.append(nn_lib.ReLU())
        layers.extend([nn_lib.Linear(2, 7)])
        layers.insert(1, nn_lib.Linear(2, 9))
        layers += [nn_lib.Tanh()]
        combined = layers + nn_lib.ModuleList([nn_lib.Linear(2, 11)])
        popped = layers.pop(2)
        del layers[-1]
        layers[0] = nn_lib.Linear(2, 5)
        results.append((_describe(layers), _describe(combined), type(layers[-2]).__name__, _describe(layers[1:3]),
                        type(layers[1:3]).__name__, popped.out_features, len(layers), repr(layers)))
    assert results[0] == results[1]
    repeated = [repr(nn_lib.ModuleList([nn_lib.Linear(2, 2) for _ in range(3)] + [nn_lib.ReLU()]))
                for nn_lib in (nn, tnn)]
    assert repeated[0] == repeated[1] and "(0-2): 3 x Linear" in repeated[0]


def test_sequential_operations_as_torchs():
    results = []
    for nn_lib in (nn, tnn):
        seq = nn_lib.Sequential(nn_lib.Linear(4, 3), nn_lib.ReLU(), nn_lib.Linear(3, 2))
        seq.append(nn_lib.Tanh())
        seq.insert(-1, nn_lib.Linear(2, 2))
        head = seq[:2]
        del seq[1]
        doubled = nn_lib.Sequential(nn_lib.ReLU()) * 2
        joined = head + nn_lib.Sequential(nn_lib.Linear(3, 6))
        named = nn_lib.Sequential(OrderedDict([("up", nn_lib.Linear(4, 3)), ("act", nn_lib.GELU())]))
        results.append((_describe(seq), _describe(head), _describe(doubled), _describe(joined), _describe(named),
                        _describe(named[1:]), seq[-1].__class__.__name__, repr(seq), repr(named)))
    assert results[0] == results[1]


def test_module_dict_operations_as_torchs():
    results = []
    for nn_lib in (nn, tnn):
        blocks = nn_lib.ModuleDict({"enc": nn_lib.Linear(2, 2), "dec": nn_lib.Linear(2, 3)})
        blocks["head"] = nn_lib.Linear(3, 1)
        blocks.update([("extra", nn_lib.ReLU())])
        popped = blocks.pop("dec")
        results.append((_describe(blocks), list(blocks.keys()), "head" in blocks, len(blocks),
                        popped.out_features, blocks.head.out_features, repr(blocks)))
        blocks.clear()
        results.append(len(blocks))
    assert results[:2] == results[2:]


def test_parameter_list_and_dict_as_torchs():
    results = []
    for lib, nn_lib in ((nf, nn), (torch, tnn)):
        plist = nn_lib.ParameterList([nn_lib.Parameter(lib.ones(2)), lib.zeros(3, 2)])   # a Tensor is wrapped
        plist.append(nn_lib.Parameter(lib.ones(1)))
        pdict = nn_lib.ParameterDict({"b": nn_lib.Parameter(lib.ones(2)), "a": lib.zeros(3)})
        pdict["c"] = lib.ones(4)

        class Holder(nn_lib.Module):
            def __init__(self):
                super().__init__()
                self.plist, self.pdict = plist, pdict

        holder = Holder()
        results.append(([n for n, _ in holder.named_parameters()], list(holder.state_dict()),
                        [type(p).__name__ for p in plist], [tuple(p.shape) for p in plist[1:]], list(pdict.keys()),
                        type(pdict["a"]).__name__, pdict.get("zz") is None, len(plist), "a" in pdict))
    assert results[0] == results[1]


# ---------------------------------------------------------------------------- init
NONLINEARITIES = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                  ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None)]


def test_calculate_gain_and_fans_are_torchs():
    for nonlinearity, param in NONLINEARITIES:
        assert init.calculate_gain(nonlinearity, param) == tnn.init.calculate_gain(nonlinearity, param)
    for shape in [(3, 5), (4, 2, 3), (6, 3, 2, 2), (2, 2, 1, 3, 2)]:
        assert init._calculate_fan_in_and_fan_out(nf.zeros(*shape)) == \
               tnn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    for fn in (init.calculate_gain, tnn.init.calculate_gain):
        with pytest.raises(ValueError, match="Unsupported nonlinearity"):
            fn("swish")
    for lib, module in ((nf, init), (torch, tnn.init)):
        with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
            module.xavier_uniform_(lib.zeros(5))
        with pytest.raises(ValueError, match="Mode fan_middle not supported"):
            module.kaiming_uniform_(lib.zeros(3, 3), mode="fan_middle")


def _uniform_bound(kind, shape, **options):
    """torch's bound, computed by torch's own helpers."""
    fan_in, fan_out = tnn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    if kind == "xavier_uniform_":
        return options.get("gain", 1.0) * math.sqrt(3.0) * math.sqrt(2.0 / (fan_in + fan_out))
    fan = fan_in if options.get("mode", "fan_in") == "fan_in" else fan_out
    gain = tnn.init.calculate_gain(options.get("nonlinearity", "leaky_relu"), options.get("a", 0))
    return math.sqrt(3.0) * gain / math.sqrt(fan)


UNIFORM_CASES = [("xavier_uniform_", (300, 200), {}), ("xavier_uniform_", (40, 30, 3, 3), {"gain": 2.0}),
                 ("kaiming_uniform_", (300, 200), {}), ("kaiming_uniform_", (300, 200), {"a": math.sqrt(5)}),
                 ("kaiming_uniform_", (40, 30, 3, 3), {"mode": "fan_out", "nonlinearity": "relu"})]


@pytest.mark.parametrize("kind, shape, options", UNIFORM_CASES)
def test_uniform_initialisers_have_torchs_bounds(kind, shape, options):
    bound = _uniform_bound(kind, shape, **options)
    ours = getattr(init, kind)(nf.zeros(*shape, dtype=nf.float64), **options, generator=nf.Generator(0)).numpy()
    theirs = getattr(tnn.init, kind)(torch.zeros(*shape, dtype=torch.float64), **options).numpy()
    n = ours.size
    for values in (ours, theirs):
        assert np.abs(values).max() <= bound and np.abs(values).max() > bound * (1 - 20 / n)
        assert abs(values.std() - bound / math.sqrt(3)) < 5 * bound / math.sqrt(3) / math.sqrt(n)
        assert abs(values.mean()) < 5 * bound / math.sqrt(3 * n)


NORMAL_CASES = [("xavier_normal_", (300, 200), {"gain": 0.5}), ("kaiming_normal_", (300, 200), {}),
                ("kaiming_normal_", (40, 30, 3, 3), {"mode": "fan_out", "nonlinearity": "tanh"}),
                ("normal_", (300, 200), {"mean": 0.3, "std": 0.02})]


@pytest.mark.parametrize("kind, shape, options", NORMAL_CASES)
def test_normal_initialisers_have_torchs_standard_deviations(kind, shape, options):
    ours = getattr(init, kind)(nf.zeros(*shape, dtype=nf.float64), **options, generator=nf.Generator(1)).numpy()
    theirs = getattr(tnn.init, kind)(torch.zeros(*shape, dtype=torch.float64), **options).numpy()
    fan_in, fan_out = tnn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    if kind == "xavier_normal_":
        std = options["gain"] * math.sqrt(2.0 / (fan_in + fan_out))
    elif kind == "kaiming_normal_":
        fan = fan_out if options.get("mode") == "fan_out" else fan_in
        std = tnn.init.calculate_gain(options.get("nonlinearity", "leaky_relu"), 0) / math.sqrt(fan)
    else:
        std = options["std"]
    mean, n = options.get("mean", 0.0), ours.size
    for values in (ours, theirs):
        assert abs(values.mean() - mean) < 5 * std / math.sqrt(n)
        assert abs(values.std() - std) < 5 * std / math.sqrt(2 * n)


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (0.5, 1.0, 2.0, 3.0)])
def test_trunc_normal_matches_torchs_truncated_distribution(mean, std, a, b):
    ours = init.trunc_normal_(nf.zeros(400, 300, dtype=nf.float64), mean, std, a, b,
                              generator=nf.Generator(2)).numpy()
    theirs = tnn.init.trunc_normal_(torch.zeros(400, 300, dtype=torch.float64), mean, std, a, b).numpy()
    for values in (ours, theirs):
        assert values.min() >= a and values.max() <= b
    # the two samples come from one distribution: means and deciles agree within sampling error
    spread = theirs.std()
    assert abs(ours.mean() - theirs.mean()) < 6 * spread / math.sqrt(ours.size / 2)
    for q in (0.1, 0.5, 0.9):
        assert abs(np.quantile(ours, q) - np.quantile(theirs, q)) < 0.02 * (b - a)


@pytest.mark.parametrize("shape, gain", [((5, 8), 1.0), ((8, 5), 2.0), ((4, 3, 2), 0.5)])
def test_orthogonal_is_orthogonal_as_torchs(shape, gain):
    for lib, module, extra in ((nf, init, {"generator": nf.Generator(3)}), (torch, tnn.init, {})):
        t = module.orthogonal_(lib.zeros(*shape, dtype=lib.float64), gain=gain, **extra)
        flat = np.asarray(t.numpy()).reshape(shape[0], -1)
        small = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
        np.testing.assert_allclose(small, gain ** 2 * np.eye(small.shape[0]), atol=1e-12)


def test_deterministic_initialisers_equal_torchs():
    for shape in [(3, 4), (5, 2)]:
        np.testing.assert_array_equal(init.eye_(nf.zeros(*shape)).numpy(), tnn.init.eye_(torch.zeros(*shape)).numpy())
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((4, 2, 3, 3, 3), 2)]:
        np.testing.assert_array_equal(init.dirac_(nf.zeros(*shape), groups).numpy(),
                                      tnn.init.dirac_(torch.zeros(*shape), groups).numpy())
    for fn, args in [("constant_", (0.3,)), ("ones_", ()), ("zeros_", ())]:
        np.testing.assert_array_equal(getattr(init, fn)(nf.full((2, 3), 7.0), *args).numpy(),
                                      getattr(tnn.init, fn)(torch.full((2, 3), 7.0), *args).numpy())
    ours = init.sparse_(nf.zeros(10, 6, dtype=nf.float64), 0.3, generator=nf.Generator(4)).numpy()
    theirs = tnn.init.sparse_(torch.zeros(10, 6, dtype=torch.float64), 0.3).numpy()
    np.testing.assert_array_equal((ours == 0).sum(0), (theirs == 0).sum(0))


def test_initialisers_return_their_tensor_fill_in_place_and_bump_the_version():
    for lib, module, extra in ((nf, init, {"generator": nf.Generator(5)}), (torch, tnn.init, {})):
        param = (nn if lib is nf else tnn).Parameter(lib.zeros(4, 3))
        before = param._version
        assert module.normal_(param, **extra) is param and param.requires_grad
        assert module.xavier_uniform_(param, **extra) is param
        assert param._version > before


def test_layer_initial_weights_follow_torchs_distributions():
    torch.manual_seed(0)
    ours, theirs = nn.Linear(400, 300, generator=nf.Generator(6)), tnn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for layer in (ours, theirs):
        for values in (np.asarray(layer.weight.detach()), np.asarray(layer.bias.detach())):
            assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    ours, theirs = nn.Embedding(300, 200, padding_idx=3, generator=nf.Generator(7)), tnn.Embedding(300, 200, 3)
    for layer in (ours, theirs):
        weights = np.asarray(layer.weight.detach())
        assert not weights[3].any()
        rest = np.delete(weights, 3, axis=0)
        assert abs(rest.std() - 1.0) < 0.02 and abs(rest.mean()) < 0.02
    for cls in ("LayerNorm", "RMSNorm"):
        mine, yours = getattr(nn, cls)(5), getattr(tnn, cls)(5)
        for key, value in yours.state_dict().items():
            np.testing.assert_array_equal(mine.state_dict()[key].numpy(), value.numpy())
