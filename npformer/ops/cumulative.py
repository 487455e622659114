"""Running sums along a dim, and differences of neighbours.

cumsum:  z_j = sum_{i <= j} a_i;   dL/da_m = sum_{j >= m} g_j (a reverse cumulative sum)
diff:    z_i = a_{i+1} - a_i, n times, composed from slicing and subtraction (as torch.diff)
"""
import numpy as np

from ..autograd.function import Function
from .dims import normalize_dim
from .prod import _cast_first, accumulator_dtype, reverse_cumsum


class Cumsum(Function):
    """z_j = sum_{i <= j} a_i along ``dim``;   dL/da = reverse cumulative sum of dL/dz"""

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        return np.cumsum(a, axis=dim, dtype=accumulator_dtype(a.dtype))

    @staticmethod
    def backward(ctx, grad):
        return reverse_cumsum(grad, ctx.dim)


def cumsum(input, dim, *, dtype=None):
    """As torch.cumsum; integer (and bool) inputs accumulate in int64."""
    input = _cast_first(input, dtype)
    if input.ndim == 0:
        from .cast import cast
        normalize_dim(dim, 0)
        return cast(input, accumulator_dtype(input.dtype))
    return Cumsum.apply(input, dim=normalize_dim(dim, input.ndim))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """As torch.diff: the n-th forward difference along ``dim``, after joining ``prepend`` and
    ``append`` (tensors with input's shape outside dim) to either end."""
    from ..autograd.tensor import Tensor
    from .arithmetic import sub
    from .indexing import GetItem
    from .shape import cat
    if input.ndim == 0:
        raise ValueError("diff expects input to be at least one-dimensional")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"diff expects n to be a non-negative int, got {n!r}")
    dim = normalize_dim(dim, input.ndim)
    if n == 0:
        return input                  # as torch: no difference taken, prepend and append unused
    pieces = [p if isinstance(p, Tensor) else Tensor(p) for p in (prepend, input, append) if p is not None]
    if len(pieces) > 1:
        input = cat(pieces, dim)
    before = (slice(None),) * dim
    for _ in range(n):
        if input.shape[dim] == 0:
            break
        later = GetItem.apply(input, index=before + (slice(1, None),))
        earlier = GetItem.apply(input, index=before + (slice(None, -1),))
        input = (later != earlier) if input.dtype == np.bool_ else sub(later, earlier)
    return input
