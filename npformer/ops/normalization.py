"""layer_norm and rms_norm over the trailing ``normalized_shape`` dims, each one fused Function.

Forward keeps the input (a reference, not a copy) with the per-row statistics; backward
recomputes the normalised input from them instead of holding a second activation.

    layer_norm:  xhat = (x - mu) r,  r = 1 / sqrt(var + eps),  y = xhat w + b
                 dxhat = g w
                 dx = r (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
                 dw = sum over rows of g xhat,  db = sum over rows of g
    rms_norm:    xhat = x r,  r = 1 / sqrt(mean(x^2) + eps),  y = xhat w
                 dx = r (dxhat - xhat mean(dxhat xhat)),  dw = sum over rows of g xhat

(the mean terms come from mu and r depending on every element of the row; the mean(dxhat)
term is absent from rms_norm because nothing is subtracted.)
"""
import numpy as np

from ..autograd.function import Function


def _axes(x, normalized_shape, weight, bias):
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or x.shape[x.ndim - k:] != normalized_shape:
        raise ValueError(f"normalized_shape {normalized_shape} must equal the trailing dims of the input shape {x.shape}")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None and param.shape != normalized_shape:
            raise ValueError(f"{name} has shape {param.shape}, expected normalized_shape {normalized_shape}")
    return tuple(range(x.ndim - k, x.ndim))


def _leading(axes, ndim):
    return tuple(range(ndim - len(axes)))


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps=1e-5):
        axes = _axes(x, normalized_shape, weight, bias)
        mean = np.mean(x, axis=axes, keepdims=True)
        y = x - mean
        rstd = 1 / np.sqrt(np.mean(np.square(y), axis=axes, keepdims=True) + np.asarray(eps, x.dtype))
        y *= rstd                                                       # xhat
        if weight is not None:
            y *= weight
        if bias is not None:
            y += bias
        ctx.x, ctx.mean, ctx.rstd, ctx.weight, ctx.axes = x, mean, rstd, weight, axes
        return y

    @staticmethod
    def backward(ctx, grad):
        axes, rstd, weight = ctx.axes, ctx.rstd, ctx.weight
        need_x, need_w, need_b = ctx.needs_input_grad
        xhat = (ctx.x - ctx.mean) * rstd
        leading = _leading(axes, grad.ndim)
        grad_w = np.sum(grad * xhat, axis=leading) if need_w else None
        grad_b = np.sum(grad, axis=leading) if need_b else None
        grad_x = None
        if need_x:
            dxhat = grad * weight if weight is not None else grad
            projection = np.mean(dxhat * xhat, axis=axes, keepdims=True)
            grad_x = dxhat - np.mean(dxhat, axis=axes, keepdims=True)
            grad_x -= xhat * projection
            grad_x *= rstd
        return grad_x, grad_w, grad_b


class RMSNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, normalized_shape, eps=None):
        axes = _axes(x, normalized_shape, weight, None)
        if eps is None:                       # PyTorch's default: the dtype's machine epsilon
            eps = np.finfo(x.dtype).eps
        rstd = 1 / np.sqrt(np.mean(np.square(x), axis=axes, keepdims=True) + np.asarray(eps, x.dtype))
        y = x * rstd
        if weight is not None:
            y *= weight
        ctx.x, ctx.rstd, ctx.weight, ctx.axes = x, rstd, weight, axes
        return y

    @staticmethod
    def backward(ctx, grad):
        axes, rstd, weight = ctx.axes, ctx.rstd, ctx.weight
        need_x, need_w = ctx.needs_input_grad
        xhat = ctx.x * rstd
        grad_w = np.sum(grad * xhat, axis=_leading(axes, grad.ndim)) if need_w else None
        grad_x = None
        if need_x:
            dxhat = grad * weight if weight is not None else grad
            grad_x = dxhat - xhat * np.mean(dxhat * xhat, axis=axes, keepdims=True)
            grad_x *= rstd
        return grad_x, grad_w


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return LayerNorm.apply(input, weight, bias, normalized_shape=tuple(normalized_shape), eps=eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return RMSNorm.apply(input, weight, normalized_shape=tuple(normalized_shape), eps=eps)
