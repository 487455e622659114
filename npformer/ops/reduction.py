"""Reductions over ``dim`` (None for all, an int, or a tuple) with ``keepdim``.

Backward spreads the upstream gradient back over the reduced dims: reshape it to the
keepdim shape, then broadcast to the input (a read-only view; nobody writes into it).
"""
import builtins
from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from .dims import keepdim_shape, normalize_dim, normalize_dims
from .indexing import gather

# What max(dim) and min(dim) return, as torch.return_types.max does.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _spread(grad, dims, input_shape):
    return np.broadcast_to(grad.reshape(keepdim_shape(input_shape, dims)), input_shape)


class Sum(Function):
    """z = sum_i a_i;   dz/da_i = 1"""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        dims = normalize_dims(dim, a.ndim)
        ctx.dims, ctx.shape = dims, a.shape
        return np.sum(a, axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _spread(grad, ctx.dims, ctx.shape)


class Mean(Function):
    """z = (1/N) sum_i a_i;   dz/da_i = 1/N"""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        if a.dtype.kind != "f":
            raise TypeError(f"mean needs a floating-point tensor, got {a.dtype}")
        dims = normalize_dims(dim, a.ndim)
        ctx.dims, ctx.shape = dims, a.shape
        ctx.count = int(np.prod([a.shape[d] for d in dims]))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.mean(a, axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, grad):
        return _spread(grad / ctx.count, ctx.dims, ctx.shape)


def _variance(a, dim, correction):
    """The keepdim variance, with what Var and Std keep for backward."""
    dims = normalize_dims(dim, a.ndim)
    count = int(np.prod([a.shape[d] for d in dims]))
    centered = a - np.mean(a, axis=dims, keepdims=True)                       # input shape
    divisor = np.asarray(builtins.max(count - correction, 0), dtype=a.dtype)  # N - c
    with np.errstate(invalid="ignore", divide="ignore"):                      # N - c = 0: NaN, as torch
        variance = np.sum(centered * centered, axis=dims, keepdims=True) / divisor
    return dims, centered, divisor, variance


class Var(Function):
    """z = sum_i (a_i - m)^2 / (N - c), m the mean, c the correction (1: unbiased).

    dz/da_i = 2 (a_i - m) / (N - c): the terms through m cancel because sum_i (a_i - m) = 0.
    """

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False, correction=1):
        dims, centered, divisor, variance = _variance(a, dim, correction)
        ctx.dims, ctx.centered, ctx.divisor = dims, centered, divisor
        return variance if keepdim else np.squeeze(variance, axis=dims)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.reshape(keepdim_shape(ctx.centered.shape, ctx.dims))
        return grad * 2 / ctx.divisor * ctx.centered


class Std(Function):
    """z = sqrt(var);   dz/da_i = (a_i - m) / ((N - c) z)

    Where z = 0 (a constant slice) the gradient is 0, not 0/0: PyTorch's choice, which keeps
    a normalisation of a constant input from poisoning training with NaN.
    """

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False, correction=1):
        dims, centered, divisor, variance = _variance(a, dim, correction)
        with np.errstate(invalid="ignore"):
            deviation = np.sqrt(variance)
        ctx.dims, ctx.centered, ctx.divisor, ctx.deviation = dims, centered, divisor, deviation
        return deviation if keepdim else np.squeeze(deviation, axis=dims)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.reshape(keepdim_shape(ctx.centered.shape, ctx.dims))
        scale = np.where(ctx.deviation == 0, 0, grad / (ctx.divisor * ctx.deviation))
        return scale * ctx.centered


class Amax(Function):
    """z = max_i a_i. At a tie the gradient is shared equally among the maxima (PyTorch's
    amax rule), so the result does not depend on which equal element is 'first'."""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        return _extremum_forward(ctx, a, dim, keepdim, np.max)

    @staticmethod
    def backward(ctx, grad):
        return _extremum_backward(ctx, grad)


class Amin(Function):
    """z = min_i a_i; ties share the gradient equally."""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        return _extremum_forward(ctx, a, dim, keepdim, np.min)

    @staticmethod
    def backward(ctx, grad):
        return _extremum_backward(ctx, grad)


def _extremum_forward(ctx, a, dim, keepdim, reduce):
    dims = normalize_dims(dim, a.ndim)
    if a.size == 0:
        raise ValueError(f"cannot reduce an empty tensor of shape {a.shape}")
    kept = reduce(a, axis=dims, keepdims=True)
    ctx.dims = dims
    ctx.winners = a == kept                                          # input shape, bool
    return kept if keepdim else kept.reshape([n for i, n in enumerate(a.shape) if i not in dims])


def _extremum_backward(ctx, grad):
    winners = ctx.winners
    count = np.sum(winners, axis=ctx.dims, keepdims=True)
    share = grad.reshape(keepdim_shape(winners.shape, ctx.dims)) / count.astype(grad.dtype)
    return np.where(winners, share, 0)


def sum(a, dim=None, keepdim=False):
    return Sum.apply(a, dim=dim, keepdim=keepdim)


def mean(a, dim=None, keepdim=False):
    return Mean.apply(a, dim=dim, keepdim=keepdim)


def var(a, dim=None, *args, keepdim=False, correction=None, unbiased=None):
    """Variance; ``correction=1`` (the default, or ``unbiased=True``) divides by N - 1.

    torch.var's overloads: ``var(x, unbiased)``, ``var(x, dim, unbiased, keepdim)`` and
    ``var(x, dim, *, correction, keepdim)``: a second positional argument is ``unbiased``.
    """
    dim, keepdim, correction = _variance_arguments("var", dim, args, keepdim, correction, unbiased)
    return Var.apply(a, dim=dim, keepdim=keepdim, correction=correction)


def std(a, dim=None, *args, keepdim=False, correction=None, unbiased=None):
    """Standard deviation, as torch.std (gradient 0 where the deviation is 0); arguments as var."""
    dim, keepdim, correction = _variance_arguments("std", dim, args, keepdim, correction, unbiased)
    return Std.apply(a, dim=dim, keepdim=keepdim, correction=correction)


def _variance_arguments(name, dim, args, keepdim, correction, unbiased):
    if isinstance(dim, bool):                   # var(x, False): the unbiased-only overload
        if args:
            raise TypeError(f"{name}(unbiased) takes no further positional arguments")
        dim, unbiased = None, dim
    if len(args) > 2:
        raise TypeError(f"{name}() takes at most dim, unbiased and keepdim positionally")
    if args:
        unbiased = args[0]
    if len(args) == 2:
        keepdim = args[1]
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}(): give unbiased or correction, not both")
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return dim, bool(keepdim), 1 if correction is None else correction


def amax(a, dim=None, keepdim=False):
    return Amax.apply(a, dim=dim, keepdim=keepdim)


def amin(a, dim=None, keepdim=False):
    return Amin.apply(a, dim=dim, keepdim=keepdim)


def max(a, dim=None, keepdim=False):
    """As torch.max: the largest value overall, or with ``dim`` the (values, indices) pair.

    Along a dim the gradient goes to the returned index (the first maximum), exactly as in
    PyTorch, because values are gathered at those indices.
    """
    if dim is None:
        return amax(a)
    return _select(a, dim, keepdim, np.argmax)


def min(a, dim=None, keepdim=False):
    """As torch.min: the smallest value overall, or with ``dim`` the (values, indices) pair."""
    if dim is None:
        return amin(a)
    return _select(a, dim, keepdim, np.argmin)


def argmax(a, dim=None, keepdim=False):
    return _arg(a, dim, keepdim, np.argmax)


def argmin(a, dim=None, keepdim=False):
    return _arg(a, dim, keepdim, np.argmin)


def _arg(a, dim, keepdim, arg_function):
    from ..autograd.tensor import Tensor
    data = a._data if isinstance(a, Tensor) else np.asarray(a)
    if dim is None:
        index = np.asarray(arg_function(data), dtype=np.int64)
        return Tensor._make(index.reshape((1,) * data.ndim) if keepdim else index, False, None, 0)
    dim = normalize_dim(dim, data.ndim)
    index = np.expand_dims(arg_function(data, axis=dim), dim).astype(np.int64)
    return Tensor._make(index if keepdim else np.squeeze(index, dim), False, None, 0)


def _select(a, dim, keepdim, arg_function):
    indices = _arg(a, dim, True, arg_function)
    values = gather(a, dim, indices)
    if not keepdim:
        from .shape import squeeze
        values, indices = squeeze(values, dim), squeeze(indices, dim)
    return ValuesIndices(values, indices)
