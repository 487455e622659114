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

The Function has two outputs, the result and the weights (after dropout, as PyTorch's
MultiheadAttention returns them); ``materialize_grads = False`` spares the zeros when the
weights are not used.
"""
import math

import numpy as np

from ..autograd.broadcast import unbroadcast
from ..autograd.function import Function
from ..autograd.random import resolve


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
    def forward(ctx, q, k, v, mask, is_causal=False, scale=None, dropout_p=0.0, generator=None, enable_gqa=False):
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
        scale = 1 / math.sqrt(E) if scale is None else scale
        ctx.shapes = q.shape, k.shape, v.shape, None if mask is None else mask.shape
        if groups > 1:
            q = _group(q, groups)                                        # (..., Hk, G, L, E)
            k, v = k[..., None, :, :], v[..., None, :, :]                # (..., Hk, 1, S, E)

        scores = np.matmul(q, np.swapaxes(k, -1, -2))                   # (..., L, S)
        scores *= scores.dtype.type(scale)
        allowed = None
        if mask is not None:
            scores_shape = scores.shape if groups == 1 else scores.shape[:-4] + (scores.shape[-4] * groups,) + scores.shape[-2:]
            try:
                if np.broadcast_shapes(mask.shape, scores_shape) != scores_shape:
                    raise ValueError
            except ValueError:
                raise ValueError(f"attn_mask of shape {mask.shape} does not broadcast to the attention "
                                 f"scores' shape {scores_shape} (..., L={L}, S={S})") from None
            grouped = mask if groups == 1 else _mask_grouped(mask, groups, len(scores_shape))
            if mask.dtype == np.bool_:
                allowed = grouped
            else:
                scores += grouped
        if is_causal:
            causal = np.tril(np.ones((L, S), dtype=bool))
            allowed = causal if allowed is None else allowed & causal
        if allowed is not None:
            np.copyto(scores, -np.inf, where=~allowed)

        # softmax over keys, with rows that are entirely -inf given weights 0 (not NaN)
        row_max = np.max(scores, axis=-1, keepdims=True)
        row_max[~np.isfinite(row_max)] = 0
        scores -= row_max
        np.exp(scores, out=scores)
        total = np.sum(scores, axis=-1, keepdims=True)
        total[total == 0] = 1
        scores /= total
        p = scores                                                       # (..., L, S)

        keep = None
        if dropout_p > 0:
            keep = resolve(generator).numpy.random(p.shape, dtype=np.float32) >= dropout_p
            dropped = p * keep
            dropped *= p.dtype.type(1 / (1 - dropout_p)) if dropout_p < 1 else 0
        else:
            dropped = p
        out = np.matmul(dropped, v)                                      # (..., L, Ev)

        ctx.q, ctx.k, ctx.v, ctx.p, ctx.dropped, ctx.keep = q, k, v, p, dropped, keep
        ctx.scale, ctx.dropout_p, ctx.groups = scale, dropout_p, groups
        if groups > 1:
            out = out.reshape(out.shape[:-4] + (out.shape[-4] * groups,) + out.shape[-2:])
            weights = dropped.reshape(dropped.shape[:-4] + (dropped.shape[-4] * groups,) + dropped.shape[-2:])
        else:
            weights = dropped
        return out, weights

    @staticmethod
    def backward(ctx, grad_out, grad_weights):
        q, k, v, p, dropped, keep, groups = ctx.q, ctx.k, ctx.v, ctx.p, ctx.dropped, ctx.keep, ctx.groups
        q_shape, k_shape, v_shape, mask_shape = ctx.shapes
        need_q, need_k, need_v, need_mask = ctx.needs_input_grad
        if groups > 1:
            grad_out = None if grad_out is None else _group(grad_out, groups)
            grad_weights = None if grad_weights is None else _group(grad_weights, groups)

        grad_v = None
        if grad_out is not None:
            d_dropped = np.matmul(grad_out, np.swapaxes(v, -1, -2))       # (..., L, S)
            if need_v:
                grad_v = np.matmul(np.swapaxes(dropped, -1, -2), grad_out)  # (..., S, Ev)
            if grad_weights is not None:
                d_dropped += grad_weights
        else:
            d_dropped = grad_weights
        if keep is not None:
            d_p = d_dropped * keep
            d_p *= d_p.dtype.type(1 / (1 - ctx.dropout_p)) if ctx.dropout_p < 1 else 0
        else:
            d_p = d_dropped
        d_scores = d_p * p
        d_scores -= p * np.sum(d_scores, axis=-1, keepdims=True)         # p (dP - sum dP p)

        grad_q = grad_k = grad_mask = None
        if need_q:
            grad_q = np.matmul(d_scores, k)
            grad_q *= grad_q.dtype.type(ctx.scale)
            grad_q = _ungroup_sum(grad_q, q_shape, groups, collapse=False)
        if need_k:
            grad_k = np.matmul(np.swapaxes(d_scores, -1, -2), q)
            grad_k *= grad_k.dtype.type(ctx.scale)
            grad_k = _ungroup_sum(grad_k, k_shape, groups, collapse=True)
        if need_v and grad_v is not None:
            grad_v = _ungroup_sum(grad_v, v_shape, groups, collapse=True)
        if need_mask:
            full = d_scores if groups == 1 else d_scores.reshape(
                d_scores.shape[:-4] + (d_scores.shape[-4] * groups,) + d_scores.shape[-2:])
            grad_mask = unbroadcast(full, mask_shape)
        return grad_q, grad_k, grad_v, grad_mask


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
        generator=generator, enable_gqa=enable_gqa)[0]


def attention_with_weights(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                           enable_gqa=False, generator=None):
    """The same, returning (output, weights); the weights are differentiable too."""
    return ScaledDotProductAttention.apply(
        query, key, value, attn_mask, is_causal=is_causal, scale=scale, dropout_p=float(dropout_p),
        generator=generator, enable_gqa=enable_gqa)
