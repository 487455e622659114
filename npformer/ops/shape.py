"""Shape ops: they move or copy elements without arithmetic, so each backward moves the
upstream gradient back the same way (reshape back, inverse permutation, sum over expanded
dims, split what was concatenated and concatenate what was split)."""
import numpy as np

from ..autograd.broadcast import unbroadcast
from ..autograd.function import Function
from .dims import normalize_dim
from .promotion import promote


class Reshape(Function):
    """z = a viewed with a new shape (one entry may be -1);   dL/da = dL/dz reshaped back"""

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


class Permute(Function):
    """z = a with dims reordered: z.shape[i] = a.shape[dims[i]];   dL/da = dL/dz permuted by
    the inverse permutation"""

    @staticmethod
    def forward(ctx, a, dims):
        if sorted(dims) != list(range(a.ndim)):         # permute() and transpose() normalised them
            raise ValueError(f"dims {dims} is not a permutation of the {a.ndim} dims of shape {a.shape}")
        ctx.dims = dims
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(tuple(np.argsort(ctx.dims)))


class Expand(Function):
    """z = a broadcast to ``shape`` (-1 keeps a dim; new dims go in front);
    dL/da = dL/dz summed over the copies (``unbroadcast``)"""

    @staticmethod
    def forward(ctx, a, shape):
        shape = tuple(shape)
        added = len(shape) - a.ndim
        if added < 0:
            raise ValueError(f"cannot expand shape {a.shape} to the shorter shape {shape}")
        target = tuple(a.shape[i - added] if n == -1 and i >= added else n for i, n in enumerate(shape))
        if any(n < 0 for n in target):
            raise ValueError(f"cannot expand shape {a.shape} to {shape}: -1 is only allowed for existing dims")
        for n_in, n_out in zip(a.shape, target[added:]):
            if n_in != n_out and n_in != 1:
                raise ValueError(f"cannot expand shape {a.shape} to {shape}: only dims of size 1 expand")
        ctx.shape = a.shape
        return np.broadcast_to(a, target)

    @staticmethod
    def backward(ctx, grad):
        return unbroadcast(grad, ctx.shape)


class Cat(Function):
    """z = the inputs joined along ``dim``;   each dL/da_k is its slice of dL/dz"""

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        if not arrays:
            raise ValueError("cat needs at least one tensor")
        dim = normalize_dim(dim, arrays[0].ndim)
        first = arrays[0].shape
        for k, a in enumerate(arrays):
            if a.ndim != len(first) or a.shape[:dim] + a.shape[dim + 1:] != first[:dim] + first[dim + 1:]:
                raise ValueError(
                    f"tensor {k} has shape {a.shape}, which does not match {arrays[0].shape} "
                    f"outside dim {dim}")
        ctx.dim = dim
        ctx.offsets = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.offsets, axis=ctx.dim))


class Stack(Function):
    """z = the inputs stacked along a new dim;   each dL/da_k is dL/dz[..., k, ...]"""

    @staticmethod
    def forward(ctx, *arrays, dim=0):
        if not arrays:
            raise ValueError("stack needs at least one tensor")
        for k, a in enumerate(arrays):
            if a.shape != arrays[0].shape:
                raise ValueError(f"stack needs equal shapes; tensor 0 has {arrays[0].shape}, tensor {k} has {a.shape}")
        dim = normalize_dim(dim, arrays[0].ndim + 1)
        ctx.dim = dim
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.moveaxis(grad, ctx.dim, 0))


class Split(Function):
    """z_1, ..., z_n = consecutive pieces of a along ``dim``;   dL/da = the pieces' gradients
    joined (an unused piece contributes zeros)"""

    @staticmethod
    def forward(ctx, a, sizes, dim=0):
        dim = normalize_dim(dim, a.ndim)
        if sum(sizes) != a.shape[dim] or any(s < 0 for s in sizes):
            raise ValueError(f"split sizes {list(sizes)} do not add up to {a.shape[dim]}, the size of dim {dim}")
        ctx.dim = dim
        return tuple(np.split(a, np.cumsum(sizes)[:-1], axis=dim))

    @staticmethod
    def backward(ctx, *grads):
        return np.concatenate(grads, axis=ctx.dim)



def reshape(a, shape):
    return Reshape.apply(a, shape=tuple(shape))


def flatten(a, start_dim=0, end_dim=-1):
    shape = a.shape
    if len(shape) == 0:
        return reshape(a, (1,))
    start, end = normalize_dim(start_dim, len(shape)), normalize_dim(end_dim, len(shape))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return reshape(a, shape[:start] + (-1,) + shape[end + 1:]) if shape[start:end + 1] else reshape(a, shape)


def permute(a, dims):
    ndim = len(a.shape)
    return Permute.apply(a, dims=tuple(normalize_dim(d, ndim) for d in dims))


def transpose(a, dim0, dim1):
    ndim = len(a.shape)
    dims = list(range(ndim))
    d0, d1 = normalize_dim(dim0, ndim, "dim0"), normalize_dim(dim1, ndim, "dim1")
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(a, dims=tuple(dims))


def expand(a, shape):
    return Expand.apply(a, shape=tuple(shape))


def squeeze(a, dim=None):
    """Remove dims of size 1: all of them, or those named in ``dim`` (others are left alone,
    as in PyTorch)."""
    shape = a.shape
    if dim is None:
        dims = {i for i, n in enumerate(shape) if n == 1}
    else:
        dims = {normalize_dim(d, len(shape)) for d in ((dim,) if isinstance(dim, int) else dim)}
        dims = {d for d in dims if len(shape) and shape[d] == 1}
    return reshape(a, tuple(n for i, n in enumerate(shape) if i not in dims))


def unsqueeze(a, dim):
    shape = a.shape
    dim = normalize_dim(dim, len(shape) + 1)
    return reshape(a, shape[:dim] + (1,) + shape[dim:])


def cat(tensors, dim=0):
    return Cat.apply(*promote(*tensors), dim=dim)


concat = cat


def stack(tensors, dim=0):
    return Stack.apply(*promote(*tensors), dim=dim)


def split(a, split_size_or_sections, dim=0):
    """As torch.split: pieces of size ``split_size`` (the last may be smaller), or the listed sizes."""
    length = a.shape[normalize_dim(dim, len(a.shape))]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (length // size) + ([length % size] if length % size else [])
        sizes = sizes or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
    return Split.apply(a, sizes=tuple(sizes), dim=dim)


def chunk(a, chunks, dim=0):
    """As torch.chunk: at most ``chunks`` pieces of size ceil(length / chunks)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    length = a.shape[normalize_dim(dim, len(a.shape))]
    return split(a, max(-(-length // chunks), 1), dim)
