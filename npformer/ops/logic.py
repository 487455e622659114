"""Logic and lookups: comparisons, boolean tests, nonzero/where, unique, bincount, searchsorted.

None of these is differentiable (their results are bools or integer indices), so none is a
Function: each reads the arrays and wraps a new tensor outside the graph, with PyTorch's
signature, result dtype and errors.
"""
import numpy as np

from ..autograd.tensor import Tensor, as_operand
from .dims import keepdim_shape, normalize_dim, normalize_dims
from .elementwise import where as _where3


def _out(array):
    return Tensor._make(np.asarray(array), False, None, 0)


def _tensor(value, where, name="input"):
    if not isinstance(value, Tensor):
        raise TypeError(f"{where}(): argument '{name}' must be Tensor, not {type(value).__name__}")
    return value._data


def _pair(input, other, where):
    """Both operands as arrays; ``other`` may be a Python number (it takes input's dtype kind)."""
    a = _tensor(input, where)
    b = other._data if isinstance(other, Tensor) else as_operand(other, a.dtype)._data
    return a, b


# ---------------------------------------------------------------------------- comparisons
def eq(input, other):
    a, b = _pair(input, other, "eq")
    return _out(np.equal(a, b))


def ne(input, other):
    a, b = _pair(input, other, "ne")
    return _out(np.not_equal(a, b))


def lt(input, other):
    a, b = _pair(input, other, "lt")
    return _out(np.less(a, b))


def le(input, other):
    a, b = _pair(input, other, "le")
    return _out(np.less_equal(a, b))


def gt(input, other):
    a, b = _pair(input, other, "gt")
    return _out(np.greater(a, b))


def ge(input, other):
    a, b = _pair(input, other, "ge")
    return _out(np.greater_equal(a, b))


# torch's long-form aliases
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def equal(input, other):
    """True when both tensors have the same shape and the same values (NaN equals nothing)."""
    a, b = _tensor(input, "equal"), _tensor(other, "equal", "other")
    return a.shape == b.shape and bool(np.all(a == b))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other|, elementwise; infinities match only themselves."""
    a, b = _tensor(input, "isclose"), _tensor(other, "isclose", "other")
    if a.dtype != b.dtype:
        raise RuntimeError(f"isclose: {a.dtype} did not match {b.dtype}")
    if rtol < 0 or atol < 0:
        raise RuntimeError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    if a.dtype == np.bool_ or a.dtype.kind in "iu" and rtol == 0 and atol == 0:
        return _out(np.equal(a, b))
    return _out(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(np.all(isclose(input, other, rtol, atol, equal_nan)._data))


# ---------------------------------------------------------------------------- boolean tests
def isnan(input):
    return _out(np.isnan(_tensor(input, "isnan")))


def isinf(input):
    return _out(np.isinf(_tensor(input, "isinf")))


def isfinite(input):
    return _out(np.isfinite(_tensor(input, "isfinite")))


def logical_not(input):
    return _out(np.logical_not(_tensor(input, "logical_not")))


def logical_and(input, other):
    return _out(np.logical_and(_tensor(input, "logical_and"), _tensor(other, "logical_and", "other")))


def logical_or(input, other):
    return _out(np.logical_or(_tensor(input, "logical_or"), _tensor(other, "logical_or", "other")))


def logical_xor(input, other):
    return _out(np.logical_xor(_tensor(input, "logical_xor"), _tensor(other, "logical_xor", "other")))


def any(input, dim=None, keepdim=False, **aliases):
    """Whether any element (along ``dim``, an int or a tuple) is nonzero: bool, or uint8 for uint8 input."""
    return _test(np.any, input, dim, keepdim, aliases, "any")


def all(input, dim=None, keepdim=False, **aliases):
    """Whether every element (along ``dim``, an int or a tuple) is nonzero: bool, or uint8 for uint8 input."""
    return _test(np.all, input, dim, keepdim, aliases, "all")


def _test(reduce, input, dim, keepdim, aliases, where):
    # NumPy's spellings axis=/keepdims= are accepted, as torch does; that also keeps np.any(t)
    # and np.all(t) working, since NumPy calls t.any(axis=None, out=None) on non-arrays.
    if "axis" in aliases:
        dim = aliases.pop("axis")
    if "keepdims" in aliases:
        keepdim = aliases.pop("keepdims")
    if aliases.pop("out", None) is not None:
        raise TypeError(f"{where}(): out= is not supported; use the returned tensor")
    if aliases:
        raise TypeError(f"{where}() got an unexpected keyword argument {sorted(aliases)[0]!r}")
    a = _tensor(input, where)
    dims = normalize_dims(dim, a.ndim)
    result = reduce(a, axis=dims)
    if keepdim:
        result = np.reshape(result, keepdim_shape(a.shape, dims))
    return _out(result.astype(np.uint8) if a.dtype == np.uint8 else result)


def count_nonzero(input, dim=None):
    a = _tensor(input, "count_nonzero")
    dims = normalize_dims(dim, a.ndim)
    return _out(np.count_nonzero(a, axis=dims).astype(np.int64))


# ---------------------------------------------------------------------------- positions
def nonzero(input, *, as_tuple=False):
    """The indices of nonzero elements: an (n, ndim) int64 tensor, or with ``as_tuple`` one
    int64 tensor of n indices per dimension (a 0-d input counts as 1-D)."""
    a = _tensor(input, "nonzero")
    if as_tuple:
        if a.ndim == 0:
            return (_out(np.zeros((1,) if a.item() else (0,), dtype=np.int64)),)
        return tuple(_out(i.astype(np.int64)) for i in np.nonzero(a))
    return _out(np.argwhere(a).astype(np.int64))


def argwhere(input):
    return nonzero(input)


def where(condition, input=None, other=None):
    """``where(condition, input, other)`` picks elementwise (differentiable in input and other);
    ``where(condition)`` is ``nonzero(condition, as_tuple=True)``."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where(): expected where(condition) or where(condition, input, other)")
    return _where3(condition, input, other)


# ---------------------------------------------------------------------------- counting and lookups
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values (sorted, as torch's CPU kernel returns them whatever ``sorted`` says),
    optionally with the inverse indices (input's shape; along ``dim``, one per slice) and the
    counts; with ``dim``, distinct slices along that dimension."""
    a = _tensor(input, "unique")
    if dim is None:
        values, inverse, counts = np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inverse = inverse.reshape(a.shape)
    else:
        axis = normalize_dim(dim, a.ndim)
        values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True, axis=axis)
        inverse = inverse.reshape(-1)
    results = [_out(values)]
    if return_inverse:
        results.append(_out(inverse.astype(np.int64)))
    if return_counts:
        results.append(_out(counts.astype(np.int64)))
    return results[0] if len(results) == 1 else tuple(results)


def bincount(input, weights=None, minlength=0):
    """How often each value 0..max occurs in a 1-D non-negative integer tensor (at least
    ``minlength`` bins); with ``weights``, the sum of the weights per value (in weights' dtype,
    float64 for integer weights)."""
    a = _tensor(input, "bincount")
    if a.dtype.kind not in "iu" or a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("bincount: minlength should be >= 0")
    if weights is None:
        return _out(np.bincount(a, minlength=minlength).astype(np.int64))
    w = _tensor(weights, "bincount", "weights")
    if w.shape != a.shape:
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input, got shape "
                           f"{tuple(w.shape)} for input of shape {tuple(a.shape)}")
    dtype = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
    return _out(np.bincount(a, weights=w, minlength=minlength).astype(dtype))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Where each value of ``input`` would be inserted into ``sorted_sequence`` (its last
    dimension) to keep it sorted: the first such place, or the last with ``right``/side="right".
    A 1-D sequence serves every value; an N-D one pairs its rows with input's rows."""
    seq = _tensor(sorted_sequence, "searchsorted", "sorted_sequence")
    scalar = not isinstance(input, Tensor)
    values = np.asarray(input) if scalar else input._data
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted: side can only be 'left' or 'right' but got {side!r}")
        if right and side == "left":
            raise RuntimeError("searchsorted: side and right can't be set to opposites, got side of left while "
                               "right was True")
        right = side == "right"
    if seq.ndim == 0:
        raise RuntimeError("searchsorted: boundaries tensor should have positive dimension, but got 0 dimension")
    if sorter is not None:
        order = _tensor(sorter, "searchsorted", "sorter")
        if order.shape != seq.shape:
            raise RuntimeError("searchsorted: boundary and sorter must have the same size")
        seq = np.take_along_axis(seq, order, axis=-1)
    how = "right" if right else "left"
    if seq.ndim == 1:
        result = np.searchsorted(seq, values, side=how)
    else:
        if scalar or values.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(f"searchsorted: boundaries tensor should be 1 dimension or the first N-1 dimensions "
                               f"of boundaries tensor and input value tensor must match, but we got boundaries "
                               f"tensor {list(seq.shape)} and input value tensor {list(np.shape(values))}")
        rows_seq = seq.reshape(-1, seq.shape[-1])
        rows_val = values.reshape(-1, values.shape[-1])
        result = np.stack([np.searchsorted(s, v, side=how) for s, v in zip(rows_seq, rows_val)])
        result = result.reshape(values.shape)
    return _out(np.asarray(result).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value among sorted 1-D ``boundaries``: i with boundaries[i-1] < x <=
    boundaries[i] (or boundaries[i-1] <= x < boundaries[i] with ``right``)."""
    b = _tensor(boundaries, "bucketize", "boundaries")
    if b.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim({b.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
