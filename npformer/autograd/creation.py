"""Tensor factories with PyTorch's names. Random ones draw from a ``Generator``
(``generator=None`` means the default one, which ``npformer.manual_seed`` reseeds).

Random floats are drawn in float64 and then rounded to the requested dtype, so one seed gives
the same numbers in float32 and float64: a model initialised twice, once per dtype, holds the
same weights up to rounding, which the float64 checks of float32 models rely on.
"""
import numpy as np

from .dtypes import as_dtype, get_default_dtype
from .random import resolve
from .tensor import Tensor


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _float_dtype(dtype):
    return get_default_dtype() if dtype is None else as_dtype(dtype)


def _leaf(data, requires_grad):
    t = Tensor._make(data, False, None, 0)
    t.requires_grad = requires_grad     # validates: only float tensors may require grad
    return t


def zeros(*size, dtype=None, requires_grad=False):
    return _leaf(np.zeros(_shape(size), dtype=_float_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return _leaf(np.ones(_shape(size), dtype=_float_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    if dtype is None:
        dtype = Tensor(fill_value).dtype
    return _leaf(np.full(tuple(size), fill_value, dtype=as_dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return _leaf(np.zeros(t.shape, dtype=t.dtype if dtype is None else as_dtype(dtype)), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return _leaf(np.ones(t.shape, dtype=t.dtype if dtype is None else as_dtype(dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = get_default_dtype() if is_float else np.int64
    return _leaf(np.arange(start, end, step, dtype=as_dtype(dtype)), requires_grad)


def randn(*size, dtype=None, generator=None, requires_grad=False):
    """Standard normal samples."""
    dtype = _float_dtype(dtype)
    data = resolve(generator).numpy.standard_normal(_shape(size), dtype=np.float64).astype(dtype)
    return _leaf(data, requires_grad)


def rand(*size, dtype=None, generator=None, requires_grad=False):
    """Uniform samples on [0, 1)."""
    dtype = _float_dtype(dtype)
    data = resolve(generator).numpy.random(_shape(size), dtype=np.float64).astype(dtype)
    return _leaf(data, requires_grad)


def randint(low, high=None, size=(), dtype=np.int64, generator=None):
    """Integers uniform on [low, high) (or [0, low) when high is omitted)."""
    if high is None:
        low, high = 0, low
    return _leaf(resolve(generator).numpy.integers(low, high, size=tuple(size), dtype=as_dtype(dtype)), False)


def randperm(n, generator=None):
    return _leaf(resolve(generator).numpy.permutation(n).astype(np.int64), False)
