"""Tensor factories with PyTorch's names and signatures. Random ones draw from a ``Generator``
(``generator=None`` means the default one, which ``npformer.manual_seed`` reseeds).

Every factory takes ``dtype=``, ``device=`` (the CPU only: see device.py) and, where torch
has it, ``requires_grad=``. Sizes are given as ``zeros(2, 3)``, ``zeros((2, 3))`` or
``zeros(size=(2, 3))``. ``empty`` and ``empty_like`` return zeros: torch leaves that memory
uninitialised, and zeros are one of the values it may hold.

Random floats are drawn in float64 and then rounded to the requested dtype, so one seed gives
the same numbers in float32 and float64: a model initialised twice, once per dtype, holds the
same weights up to rounding, which the float64 checks of float32 models rely on. (torch's
random streams are its own: a seed gives other numbers than in torch, with the same
distribution.)
"""
import math

import numpy as np

from .device import check_device
from .dtypes import as_dtype, get_default_dtype
from .random import resolve
from .tensor import Tensor, to_array


# ---------------------------------------------------------------------------- argument helpers
def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _shape(args, size, where):
    """The shape from ``f(2, 3)``, ``f((2, 3))`` or ``f(size=(2, 3))``, checked."""
    if size is not None:
        if args:
            raise TypeError(f"{where}: give the size either positionally or as size=, not both")
        args = (size,)
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    shape = []
    for n in args:
        if isinstance(n, Tensor) and n._data.ndim == 0 and n._data.dtype.kind in "iu":
            n = n._data.item()
        if not _is_int(n):
            raise TypeError(f"{where}: size must be ints or one tuple of ints, got an element of type "
                            f"{type(n).__name__}")
        if n < 0:
            raise RuntimeError(f"{where}: Trying to create tensor with negative dimension {n}: {list(args)}")
        shape.append(int(n))
    return tuple(shape)


def _float_dtype(dtype):
    return get_default_dtype() if dtype is None else as_dtype(dtype)


def _need_float(dtype, where):
    if dtype.kind != "f":
        raise RuntimeError(f"{where}: expected a floating-point dtype, got {dtype} (torch: not implemented for it)")
    return dtype


def _leaf(data, requires_grad):
    t = Tensor._make(data, False, None, 0)
    t.requires_grad = requires_grad     # validates: only float tensors may require grad
    return t


def _like_dtype(input, dtype, where):
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}: argument 'input' must be a Tensor, not {type(input).__name__}")
    return input._data.dtype if dtype is None else as_dtype(dtype)


def _scalar(value, where, name):
    """A Python number from a number or a one-element tensor."""
    if isinstance(value, Tensor):
        if value._data.size != 1:
            raise RuntimeError(f"{where}: {name} must be a number or a one-element tensor, got shape "
                               f"{tuple(value._data.shape)}")
        return value._data.item()
    if isinstance(value, (np.generic,)):
        return value.item()
    if not isinstance(value, (bool, int, float)):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__}")
    return value


def _fill_dtype(value):
    """The dtype torch gives a tensor filled with a Python number: bool, int64 or the default float."""
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(value, (int, np.integer)):
        return np.dtype(np.int64)
    return get_default_dtype()


# ---------------------------------------------------------------------------- constant fills
def zeros(*args, size=None, dtype=None, device=None, requires_grad=False):
    check_device(device, "zeros")
    return _leaf(np.zeros(_shape(args, size, "zeros"), dtype=_float_dtype(dtype)), requires_grad)


def ones(*args, size=None, dtype=None, device=None, requires_grad=False):
    check_device(device, "ones")
    return _leaf(np.ones(_shape(args, size, "ones"), dtype=_float_dtype(dtype)), requires_grad)


def empty(*args, size=None, dtype=None, device=None, requires_grad=False):
    """A tensor of the given shape; torch leaves it uninitialised, npformer zeroes it."""
    check_device(device, "empty")
    return _leaf(np.zeros(_shape(args, size, "empty"), dtype=_float_dtype(dtype)), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    check_device(device, "full")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full: argument 'size' must be a tuple of ints, not {type(size).__name__}")
    fill_value = _scalar(fill_value, "full", "fill_value")
    dtype = _fill_dtype(fill_value) if dtype is None else as_dtype(dtype)
    return _leaf(_filled(_shape((size,), None, "full"), fill_value, dtype), requires_grad)


def _filled(shape, value, dtype):
    out = np.empty(shape, dtype=dtype)
    out[...] = np.asarray(value).astype(dtype)      # float into int truncates, as torch
    return out


def zeros_like(input, *, dtype=None, device=None, requires_grad=False):
    check_device(device, "zeros_like")
    dtype = _like_dtype(input, dtype, "zeros_like")
    return _leaf(np.zeros(input._data.shape, dtype=dtype), requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False):
    check_device(device, "ones_like")
    dtype = _like_dtype(input, dtype, "ones_like")
    return _leaf(np.ones(input._data.shape, dtype=dtype), requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    check_device(device, "empty_like")
    dtype = _like_dtype(input, dtype, "empty_like")
    return _leaf(np.zeros(input._data.shape, dtype=dtype), requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    check_device(device, "full_like")
    dtype = _like_dtype(input, dtype, "full_like")
    return _leaf(_filled(input._data.shape, _scalar(fill_value, "full_like", "fill_value"), dtype), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    check_device(device, "eye")
    for name, value in (("n", n), ("m", m)):
        if value is not None and not _is_int(value):
            raise TypeError(f"eye: argument '{name}' must be an int, not {type(value).__name__}")
        if value is not None and value < 0:
            raise RuntimeError(f"eye: {name} must be greater or equal to 0, got {value}")
    return _leaf(np.eye(n, n if m is None else m, dtype=_float_dtype(dtype)), requires_grad)


# ---------------------------------------------------------------------------- ranges
def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """[start, end) in steps of ``step``, as torch computes it: ceil((end - start) / step) values
    start + i * step, in float64 and then cast to ``dtype`` (int64 when every argument is an
    int, else the default float). For an integer dtype torch first truncates start, end and step
    to integers (so a step of 0.5 is refused as 0), and int64 counts with those integers too."""
    check_device(device, "arange")
    if end is None:
        start, end = 0, start
    start, end, step = (_scalar(v, "arange", name) for v, name in ((start, "start"), (end, "end"), (step, "step")))
    if dtype is None:
        dtype = np.dtype(np.int64) if all(_is_int(v) for v in (start, end, step)) else get_default_dtype()
    dtype = as_dtype(dtype)
    if dtype.kind == "b":
        raise RuntimeError("arange: not implemented for bool")
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("arange: upper bound and lower bound inconsistent with step sign")
    count = math.ceil((float(end) - float(start)) / float(step))
    if dtype.kind in "iu":
        first, last, stride = int(start), int(end), int(step)       # truncation toward zero, as C++ casts
        if dtype == np.int64:           # torch counts int64 ranges with the truncated integers
            if stride == 0:
                raise ValueError(f"arange: step must be nonzero (step {step} truncates to 0 for int64)")
            sign = 1 if stride > 0 else -1
            count = _truncated_division(last - first + stride - sign, stride)
        values = first + stride * np.arange(max(count, 0), dtype=np.int64)
    else:
        values = float(start) + float(step) * np.arange(max(count, 0), dtype=np.float64)
    return _leaf(values.astype(dtype), requires_grad)


def _truncated_division(a, b):
    """a / b rounded toward zero, as C++ integer division."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from start to end inclusive, as torch computes them: with
    step = (end - start) / (steps - 1), the first half is start + i * step and the second half
    end - (steps - 1 - i) * step, in the output dtype (in float64 for integer outputs, which are
    then truncated toward zero)."""
    check_device(device, "linspace")
    dtype = _float_dtype(dtype)
    exponents = _symmetric_range(start, end, steps, dtype, "linspace")
    return _leaf(exponents.astype(dtype), requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """base ** linspace(start, end, steps), with torch's symmetric computation of the exponents."""
    check_device(device, "logspace")
    dtype = _float_dtype(dtype)
    exponents = _symmetric_range(start, end, steps, dtype, "logspace")
    base = _scalar(base, "logspace", "base")
    work = exponents.dtype
    return _leaf(np.power(np.asarray(base, dtype=work), exponents).astype(dtype), requires_grad)


def _symmetric_range(start, end, steps, dtype, where):
    if not _is_int(steps):
        raise TypeError(f"{where}: argument 'steps' must be an int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError(f"{where}: number of steps must be non-negative")
    work = dtype if dtype.kind == "f" else np.dtype(np.float64)
    start = np.asarray(_scalar(start, where, "start")).astype(dtype).astype(work)
    end = np.asarray(_scalar(end, where, "end")).astype(dtype).astype(work)
    if steps == 1:
        return np.full((1,), start, dtype=work)
    index = np.arange(steps)
    step = (end - start) / work.type(steps - 1)
    halfway = steps // 2
    front = start + step * index[:halfway].astype(work)
    back = end - step * (steps - 1 - index[halfway:]).astype(work)
    return np.concatenate([front, back]).astype(work, copy=False)


# ---------------------------------------------------------------------------- from data
def from_numpy(ndarray):
    """A tensor sharing ``ndarray``'s memory and dtype: writes to either show in the other."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in "fiub" or ndarray.dtype.itemsize > 8:
        raise TypeError(f"from_numpy: can't convert np.ndarray of type {ndarray.dtype}; the supported types are "
                        "float64, float32, float16, int64, int32, int16, int8, uint8 and bool")
    if not ndarray.dtype.isnative:
        raise ValueError("from_numpy: given numpy array has byte order different from the native byte order")
    return Tensor._make(ndarray, False, None, 0)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory when it already is one of the right dtype (a Tensor
    is returned as is, an ndarray is wrapped), else converted as ``tensor`` does."""
    check_device(device, "as_tensor")
    dtype = None if dtype is None else as_dtype(dtype)
    if isinstance(data, Tensor):
        return data if dtype is None or data._data.dtype == dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and data.dtype.kind in "fiub" and (dtype is None or data.dtype == dtype):
        return from_numpy(data)
    return Tensor._make(to_array(data, dtype), False, None, 0)


# ---------------------------------------------------------------------------- random
def randn(*args, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    check_device(device, "randn")
    dtype = _need_float(_float_dtype(dtype), "randn")
    shape = _shape(args, size, "randn")
    data = resolve(generator).numpy.standard_normal(shape, dtype=np.float64).astype(dtype)
    return _leaf(data, requires_grad)


def rand(*args, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples on [0, 1)."""
    check_device(device, "rand")
    dtype = _need_float(_float_dtype(dtype), "rand")
    shape = _shape(args, size, "rand")
    data = resolve(generator).numpy.random(shape, dtype=np.float64).astype(dtype)
    return _leaf(data, requires_grad)


def randint(*args, low=None, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers uniform on [low, high): ``randint(high, size)``, ``randint(low, high, size)``, or by
    keyword; int64 unless ``dtype`` says otherwise."""
    check_device(device, "randint")
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError(f"randint: expected randint(high, size) or randint(low, high, size), got {len(args)} numbers")
    if high is None or size is None:
        raise TypeError("randint: missing required arguments: high and size (as in randint(10, (3,)))")
    low = 0 if low is None else _scalar(low, "randint", "low")
    high = _scalar(high, "randint", "high")
    if not low < high:
        raise RuntimeError(f"randint: random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    shape = _shape((size,), None, "randint")
    dtype = np.dtype(np.int64) if dtype is None else as_dtype(dtype)
    data = resolve(generator).numpy.integers(int(low), int(high), size=shape, dtype=np.int64).astype(dtype)
    return _leaf(data, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    check_device(device, "randperm")
    if not _is_int(n):
        raise TypeError(f"randperm: argument 'n' must be an int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"randperm: Trying to create tensor with negative dimension {n}: [{n}]")
    dtype = np.dtype(np.int64) if dtype is None else as_dtype(dtype)
    return _leaf(resolve(generator).numpy.permutation(n).astype(dtype), requires_grad)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    dtype = _like_dtype(input, dtype, "randn_like")
    return randn(input._data.shape, generator=generator, dtype=dtype, device=device,
                 requires_grad=requires_grad)


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False):
    dtype = _like_dtype(input, dtype, "rand_like")
    return rand(input._data.shape, generator=generator, dtype=dtype, device=device,
                requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """``randint_like(input, high)`` or ``randint_like(input, low, high)``: input's shape and dtype."""
    if high is None:
        low, high = 0, low
    dtype = _like_dtype(input, dtype, "randint_like")
    return randint(low, high, input._data.shape, generator=generator, dtype=dtype, device=device,
                   requires_grad=requires_grad)
