"""Copying and reordering elements: repeat (tile), repeat_interleave, flip, roll.

Each output element is one input element, so each backward sends the upstream gradient back to
where it came from: summed over the copies for repeat and repeat_interleave, un-flipped for
flip, rolled back for roll. All four return new memory, as in PyTorch (flip is not a view).
"""
import numpy as np

from ..autograd.function import Function
from .dims import normalize_dim


class Repeat(Function):
    """z = a tiled ``sizes[d]`` times along each dim d (new leading dims when sizes is longer);
    dL/da = dL/dz summed over the tiles: view z's dim d as (sizes[d], n_d) and sum the first."""

    @staticmethod
    def forward(ctx, a, sizes):
        if len(sizes) < a.ndim:
            raise ValueError(f"repeat: the number of repeat dims ({len(sizes)}) can not be smaller than the number "
                             f"of dimensions of the tensor ({a.ndim})")
        if any(s < 0 for s in sizes):
            raise ValueError(f"repeat: repeats must be non-negative, got {list(sizes)}")
        shape = (1,) * (len(sizes) - a.ndim) + a.shape          # a's shape with the new leading dims
        ctx.shape, ctx.sizes, ctx.expanded = a.shape, sizes, shape
        return np.tile(a.reshape(shape), sizes)

    @staticmethod
    def backward(ctx, grad):
        split = tuple(n for pair in zip(ctx.sizes, ctx.expanded) for n in pair)   # (s0, n0, s1, n1, ...)
        summed = grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return summed.reshape(ctx.shape)


class RepeatInterleave(Function):
    """z = each slice a[k] along ``dim`` repeated repeats[k] times in place (a[0], a[0], a[1], ...);
    dL/da[k] = the sum of dL/dz over the repeats[k] consecutive copies of a[k]."""

    @staticmethod
    def forward(ctx, a, repeats, dim):
        ctx.repeats, ctx.dim, ctx.shape = repeats, dim, a.shape
        return np.repeat(a, repeats, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        repeats, dim = ctx.repeats, ctx.dim
        grad_a = np.zeros(ctx.shape, dtype=grad.dtype)
        used = repeats > 0                                    # np.add.reduceat misreads empty segments
        if used.any():
            starts = (np.cumsum(repeats) - repeats)[used]
            index = (slice(None),) * dim + (used,)
            grad_a[index] = np.add.reduceat(grad, starts, axis=dim)
        return grad_a


class Flip(Function):
    """z = a reversed along ``dims``;   dL/da = dL/dz reversed along the same dims"""

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        return np.flip(a, dims).copy()

    @staticmethod
    def backward(ctx, grad):
        return np.flip(grad, ctx.dims)


class Roll(Function):
    """z = a shifted cyclically by ``shifts`` along ``dims`` (of the flattened tensor when dims
    is None);   dL/da = dL/dz shifted back by -shifts"""

    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(a, shifts, dims)

    @staticmethod
    def backward(ctx, grad):
        back = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return np.roll(grad, back, ctx.dims)


def _ints(value, name, op):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),)
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                for v in value):
        return tuple(int(v) for v in value)
    raise TypeError(f"{op}(): {name} must be an int or a tuple of ints, got {value!r}")


def repeat(input, sizes):
    """Tensor.repeat: ``sizes`` a tuple of non-negative ints, at least one per dim."""
    return Repeat.apply(input, sizes=_ints(sizes, "sizes", "repeat"))


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """As torch.repeat_interleave: ``repeats`` an int, or an int tensor with one count per slice
    (or a single count). dim=None repeats the elements of the flattened input.
    ``repeat_interleave(counts)`` alone gives arange(len(counts)) repeated by counts."""
    from ..autograd.tensor import Tensor
    from .shape import reshape
    if repeats is None:
        counts = _counts(input)
        if counts.ndim != 1:
            raise ValueError(f"repeat_interleave: repeats must be a 1-D tensor, got shape {counts.shape}")
        return Tensor._make(np.repeat(np.arange(len(counts), dtype=np.int64), counts), False, None, 0)
    if dim is None:
        input, dim = reshape(input, (-1,)), 0
    dim = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        input = reshape(input, (1,))
    size = input.shape[dim]
    counts = _counts(repeats)
    if counts.ndim > 1:
        raise ValueError(f"repeat_interleave: repeats must be 0-dim or 1-dim, got shape {counts.shape}")
    counts = np.broadcast_to(counts.reshape(-1), (size,)) if counts.size == 1 else counts
    if counts.shape != (size,):
        raise ValueError(f"repeat_interleave: repeats must have the same size as input along dim {dim} "
                         f"({size}), got {counts.size}")
    if output_size is not None and int(counts.sum()) != output_size:
        raise ValueError(f"repeat_interleave: output_size {output_size} is not the sum of repeats, {counts.sum()}")
    return RepeatInterleave.apply(input, repeats=np.ascontiguousarray(counts), dim=dim)


def _counts(repeats):
    from ..autograd.tensor import Tensor
    counts = repeats._data if isinstance(repeats, Tensor) else np.asarray(repeats)
    if counts.dtype.kind not in "iu":
        raise TypeError(f"repeat_interleave: repeats must be an int or an int tensor, got {counts.dtype}")
    if counts.size and counts.min() < 0:
        raise ValueError("repeat_interleave: repeats can not be negative")
    return counts.astype(np.int64, copy=False)


def flip(input, dims):
    """As torch.flip: reverse the order of elements along each dim in ``dims`` (a copy)."""
    dims = tuple(normalize_dim(d, input.ndim) for d in _ints(dims, "dims", "flip"))
    if len(set(dims)) != len(dims):
        raise ValueError(f"flip(): dims {list(dims)} names a dim more than once")
    return Flip.apply(input, dims=dims)


def roll(input, shifts, dims=None):
    """As torch.roll: ``shifts`` and ``dims`` ints or equal-length tuples; without dims the
    flattened tensor is rolled and the shape restored."""
    shifts = _ints(shifts, "shifts", "roll")
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll(): without dims, shifts must be one int, got {list(shifts)}")
        return Roll.apply(input, shifts=shifts[0], dims=None)
    dims = tuple(normalize_dim(d, input.ndim) for d in _ints(dims, "dims", "roll"))
    if len(shifts) != len(dims):
        raise ValueError(f"roll(): shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}")
    return Roll.apply(input, shifts=shifts, dims=dims)
