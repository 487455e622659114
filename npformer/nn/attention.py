"""AttentionHeads (with grouped-query heads) and the KV cache used for incremental decoding.

AttentionHeads is npformer's own attention block, used by every model family; it is not
PyTorch's ``nn.MultiheadAttention`` (that one is in nn/pytorch_transformer.py): it takes
(batch, length, d_model) only, returns one tensor, and a boolean attn_mask is True where
attention is allowed (scaled_dot_product_attention's convention).

For x (B, L, d_model) and a context c (B, S, d_model) (c = x for self-attention):

    q = x Wq^T  -> (B, H,   L, Dh)      Dh = d_model / H
    k = c Wk^T  -> (B, Hkv, S, Dh)      H query heads share Hkv key/value heads in groups of
    v = c Wv^T  -> (B, Hkv, S, Dh)      H / Hkv (Hkv = H: multi-head; Hkv = 1: multi-query)
    y = concat_heads(softmax(q k^T * scale + bias + mask) v) Wo^T

The projections are separate Linears (q_proj, k_proj, v_proj, out_proj) so that key/value
heads can be fewer than query heads. Masks:

- ``attn_mask``: boolean (True = may attend) or float (added), broadcastable to (B, H, L, S);
- ``key_padding_mask``: boolean (B, S), True where the key is padding (PyTorch's
  MultiheadAttention convention: the mask marks what it is named after);
- ``is_causal``: query i sees keys up to its own absolute position (bottom-right aligned:
  the last query sits at the last key, which stays right when a cache holds earlier
  positions; PyTorch's SDPA aligns top-left, the same when L = S);
- ``position_bias``: a float (1 or B, H, L, S) added to the scores (ALiBi, T5); it may be
  differentiable (T5's learned bias).

A query that may attend to nothing gets zero weights and a zero output (never NaN).

A stack of blocks attends with the same masks in every layer, so it combines them once per
forward with ``prepare_mask`` and hands each layer the result (``prepared_mask=``).
"""
import math
from typing import NamedTuple, Optional

import numpy as np

from .. import functional as F
from ..autograd.dtypes import get_default_dtype
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from .layers import Linear
from .module import Module


class KVCache:
    """The keys and values of one attention layer, preallocated for ``max_length`` positions.

    Self-attention appends the new positions at each step (no concatenation, no copy of the
    past); cross-attention fills it once from the encoder output and then only reads it.
    Arrays are (batch, n_kv_heads, max_length, head_dim); ``length`` positions are filled.
    """

    def __init__(self, batch_size, n_kv_heads, max_length, head_dim, dtype=None):
        dtype = get_default_dtype() if dtype is None else dtype
        self.keys = np.zeros((batch_size, n_kv_heads, max_length, head_dim), dtype=dtype)
        self.values = np.zeros((batch_size, n_kv_heads, max_length, head_dim), dtype=dtype)
        self.length = 0

    @property
    def max_length(self):
        return self.keys.shape[2]

    def append(self, keys, values):
        """Write (B, Hkv, T, Dh) keys and values after the filled positions; return all so far."""
        end = self.length + keys.shape[2]
        if end > self.max_length:
            raise ValueError(f"KV cache overflow: {end} positions needed, {self.max_length} allocated")
        if keys.shape[:2] != self.keys.shape[:2] or keys.shape[3] != self.keys.shape[3]:
            raise ValueError(f"keys of shape {keys.shape} do not fit a cache of shape {self.keys.shape}")
        self.keys[:, :, self.length:end] = keys
        self.values[:, :, self.length:end] = values
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]

    def filled(self):
        return self.keys[:, :, :self.length], self.values[:, :, :self.length]

    def reorder(self, batch_index):
        """Keep the batch rows ``batch_index`` (beam search reorders hypotheses). With as many
        rows as before, only the filled positions are copied, in place."""
        batch_index = np.asarray(batch_index)
        if len(batch_index) == self.keys.shape[0]:
            filled = self.length
            self.keys[:, :, :filled] = self.keys[batch_index, :, :filled]
            self.values[:, :, :filled] = self.values[batch_index, :, :filled]
        else:
            self.keys = self.keys[batch_index]
            self.values = self.values[batch_index]

    def reset(self):
        self.length = 0


class AttentionHeads(Module):
    def __init__(self, d_model, n_heads, n_kv_heads=None, bias=True, out_bias=None, dropout=0.0, scale=None,
                 rotary=None, cross_attention=False, dtype=None, generator=None):
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if n_heads <= 0 or d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if n_kv_heads <= 0 or n_heads % n_kv_heads:
            raise ValueError(f"n_heads ({n_heads}) must be divisible by n_kv_heads ({n_kv_heads})")
        self.d_model, self.n_heads, self.n_kv_heads = d_model, n_heads, n_kv_heads
        self.head_dim = d_model // n_heads
        self.dropout = dropout
        self.scale = 1 / math.sqrt(self.head_dim) if scale is None else scale
        self.generator = generator
        kv_dim = n_kv_heads * self.head_dim
        self.q_proj = Linear(d_model, d_model, bias=bias, dtype=dtype, generator=generator)
        self.k_proj = Linear(d_model, kv_dim, bias=bias, dtype=dtype, generator=generator)
        self.v_proj = Linear(d_model, kv_dim, bias=bias, dtype=dtype, generator=generator)
        self.out_proj = Linear(d_model, d_model, bias=bias if out_bias is None else out_bias, dtype=dtype,
                               generator=generator)
        if rotary is not None and cross_attention:
            raise ValueError("rotary positions apply to self-attention; a cross-attention module cannot take them")
        self.rotary = rotary
        # Cross-attention attends to another sequence (an encoder's output): its cache is filled
        # once and then read; self-attention's cache grows by the new positions at each call.
        self.cross_attention = cross_attention

    def extra_repr(self):
        extras = f"d_model={self.d_model}, n_heads={self.n_heads}, n_kv_heads={self.n_kv_heads}, dropout={self.dropout}"
        return extras + (", rotary" if self.rotary is not None else "") + (", cross" if self.cross_attention else "")

    def _heads(self, x, n):
        """(B, T, n * Dh) -> (B, n, T, Dh)"""
        batch, length = x.shape[0], x.shape[1]
        if length == 1:                     # a decoding step: the same elements in the same order
            return x.reshape(batch, n, 1, self.head_dim)
        return x.reshape(batch, length, n, self.head_dim).transpose(1, 2)

    def _merge_heads(self, x):
        """(B, H, T, Dh) -> (B, T, H * Dh)"""
        batch, length = x.shape[0], x.shape[2]
        if length == 1:
            return x.reshape(batch, 1, self.d_model)
        return x.transpose(1, 2).reshape(batch, length, self.d_model)

    def forward(self, query, key=None, value=None, *, attn_mask=None, key_padding_mask=None, is_causal=False,
                position_bias=None, positions=None, cache=None, need_weights=False, prepared_mask=None):
        """Attend from ``query`` (B, L, d_model) to ``key``/``value`` (B, S, d_model; default: the
        query itself). Returns (B, L, d_model), or (output, weights (B, H, L, S)) with need_weights.
        ``prepared_mask`` (from ``prepare_mask``) replaces the four mask arguments."""
        if query.ndim != 3 or query.shape[-1] != self.d_model:
            raise ValueError(f"query must be (batch, length, d_model={self.d_model}), got shape {query.shape}")
        if cache is not None and is_grad_enabled() and self.q_proj.weight.requires_grad:
            raise RuntimeError("the KV cache is for inference: decode under npformer.no_grad()")
        batch, length = query.shape[0], query.shape[1]
        reuse_memory = self.cross_attention and cache is not None and cache.length > 0
        if self.cross_attention and key is None and not reuse_memory:
            raise ValueError("cross-attention needs key (and value): the encoder output (batch, length, d_model)")
        key = query if key is None else key
        value = key if value is None else value
        for name, t in (("key", key), ("value", value)):
            if t.ndim != 3 or t.shape[0] != batch or t.shape[-1] != self.d_model:
                raise ValueError(f"{name} must be (batch={batch}, length, d_model={self.d_model}), got shape {t.shape}")
        if value.shape[1] != key.shape[1]:
            raise ValueError(f"key and value lengths differ: shapes {key.shape} and {value.shape}")
        past = cache.length if cache is not None and not self.cross_attention else 0

        q = self._heads(self.q_proj(query), self.n_heads)                            # (B, H, L, Dh)
        if reuse_memory:
            k, v = (Tensor._make(a, False, None, 0) for a in cache.filled())         # encoder keys, computed once
        else:
            k = self._heads(self.k_proj(key), self.n_kv_heads)                       # (B, Hkv, S, Dh)
            v = self._heads(self.v_proj(value), self.n_kv_heads)
            if self.rotary is not None:
                if key.shape[1] != length:
                    raise ValueError(f"rotary self-attention needs keys at the queries' positions: key length "
                                     f"{key.shape[1]} != query length {length}")
                if positions is None:
                    positions = np.arange(past, past + length)
                q = self.rotary(q, positions)
                k = self.rotary(k, positions)
            if cache is not None:
                k, v = (Tensor._make(a, False, None, 0) for a in cache.append(k._data, v._data))
        scores_shape = (batch, self.n_heads, length, k.shape[2])

        if prepared_mask is None:
            prepared_mask = prepare_mask(scores_shape, attn_mask, key_padding_mask, is_causal, position_bias,
                                         query.dtype)
        elif prepared_mask.scores_shape != scores_shape:
            raise ValueError(f"prepared_mask was made for scores of shape {prepared_mask.scores_shape}, these are "
                             f"{scores_shape}: prepare it with this call's (batch, heads, L, S)")
        attend = F.attention_with_weights if need_weights else F.scaled_dot_product_attention
        result = attend(q, k, v, prepared_mask.mask, dropout_p=self.dropout if self.training else 0.0,
                        scale=self.scale, is_causal=prepared_mask.fused_causal,
                        enable_gqa=self.n_kv_heads != self.n_heads, generator=self.generator)
        out, weights = result if need_weights else (result, None)                    # (B, H, L, Dh)
        out = self.out_proj(self._merge_heads(out))
        return (out, weights) if need_weights else out


class PreparedMask(NamedTuple):
    """The masks of one attention call combined for the fused op (see ``prepare_mask``)."""
    mask: Optional[Tensor]          # bool "may attend", or a float bias with -inf where not; or None
    fused_causal: bool              # causal masking left to the fused op (as many keys as queries)
    scores_shape: tuple             # the (B, H, L, S) it was made for


def prepare_mask(scores_shape, attn_mask=None, key_padding_mask=None, is_causal=False, position_bias=None,
                 dtype=np.float64):
    """Combine an attention call's masks once, for scores of shape (B, H, L, S).

    With as many keys as queries the fused op's own (top-left) causal mask is the same as the
    bottom-right one, so it is left to the op (no mask array). A single query sits at the last
    key and may see every key, so it needs no causal mask either (one decoding step)."""
    length, key_length = scores_shape[2], scores_shape[3]
    fused_causal = bool(is_causal) and key_length == length
    causal = bool(is_causal) and not fused_causal and length > 1
    mask = _combine_masks(scores_shape, attn_mask, key_padding_mask, causal, position_bias, dtype)
    return PreparedMask(mask, fused_causal, tuple(scores_shape))


def _check_broadcast(name, shape, scores_shape):
    try:
        fits = len(shape) <= 4 and np.broadcast_shapes(shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name} of shape {shape} does not broadcast to the scores' shape (batch, heads, L, S) "
                         f"= {scores_shape}")


def _combine_masks(scores_shape, attn_mask, key_padding_mask, causal, position_bias, dtype):
    """One mask for the fused attention: boolean when only booleans are given, else a float
    bias (position_bias and float masks, differentiable) with -inf where attention is not allowed."""
    batch, _, length, key_length = scores_shape
    allowed = None
    if key_padding_mask is not None:
        padding = key_padding_mask._data if isinstance(key_padding_mask, Tensor) else np.asarray(key_padding_mask)
        if padding.dtype != np.bool_ or padding.shape != (batch, key_length):
            raise ValueError(f"key_padding_mask must be bool of shape (batch={batch}, key length={key_length}), "
                             f"got {padding.dtype} of shape {padding.shape}")
        allowed = ~padding[:, None, None, :]                                        # (B, 1, 1, S)
    if causal:
        # bottom-right aligned: the last query sits at the last key, so with a cache holding
        # S - L earlier positions, query i (absolute position S - L + i) sees keys 0 .. S - L + i
        offset = key_length - length
        causal_allowed = np.arange(key_length)[None, :] <= (offset + np.arange(length))[:, None]   # (L, S)
        allowed = causal_allowed if allowed is None else allowed & causal_allowed
    bias = position_bias
    if bias is not None:
        _check_broadcast("position_bias", bias.shape, scores_shape)
    if attn_mask is not None:
        mask_data = attn_mask._data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        _check_broadcast("attn_mask", mask_data.shape, scores_shape)
        if mask_data.dtype == np.bool_:
            allowed = mask_data if allowed is None else allowed & mask_data
        else:
            bias = attn_mask if bias is None else bias + attn_mask
    if bias is None:
        return None if allowed is None else Tensor._make(np.asarray(allowed), False, None, 0)
    if allowed is None:
        return bias
    blocked = np.where(allowed, 0, -np.inf).astype(dtype)
    return bias + Tensor._make(blocked, False, None, 0)
