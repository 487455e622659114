"""sort, argsort and topk along a dim, returning (values, indices) as torch.return_types does.

Ties: the indices always come from a stable sort, so equal values appear lowest index first,
ascending and descending alike, and topk keeps the first k of that order. NaN counts as larger
than every number (last ascending, first descending), as in PyTorch. This is PyTorch's order
for sort(stable=True), which is the only order of ties PyTorch documents; its topk returns
ties in an order that depends on k and the size ([3, 1, 3, 2, 1, 3, nan, 1].topk(3) gives
indices 6, 0, 5 in torch 2.13, ours 6, 0, 2), so topk agrees with PyTorch exactly only
without ties (tests/crosscheck/test_tensor_ops_vs_torch.py compares it on distinct values).

The values are ``gather(input, dim, indices)``, so their gradient is Gather's: each value's
gradient goes back to the element it came from.
"""
import numpy as np

from .dims import normalize_dim
from .indexing import gather
from .reduction import ValuesIndices


def _order(data, dim, descending):
    """Stable argsort along ``dim`` (NaN largest), as int64."""
    if not descending:
        return np.argsort(data, axis=dim, kind="stable").astype(np.int64, copy=False)
    # Sorting the reversed data ascending and reversing the result gives a descending order in
    # which equal values keep their original order (lowest index first).
    n = data.shape[dim]
    reversed_order = np.argsort(np.flip(data, dim), axis=dim, kind="stable")
    return (n - 1 - np.flip(reversed_order, dim)).astype(np.int64, copy=False)


def _data(input):
    from ..autograd.tensor import Tensor
    return input._data if isinstance(input, Tensor) else np.asarray(input)


def _wrap(indices):
    from ..autograd.tensor import Tensor
    return Tensor._make(indices, False, None, 0)


def argsort(input, dim=-1, descending=False, *, stable=False):
    """The indices that sort input along ``dim`` (stable always: see the module docstring)."""
    data = _data(input)
    dim = normalize_dim(dim, data.ndim)
    if data.ndim == 0:
        return _wrap(np.zeros((), dtype=np.int64))
    return _wrap(_order(data, dim, descending))


def sort(input, dim=-1, descending=False, *, stable=False):
    """(values, indices) with values = input sorted along ``dim``; values are differentiable."""
    indices = argsort(input, dim, descending, stable=stable)
    if input.ndim == 0:
        from .cast import cast
        return ValuesIndices(cast(input, input.dtype), indices)
    return ValuesIndices(gather(input, dim, indices), indices)


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (or smallest) elements along ``dim``, largest first
    (smallest first when largest=False). ``sorted=False`` is accepted and returns them sorted
    too, which is one of the orders PyTorch allows."""
    data = _data(input)
    dim = normalize_dim(dim, data.ndim)
    size = data.shape[dim] if data.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk(): k must be an int, got {type(k).__name__}")
    if not 0 <= k <= size:
        raise ValueError(f"topk(): selected index k out of range: k={k} for dimension {dim} of size {size}")
    if data.ndim == 0:
        return sort(input)
    order = _order(data, dim, descending=largest)
    indices = np.take(order, np.arange(k), axis=dim)
    index_tensor = _wrap(np.ascontiguousarray(indices))
    return ValuesIndices(gather(input, dim, index_tensor), index_tensor)
