"""logsumexp over dims, as torch.logsumexp(input, dim, keepdim=False); and torch.softmax /
torch.log_softmax (the ``torch``-level names, which take ``dtype``) over the fused ops of softmax.py.

    z = log sum_i e^(a_i) = m + log sum_i e^(a_i - m),   m = max_i a_i (no overflow)
    dz/da_i = e^(a_i - z)   (the softmax of a over the same dims)

Where every a_i is -inf, z = -inf (m is taken as 0 there, so no inf - inf); where m is +inf,
z = +inf, as in PyTorch.
"""
import numpy as np

from ..autograd.function import Function
from .dims import keepdim_shape, normalize_dims
from .softmax import log_softmax as _log_softmax
from .softmax import softmax as _softmax
from .unary import floating


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, dim, keepdim=False):
        a = floating(a)
        dims = normalize_dims(dim, a.ndim)
        if a.size == 0:
            kept = np.full(keepdim_shape(a.shape, dims), -np.inf, dtype=a.dtype)
        else:
            m = np.max(a, axis=dims, keepdims=True)
            m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                kept = np.log(np.sum(np.exp(a - m), axis=dims, keepdims=True)) + m
        ctx.a, ctx.dims, ctx.kept = a, dims, kept
        return kept if keepdim else kept.reshape([n for i, n in enumerate(a.shape) if i not in dims])

    @staticmethod
    def backward(ctx, grad):
        grad = grad.reshape(keepdim_shape(ctx.a.shape, ctx.dims))
        return grad * np.exp(ctx.a - ctx.kept)


def logsumexp(input, dim, keepdim=False):
    return LogSumExp.apply(input, dim=dim, keepdim=keepdim)


def _cast_first(input, dtype):
    if dtype is None:
        return input
    from ..autograd.dtypes import as_dtype
    from .cast import cast
    return cast(input, as_dtype(dtype))


def softmax(input, dim, dtype=None):
    """As torch.softmax: e^a / sum e^a along ``dim``, after casting to ``dtype`` if given."""
    return _softmax(_cast_first(input, dtype), dim)


def log_softmax(input, dim, dtype=None):
    """As torch.log_softmax: a - logsumexp(a) along ``dim``, after casting to ``dtype`` if given."""
    return _log_softmax(_cast_first(input, dtype), dim)
