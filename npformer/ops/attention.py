"""scaled_dot_product_attention, one fused Function with PyTorch's arguments and semantics.

For queries q (..., Hq, L, E), keys k (..., Hk, S, E) and values v (..., Hk, S, Ev):

    s = q k^T * scale + mask              (..., L, S)   scale defaults to 1/sqrt(E)
    p = softmax(s) over keys              (..., L, S)
    out = dropout(p) v                    (..., L, Ev)

A boolean ``attn_mask`` is True where attention is allowed (False becomes -inf); a float one is
added to the scores and gets a gradient (so a learned bias such as T5's can be passed here).
``is_causal`` masks keys after the query, top-left aligned like PyTorch's (query i sees keys
0..i). With ``enable_gqa`` the query heads are split into Hk groups that share one key/value
head each (grouped-query attention), without copying k and v per query head.

A query whose keys are all masked has no distribution to normalise. Here its weights are all
zero, so its output is zero and no gradient flows from it: never NaN. (PyTorch's math
backend does the same since 2.5.)

Backward, with D = dropout's scale mask and dP the gradient reaching the weights:

    dv = (p D)^T g            dP = (g v^T) D
    ds = p (dP - sum_keys dP p)          (the softmax Jacobian)
    dq = ds k * scale         dk = ds^T q * scale         dmask = ds (summed to its shape)

With ``need_weights`` the Function has a second output, the weights (after dropout, as
PyTorch's MultiheadAttention returns them); ``materialize_grads = False`` spares the zeros when
they are not used. (Computing causal attention one block of queries at a time, skipping the
keys after each block, gained nothing over the full product at GPT-small shapes when it was
tried, so the code keeps the one path; see benchmarks/README.md.)
"""
import math

import numpy as np

from ..autograd.broadcast import unbroadcast
from ..autograd.function import Function
from ..autograd.random import resolve
from .blas import matmul
from .rows import row_dots, row_sums
from .rows import row_max as _row_max


def _group(x, groups):
    """(..., Hk * G, L, X) -> (..., Hk, G, L, X): query heads grouped by the kv head they use."""
    return x.reshape(x.shape[:-3] + (x.shape[-3] // groups, groups) + x.shape[-2:])


def _mask_grouped(mask, groups, ndim):
    """A mask broadcastable to (..., Hq, L, S), reshaped to broadcast against (..., Hk, G, L, S)."""
    mask = mask.reshape((1,) * (ndim - mask.ndim) + mask.shape)
    if mask.shape[-3] == 1:
        return mask[..., None, :, :]
    return _group(mask, groups)


class ScaledDotProductAttention(Function):
    materialize_grads = False

    @staticmethod
    def forward(ctx, q, k, v, mask, is_causal=False, scale=None, dropout_p=0.0, generator=None, enable_gqa=False,
                need_weights=False):
        for name, t in (("query", q), ("key", k), ("value", v)):
            if t.ndim < 2:
                raise ValueError(f"{name} must have at least 2 dims (..., length, features), got shape {t.shape}")
        L, E, S = q.shape[-2], q.shape[-1], k.shape[-2]
        if k.shape[-1] != E:
            raise ValueError(f"query features {E} and key features {k.shape[-1]} differ (shapes {q.shape}, {k.shape})")
        if v.shape[-2] != S:
            raise ValueError(f"key length {S} and value length {v.shape[-2]} differ (shapes {k.shape}, {v.shape})")
        groups = 1
        if enable_gqa and q.ndim >= 3 and q.shape[-3] != k.shape[-3]:
            if k.shape[-3] != v.shape[-3] or q.shape[-3] % k.shape[-3]:
                raise ValueError(f"with enable_gqa the query heads ({q.shape[-3]}) must be a multiple of the "
                                 f"key/value heads ({k.shape[-3]}, {v.shape[-3]})")
            groups = q.shape[-3] // k.shape[-3]
        # the caller's view of the scores: grouped kv heads count as the query heads they serve
        def kv_batch(t):
            return t.shape[:-2] if groups == 1 else t.shape[:-3] + (q.shape[-3],)
        batch_shape = q.shape[:-2]
        if kv_batch(k) != batch_shape or kv_batch(v) != batch_shape:   # equal in every model here
            batch_shape = np.broadcast_shapes(batch_shape, kv_batch(k), kv_batch(v))
        scores_shape = batch_shape + (L, S)
        allowed, bias = _split_mask(mask, scores_shape, groups)
        scale = 1 / math.sqrt(E) if scale is None else scale
        ctx.shapes = q.shape, k.shape, v.shape, None if mask is None else mask.shape
        if groups > 1:
            q = _group(q, groups)                                        # (..., Hk, G, L, E)
            k, v = k[..., None, :, :], v[..., None, :, :]                # (..., Hk, 1, S, E)
        q = q * q.dtype.type(scale)                                      # scaling q is cheaper than the scores
        rng = resolve(generator).numpy if dropout_p > 0 else None
        ctx.q, ctx.k, ctx.v, ctx.scale, ctx.dropout_p, ctx.groups = q, k, v, scale, dropout_p, groups

        scores = matmul(q, np.swapaxes(k, -1, -2))                      # (..., L, S)
        if bias is not None:
            scores += bias
        # Masks become small additive arrays (0 or -inf) broadcast onto the scores: one
        # branch-free pass, where a masked copy of the scores measured slower (benchmarks/README.md).
        if allowed is not None:
            scores += np.where(allowed, 0, -np.inf).astype(scores.dtype)
        if is_causal:
            scores += np.triu(np.full((L, S), -np.inf, dtype=scores.dtype), 1)
        p = _softmax_in_place(scores)                                    # (..., L, S)
        dropped, keep = _dropout(p, rng, dropout_p)
        out = matmul(dropped, v)                                         # (..., L, Ev)
        ctx.p, ctx.dropped, ctx.keep = p, dropped, keep
        out = _ungroup(out, groups)
        return (out, _ungroup(ctx.dropped, groups)) if need_weights else out

    @staticmethod
    def backward(ctx, grad_out, grad_weights=None):
        q, k, v, groups = ctx.q, ctx.k, ctx.v, ctx.groups
        q_shape, k_shape, v_shape, mask_shape = ctx.shapes
        need_q, need_k, need_v, need_mask = ctx.needs_input_grad
        if groups > 1:
            grad_out = None if grad_out is None else _group(grad_out, groups)
            grad_weights = None if grad_weights is None else _group(grad_weights, groups)
        grad_v = None
        if grad_out is not None:
            d_dropped = matmul(grad_out, np.swapaxes(v, -1, -2))          # (..., L, S), ours to modify
            if need_v:
                grad_v = matmul(np.swapaxes(ctx.dropped, -1, -2), grad_out)  # (..., S, Ev)
            if grad_weights is not None:
                d_dropped += grad_weights
        else:
            d_dropped = np.array(grad_weights)                            # a copy: upstream is read-only
        d_scores = _softmax_backward_in_place(d_dropped, ctx.p, ctx.keep, ctx.dropout_p)
        grad_q = matmul(d_scores, k) if need_q else None
        grad_k = matmul(np.swapaxes(d_scores, -1, -2), q) if need_k else None          # q was scaled
        if grad_q is not None:
            grad_q *= grad_q.dtype.type(ctx.scale)
        grad_q = _ungroup_sum(grad_q, q_shape, groups, collapse=False) if need_q else None
        grad_k = _ungroup_sum(grad_k, k_shape, groups, collapse=True) if need_k else None
        grad_v = _ungroup_sum(grad_v, v_shape, groups, collapse=True) if need_v and grad_v is not None else None
        grad_mask = unbroadcast(_ungroup(d_scores, groups), mask_shape) if need_mask else None
        return grad_q, grad_k, grad_v, grad_mask


def _split_mask(mask, scores_shape, groups):
    """(allowed, bias): a boolean mask (True = may attend) or a float one (added to the scores),
    checked against the scores' shape and shaped to broadcast against grouped heads."""
    if mask is None:
        return None, None
    try:
        fits = np.broadcast_shapes(mask.shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"attn_mask of shape {mask.shape} does not broadcast to the attention scores' shape "
                         f"{scores_shape} (..., L={scores_shape[-2]}, S={scores_shape[-1]})")
    grouped = mask if groups == 1 else _mask_grouped(mask, groups, len(scores_shape))
    return (grouped, None) if mask.dtype == np.bool_ else (None, grouped)


def _ungroup(x, groups):
    """(..., Hk, G, L, X) -> (..., Hk * G, L, X)"""
    if groups == 1 or x is None:
        return x
    return x.reshape(x.shape[:-4] + (x.shape[-4] * groups,) + x.shape[-2:])


def _softmax_in_place(scores):
    """softmax over the last axis, in the scores' buffer; a row that is all -inf (a query that
    may attend to nothing) gets weights 0 instead of 0/0."""
    row_max = _row_max(scores)
    row_max[~np.isfinite(row_max)] = 0
    scores -= row_max
    np.exp(scores, out=scores)
    total = row_sums(scores)
    total[total == 0] = 1
    scores *= 1 / total
    return scores


def _dropout(p, rng, dropout_p):
    if rng is None:
        return p, None
    keep = rng.random(p.shape, dtype=np.float32) >= dropout_p
    dropped = p * keep
    dropped *= p.dtype.type(1 / (1 - dropout_p)) if dropout_p < 1 else 0
    return dropped, keep


def _softmax_backward_in_place(d_dropped, p, keep, dropout_p):
    """dS = p (dP - sum_keys dP p), where dP undoes dropout; computed in d_dropped's buffer."""
    if keep is not None:
        d_dropped *= keep
        d_dropped *= d_dropped.dtype.type(1 / (1 - dropout_p)) if dropout_p < 1 else 0
    d_dropped -= row_dots(d_dropped, p)
    d_dropped *= p
    return d_dropped


def _ungroup_sum(grad, shape, groups, collapse):
    """Undo the grouping: sum k/v gradients over the G query heads that shared them."""
    if groups > 1:
        if collapse:
            grad = np.sum(grad, axis=-3)
        else:
            grad = grad.reshape(grad.shape[:-4] + (grad.shape[-4] * grad.shape[-3],) + grad.shape[-2:])
    return unbroadcast(grad, shape)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False, generator=None):
    """As torch.nn.functional.scaled_dot_product_attention (see the module docstring)."""
    return ScaledDotProductAttention.apply(
        query, key, value, attn_mask, is_causal=is_causal, scale=scale, dropout_p=float(dropout_p),
        generator=generator, enable_gqa=enable_gqa)


def attention_with_weights(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                           enable_gqa=False, generator=None):
    """The same, returning (output, weights); the weights are differentiable too."""
    return ScaledDotProductAttention.apply(
        query, key, value, attn_mask, is_causal=is_causal, scale=scale, dropout_p=float(dropout_p),
        generator=generator, enable_gqa=enable_gqa, need_weights=True)
