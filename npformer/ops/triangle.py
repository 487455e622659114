"""tril and triu: keep the lower (upper) triangle of the last two dims, zero the rest.

Element (i, j) of each matrix is kept by tril when j - i <= diagonal, by triu when
j - i >= diagonal (diagonal 0 is the main diagonal, > 0 above it, < 0 below it). Any leading
dims are a batch. The op is a multiplication by a fixed 0/1 mask, so dL/da is dL/dz with the
same elements zeroed.
"""
import numpy as np

from ..autograd.function import Function


def _check(a, name, diagonal):
    if a.ndim < 2:
        raise ValueError(f"input tensor must have at least 2 dimensions, got shape {a.shape}")
    if not isinstance(diagonal, (int, np.integer)) or isinstance(diagonal, bool):
        raise TypeError(f"{name}: diagonal must be an int, got {type(diagonal).__name__}")


class Tril(Function):
    """z = a where j - i <= diagonal, else 0;   dL/da = tril(dL/dz)"""

    @staticmethod
    def forward(ctx, a, diagonal=0):
        _check(a, "tril", diagonal)
        ctx.diagonal = diagonal
        return np.tril(a, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return np.tril(grad, ctx.diagonal)


class Triu(Function):
    """z = a where j - i >= diagonal, else 0;   dL/da = triu(dL/dz)"""

    @staticmethod
    def forward(ctx, a, diagonal=0):
        _check(a, "triu", diagonal)
        ctx.diagonal = diagonal
        return np.triu(a, diagonal)

    @staticmethod
    def backward(ctx, grad):
        return np.triu(grad, ctx.diagonal)


def tril(input, diagonal=0):
    return Tril.apply(input, diagonal=diagonal)


def triu(input, diagonal=0):
    return Triu.apply(input, diagonal=diagonal)
