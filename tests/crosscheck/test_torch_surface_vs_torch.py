"""torch's plumbing surface, called the same way on torch and on npformer: dtype names, finfo and
iinfo, devices, legacy constructors, factories, Tensor.to/type/contiguous/stride/new_*, logic
and lookups, sampling's validation, grad modes.

Each case is one function of the library module (``torch`` or ``npformer``), run on both. When
torch raises, npformer must raise too (the same exception class, where torch's "not compiled
with CUDA" AssertionError and "not implemented for dtype" NotImplementedError count as
RuntimeError). Otherwise the results must match: the same structure, shapes and dtypes, equal
integers and booleans, and floats within 1e-10 (relative) in float64, 1e-6 in float32.
"""
import numpy as np
import pytest

import npformer as nf
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

TOLERANCE = {"float64": 1e-10, "float32": 1e-6, "float16": 1e-3}
RNG = np.random.default_rng(7)
X = np.round(RNG.standard_normal((3, 4)), 3)                            # a float matrix
X[0, 1] = X[2, 2] = 0.0
SPECIAL = np.array([0.0, 1.5, -np.inf, np.nan, np.inf, -2.0, 0.0])    # for isnan / isinf / isfinite
INTS = np.array([3, 1, 3, 0, 2, 7, 3])
P = np.array([[0.1, 0.0, 0.6, 0.3], [0.25, 0.25, 0.25, 0.25]])


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def _family(error):
    """The exception class a caller would catch: torch's CUDA AssertionError and
    NotImplementedError (a "not implemented for this dtype" RuntimeError) count as RuntimeError."""
    if isinstance(error, (AssertionError, RuntimeError)):
        return RuntimeError
    return type(error)


def _run(case, lib):
    try:
        return False, case(lib)
    except Exception as error:          # noqa: BLE001 - the error is the result being compared
        return True, error


def _compare(what, ours, theirs):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, nf.Tensor), f"{what}: torch gives a tensor, npformer {type(ours).__name__}"
        expected = theirs.detach().numpy()
        actual = ours.detach().numpy()
        assert actual.dtype.name == _dtype_name(theirs.dtype), f"{what}: dtype {actual.dtype} vs {theirs.dtype}"
        assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
        if actual.dtype.kind == "f":
            error = relative_error(actual, expected)
            record_torch_error(f"torch surface {what} {actual.dtype.name}", error)
            assert error <= TOLERANCE[actual.dtype.name], f"{what}: relative error {error:.3g}"
        else:
            np.testing.assert_array_equal(actual, expected, err_msg=what)
    elif isinstance(theirs, (tuple, list)) and not isinstance(theirs, torch.Size):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), f"{what}: {ours!r} vs {theirs!r}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _compare(f"{what}[{i}]", a, b)
    elif isinstance(theirs, torch.dtype):
        assert np.dtype(ours).name == _dtype_name(theirs), f"{what}: {ours} vs {theirs}"
    elif isinstance(theirs, torch.device):
        assert isinstance(ours, nf.device), f"{what}: {ours!r} is not a device"
        assert (ours.type, ours.index, repr(ours), str(ours)) == (theirs.type, theirs.index, repr(theirs),
                                                                 str(theirs)), f"{what}: {ours!r} vs {theirs!r}"
    else:
        if isinstance(theirs, torch.Size):        # npformer.Size, or a plain tuple for .shape
            assert isinstance(ours, tuple), f"{what}: {ours!r} is not a tuple"
            ours, theirs = tuple(ours), tuple(theirs)
        assert type(ours) is type(theirs) or (isinstance(ours, (int, float)) and isinstance(theirs, (int, float))
                                              and not isinstance(ours, bool)), \
            f"{what}: {type(ours).__name__} vs {type(theirs).__name__}"
        assert ours == theirs, f"{what}: {ours!r} vs {theirs!r}"


def check(what, case):
    """Run case on torch and npformer and compare (see the module docstring)."""
    torch_raised, theirs = _run(case, torch)
    ours_raised, ours = _run(case, nf)
    if torch_raised:
        assert ours_raised, f"{what}: torch raises {type(theirs).__name__}({theirs}), npformer returns {ours!r}"
        family = _family(theirs)
        assert isinstance(ours, family), \
            f"{what}: torch raises {type(theirs).__name__}, npformer {type(ours).__name__}({ours})"
        return
    if ours_raised:
        raise AssertionError(f"{what}: npformer raises {type(ours).__name__}: {ours}") from ours
    _compare(what, ours, theirs)


def cases(table):
    return pytest.mark.parametrize("what, case", list(table.items()), ids=list(table))


# ---------------------------------------------------------------------------- dtypes
DTYPE_NAMES = ["long", "int", "short", "int16", "float", "double", "half", "bool", "uint8", "int8", "float16",
               "float32", "float64", "int32", "int64"]

DTYPES = {f"dtype {name}": (lambda name: lambda t: t.zeros(2, dtype=getattr(t, name)).dtype)(name)
          for name in DTYPE_NAMES}
DTYPES.update({
    "x.dtype == long": lambda t: t.zeros(2, dtype=t.long).dtype == t.long,
    "x.dtype == float": lambda t: t.ones(1).dtype == t.float,
    "default dtype": lambda t: t.get_default_dtype(),
    "is_floating_point float": lambda t: t.is_floating_point(t.zeros(1)),
    "is_floating_point int": lambda t: t.is_floating_point(t.zeros(1, dtype=t.long)),
    "is_floating_point of a number": lambda t: t.is_floating_point(1.0),
    "is_tensor tensor": lambda t: t.is_tensor(t.zeros(1)),
    "is_tensor list": lambda t: t.is_tensor([1]),
    "finfo int": lambda t: t.finfo(t.int32),
    "iinfo float": lambda t: t.iinfo(t.float32),
    "iinfo bool": lambda t: t.iinfo(t.bool),
    "finfo default": lambda t: (t.finfo().eps, t.finfo().dtype),
    "dtype class": lambda t: isinstance(t.float32, t.dtype),
})
for name in ("float16", "float32", "float64"):
    DTYPES[f"finfo {name}"] = (lambda name: lambda t: tuple(
        getattr(t.finfo(getattr(t, name)), k) for k in ("bits", "eps", "max", "min", "tiny", "smallest_normal",
                                                        "resolution", "dtype")))(name)
for name in ("uint8", "int8", "int16", "int32", "int64"):
    DTYPES[f"iinfo {name}"] = (lambda name: lambda t: tuple(
        getattr(t.iinfo(getattr(t, name)), k) for k in ("bits", "min", "max", "dtype")))(name)
for name in ("float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool"):
    DTYPES[f"type() {name}"] = (lambda name: lambda t: t.zeros(2, dtype=getattr(t, name)).type())(name)


@cases(DTYPES)
def test_dtypes(what, case):
    check(what, case)


def test_bfloat16_is_absent_because_numpy_has_none():
    assert hasattr(torch, "bfloat16") and not hasattr(nf, "bfloat16")


# ---------------------------------------------------------------------------- legacy constructors
LEGACY = {
    "LongTensor list": lambda t: t.LongTensor([1, 2]),
    "LongTensor floats truncate": lambda t: t.LongTensor([1.7, -2.5]),
    "LongTensor sizes": lambda t: t.LongTensor(2, 3).shape,
    "LongTensor sizes dtype": lambda t: t.LongTensor(2, 3).dtype,
    "LongTensor empty": lambda t: t.LongTensor(),
    "LongTensor tuple is data": lambda t: t.LongTensor((2, 3)),
    "LongTensor Size is a shape": lambda t: t.LongTensor(t.Size([2, 3])).shape,
    "FloatTensor ndarray": lambda t: t.FloatTensor(np.arange(3)),
    "FloatTensor from long tensor": lambda t: t.FloatTensor(t.tensor([1, 2])),
    "LongTensor from its own dtype": lambda t: t.LongTensor(t.tensor([1, 2])),
    "DoubleTensor": lambda t: t.DoubleTensor([[1, 2], [3, 4]]),
    "IntTensor": lambda t: t.IntTensor([1, 2]),
    "BoolTensor": lambda t: t.BoolTensor([1, 0, 2]),
    "ByteTensor sizes": lambda t: (t.ByteTensor(4).shape, t.ByteTensor(4).dtype),
    "HalfTensor": lambda t: t.HalfTensor([1.5]),
    "ShortTensor": lambda t: t.ShortTensor([1, 2]),
    "CharTensor": lambda t: t.CharTensor([1, -2]),
    "LongTensor two lists": lambda t: t.FloatTensor([1], [2]),
    "LongTensor string": lambda t: t.LongTensor("a"),
    "LongTensor int and float": lambda t: t.LongTensor(2, 3.0),
    "LongTensor negative size": lambda t: t.LongTensor(-1),
    "LongTensor device cpu": lambda t: t.LongTensor([1], device="cpu"),
    "isinstance LongTensor": lambda t: (isinstance(t.tensor([1]), t.LongTensor),
                                        isinstance(t.tensor([1.0]), t.LongTensor),
                                        isinstance(t.tensor([1.0]), t.FloatTensor)),
    "type(LongTensor)": lambda t: t.zeros(2).type(t.LongTensor),
    "type('torch.LongTensor')": lambda t: t.zeros(2).type("torch.LongTensor"),
    "type('float')": lambda t: t.zeros(2).type("float"),
    "Tensor sizes": lambda t: (t.Tensor(2, 3).shape, t.Tensor(2, 3).dtype),
    "Tensor one size": lambda t: t.Tensor(3).shape,
    "Tensor Size": lambda t: t.Tensor(t.Size([2])).shape,
    "Tensor list of ints is float": lambda t: t.Tensor([1, 2]),
    "Tensor nested list": lambda t: t.Tensor([[1.5, 2], [3, 4]]),
    "Tensor empty": lambda t: t.Tensor(),
    "Tensor negative size": lambda t: t.Tensor(-1),
    "Tensor from a tensor": lambda t: t.Tensor(t.tensor([1, 2])),
    "Tensor device cpu": lambda t: t.Tensor(2, device="cpu").shape,
    "Size": lambda t: (t.Size([2, 3]), t.Size([2, 3]).numel(), t.Size([2, 3])[1:], t.Size([]).numel()),
    "Size equals shape": lambda t: t.zeros(2, 3).shape == t.Size([2, 3]),
}


@cases(LEGACY)
def test_legacy_constructors(what, case):
    check(what, case)


# ---------------------------------------------------------------------------- devices
DEVICES = {
    "cpu": lambda t: t.device("cpu"),
    "cpu, 0": lambda t: t.device("cpu", 0),
    "cpu:0": lambda t: t.device("cpu:0"),
    "cuda:1": lambda t: t.device("cuda:1"),
    "cuda": lambda t: t.device("cuda"),
    "mps": lambda t: t.device("mps"),
    "keywords": lambda t: t.device(type="cpu", index=0),
    "from a device": lambda t: t.device(t.device("cuda", 2)),
    "gpu": lambda t: t.device("gpu"),
    "CPU": lambda t: t.device("CPU"),
    "trailing space": lambda t: t.device("cpu "),
    "negative index": lambda t: t.device("cpu", -1),
    "float": lambda t: t.device(1.5),
    "index twice": lambda t: t.device("cuda:0", 1),
    "int": lambda t: t.device(0),
    "equality": lambda t: (t.device("cpu") == t.device("cpu"), t.device("cpu") == t.device("cpu:0"),
                           t.device("cpu") == "cpu", t.device("cuda", 0) == t.device("cuda:0")),
    "hash": lambda t: len({t.device("cpu"), t.device("cpu"), t.device("cpu:0")}),
    "tensor.device": lambda t: t.zeros(2).device,
    "tensor.is_cuda": lambda t: t.zeros(2).is_cuda,
    "cuda.is_available": lambda t: t.cuda.is_available(),
    "cuda.device_count": lambda t: t.cuda.device_count(),
    "cuda.manual_seed_all": lambda t: t.cuda.manual_seed_all(1),
    "cuda.manual_seed": lambda t: t.cuda.manual_seed(1),
    "cuda.empty_cache": lambda t: t.cuda.empty_cache(),
    "cuda.current_device": lambda t: t.cuda.current_device(),
    "backends.mps.is_available": lambda t: t.backends.mps.is_available(),
    "backends.cudnn": lambda t: (t.backends.cudnn.is_available(), t.backends.cudnn.deterministic,
                                 t.backends.cudnn.benchmark, t.backends.cudnn.enabled),
    "the usual device line": lambda t: t.device("cuda" if t.cuda.is_available() else "cpu"),
    "zeros device cpu:1": lambda t: t.zeros(2, device="cpu:1"),
    "zeros device cuda": lambda t: t.zeros(2, device="cuda"),
    "zeros device cuda object": lambda t: t.zeros(2, device=t.device("cuda")),
    "zeros device 0": lambda t: t.zeros(2, device=0),
    "to cuda": lambda t: t.zeros(2).to("cuda"),
    "to cuda:0": lambda t: t.zeros(2).to("cuda:0"),
    "to mps": lambda t: t.zeros(2).to(t.device("mps")),
    "to 0": lambda t: t.zeros(2).to(0),
    "cuda()": lambda t: t.zeros(2).cuda(),
    "Generator device=cpu": lambda t: t.Generator(device="cpu").manual_seed(3).initial_seed(),
    "Generator device=cuda": lambda t: t.Generator(device="cuda"),
    "to cpu is self": lambda t: (lambda x: x.to("cpu") is x)(t.zeros(2)),
    "cpu() is self": lambda t: (lambda x: x.cpu() is x)(t.zeros(2)),
}


@cases(DEVICES)
def test_devices(what, case):
    check(what, case)


# ---------------------------------------------------------------------------- factories
def _shape_and_dtype(x):
    return tuple(x.shape), _dtype_name(x.dtype)


FACTORIES = {
    "zeros varargs": lambda t: t.zeros(2, 3, device="cpu"),
    "zeros tuple": lambda t: t.zeros((2, 3)),
    "zeros list": lambda t: t.zeros([2, 3]),
    "zeros size=": lambda t: t.zeros(size=(2, 3)),
    "zeros Size": lambda t: t.zeros(t.Size([2])),
    "zeros ()": lambda t: t.zeros(()),
    "zeros dtype=float": lambda t: t.zeros(2, dtype=float),
    "zeros dtype=int": lambda t: t.zeros(2, dtype=int),
    "zeros dtype=bool": lambda t: t.zeros(2, dtype=bool),
    "zeros float size": lambda t: t.zeros(2, 3.0),
    "zeros negative": lambda t: t.zeros(-1),
    "zeros int requires_grad": lambda t: t.zeros(2, requires_grad=True, dtype=t.int64),
    "zeros requires_grad": lambda t: t.zeros(2, requires_grad=True).requires_grad,
    "ones": lambda t: t.ones(2, dtype=t.float64, device=t.device("cpu")),
    "empty shape": lambda t: _shape_and_dtype(t.empty(2, 3)),
    "empty size= dtype": lambda t: _shape_and_dtype(t.empty(size=(4,), dtype=t.int32)),
    "full int": lambda t: t.full((2,), 3),
    "full bool": lambda t: t.full((2,), True),
    "full float": lambda t: t.full((2, 2), 2.5),
    "full dtype": lambda t: t.full((2,), 3, dtype=t.float64),
    "full 0-d": lambda t: t.full((), 3.0),
    "full int size": lambda t: t.full(2, 1.0),
    "full tensor value": lambda t: t.full((2,), t.tensor(1.5)),
    "zeros_like": lambda t: t.zeros_like(t.ones(2, 3, dtype=t.float64)),
    "zeros_like dtype": lambda t: t.zeros_like(t.ones(2), dtype=t.int64),
    "zeros_like drops requires_grad": lambda t: t.zeros_like(t.ones(2, requires_grad=True)).requires_grad,
    "ones_like": lambda t: t.ones_like(t.zeros(3, dtype=t.int32), device="cpu"),
    "empty_like": lambda t: _shape_and_dtype(t.empty_like(t.zeros(2, dtype=t.int32))),
    "full_like": lambda t: t.full_like(t.zeros(2), 7),
    "full_like int truncates": lambda t: t.full_like(t.zeros(2, dtype=t.int64), 2.7),
    "rand_like": lambda t: _shape_and_dtype(t.rand_like(t.zeros(2, 3, dtype=t.float64))),
    "rand_like int": lambda t: t.rand_like(t.zeros(2, dtype=t.int64)),
    "randn_like int": lambda t: t.randn_like(t.zeros(2, dtype=t.int64)),
    "randint_like": lambda t: _shape_and_dtype(t.randint_like(t.zeros(2), 5)),
    "randint_like bounds": lambda t: bool(t.randint_like(t.zeros(50), 3, 5).min() >= 3),
    "eye": lambda t: t.eye(3),
    "eye n m": lambda t: t.eye(2, 3, dtype=t.int64),
    "eye m=": lambda t: t.eye(2, m=1),
    "eye 0": lambda t: t.eye(0),
    "eye negative": lambda t: t.eye(-1),
    "eye float m": lambda t: t.eye(2, 3.0),
    "from_numpy": lambda t: t.from_numpy(np.arange(6).reshape(2, 3)),
    "from_numpy 0-d": lambda t: t.from_numpy(np.array(1.5)),
    "from_numpy list": lambda t: t.from_numpy([1]),
    "from_numpy str": lambda t: t.from_numpy(np.array(["a"])),
    "from_numpy big-endian": lambda t: t.from_numpy(np.array([1, 2], dtype=">i4")),
    "as_tensor list": lambda t: t.as_tensor([1, 2]),
    "as_tensor floats": lambda t: t.as_tensor([1.0, 2.0]),
    "as_tensor dtype": lambda t: t.as_tensor(np.array([1, 2]), dtype=t.float32),
    "as_tensor number": lambda t: t.as_tensor(3),
    "tensor device": lambda t: t.tensor([1, 2], device="cpu"),
    "tensor device cuda": lambda t: t.tensor([1, 2], device="cuda"),
    "tensor dtype": lambda t: t.tensor(3, dtype=t.float64),
    "tensor ragged": lambda t: t.tensor([[1], [2, 3]]),
    "tensor empty": lambda t: t.tensor([]),
    "tensor mixed": lambda t: t.tensor([1, 2.5]),
    "randint high size": lambda t: _shape_and_dtype(t.randint(10, (3,))),
    "randint size=": lambda t: _shape_and_dtype(t.randint(10, size=(2, 2))),
    "randint low high": lambda t: bool(t.randint(3, 10, (50,)).min() >= 3),
    "randint keywords": lambda t: _shape_and_dtype(t.randint(low=0, high=5, size=(2,))),
    "randint dtype": lambda t: _shape_and_dtype(t.randint(0, 10, (2,), dtype=t.float32)),
    "randint empty range": lambda t: t.randint(5, 3, (2,)),
    "randint no size": lambda t: t.randint(10),
    "randint requires_grad": lambda t: t.randint(10, (2,), requires_grad=True),
    "randn": lambda t: _shape_and_dtype(t.randn(2, 3)),
    "randn tuple": lambda t: _shape_and_dtype(t.randn((2, 3), dtype=t.float64)),
    "randn size=": lambda t: _shape_and_dtype(t.randn(size=(4,))),
    "rand int": lambda t: t.rand(2, dtype=t.int64),
    "randperm dtype": lambda t: _shape_and_dtype(t.randperm(4, dtype=t.float32)),
    "randperm is a permutation": lambda t: sorted(t.randperm(6).tolist()),
    "randperm negative": lambda t: t.randperm(-1),
}
RANGES = {
    "arange": lambda t: t.arange(5),
    "arange float": lambda t: t.arange(1, 4, 0.5),
    "arange tenths": lambda t: t.arange(0, 1, 0.1, dtype=t.float64),
    "arange tenths float32": lambda t: t.arange(0, 1, 0.1),
    "arange negative step": lambda t: t.arange(10, 0, -3),
    "arange float end": lambda t: t.arange(5.0),
    "arange int dtype from floats": lambda t: t.arange(2.5, 5, dtype=t.int64),
    "arange half steps to int": lambda t: t.arange(0.5, 3, 0.5, dtype=t.int64),
    "arange int dtype truncates": lambda t: (t.arange(-2.5, 3, 1.7, dtype=t.int64),
                                             t.arange(0.5, 3.7, 1.5, dtype=t.int64),
                                             t.arange(-2.9, 5.1, 2, dtype=t.int64)),
    "arange int32 counts in float": lambda t: (t.arange(0, 5, 1.5, dtype=t.int32),
                                               t.arange(0, 10, 2.9, dtype=t.uint8),
                                               t.arange(0, 5, 0.5, dtype=t.int32),
                                               t.arange(1.5, -2, -0.5, dtype=t.int16)),
    "arange int step 0": lambda t: t.arange(0, 5, 0, dtype=t.int32),
    "arange bool": lambda t: t.arange(0, 1, 0.3, dtype=t.bool),
    "arange float16": lambda t: t.arange(0.5, 3.7, 1.5, dtype=t.float16),
    "arange zero step": lambda t: t.arange(0, 5, 0),
    "arange wrong sign": lambda t: t.arange(0, -5),
    "arange empty": lambda t: t.arange(3, 3),
    "arange keywords": lambda t: t.arange(start=1, end=4),
    "arange end=": lambda t: t.arange(end=4),
    "arange tensor": lambda t: t.arange(t.tensor(3)),
    "arange device": lambda t: t.arange(0, 3, dtype=t.long, device="cpu"),
    "arange fine float64": lambda t: t.arange(-3.3, 7.9, 0.37, dtype=t.float64),
    "linspace": lambda t: t.linspace(0, 1, 5),
    "linspace float64": lambda t: t.linspace(-2.5, 7.25, 37, dtype=t.float64),
    "linspace float64 odd": lambda t: t.linspace(0.1, 0.9, 10, dtype=t.float64),
    "linspace float32": lambda t: t.linspace(-1, 3, 101),
    "linspace one": lambda t: t.linspace(0, 1, 1),
    "linspace zero": lambda t: t.linspace(0, 1, 0),
    "linspace negative": lambda t: t.linspace(0, 1, -1),
    "linspace int": lambda t: t.linspace(0, 10, 4, dtype=t.int64),
    "linspace int negative": lambda t: t.linspace(0, -10, 4, dtype=t.int64),
    "linspace int32": lambda t: t.linspace(0, 10, 7, dtype=t.int32),
    "linspace tensors": lambda t: t.linspace(t.tensor(0.0), t.tensor(1.0), 3),
    "linspace no steps": lambda t: t.linspace(0, 1),
    "linspace float steps": lambda t: t.linspace(0, 1, 2.5),
    "logspace": lambda t: t.logspace(0, 2, 3),
    "logspace base 2": lambda t: t.logspace(0, 2, 3, base=2),
    "logspace float64": lambda t: t.logspace(-3, 1.5, 20, dtype=t.float64),
    "logspace int": lambda t: t.logspace(0, 2, 3, dtype=t.int64),
}


@cases(FACTORIES)
def test_factories(what, case):
    check(what, case)


@cases(RANGES)
def test_ranges(what, case):
    check(what, case)


def test_from_numpy_shares_memory_both_ways():
    array = np.zeros(3)
    x = nf.from_numpy(array)
    array[0] = 5.0
    x[1] = 7.0
    np.testing.assert_array_equal(array, torch.from_numpy(array).numpy())
    assert x.tolist() == [5.0, 7.0, 0.0]


# ---------------------------------------------------------------------------- Tensor plumbing
def _x(t, dtype=None):
    return t.tensor(np.arange(6.0).reshape(2, 3), dtype=dtype)


PLUMBING = {
    "to dtype is self": lambda t: (lambda x: x.to(t.float32) is x)(_x(t)),
    "to other is self": lambda t: (lambda x: x.to(x) is x)(_x(t)),
    "to None is self": lambda t: (lambda x: x.to(None) is x)(_x(t)),
    "to dtype=None is self": lambda t: (lambda x: x.to(dtype=None) is x)(_x(t)),
    "to copy": lambda t: (lambda x: x.to(t.float32, copy=True) is x)(_x(t)),
    "to device copy": lambda t: (lambda x: x.to(t.device("cpu"), copy=True) is x)(_x(t)),
    "to dtype": lambda t: _x(t).to(t.float64),
    "to dtype=": lambda t: _x(t).to(dtype=t.int64),
    "to device, dtype": lambda t: _x(t).to("cpu", t.int64),
    "to device=, dtype=": lambda t: _x(t).to(device="cpu", dtype=t.float64),
    "to device=None, dtype=": lambda t: _x(t).to(device=None, dtype=t.float64),
    "to other": lambda t: _x(t).to(t.zeros(1, dtype=t.int32)),
    "to non_blocking": lambda t: _x(t).to(t.float64, non_blocking=True),
    "to positional flags": lambda t: (lambda x: x.to(t.float32, False, True) is x)(_x(t)),
    "to string dtype": lambda t: _x(t).to("float"),
    "to two dtypes": lambda t: _x(t).to(t.float64, t.float32),
    "to other and dtype": lambda t: _x(t).to(_x(t), t.float64),
    "to other=": lambda t: _x(t).to(other=_x(t)),
    "to()": lambda t: _x(t).to(),
    "float() is self": lambda t: (lambda x: x.float() is x)(_x(t)),
    "double()": lambda t: _x(t).double(),
    "long()": lambda t: _x(t).long(),
    "short() char() byte()": lambda t: (_x(t).short(), _x(t).char(), _x(t).byte()),
    "type()": lambda t: _x(t).type(),
    "type(dtype)": lambda t: _x(t).type(t.int64),
    "type(dtype) is self": lambda t: (lambda x: x.type(t.float32) is x)(_x(t)),
    "type(name) is self": lambda t: (lambda x: x.type("torch.FloatTensor") is x)(_x(t)),
    "type cuda name": lambda t: _x(t).type("torch.cuda.FloatTensor"),
    "type_as": lambda t: _x(t).type_as(t.zeros(1, dtype=t.int64)),
    "type_as is self": lambda t: (lambda x: x.type_as(x) is x)(_x(t)),
    "is_contiguous": lambda t: (_x(t).is_contiguous(), _x(t).t().is_contiguous(), _x(t)[:, ::2].is_contiguous(),
                                t.zeros(3, 1).t().is_contiguous()),
    "contiguous is self": lambda t: (lambda x: x.contiguous() is x)(_x(t)),
    "contiguous of transpose": lambda t: (lambda y: (y.is_contiguous(), y.stride(), y))(_x(t).t().contiguous()),
    "stride": lambda t: (_x(t).stride(), _x(t).stride(1), _x(t).stride(-1), _x(t).t().stride(),
                         _x(t)[:, ::2].stride(), t.zeros(4, 2, 3).stride()),
    "stride of expand": lambda t: t.zeros(1, 3).expand(4, 3).stride(),
    "stride 0-d": lambda t: t.tensor(1.0).stride(),
    "stride bad dim": lambda t: _x(t).stride(2),
    "storage_offset": lambda t: (_x(t).storage_offset(), _x(t)[:, 1:].storage_offset(), _x(t)[1].storage_offset()),
    "element_size": lambda t: (_x(t).element_size(), _x(t, t.float64).element_size(),
                               t.zeros(2, dtype=t.bool).element_size(), t.zeros(2, dtype=t.int16).element_size()),
    "itemsize nbytes": lambda t: (_x(t).itemsize, _x(t).nbytes),
    "nelement ndimension": lambda t: (_x(t).nelement(), _x(t).ndimension(), t.tensor(1.0).nelement()),
    "is_floating_point": lambda t: (_x(t).is_floating_point(), t.tensor([1]).is_floating_point()),
    "is_cpu": lambda t: _x(t).is_cpu,
    "new_zeros varargs": lambda t: _x(t).new_zeros(2, 3),
    "new_zeros tuple": lambda t: _x(t, t.float64).new_zeros((2, 3)),
    "new_zeros []": lambda t: _x(t).new_zeros([]),
    "new_zeros requires_grad": lambda t: _x(t).new_zeros(2, requires_grad=True).requires_grad,
    "new_ones dtype": lambda t: _x(t).new_ones(2, dtype=t.int64),
    "new_full": lambda t: _x(t).new_full((2,), 7),
    "new_full int": lambda t: t.tensor([1, 2]).new_full((3,), 2.5),
    "new_empty": lambda t: _shape_and_dtype(_x(t).new_empty(3)),
    "new_empty dtype": lambda t: _shape_and_dtype(_x(t).new_empty((2, 2), dtype=t.float64)),
    "new_tensor": lambda t: _x(t).new_tensor([1, 2]),
    "new_tensor int self": lambda t: t.tensor([1, 2]).new_tensor([1.5]),
    "new_tensor dtype": lambda t: _x(t).new_tensor([1, 2], dtype=t.int32),
    "requires_grad_": lambda t: _x(t).requires_grad_().requires_grad,
    "numpy tolist item": lambda t: (_x(t).tolist(), t.tensor([2.5]).item()),
    "T mT": lambda t: (_x(t).T, _x(t).mT),
    "H mH": lambda t: (_x(t).H, _x(t).mH, t.arange(24.0).reshape(2, 3, 4).mH, t.tensor(2.0).H, t.tensor(2.0).mH),
    "H of 1-D": lambda t: t.zeros(3).H,
    "H of 3-D": lambda t: t.zeros(2, 3, 4).H,
    "mH of 1-D": lambda t: t.zeros(3).mH,
    "data_ptr shared by detach": lambda t: (lambda x: x.data_ptr() == x.detach().data_ptr())(_x(t)),
    "bitwise and of bools": lambda t: t.tensor([True, False, True]) & t.tensor([True, True, False]),
    "bitwise or of ints": lambda t: t.tensor([1, 2, 12]) | t.tensor([2, 2, 5]),
    "bitwise xor of ints": lambda t: t.tensor([1, 2, 12]) ^ 3,
    "bitwise and int scalar": lambda t: t.tensor([5, 6]) & 4,
    "bitwise not int": lambda t: ~t.tensor([0, 5, -3]),
    "bitwise and float": lambda t: t.tensor([1.0]) & t.tensor([1.0]),
    "bitwise not float": lambda t: ~t.tensor([1.0]),
}


@cases(PLUMBING)
def test_tensor_plumbing(what, case):
    check(what, case)


def _to_roundtrip(t, x):
    return x.to(t.float32).to(t.float64) * 3.0


def _contiguous(t, x):
    return x.t().contiguous() * t.tensor(np.arange(12.0).reshape(4, 3))


def _type_as(t, x):
    return x.type(t.float32).type_as(x).exp()


@pytest.mark.parametrize("fn", [_to_roundtrip, _contiguous, _type_as], ids=lambda f: f.__name__)
def test_conversions_carry_gradients_as_torch(fn):
    data = np.random.default_rng(3).standard_normal((3, 4))
    upstream = np.random.default_rng(4).standard_normal((4, 3) if fn is _contiguous else (3, 4))
    results = []
    for lib in (torch, nf):
        x = lib.tensor(data, requires_grad=True)
        y = fn(lib, x)
        y.backward(lib.tensor(upstream))
        results.append((y.detach().numpy(), x.grad.numpy()))
    (ours_y, ours_g), (theirs_y, theirs_g) = results[1], results[0]
    # float32 round trips lose the same bits in both libraries
    for name, a, b in (("forward", ours_y, theirs_y), ("grad", ours_g, theirs_g)):
        error = relative_error(a, b)
        record_torch_error(f"torch surface {fn.__name__} {name} float64", error)
        assert error <= 1e-10, f"{fn.__name__} {name}: {error:.3g}"


# ---------------------------------------------------------------------------- logic and lookups
def _m(t):
    return t.tensor(X)


LOGIC = {
    "nonzero": lambda t: t.nonzero(_m(t)),
    "nonzero as_tuple": lambda t: _m(t).nonzero(as_tuple=True),
    "nonzero 0-d": lambda t: t.nonzero(t.tensor(3.0)),
    "nonzero 0-d zero": lambda t: t.nonzero(t.tensor(0.0)),
    "nonzero 0-d as_tuple": lambda t: (t.nonzero(t.tensor(3.0), as_tuple=True),
                                       t.nonzero(t.tensor(0.0), as_tuple=True)),
    "nonzero empty": lambda t: t.nonzero(t.zeros(0, 3)),
    "argwhere": lambda t: t.argwhere(_m(t) > 0),
    "where(cond)": lambda t: t.where(_m(t) > 0),
    "where(float)": lambda t: t.where(_m(t)),
    "where three": lambda t: t.where(_m(t) > 0, _m(t), t.tensor(0.0, dtype=t.float64)),
    "logical_not": lambda t: t.logical_not(_m(t)),
    "logical_and": lambda t: t.logical_and(_m(t), _m(t) > 0.5),
    "logical_and number": lambda t: t.logical_and(_m(t), 1),
    "logical_or": lambda t: t.logical_or(t.tensor([True, False, False]), t.tensor([0, 0, 3])),
    "logical_xor": lambda t: t.logical_xor(_m(t), _m(t).t().t() > 0),
    "methods": lambda t: (_m(t).logical_not(), _m(t).logical_and(_m(t)), _m(t).logical_or(_m(t) < 0),
                          _m(t).logical_xor(_m(t))),
    "any": lambda t: (t.any(_m(t)), t.any(_m(t) > 5), t.any(_m(t), dim=1), t.any(_m(t) > 0.5, 0, keepdim=True)),
    "all": lambda t: (t.all(_m(t)), t.all(_m(t) != 7), _m(t).all(dim=0), t.all(_m(t) > -9, dim=(0, 1))),
    "any all empty": lambda t: (t.any(t.zeros(0)), t.all(t.zeros(0))),
    "any uint8": lambda t: (t.any(t.tensor([0, 2], dtype=t.uint8)), t.all(t.tensor([0, 2], dtype=t.uint8))),
    "any axis alias": lambda t: (t.any(_m(t) > 0.5, axis=1), _m(t).all(axis=0, keepdims=True)),
    "any bad dim": lambda t: t.any(_m(t), dim=2),
    "isnan isinf isfinite": lambda t: (t.isnan(t.tensor(SPECIAL)), t.isinf(t.tensor(SPECIAL)),
                                       t.isfinite(t.tensor(SPECIAL))),
    "isnan int": lambda t: (t.isnan(t.tensor([1, 2])), t.isfinite(t.tensor([1, 2])), t.isinf(t.tensor([1]))),
    "isnan methods": lambda t: (t.tensor(SPECIAL).isnan(), t.tensor(SPECIAL).isinf(), t.tensor(SPECIAL).isfinite()),
    "isclose": lambda t: t.isclose(t.tensor([1.0, 2.0, np.inf, np.nan]), t.tensor([1.0 + 1e-9, 2.1, np.inf, np.nan])),
    "isclose equal_nan": lambda t: t.isclose(t.tensor([np.nan, 1.0]), t.tensor([np.nan, 1.0]), equal_nan=True),
    "isclose tolerances": lambda t: t.isclose(t.tensor([1.0, 1.0]), t.tensor([1.05, 1.2]), rtol=0.1, atol=0.0),
    "isclose dtypes differ": lambda t: t.isclose(t.tensor([1.0]), t.tensor([1.0], dtype=t.float64)),
    "isclose ints": lambda t: t.isclose(t.tensor([1, 2]), t.tensor([1, 3])),
    "isclose bools": lambda t: t.isclose(t.tensor([True, False]), t.tensor([True, True])),
    "allclose": lambda t: (t.allclose(t.tensor([1.0, 2.0]), t.tensor([1.0, 2.0 + 1e-7])),
                           t.allclose(t.tensor([1.0, 2.0]), t.tensor([1.0])),
                           _m(t).allclose(_m(t) + 1e-3)),
    "allclose mixed dtypes": lambda t: t.allclose(t.tensor([1.0]), t.tensor([1])),
    "equal": lambda t: (t.equal(_m(t), _m(t)), t.equal(t.tensor([1, 2]), t.tensor([1.0, 2.0])),
                        t.equal(t.tensor([1, 2]), t.tensor([1, 2, 3])), t.tensor(SPECIAL).equal(t.tensor(SPECIAL))),
    "equal list": lambda t: t.equal(t.tensor([1, 2]), [1, 2]),
    "count_nonzero": lambda t: (t.count_nonzero(_m(t)), t.count_nonzero(_m(t), dim=0), _m(t).count_nonzero(dim=(0, 1))),
    "unique": lambda t: t.unique(t.tensor(INTS)),
    "unique inverse counts": lambda t: t.unique(t.tensor(INTS), return_inverse=True, return_counts=True),
    "unique 2-D inverse": lambda t: t.unique(t.tensor(INTS[:6].reshape(2, 3)), return_inverse=True),
    "unique dim": lambda t: t.unique(t.tensor([[1, 2], [1, 2], [0, 1]]), dim=0, return_inverse=True,
                                     return_counts=True),
    "unique sorted=False": lambda t: t.unique(t.tensor([3, 1, 3])),
    "unique method floats": lambda t: t.tensor([2.5, -1.0, 2.5]).unique(return_counts=True),
    "bincount": lambda t: (t.bincount(t.tensor([0, 2, 2])), t.bincount(t.tensor([0, 2, 2]), minlength=5),
                           t.tensor(INTS).bincount()),
    "bincount weights": lambda t: t.bincount(t.tensor([0, 2, 2]), weights=t.tensor([0.5, 1.0, 1.25])),
    "bincount float64 weights": lambda t: t.bincount(t.tensor([0, 2]), weights=t.tensor([0.5, 1.0], dtype=t.float64)),
    "bincount int weights": lambda t: t.bincount(t.tensor([0, 2]), weights=t.tensor([3, 4])),
    "bincount empty": lambda t: t.bincount(t.tensor([], dtype=t.int64), minlength=3),
    "bincount negative": lambda t: t.bincount(t.tensor([-1])),
    "bincount 2-D": lambda t: t.bincount(t.tensor([[1]])),
    "bincount float": lambda t: t.bincount(t.tensor([1.0])),
    "searchsorted": lambda t: (t.searchsorted(t.tensor([1, 3, 5]), t.tensor([3, 4, 0, 9])),
                               t.searchsorted(t.tensor([1, 3, 5]), t.tensor([3, 4]), right=True),
                               t.searchsorted(t.tensor([1, 3, 5]), t.tensor([3]), side="right")),
    "searchsorted rows": lambda t: t.searchsorted(t.tensor([[1, 3, 5], [2, 4, 6]]), t.tensor([[3, 6], [3, 0]])),
    "searchsorted number": lambda t: t.searchsorted(t.tensor([1.0, 3.0, 5.0]), 3.0),
    "searchsorted int32": lambda t: t.searchsorted(t.tensor([1, 3, 5]), t.tensor([3]), out_int32=True),
    "searchsorted sorter": lambda t: t.searchsorted(t.tensor([5, 1, 3]), t.tensor([2, 4]), sorter=t.tensor([1, 2, 0])),
    "searchsorted N-D values with 1-D": lambda t: t.searchsorted(t.tensor([1.0, 2.0]),
                                                                 t.tensor([[0.5, 1.5], [2.5, 1.0]])),
    "searchsorted mismatched rows": lambda t: t.searchsorted(t.tensor([[1, 3, 5]]), t.tensor([[3], [3]])),
    "searchsorted opposite sides": lambda t: t.searchsorted(t.tensor([1, 3]), t.tensor([3]), right=True, side="left"),
    "bucketize": lambda t: (t.bucketize(t.tensor([3, 4, 0, 9]), t.tensor([1, 3, 5])),
                            t.bucketize(t.tensor([3, 4]), t.tensor([1, 3, 5]), right=True),
                            t.bucketize(3, t.tensor([1, 3, 5]))),
    "bucketize 2-D boundaries": lambda t: t.bucketize(t.tensor([1]), t.tensor([[1, 2]])),
    "comparisons": lambda t: (t.eq(_m(t), 0), t.ne(_m(t), _m(t)), t.lt(_m(t), 0.5), t.le(_m(t), t.tensor(0.0)),
                              t.gt(_m(t), t.tensor([1.0, 0.0, -1.0, 0.5])), t.ge(_m(t), 0)),
    "comparison aliases": lambda t: (t.greater(_m(t), 0), t.greater_equal(_m(t), 0), t.less(_m(t), 0),
                                     t.less_equal(_m(t), 0), t.not_equal(_m(t), 0)),
    "comparison methods": lambda t: (_m(t).greater(0), _m(t).less_equal(0.5), _m(t).not_equal(_m(t))),
    "eq int vs float number": lambda t: t.eq(t.tensor([1, 2]), 1.5),
    "eq float32 vs number": lambda t: t.eq(t.tensor([0.1, 0.2]), 0.1),
    "le number first": lambda t: t.le(1, _m(t)),
}


@cases(LOGIC)
def test_logic_and_lookups(what, case):
    check(what, case)


# ---------------------------------------------------------------------------- sampling (errors, shapes, dtypes)
SAMPLING = {
    "multinomial 1-D": lambda t: _shape_and_dtype(t.multinomial(t.tensor(P[0]), 2)),
    "multinomial 2-D": lambda t: _shape_and_dtype(t.multinomial(t.tensor(P), 3)),
    "multinomial replacement": lambda t: _shape_and_dtype(t.multinomial(t.tensor(P), 9, replacement=True)),
    "multinomial float64": lambda t: _shape_and_dtype(t.multinomial(t.tensor(P, dtype=t.float64), 1)),
    "multinomial all, zero last": lambda t: t.multinomial(t.tensor([0.0, 1.0, 0.0]), 3)[0],
    "multinomial method": lambda t: _shape_and_dtype(t.tensor(P[1]).multinomial(4)),
    "multinomial empty rows": lambda t: _shape_and_dtype(t.multinomial(t.ones(0, 3), 1)),
    "multinomial 0 samples": lambda t: t.multinomial(t.tensor(P[0]), 0),
    "multinomial too many": lambda t: t.multinomial(t.tensor(P[0]), 5),
    "multinomial 3-D": lambda t: t.multinomial(t.ones(2, 2, 2), 1),
    "multinomial 0-D": lambda t: t.multinomial(t.tensor(1.0), 1),
    "multinomial negative": lambda t: t.multinomial(t.tensor([-1.0, 2.0]), 1),
    "multinomial nan": lambda t: t.multinomial(t.tensor([1.0, np.nan]), 1),
    "multinomial inf": lambda t: t.multinomial(t.tensor([1.0, np.inf]), 1),
    "multinomial zero row": lambda t: t.multinomial(t.tensor([[1.0, 0.0], [0.0, 0.0]]), 1),
    "multinomial int": lambda t: t.multinomial(t.tensor([1, 2]), 1),
    "multinomial float count": lambda t: t.multinomial(t.tensor(P[0]), 1.5),
    "multinomial no categories": lambda t: t.multinomial(t.zeros(0), 1),
    "bernoulli": lambda t: t.bernoulli(t.tensor([0.0, 1.0, 1.0, 0.0])),
    "bernoulli float64": lambda t: t.bernoulli(t.tensor([0.0, 1.0], dtype=t.float64)),
    "bernoulli p": lambda t: _shape_and_dtype(t.bernoulli(t.zeros(2, 3), p=0.5)),
    "bernoulli out of range": lambda t: t.bernoulli(t.tensor([1.5])),
    "bernoulli int": lambda t: t.bernoulli(t.tensor([1, 0])),
    "bernoulli_ tensor": lambda t: t.zeros(3).bernoulli_(t.tensor([0.0, 1.0, 1.0])),
    "bernoulli_ number": lambda t: _shape_and_dtype(t.zeros(3).bernoulli_(0.5)),
    "normal numbers": lambda t: _shape_and_dtype(t.normal(0.0, 1.0, size=(2,))),
    "normal ints": lambda t: _shape_and_dtype(t.normal(0, 1, size=(2, 2))),
    "normal positional size": lambda t: _shape_and_dtype(t.normal(0.0, 1.0, (3,))),
    "normal tensor mean": lambda t: _shape_and_dtype(t.normal(t.zeros(2, dtype=t.float64), 1.0)),
    "normal tensor std": lambda t: _shape_and_dtype(t.normal(0.0, t.ones(3))),
    "normal broadcast": lambda t: _shape_and_dtype(t.normal(t.zeros(2), t.ones(2, 1))),
    "normal mean only": lambda t: _shape_and_dtype(t.normal(t.zeros(4))),
    "normal zero std is the mean": lambda t: t.normal(t.tensor([1.0, -2.0]), 0.0),
    "normal negative std": lambda t: t.normal(0.0, -1.0, size=(2,)),
    "normal negative std tensor": lambda t: t.normal(t.zeros(2), -1.0),
    "normal mismatched": lambda t: t.normal(t.zeros(2), t.ones(3)),
    "normal_": lambda t: _shape_and_dtype(t.zeros(2, 3).normal_(0, 0.02)),
    "normal_ zero std": lambda t: t.zeros(3).normal_(2.5, 0.0),
    "normal_ negative std": lambda t: t.zeros(2).normal_(0, -1),
    "normal_ int": lambda t: t.zeros(2, dtype=t.int64).normal_(),
    "normal_ leaf requiring grad": lambda t: t.zeros(3, requires_grad=True).normal_(),
    "normal_ under no_grad": lambda t: (lambda p: (p.requires_grad, _shape_and_dtype(p)))(
        _under_no_grad(t, lambda: t.zeros(3, requires_grad=True).normal_())),
    "normal_ through .data": lambda t: (lambda p: (p.data.normal_(0, 0.02), p.requires_grad)[1])(
        t.zeros(3, requires_grad=True)),
    "uniform_": lambda t: bool(((lambda y: (y >= -2) & (y < 3))(t.zeros(1000).uniform_(-2, 3))).all()),
    "uniform_ default": lambda t: _shape_and_dtype(t.zeros(2, dtype=t.float64).uniform_()),
    "uniform_ empty range": lambda t: t.zeros(3).uniform_(1.5, 1.5),
    "uniform_ reversed": lambda t: t.zeros(2).uniform_(2, 1),
    "uniform_ int": lambda t: t.zeros(2, dtype=t.int64).uniform_(),
    "random_ to": lambda t: (lambda y: (int(y.min()) >= 0, int(y.max()) <= 4, _dtype_name(y.dtype)))(
        t.zeros(1000).random_(5)),
    "random_ from to": lambda t: (lambda y: (int(y.min()) >= 2, int(y.max()) <= 4))(t.zeros(1000, dtype=t.int64)
                                                                                    .random_(2, 5)),
    "random_ bool": lambda t: _shape_and_dtype(t.zeros(3, dtype=t.bool).random_()),
    "random_ uint8 range": lambda t: int(t.zeros(2000, dtype=t.uint8).random_().max()) > 200,
    "random_ reversed": lambda t: t.zeros(3).random_(5, 2),
    "exponential_": lambda t: bool((t.zeros(100).exponential_(2.0) >= 0).all()),
    "exponential_ negative": lambda t: t.zeros(3).exponential_(-1.0),
}


def _under_no_grad(t, make):
    with t.no_grad():
        return make()


@cases(SAMPLING)
def test_sampling_shapes_dtypes_and_errors(what, case):
    check(what, case)


@pytest.mark.parametrize("make", [
    lambda t, m, s: t.normal(m, s),
    lambda t, m, s: t.normal(m, 2.0),
    lambda t, m, s: t.bernoulli(t.sigmoid(m)),
    lambda t, m, s: (m * 2).normal_(),
    lambda t, m, s: (m * 2).uniform_(-1, 1),
], ids=["normal(m, s)", "normal(m, 2)", "bernoulli", "normal_ on non-leaf", "uniform_ on non-leaf"])
def test_samples_join_the_graph_with_zero_gradient(make):
    for lib in (torch, nf):
        m = lib.zeros(3, dtype=lib.float64, requires_grad=True)
        s = lib.ones(3, dtype=lib.float64, requires_grad=True)
        y = make(lib, m, s)
        assert y.requires_grad, lib.__name__
        y.sum().backward()
        assert m.grad is not None and np.all(m.grad.numpy() == 0), lib.__name__
        assert s.grad is None or np.all(s.grad.numpy() == 0), lib.__name__


# ---------------------------------------------------------------------------- grad modes and autograd
def test_grad_modes_as_torch():
    for lib in (torch, nf):
        name = lib.__name__

        @lib.no_grad
        def bare():
            return lib.is_grad_enabled()

        @lib.inference_mode()
        def called():
            return lib.is_grad_enabled(), lib.is_inference_mode_enabled()

        @lib.inference_mode
        def bare_inference():
            return lib.is_grad_enabled()

        assert bare() is False and called() == (False, True) and bare_inference() is False, name
        with lib.inference_mode(False):
            assert lib.is_grad_enabled() and not lib.is_inference_mode_enabled(), name
        assert lib.is_grad_enabled(), name
        # set_grad_enabled(False) as a plain call switches at once; restored by the next call
        lib.set_grad_enabled(False)
        assert not lib.is_grad_enabled(), name
        lib.set_grad_enabled(True)
        assert lib.is_grad_enabled(), name
        with lib.set_grad_enabled(False):
            assert not lib.is_grad_enabled(), name
        assert lib.is_grad_enabled(), name

        @lib.set_grad_enabled(False)
        def decorated():
            return lib.is_grad_enabled()

        assert lib.is_grad_enabled() and decorated() is False and lib.is_grad_enabled(), name


def test_autograd_grad_returns_a_tuple_for_one_input():
    results = []
    for lib in (torch, nf):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        grads = lib.autograd.grad((x * x).sum(), x)
        assert isinstance(grads, tuple) and len(grads) == 1, lib.__name__
        results.append(grads[0].numpy())
    np.testing.assert_array_equal(results[1], results[0])
