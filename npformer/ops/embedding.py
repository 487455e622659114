"""embedding: rows of a weight matrix picked by integer ids.

    y[..., :] = W[ids[...], :]
    dL/dW[r, :] = sum of g[i, :] over every position i with ids[i] == r   (0 for padding_idx)

With ``scale_grad_by_freq`` the gradient of row r is divided by the number of times r occurs
in ids (as PyTorch). ``max_norm`` is not part of the op: before the lookup, ``embedding``
rescales in place (outside the graph, as PyTorch's embedding_renorm_) every looked-up row whose
``norm_type``-norm exceeds max_norm, to max_norm / (norm + 1e-7) times itself.

Backward is a scatter-add. ``np.add.at`` does it one element at a time; sorting the ids once
and summing each run of equal ids with ``np.add.reduceat`` does it in vectorised passes
(measured several times faster at a character-level vocabulary; at GPT-2's, from somewhat
slower to twice as fast depending on the batch and the machine's load: see benchmarks/README.md).
"""
import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..autograd.version import bump


def scatter_rows(ids, rows, num_rows):
    """A (num_rows, D) array whose row r is the sum of ``rows[i]`` over i with ids[i] == r."""
    out = np.zeros((num_rows, rows.shape[1]), dtype=rows.dtype)
    if ids.size == 0:
        return out
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    out[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


class Embedding(Function):
    @staticmethod
    def forward(ctx, weight, ids, padding_idx=None, scale_grad_by_freq=False):
        if ids.dtype.kind not in "iu":
            raise TypeError(f"embedding ids must be integers, got {ids.dtype}")
        if weight.ndim != 2:
            raise ValueError(f"embedding weight must be 2-D (num_embeddings, dim), got shape {weight.shape}")
        num = weight.shape[0]
        if ids.size and (ids.min() < 0 or ids.max() >= num):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise IndexError(f"id {int(bad)} is out of range for an embedding of {num} rows")
        ctx.ids, ctx.num, ctx.padding_idx, ctx.by_freq = ids, num, padding_idx, scale_grad_by_freq
        return weight[ids]                                              # ids.shape + (dim,)

    @staticmethod
    def backward(ctx, grad):
        ids = ctx.ids.reshape(-1)
        grad_w = scatter_rows(ids, grad.reshape(-1, grad.shape[-1]), ctx.num)
        if ctx.by_freq:
            counts = np.bincount(ids, minlength=ctx.num)                 # (num,)
            grad_w /= np.maximum(counts, 1)[:, None].astype(grad_w.dtype)
        if ctx.padding_idx is not None:
            grad_w[ctx.padding_idx] = 0
        return grad_w, None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """As torch.nn.functional.embedding: ``input`` holds ids, ``weight`` is (num_embeddings, dim).

    ``sparse=True`` is accepted and gives the same gradient as a dense array (npformer has no
    sparse tensors).
    """
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"padding_idx {padding_idx} is out of range for {num} embeddings")
        padding_idx %= num
    if max_norm is not None:
        renorm_rows(weight, input, max_norm, norm_type)
    return Embedding.apply(weight, input, padding_idx=padding_idx, scale_grad_by_freq=bool(scale_grad_by_freq))


def renorm_rows(weight, ids, max_norm, norm_type=2.0):
    """Scale, in place and outside the graph, each row of ``weight`` that ``ids`` looks up and
    whose norm exceeds ``max_norm`` down to norm max_norm (PyTorch's embedding_renorm_)."""
    ids = ids._data if isinstance(ids, Tensor) else np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding ids must be integers, got {ids.dtype}")
    rows = np.unique(ids)
    if rows.size and (rows[0] < 0 or rows[-1] >= weight.shape[0]):
        bad = rows[0] if rows[0] < 0 else rows[-1]
        raise IndexError(f"id {int(bad)} is out of range for an embedding of {weight.shape[0]} rows")
    array = weight._data
    norms = np.linalg.norm(array[rows], ord=norm_type, axis=1)               # (R,)
    over = norms > max_norm
    if np.any(over):
        scale = (max_norm / (norms[over] + 1e-7)).astype(array.dtype)
        array[rows[over]] *= scale[:, None]
        bump(weight)
