"""PyTorch's other names for reshaping and reordering, composed from reshape, permute, split and
getitem (so they are views where those are, as in PyTorch, and need no backward of their own):
unbind, narrow, movedim, swapaxes / swapdims, t, view_as, reshape_as, unflatten.
"""
from .dims import normalize_dim
from .indexing import GetItem
from .shape import Split, permute, reshape, transpose


def unbind(input, dim=0):
    """The slices along ``dim`` as a tuple of tensors without that dim."""
    dim = normalize_dim(dim, input.ndim)
    if input.ndim == 0:
        raise ValueError("unbind: dimension specified as 0 but tensor has no dimensions")
    n = input.shape[dim]
    if n == 0:
        return ()
    rest = input.shape[:dim] + input.shape[dim + 1:]
    pieces = Split.apply(input, sizes=(1,) * n, dim=dim)
    pieces = pieces if isinstance(pieces, tuple) else (pieces,)
    return tuple(reshape(p, rest) for p in pieces)


def narrow(input, dim, start, length):
    """input[..., start:start + length, ...] along ``dim`` (a view); start may be negative."""
    from ..autograd.tensor import Tensor
    dim = normalize_dim(dim, input.ndim)
    if isinstance(start, Tensor):
        start = start.item()
    size = input.shape[dim]
    if not -size <= start <= size:
        raise IndexError(f"narrow(): start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    start = start % size if start < 0 else start
    if length < 0:
        raise ValueError("narrow(): length must be non-negative")
    if start + length > size:
        raise ValueError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({size})")
    return GetItem.apply(input, index=(slice(None),) * dim + (slice(start, start + length),))


def movedim(input, source, destination):
    """Move the dims ``source`` to the positions ``destination`` (ints or equal-length tuples);
    the other dims keep their order."""
    ndim = input.ndim
    source = (source,) if isinstance(source, int) else tuple(source)
    destination = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(source) != len(destination):
        raise ValueError(f"movedim: invalid source or destination dims: source ({list(source)} dims) should "
                         f"contain the same number of dims as destination ({list(destination)} dims)")
    source = [normalize_dim(d, ndim, "source") for d in source]
    destination = [normalize_dim(d, ndim, "destination") for d in destination]
    if len(set(source)) != len(source) or len(set(destination)) != len(destination):
        raise ValueError("movedim: repeated dim in source or destination")
    order = [d for d in range(ndim) if d not in source]
    for position, d in sorted(zip(destination, source)):
        order.insert(position, d)
    return permute(input, order)


moveaxis = movedim


def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)


def swapdims(input, dim0, dim1):
    return transpose(input, dim0, dim1)


def t(input):
    """The transpose of a matrix; a 0-D or 1-D tensor is returned as it is."""
    if input.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else reshape(input, input.shape)


def view_as(input, other):
    return reshape(input, other.shape)


def reshape_as(input, other):
    return reshape(input, other.shape)


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one entry may be -1)."""
    dim = normalize_dim(dim, input.ndim)
    sizes = tuple(sizes)
    if not sizes:
        raise ValueError("unflatten: sizes must be non-empty")
    return reshape(input, input.shape[:dim] + sizes + input.shape[dim + 1:])
