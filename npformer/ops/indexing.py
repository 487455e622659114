"""Indexing: reading some elements of a tensor. Backward writes the upstream gradient back
to the positions that were read, into zeros elsewhere. A position read twice (a repeated
integer index) gets the sum of both gradients: that is ``np.add.at``, not ``g[index] = grad``
(which would keep only the last write)."""
import numpy as np

from ..autograd.broadcast import unbroadcast
from ..autograd.function import Function
from .dims import normalize_dim


class GetItem(Function):
    """z = a[index] for ints, slices, None, Ellipsis, integer arrays and boolean masks"""

    @staticmethod
    def forward(ctx, a, index):
        try:
            z = a[index]
            if type(z) is not np.ndarray:
                # Integers alone give NumPy a scalar copy; x[1] must be a 0-d view of x, so that
                # x[1].add_(5) writes into x, as in torch. A trailing Ellipsis makes it one.
                z = a[index + (Ellipsis,)]
        except IndexError as error:
            raise IndexError(f"index {_describe(index)} does not fit a tensor of shape {a.shape}: {error}") from None
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        # Only integer arrays can name a position twice; slices, ints and masks cannot.
        ctx.may_repeat = any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in index)
        return z

    @staticmethod
    def backward(ctx, grad):
        grad_a = np.zeros(ctx.shape, dtype=grad.dtype)
        if ctx.may_repeat:
            np.add.at(grad_a, ctx.index, grad)
        else:
            grad_a[ctx.index] = grad
        return grad_a


class SetItem(Function):
    """z = a, then z[index] = v (v broadcast to the indexed shape, cast to a's dtype): the
    out-of-place form of ``a[index] = v``, which ``Tensor.__setitem__`` writes back into a.

    dL/da = dL/dz with zeros at the written positions;  dL/dv = dL/dz[index], summed over
    the dims v was broadcast along. With a repeated integer index NumPy keeps the last write,
    and v's gradient reads dL/dz at the position for every repeat, as torch's index_put does.
    """

    @staticmethod
    def forward(ctx, a, v, index):
        z = a.copy()
        try:
            z[index] = v
        except IndexError as error:
            raise IndexError(f"index {_describe(index)} does not fit a tensor of shape {a.shape}: {error}") from None
        except ValueError as error:
            raise ValueError(f"cannot assign a value of shape {v.shape} to index {_describe(index)} of a tensor of "
                             f"shape {a.shape}: {error}") from None
        ctx.index, ctx.v_shape = index, v.shape
        return z

    @staticmethod
    def backward(ctx, grad):
        grad_a = grad_v = None
        if ctx.needs_input_grad[0]:
            grad_a = grad.copy()
            grad_a[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            written = np.asarray(grad[ctx.index])
            missing = len(ctx.v_shape) - written.ndim       # NumPy drops v's leading 1-dims
            if missing > 0:
                written = written.reshape((1,) * missing + written.shape)
            grad_v = unbroadcast(written, ctx.v_shape)
        return grad_a, grad_v


class MaskedFill(Function):
    """z = value where mask else a;   dL/da = dL/dz where not mask, else 0"""

    @staticmethod
    def forward(ctx, a, mask, value=0.0):
        if mask.dtype != np.bool_:
            raise TypeError(f"mask must be a bool tensor, got {mask.dtype}")
        if np.broadcast_shapes(a.shape, mask.shape) != a.shape:
            raise ValueError(f"mask of shape {mask.shape} does not broadcast to the input shape {a.shape}")
        ctx.mask = mask
        return np.where(mask, np.asarray(value, dtype=a.dtype), a)

    @staticmethod
    def backward(ctx, grad):
        return np.where(ctx.mask, np.zeros((), dtype=grad.dtype), grad), None


class Gather(Function):
    """z[i, j, k] = a[index[i, j, k], j, k] for dim 0 (and likewise for other dims), as torch.gather.

    ``index`` has the input's rank and is no larger than the input outside ``dim``.
    dL/da[index[i, j, k], j, k] += dL/dz[i, j, k].
    """

    @staticmethod
    def forward(ctx, a, index, dim=0):
        dim = normalize_dim(dim, a.ndim)
        if index.dtype.kind not in "iu":
            raise TypeError(f"index must be an integer tensor, got {index.dtype}")
        if index.ndim != a.ndim:
            raise ValueError(f"index has {index.ndim} dims but the input has {a.ndim} (shape {a.shape})")
        for d, (n_index, n_input) in enumerate(zip(index.shape, a.shape)):
            if d != dim and n_index > n_input:
                raise ValueError(
                    f"index shape {index.shape} is larger than input shape {a.shape} in dim {d}")
        if index.size and (index.min() < 0 or index.max() >= a.shape[dim]):
            bad = index.min() if index.min() < 0 else index.max()
            raise IndexError(f"index {bad} is out of bounds for dim {dim} with size {a.shape[dim]}")
        # Positions along every other dim are the index's own coordinates.
        coordinates = list(np.ogrid[tuple(slice(0, n) for n in index.shape)]) if index.ndim else []
        if index.ndim:
            coordinates[dim] = index
        coordinates = tuple(coordinates)
        ctx.shape, ctx.coordinates = a.shape, coordinates
        return a[coordinates] if index.ndim else a[()].copy()

    @staticmethod
    def backward(ctx, grad):
        grad_a = np.zeros(ctx.shape, dtype=grad.dtype)
        np.add.at(grad_a, ctx.coordinates, grad)
        return grad_a, None


def getitem(a, index):
    return GetItem.apply(a, index=normalize_index(index))


def setitem(a, index, value):
    """``a`` with ``a[index] = value`` applied to a copy; differentiable in a and value."""
    return SetItem.apply(a, value, index=normalize_index(index))


def masked_fill(a, mask, value):
    return MaskedFill.apply(a, mask, value=value)


def gather(a, dim, index):
    return Gather.apply(a, index, dim=dim)


def normalize_index(index):
    """An index as a tuple of ints, slices, None, Ellipsis and ndarrays (no Tensors, no lists)."""
    from ..autograd.tensor import Tensor
    if not isinstance(index, tuple):
        index = (index,)
    normalized = []
    for item in index:
        if isinstance(item, Tensor):
            if item.requires_grad:
                raise TypeError("an index tensor cannot require grad")
            item = item._data
            if item.dtype == np.uint8:
                item = item.astype(np.bool_)    # torch reads a uint8 index tensor as a mask
        if isinstance(item, (list, np.ndarray)):
            item = np.asarray(item)
            if item.dtype.kind not in "iub":
                raise IndexError(f"index arrays must be integer or bool, got {item.dtype}")
            if item.ndim == 0 and item.dtype.kind in "iu":
                item = int(item)
        elif isinstance(item, np.integer):
            item = int(item)
        elif not (isinstance(item, (int, slice)) or item is None or item is Ellipsis):
            raise IndexError(f"unsupported index {item!r} of type {type(item).__name__}")
        normalized.append(item)
    return tuple(normalized)


def _describe(index):
    parts = []
    for item in index:
        if isinstance(item, np.ndarray):
            parts.append(f"array(shape={item.shape}, dtype={item.dtype})")
        else:
            parts.append(repr(item))
    return "[" + ", ".join(parts) + "]"
