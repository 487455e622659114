"""Products along a dim: prod (a reduction) and cumprod (a running product), with zeros handled
exactly rather than by dividing by them.

prod, z = prod_i a_i:
    dz/da_i = prod_{k != i} a_k
            = z / a_i                          when no a_k is 0,
            = prod of the others at the zero   when exactly one a_k is 0 (0 at every other i),
            = 0                                when two or more are 0.

cumprod, z_j = prod_{i <= j} a_i, for one slice along dim, with f the position of its first 0
(f = n when there is none):
    dL/da_m = sum_{j >= m} g_j z_j / a_m       for m < f   (a_m != 0 there; z_j = 0 for j >= f)
    dL/da_f = sum_{j >= f} g_j P_j,            P = cumprod of a with a_f replaced by 1
    dL/da_m = 0                                for m > f   (every z_j with j >= m contains a_f = 0)
The reverse sums are "reverse cumulative sums" (flip, cumsum, flip).
"""
import numpy as np

from ..autograd.dtypes import as_dtype
from ..autograd.function import Function
from .dims import keepdim_shape, normalize_dim


def reverse_cumsum(x, axis):
    """r_m = sum_{j >= m} x_j along ``axis``."""
    return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)


def accumulator_dtype(dtype):
    """The result dtype of a sum or product of integers in PyTorch: int64 (bools too)."""
    return np.dtype(np.int64) if dtype.kind in "biu" else dtype


class Prod(Function):
    """z = prod_i a_i over ``dim`` (all elements when dim is None); see the module docstring."""

    @staticmethod
    def forward(ctx, a, dim=None, keepdim=False):
        a = a.astype(accumulator_dtype(a.dtype), copy=False)
        dims = tuple(range(a.ndim)) if dim is None else (dim,)
        with np.errstate(over="ignore", invalid="ignore"):
            kept = np.prod(a, axis=dims, keepdims=True)
        ctx.a, ctx.dims, ctx.kept = a, dims, kept
        if keepdim and dim is not None:
            return kept
        return kept.reshape([n for i, n in enumerate(a.shape) if i not in dims])

    @staticmethod
    def backward(ctx, grad):
        a, dims = ctx.a, ctx.dims
        grad = grad.reshape(keepdim_shape(a.shape, dims))
        zero = a == 0
        zeros = np.sum(zero, axis=dims, keepdims=True)                   # zeros per product
        if not zeros.any():
            return grad * ctx.kept / a
        others = np.prod(np.where(zero, 1, a), axis=dims, keepdims=True)  # product of the nonzero a_k
        with np.errstate(divide="ignore", invalid="ignore"):
            plain = ctx.kept / a
        local = np.where(zeros == 0, plain, np.where((zeros == 1) & zero, others, 0))
        return grad * local


class Cumprod(Function):
    """z_j = prod_{i <= j} a_i along ``dim``; see the module docstring."""

    @staticmethod
    def forward(ctx, a, dim):
        a = a.astype(accumulator_dtype(a.dtype), copy=False)
        with np.errstate(over="ignore", invalid="ignore"):
            z = np.cumprod(a, axis=dim)
        ctx.a, ctx.z, ctx.dim = a, z, dim
        return z

    @staticmethod
    def backward(ctx, grad):
        a, z, dim = ctx.a, ctx.z, ctx.dim
        zero = a == 0
        if not zero.any():
            return reverse_cumsum(grad * z, dim) / a
        n = a.shape[dim]
        position = np.arange(n).reshape([n if i == dim else 1 for i in range(a.ndim)])
        first = np.where(zero.any(axis=dim, keepdims=True), np.argmax(zero, axis=dim, keepdims=True), n)
        before, at = position < first, position == first
        with np.errstate(divide="ignore", invalid="ignore"):
            left = reverse_cumsum(grad * z, dim) / np.where(before, a, 1)          # used where m < f
        at_zero = reverse_cumsum(grad * np.cumprod(np.where(at, 1, a), axis=dim), dim)   # used at m = f
        return np.where(before, left, np.where(at, at_zero, 0))


def _cast_first(input, dtype):
    if dtype is None:
        return input
    from .cast import cast
    return cast(input, as_dtype(dtype))


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """As torch.prod: every element, or along one int ``dim``; integers multiply in int64."""
    input = _cast_first(input, dtype)
    if dim is not None:
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
            raise TypeError(f"prod(): dim must be an int, got {type(dim).__name__}")
        dim = normalize_dim(int(dim), input.ndim)
        if input.ndim == 0:
            dim = None
    return Prod.apply(input, dim=dim, keepdim=keepdim)


def cumprod(input, dim, *, dtype=None):
    input = _cast_first(input, dtype)
    if input.ndim == 0:
        from .cast import cast
        return cast(input, accumulator_dtype(input.dtype))
    return Cumprod.apply(input, dim=normalize_dim(dim, input.ndim))
