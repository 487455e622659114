"""layer_norm and rms_norm over the trailing ``normalized_shape`` dims, each one fused Function.

The normalised dims are flattened into rows of a (M, C) matrix. Forward keeps the input (a
reference, not a copy) with the per-row statistics; backward recomputes the normalised input
from them instead of holding a second activation. Row and column sums go through BLAS
(npformer.ops.rows).

    layer_norm:  xhat = (x - mu) r,  r = 1 / sqrt(var + eps),  y = xhat w + b
                 dxhat = g w
                 dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
                 dw = sum over rows of g xhat,  db = sum over rows of g
    rms_norm:    xhat = x r,  r = 1 / sqrt(mean(x^2) + eps),  y = xhat w
                 dx = r (dxhat - xhat mean(dxhat xhat)),  dw = sum over rows of g xhat

(the mean terms come from mu and r depending on every element of the row; the mean(dxhat)
term is absent from rms_norm because nothing is subtracted.)
"""
import math

import numpy as np

from ..autograd.function import Function
from .rows import leading_sums, row_dots, row_sums


def _rows(x, normalized_shape, weight, bias):
    """x as (M, C) rows, C = prod(normalized_shape), after checking the shapes."""
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or x.shape[x.ndim - k:] != normalized_shape:
        raise ValueError(f"normalized_shape {normalized_shape} must equal the trailing dims of the input shape "
                         f"{x.shape}")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and param.shape != normalized_shape:
            raise ValueError(f"{name} has shape {param.shape}, expected normalized_shape {normalized_shape}")
    return np.ascontiguousarray(x).reshape(-1, math.prod(normalized_shape))


def _flat(param):
    return None if param is None else param.reshape(-1)


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps=1e-5):
        rows = _rows(x, normalized_shape, weight, bias)                  # (M, C)
        width = rows.shape[1]
        mean = row_sums(rows) / width                                    # (M, 1)
        y = rows - mean
        rstd = row_dots(y, y) / width                                    # the variance, then
        rstd += x.dtype.type(eps)
        np.sqrt(rstd, out=rstd)
        np.reciprocal(rstd, out=rstd)                                    # 1 / sqrt(var + eps)  (M, 1)
        y *= rstd                                                        # xhat
        if weight is not None:
            y *= _flat(weight)
        if bias is not None:
            y += _flat(bias)
        ctx.rows, ctx.mean, ctx.rstd, ctx.weight, ctx.shape = rows, mean, rstd, _flat(weight), x.shape
        ctx.param_shape = tuple(normalized_shape)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        rstd, weight = ctx.rstd, ctx.weight
        need_x, need_w, need_b = ctx.needs_input_grad
        g = np.ascontiguousarray(grad).reshape(ctx.rows.shape)          # (M, C)
        xhat = ctx.rows - ctx.mean
        xhat *= rstd
        grad_w = leading_sums(g * xhat, 1).reshape(ctx.param_shape) if need_w else None
        grad_b = leading_sums(g, 1).reshape(ctx.param_shape) if need_b else None
        grad_x = None
        if need_x:
            width = g.shape[1]
            dxhat = g * weight if weight is not None else g.copy()
            projection = row_dots(dxhat, xhat) / width                   # mean(dxhat xhat)
            dxhat -= row_sums(dxhat) / width                             # - mean(dxhat)
            xhat *= projection
            dxhat -= xhat
            dxhat *= rstd
            grad_x = dxhat.reshape(ctx.shape)
        return grad_x, grad_w, grad_b


class RMSNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, normalized_shape, eps=None):
        rows = _rows(x, normalized_shape, weight, None)
        if eps is None:                       # PyTorch's default: the dtype's machine epsilon
            eps = np.finfo(x.dtype).eps
        rstd = row_dots(rows, rows) / rows.shape[1]
        rstd += x.dtype.type(eps)
        np.sqrt(rstd, out=rstd)
        np.reciprocal(rstd, out=rstd)                                    # 1 / sqrt(mean(x^2) + eps)
        y = rows * rstd
        if weight is not None:
            y *= _flat(weight)
        ctx.rows, ctx.rstd, ctx.weight, ctx.shape = rows, rstd, _flat(weight), x.shape
        ctx.param_shape = tuple(normalized_shape)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        rstd, weight = ctx.rstd, ctx.weight
        need_x, need_w = ctx.needs_input_grad
        g = np.ascontiguousarray(grad).reshape(ctx.rows.shape)
        xhat = ctx.rows * rstd
        grad_w = leading_sums(g * xhat, 1).reshape(ctx.param_shape) if need_w else None
        grad_x = None
        if need_x:
            dxhat = g * weight if weight is not None else g.copy()
            xhat *= row_dots(dxhat, xhat) / g.shape[1]                   # xhat mean(dxhat xhat)
            dxhat -= xhat
            dxhat *= rstd
            grad_x = dxhat.reshape(ctx.shape)
        return grad_x, grad_w


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return LayerNorm.apply(input, weight, bias, normalized_shape=tuple(normalized_shape), eps=eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return RMSNorm.apply(input, weight, normalized_shape=tuple(normalized_shape), eps=eps)
