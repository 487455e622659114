"""Writing and selecting along a dim with an index tensor, as torch does:

    scatter(dim, index, src)    z = a, then z[index[i][j]][j] = src[i][j]          (dim 0 shown)
    scatter(dim, index, value)  z = a, then z[index[i][j]][j] = value
    scatter_add(dim, index, src) z = a, then z[index[i][j]][j] += src[i][j]
    index_fill(dim, index, value) z = a with every slice index[k] along dim set to value
    index_select, masked_select, take_along_dim: reads, built on GetItem, Gather and Expand
    one_hot: integer class ids -> rows of 0/1 (no gradient)

For scatter and scatter_add, ``index`` has the input's rank, is no larger than src in any dim
and no larger than the input outside ``dim``; only the leading index-shaped block of src is
read. With a position named twice, scatter keeps the last write (PyTorch leaves the choice
unspecified), scatter_add adds both.

Gradients, with P the positions the index names:
    scatter:      dL/da = dL/dz with P zeroed;   dL/dsrc = dL/dz read at P (zeros outside the block)
    scatter_add:  dL/da = dL/dz;                 dL/dsrc = dL/dz read at P
    index_fill:   dL/da = dL/dz with the filled slices zeroed;
                  dL/dvalue = the sum of dL/dz over the filled slices (each counted once)
"""
import numpy as np

from ..autograd.function import Function
from .dims import normalize_dim
from .indexing import Gather, GetItem


def index_array(index, name="index", op=""):
    """An index argument (Tensor, ndarray or list of ints) as an integer ndarray."""
    from ..autograd.tensor import Tensor
    if isinstance(index, Tensor):
        index = index._data
    index = np.asarray(index)
    if index.dtype.kind not in "iu" and not (index.size == 0 and index.dtype.kind == "f"):
        raise TypeError(f"{op}(): expected {name} to be an int32 or int64 tensor, got {index.dtype}")
    return index.astype(np.int64, copy=False)


def _coordinates(a_shape, index, dim, op, src_shape=None):
    """Check ``index`` against the input (and src) shapes; return the positions it names in the
    input, as a tuple of broadcastable integer arrays, and the block of src it reads."""
    if index.ndim != len(a_shape):
        raise ValueError(f"{op}(): index tensor must have the same number of dimensions as the input; "
                         f"index has shape {index.shape}, the input {a_shape}")
    if src_shape is not None and len(src_shape) != index.ndim:
        raise ValueError(f"{op}(): index tensor must have the same number of dimensions as src; index has shape "
                         f"{index.shape}, src {src_shape}")
    for d, n in enumerate(index.shape):
        if (d != dim and n > a_shape[d]) or (src_shape is not None and n > src_shape[d]):
            raise ValueError(f"{op}(): expected index {list(index.shape)} to be no larger than the input "
                             f"{list(a_shape)} apart from dimension {dim}"
                             + (f" and to be no larger than src {list(src_shape)}" if src_shape is not None else ""))
    size = a_shape[dim] if a_shape else 1
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index.min() if index.min() < 0 else index.max()
        raise IndexError(f"{op}(): index {bad} is out of bounds for dimension {dim} with size {size}")
    if index.ndim == 0:
        return (), ()
    coordinates = list(np.ogrid[tuple(slice(0, n) for n in index.shape)])
    coordinates[dim] = index
    return tuple(coordinates), tuple(slice(0, n) for n in index.shape)


class Scatter(Function):
    """z = a with z[P] = src[block] (or the number ``value``); see the module docstring."""

    @staticmethod
    def forward(ctx, a, src, index, dim, value=None):
        if src is not None and src.dtype != a.dtype:
            raise TypeError(f"scatter(): expected src to have the input's dtype {a.dtype}, got {src.dtype}")
        position, block = _coordinates(a.shape, index, dim, "scatter", None if src is None else src.shape)
        z = a.copy()
        z[position] = value if src is None else src[block]
        ctx.position, ctx.block = position, block
        ctx.src_shape = None if src is None else src.shape
        return z

    @staticmethod
    def backward(ctx, grad):
        grad_a = grad_src = None
        if ctx.needs_input_grad[0]:
            grad_a = grad.copy()
            grad_a[ctx.position] = 0
        if ctx.src_shape is not None and ctx.needs_input_grad[1]:
            grad_src = np.zeros(ctx.src_shape, dtype=grad.dtype)
            grad_src[ctx.block] = grad[ctx.position]
        return grad_a, grad_src


class ScatterAdd(Function):
    """z = a, then z[P] += src[block] (repeats add up);   see the module docstring."""

    @staticmethod
    def forward(ctx, a, src, index, dim):
        if src.dtype != a.dtype:
            raise TypeError(f"scatter_add(): expected src to have the input's dtype {a.dtype}, got {src.dtype}")
        position, block = _coordinates(a.shape, index, dim, "scatter_add", src.shape)
        z = a.copy()
        np.add.at(z, position, src[block])
        ctx.position, ctx.block, ctx.src_shape = position, block, src.shape
        return z

    @staticmethod
    def backward(ctx, grad):
        grad_src = None
        if ctx.needs_input_grad[1]:
            grad_src = np.zeros(ctx.src_shape, dtype=grad.dtype)
            grad_src[ctx.block] = grad[ctx.position]
        return grad, grad_src


class IndexFill(Function):
    """z = a with the slices index[k] along ``dim`` set to the 0-d ``value``;
    see the module docstring for the gradients."""

    @staticmethod
    def forward(ctx, a, value, index, dim):
        if value.ndim != 0:
            raise ValueError(f"index_fill(): only supports a 0-dimensional value tensor, but got a tensor with "
                             f"{value.ndim} dimension(s)")
        if index.ndim > 1:
            raise ValueError(f"index_fill(): index has to be a vector or a scalar, got shape {index.shape}")
        shape = a.shape or (1,)
        size = shape[dim]
        if index.size and (index.min() < -size or index.max() >= size):
            bad = index.min() if index.min() < -size else index.max()
            raise IndexError(f"index_fill(): index {bad} is out of bounds for dimension {dim} with size {size}")
        selected = (slice(None),) * dim + (np.unique(index.reshape(-1) % size),)   # each slice once
        z = a.reshape(shape).copy()
        z[selected] = value
        ctx.selected, ctx.shape = selected, a.shape
        return z.reshape(a.shape)

    @staticmethod
    def backward(ctx, grad):
        selected = ctx.selected
        grad = grad.reshape(ctx.shape or (1,))
        grad_a = grad_value = None
        if ctx.needs_input_grad[0]:
            grad_a = grad.copy()
            grad_a[selected] = 0
            grad_a = grad_a.reshape(ctx.shape)
        if ctx.needs_input_grad[1]:
            grad_value = np.sum(grad[selected])
        return grad_a, grad_value


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """As torch.scatter: ``src`` a tensor (differentiable) or a number; ``value=`` a number.
    ``reduce="add"`` is scatter_add (``"multiply"`` is not supported; PyTorch deprecates both)."""
    from ..autograd.tensor import Tensor
    if (src is None) == (value is None):
        raise TypeError("scatter(): give exactly one of src (a tensor or a number) and value (a number)")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    if value is not None and not isinstance(value, (int, float, bool, np.number, np.bool_)):
        raise TypeError(f"scatter(): value must be a number, got {type(value).__name__}")
    dim = normalize_dim(dim, input.ndim)
    index = index_array(index, op="scatter")
    if reduce is not None:
        if reduce != "add" or src is None:
            raise ValueError(f"scatter(): reduce={reduce!r} is not supported; use scatter_add for sums "
                             "(reduce='add' with a src tensor)")
        return ScatterAdd.apply(input, src, index=index, dim=dim)
    return Scatter.apply(input, src, index=index, dim=dim, value=value)


def scatter_add(input, dim, index, src):
    from ..autograd.tensor import Tensor
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): src must be a Tensor, not {type(src).__name__}")
    return ScatterAdd.apply(input, src, index=index_array(index, op="scatter_add"), dim=normalize_dim(dim, input.ndim))


def index_fill(input, dim, index, value):
    """As torch.index_fill: ``value`` a number, or a 0-d tensor (then differentiable too)."""
    return IndexFill.apply(input, value, index=index_array(index, op="index_fill"), dim=normalize_dim(dim, input.ndim))


def index_select(input, dim, index):
    """The slices ``index[k]`` along ``dim``, in that order (a copy; repeats allowed).
    dL/da: each slice's gradient added back where it was read."""
    dim = normalize_dim(dim, input.ndim)
    index = index_array(index, op="index_select")
    if index.ndim > 1:
        raise ValueError(f"index_select(): index is supposed to be a vector, got shape {index.shape}")
    size = input.shape[dim] if input.ndim else 1
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index.min() if index.min() < 0 else index.max()
        raise IndexError(f"index_select(): index {bad} is out of range for dimension {dim} with size {size}")
    if input.ndim == 0:
        from .shape import reshape
        return reshape(GetItem.apply(reshape(input, (1,)), index=(index.reshape(-1),)), index.shape)
    return GetItem.apply(input, index=(slice(None),) * dim + (index.reshape(-1),))


def masked_select(input, mask):
    """The elements of input where the bool ``mask`` is True, as a 1-D tensor (input and mask
    broadcast together first)."""
    from ..autograd.tensor import Tensor
    from .shape import expand
    mask = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"masked_select(): expected a bool tensor for mask, got {mask.dtype}")
    try:
        shape = np.broadcast_shapes(input.shape, mask.shape)
    except ValueError:
        raise ValueError(f"masked_select(): the mask of shape {mask.shape} does not broadcast with the input "
                         f"of shape {input.shape}") from None
    if input.shape != shape:
        input = expand(input, shape)
    return GetItem.apply(input, index=(np.broadcast_to(mask, shape),))


def take_along_dim(input, indices, dim=None):
    """As torch.take_along_dim: gather along ``dim`` with input and indices broadcast against
    each other in the other dims; with dim=None, along the flattened input."""
    from .shape import expand, reshape
    index = index_array(indices, "indices", "take_along_dim")
    if dim is None:
        input, index, dim = reshape(input, (-1,)), index.reshape(-1), 0
    else:
        dim = normalize_dim(dim, input.ndim)
        if index.ndim != input.ndim:
            raise ValueError(f"take_along_dim(): input and indices should have the same number of dimensions, "
                             f"but got {input.ndim} and {index.ndim}")
        try:
            outer = np.broadcast_shapes(input.shape[:dim] + (1,) + input.shape[dim + 1:],
                                        index.shape[:dim] + (1,) + index.shape[dim + 1:])
        except ValueError:
            raise ValueError(f"take_along_dim(): input of shape {input.shape} and indices of shape {index.shape} "
                             f"do not broadcast outside dim {dim}") from None
        input_shape = outer[:dim] + (input.shape[dim],) + outer[dim + 1:]
        if input.shape != input_shape:
            input = expand(input, input_shape)
        index = np.broadcast_to(index, outer[:dim] + (index.shape[dim],) + outer[dim + 1:])
    return Gather.apply(input, index, dim=dim)


def one_hot(tensor, num_classes=-1):
    """As torch.nn.functional.one_hot: int64 class ids of shape S -> int64 0/1 of shape S + (C,)."""
    from ..autograd.tensor import Tensor
    ids = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if ids.dtype != np.int64:
        raise TypeError(f"one_hot is only applicable to index tensors of dtype int64, got {ids.dtype}")
    if num_classes == -1:
        if ids.size == 0:
            raise ValueError("one_hot: can not infer the total number of classes from an empty tensor; "
                             "pass num_classes")
        num_classes = int(ids.max()) + 1
    elif ids.size and int(ids.max()) >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes ({num_classes}); got {ids.max()}")
    if ids.size and int(ids.min()) < 0:
        raise ValueError(f"one_hot: class values must be non-negative; got {ids.min()}")
    return Tensor._make((ids[..., None] == np.arange(num_classes)).astype(np.int64), False, None, 0)
