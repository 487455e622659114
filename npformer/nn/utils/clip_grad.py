"""Gradient clipping, as torch.nn.utils: get_total_norm, clip_grads_with_norm_, clip_grad_norm_
and clip_grad_value_.

The gradients are treated as one long vector. Their total p-norm is the p-norm of the
per-tensor p-norms,

    total = || ( ||g_1||_p, ||g_2||_p, ... ) ||_p

(for p = 0 that counts the tensors with a non-zero entry, as torch does), and clipping
multiplies every gradient, in place, by

    min(1, max_norm / (total + 1e-6))

(torch multiplies by the clamped factor, which leaves the gradients unchanged when it is 1; a
non-finite total gives a factor of 0 or NaN and the gradients follow). The norms are
accumulated in float64 whatever the gradients' dtype, so a float32 gradient with large entries
has a finite norm where its float32 square would overflow; the returned norm is a 0-d Tensor
in the gradients' dtype, and the gradients keep theirs.
"""
import math
import types
import warnings

import numpy as np

from ...autograd.dtypes import get_default_dtype
from ...autograd.tensor import Tensor
from ...autograd.version import bump
from ...ops.blas import matmul

__all__ = ["get_total_norm", "clip_grads_with_norm_", "clip_grad_norm_", "clip_grad_value_"]

_NONFINITE = ("The total norm of order {p} for gradients from `parameters` is non-finite, so it cannot be "
              "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
              "`error_if_nonfinite=False`")


def _tensors(tensors, what, argument="parameters"):
    """``tensors`` (one Tensor or an iterable of them) as a list, each checked to be a Tensor."""
    if isinstance(tensors, Tensor):
        return [tensors]
    if isinstance(tensors, (np.ndarray, str, bytes)) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{what}: {argument} must be a Tensor or an iterable of Tensors, got "
                        f"{type(tensors).__name__}")
    tensors = list(tensors)
    for index, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}: {argument} must be Tensors, item {index} is a {type(t).__name__}")
    return tensors


def _grads(parameters):
    """The gradient Tensors of the parameters that have one."""
    return [p._grad for p in parameters if p._grad is not None]


def _norm_type(norm_type, what):
    try:
        p = float(norm_type)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: norm_type must be a number (or 'inf'), got {norm_type!r}") from None
    if math.isnan(p):
        raise ValueError(f"{what}: norm_type must be a number, got nan")
    return p


def _real(value, name, what):
    if isinstance(value, Tensor):
        if value._data.size != 1:
            raise ValueError(f"{what}: {name} must be a number or a one-element Tensor, got shape "
                             f"{value._data.shape}")
        return float(value._data.reshape(()))
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{what}: {name} must be a number, got {value!r}") from None


def _vector_norm(array, p):
    """The p-norm of an array's entries as a Python float, accumulated in float64."""
    if array.size == 0:
        if p == math.inf or p < 0:
            raise RuntimeError(f"cannot compute the {p} norm of an empty tensor: the max (or, for p < 0, the "
                               "min) of no entries is undefined, as in torch; leave out the empty parameters")
        return 0.0
    x = array.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if p == math.inf:
            return float(np.max(np.abs(x)).astype(np.float64))
        if p == -math.inf:
            return float(np.min(np.abs(x)).astype(np.float64))
        if p == 0:
            return float(np.count_nonzero(x))                # NaN counts as non-zero, as in torch
        x = x.astype(np.float64, copy=False)
        if p == 2:
            return math.sqrt(float(matmul(x, x)))           # BLAS; inf and nan propagate
        if p == 1:
            return float(np.sum(np.abs(x)))
        # sum |x|^p, then the 1/p-th power (negative p: 0^p = inf, and inf^(1/p) = 0, as torch)
        return float(np.sum(np.abs(x) ** p) ** (1.0 / p))


def _total_norm(arrays, p):
    """|| (||a_1||_p, ||a_2||_p, ...) ||_p as a Python float."""
    return _vector_norm(np.asarray([_vector_norm(a, p) for a in arrays], dtype=np.float64), p)


def _scale(grads, max_norm, total):
    """g <- g * min(1, max_norm / (total + 1e-6)) for every gradient Tensor, in place."""
    coefficient = max_norm / (total + 1e-6)                 # total >= 0, or nan
    if coefficient < 1.0 or math.isnan(coefficient):         # multiplying by 1 changes nothing
        with np.errstate(invalid="ignore", over="ignore"):   # inf * 0 when the norm is inf
            for g in grads:
                g._data *= coefficient
                bump(g)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all entries of ``tensors`` together (a Tensor or an iterable of
    them), as a 0-d Tensor of their dtype (the default dtype when there are none).

    ``norm_type`` is any real p (``inf``, ``-inf`` and 0 included, as torch.linalg.vector_norm).
    A non-finite result raises RuntimeError when ``error_if_nonfinite``. ``foreach`` is accepted
    for torch's signature; NumPy has one code path.
    """
    tensors = _tensors(tensors, "get_total_norm", "tensors")
    p = _norm_type(norm_type, "get_total_norm")
    if not tensors:
        return Tensor(np.array(0.0, dtype=get_default_dtype()))
    total = _total_norm([t._data for t in tensors], p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(_NONFINITE.format(p=p))
    dtype = np.result_type(*(t._data.dtype for t in tensors))
    return Tensor(np.array(total, dtype=dtype))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Multiply the gradient of every parameter by ``min(1, max_norm / (total_norm + 1e-6))``,
    in place (``total_norm`` as returned by :func:`get_total_norm`). Returns None."""
    parameters = _tensors(parameters, "clip_grads_with_norm_")
    max_norm = _real(max_norm, "max_norm", "clip_grads_with_norm_")
    total = _real(total_norm, "total_norm", "clip_grads_with_norm_")
    grads = _grads(parameters)
    if grads:
        _scale(grads, max_norm, total)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their total ``norm_type``-norm is at most
    ``max_norm``; return the total norm before clipping, as a 0-d Tensor of the gradients' dtype.

    Parameters without a gradient are skipped; with no gradient at all the norm is 0.
    A non-finite total norm raises RuntimeError when ``error_if_nonfinite``; otherwise the
    gradients are multiplied by the (then 0 or NaN) factor, as torch does.
    """
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _tensors(parameters, "clip_grad_norm_")
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    max_norm = _real(max_norm, "max_norm", "clip_grad_norm_")
    p = _norm_type(norm_type, "clip_grad_norm_")
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.array(0.0, dtype=get_default_dtype()))
    total = _total_norm([g._data for g in grads], p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(_NONFINITE.format(p=p))
    _scale(grads, max_norm, total)                           # from the float64 total, not its rounding
    return Tensor(np.array(total, dtype=np.result_type(*(g._data.dtype for g in grads))))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient entry into [-clip_value, clip_value], in place. Returns None."""
    parameters = _tensors(parameters, "clip_grad_value_")
    clip_value = _real(clip_value, "clip_value", "clip_grad_value_")
    if math.isnan(clip_value):
        raise ValueError("clip_grad_value_: clip_value must be a number, got nan")
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
        bump(g)
