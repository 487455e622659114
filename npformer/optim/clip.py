"""Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_.

clip_grad_norm_ treats all gradients as one vector: the total norm is the norm of the
per-gradient norms, and every gradient is multiplied by

    min(1, max_norm / (total_norm + 1e-6))

(in place; torch multiplies by the clamped factor, which leaves the gradients unchanged when it
is 1). Norms are accumulated in float64 whatever the gradients' dtype, so a float32 gradient
with large entries gives a finite norm where its float32 square would overflow; the gradients
keep their dtype.
"""
import math

import numpy as np

from ..autograd.tensor import Tensor
from ..ops.blas import matmul

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters, what):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for index, param in enumerate(parameters):
        if not isinstance(param, Tensor):
            raise TypeError(f"{what}: parameters must be Tensors (or one Tensor), item {index} is a "
                            f"{type(param).__name__}")
        if param.grad is not None:
            grads.append(param.grad)
    return grads


def _vector_norm(array, p):
    """The p-norm of an array's entries as a Python float, accumulated in float64."""
    if array.size == 0:
        return 0.0
    x = array.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        if p == math.inf:
            return float(np.max(np.abs(x)).astype(np.float64))
        if p == -math.inf:
            return float(np.min(np.abs(x)).astype(np.float64))
        if p == 0:
            return float(np.count_nonzero(x))
        x = x.astype(np.float64, copy=False)
        if p == 2:
            return math.sqrt(float(matmul(x, x)))           # BLAS; inf and nan propagate
        if p == 1:
            return float(np.sum(np.abs(x)))
        return float(np.sum(np.abs(x) ** p) ** (1.0 / p))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their total ``norm_type``-norm is at most
    ``max_norm``; return the total norm before clipping, as a NumPy scalar of the gradients'
    dtype (``float(...)`` or ``.item()`` gives a Python float).

    Parameters without a gradient are skipped; with no gradient at all the norm is 0.
    ``norm_type`` may be any p > 0, ``inf``, ``-inf`` or 0 (the count of non-zero entries).
    A non-finite total norm raises RuntimeError when ``error_if_nonfinite``; otherwise the
    gradients are multiplied by the (then 0 or NaN) factor, as torch does.
    """
    grads = _grads(parameters, "clip_grad_norm_")
    max_norm, p = float(max_norm), float(norm_type)
    if math.isnan(p) or p < 0 and p != -math.inf:
        raise ValueError(f"clip_grad_norm_: norm_type must be a number > 0, inf, -inf or 0, got {norm_type!r}")
    dtype = np.result_type(*grads) if grads else np.dtype(np.float32)
    if not grads:
        return dtype.type(0.0)
    norms = [_vector_norm(g, p) for g in grads]
    total = _vector_norm(np.asarray(norms, dtype=np.float64), p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {p} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    coefficient = max_norm / (total + 1e-6)                   # total >= 0 (or nan)
    if coefficient < 1.0 or math.isnan(coefficient):
        with np.errstate(invalid="ignore"):                   # inf * 0 when the norm is inf
            for g in grads:
                g *= coefficient
    return dtype.type(total)


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient entry into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    if math.isnan(clip_value):
        raise ValueError("clip_grad_value_: clip_value must be a number, got nan")
    for g in _grads(parameters, "clip_grad_value_"):
        np.clip(g, -clip_value, clip_value, out=g)
