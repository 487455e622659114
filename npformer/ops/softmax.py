"""softmax and log_softmax along ``dim``, each one fused Function.

Both subtract the row maximum m first: softmax(x) = softmax(x - m), and with the shift every
exponent is <= 0, so nothing overflows however large the logits. A row that is all -inf has
no maximum to subtract and gives NaN, as in PyTorch (attention handles such rows itself).

    softmax:      y_i = e^(x_i - m) / sum_j e^(x_j - m)
                  dL/dx_i = y_i (g_i - sum_j g_j y_j)
    log_softmax:  y_i = x_i - m - log sum_j e^(x_j - m)
                  dL/dx_i = g_i - e^(y_i) sum_j g_j
"""
import numpy as np

from ..autograd.function import Function
from .dims import normalize_dim
from .rows import row_max, row_sums


def _sums(x, axis):
    """Sums over ``axis`` with keepdims, through BLAS when it is the last axis."""
    return row_sums(x) if axis == x.ndim - 1 else np.sum(x, axis=axis, keepdims=True)


def softmax_array(x, axis):
    """softmax of an ndarray (no graph), reusing one buffer for the shift, exp and division."""
    with np.errstate(invalid="ignore", divide="ignore"):    # an all -inf row: NaN, as torch
        y = x - row_max(x, axis)
        np.exp(y, out=y)
        y *= 1 / _sums(y, axis)
    return y


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        dim = normalize_dim(dim, x.ndim)
        y = softmax_array(x, dim)
        ctx.y, ctx.dim = y, dim
        return y

    @staticmethod
    def backward(ctx, grad):
        y = ctx.y
        dx = grad - _sums(grad * y, ctx.dim)                             # g - sum_j g_j y_j
        dx *= y
        return dx


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        dim = normalize_dim(dim, x.ndim)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = x - row_max(x, dim)
            y -= np.log(_sums(np.exp(y), dim))
        ctx.y, ctx.dim = y, dim
        return y

    @staticmethod
    def backward(ctx, grad):
        dx = np.exp(ctx.y)
        dx *= _sums(grad, ctx.dim)
        np.subtract(grad, dx, out=dx)
        return dx


def softmax(x, dim):
    return Softmax.apply(x, dim=dim)


def log_softmax(x, dim):
    return LogSoftmax.apply(x, dim=dim)
