"""PyTorch's ``nn.MultiheadAttention``: same constructor, forward, return values and state-dict keys.

npformer's own attention block is ``AttentionHeads`` (nn/attention.py); this class exists so
that PyTorch code runs unchanged. What differs from AttentionHeads is PyTorch's interface:

- layout (L, N, E) by default, (N, L, E) with ``batch_first``, (L, E) unbatched;
- one packed ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E), or ``q_proj_weight``,
  ``k_proj_weight``, ``v_proj_weight`` when the keys or values have other widths (kdim, vdim);
- boolean masks are True where attention is NOT allowed (the opposite of
  scaled_dot_product_attention's); float masks are added to the scores;
- ``attn_mask`` is (L, S) or (N * num_heads, L, S); ``key_padding_mask`` is (N, S) or (S,);
- forward returns (output, weights): the weights (after dropout) averaged over the heads,
  (N, L, S), or per head, (N, num_heads, L, S), or None when ``need_weights=False``.

For queries x (N, L, E), keys c (N, S, kdim) and values u (N, S, vdim), H heads of Dh = E / H:

    q = x Wq^T + bq,  k = c Wk^T + bk,  v = u Wv^T + bv          (N, L|S, E)
    k, v += one learned position (add_bias_kv), then one zero position (add_zero_attn)
    out = concat_heads(softmax(q k^T / sqrt(Dh) + mask) v) Wo^T + bo

``is_causal`` is, as in PyTorch, a hint that ``attn_mask`` is the causal mask: an attn_mask is
required, and when there is no key_padding_mask and no weights are asked for, the causal mask
(query i sees keys 0..i) is applied in its place.

A query whose keys are all masked gets zero weights and a zero output here; PyTorch's
``need_weights=True`` path gives NaN for it.
"""
import warnings

import numpy as np

from .. import functional as F
from ..autograd.dtypes import as_dtype, get_default_dtype
from ..autograd.tensor import Tensor
from ..ops import cat
from . import init
from .layers import Linear
from .module import Module, Parameter
from .shapes import new_array


def check_device(device):
    """npformer computes on the CPU only; ``device`` is accepted for PyTorch's signatures."""
    if device is not None and str(device) != "cpu":
        raise ValueError(f"device must be None or 'cpu' (npformer runs on NumPy), got {device!r}")


def factory_dtype(dtype):
    return get_default_dtype() if dtype is None else as_dtype(dtype)


class MultiheadAttention(Module):
    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {dropout}")
        check_device(device)
        dtype = factory_dtype(dtype)
        self.embed_dim = embed_dim
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        # registration order gives PyTorch's state-dict order
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(new_array((3 * embed_dim, embed_dim), dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(new_array((embed_dim, embed_dim), dtype))
            self.k_proj_weight = Parameter(new_array((embed_dim, self.kdim), dtype))
            self.v_proj_weight = Parameter(new_array((embed_dim, self.vdim), dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(new_array((3 * embed_dim,), dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(new_array((1, 1, embed_dim), dtype))
            self.bias_v = Parameter(new_array((1, 1, embed_dim), dtype))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's scheme: Xavier-uniform input projections, zero biases, Xavier-normal bias_k/v;
        out_proj.weight keeps Linear's U(-1/sqrt(E), 1/sqrt(E))."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}")

    # ------------------------------------------------------------------ forward
    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        batched = self._check_inputs(query, key, value)
        self_attention = query is key and key is value
        shared_kv = key is value
        # to (N, L|S, features), batch first
        if not batched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
        elif not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        batch, length, source = query.shape[0], query.shape[1], key.shape[1]
        H, Dh, E = self.num_heads, self.head_dim, self.embed_dim

        padding = _canonical("key_padding_mask", key_padding_mask, query.dtype)
        mask = _canonical("attn_mask", attn_mask, query.dtype)
        if padding is not None and mask is not None and padding[0] != mask[0]:
            warnings.warn("Support for mismatched key_padding_mask and attn_mask is deprecated. Use same type for "
                          "both instead.", stacklevel=2)
        mask = _attn_mask_4d(mask, batched, batch, H, length, source)               # (1|N, 1|H, L, S)
        padding = _padding_4d(padding, batched, batch, source)                       # (N, 1, 1, S)
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer "
                               "module method `generate_square_subsequent_mask` to create this mask.")
        causal = is_causal and key_padding_mask is None and not need_weights
        if causal:
            mask = None                              # the hint: the mask is the causal one

        q, k, v = self._project(query, key, value, self_attention, shared_kv)       # (N, L|S, E)
        if self.bias_k is not None:
            k = cat([k, self.bias_k.expand(batch, 1, E)], dim=1)                    # (N, S + 1, E)
            v = cat([v, self.bias_v.expand(batch, 1, E)], dim=1)
            mask, padding = _pad_key(mask), _pad_key(padding)
        q, k, v = (t.reshape(batch, t.shape[1], H, Dh).transpose(1, 2) for t in (q, k, v))   # (N, H, L|S, Dh)
        if self.add_zero_attn:
            zeros = Tensor._make(np.zeros((batch, H, 1, Dh), dtype=k.dtype), False, None, 0)
            k, v = cat([k, zeros], dim=2), cat([v, zeros], dim=2)                    # (N, H, S + 1, Dh)
            mask, padding = _pad_key(mask), _pad_key(padding)

        dropout_p = self.dropout if self.training else 0.0
        combined = _combine(mask, padding, query.dtype)
        if need_weights:
            out, weights = F.attention_with_weights(q, k, v, combined, dropout_p=dropout_p)   # weights (N, H, L, S)
        else:
            out, weights = F.scaled_dot_product_attention(q, k, v, combined, dropout_p=dropout_p,
                                                          is_causal=causal), None
        out = self.out_proj(out.transpose(1, 2).reshape(batch, length, E))          # (N, L, E)
        if weights is not None and average_attn_weights:
            weights = weights.mean(dim=1)                                            # (N, L, S)
        if not batched:
            return out.squeeze(0), None if weights is None else weights.squeeze(0)
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def _project(self, query, key, value, self_attention, shared_kv):
        E, bias = self.embed_dim, self.in_proj_bias
        if not self._qkv_same_embed_dim:
            biases = (None,) * 3 if bias is None else bias.chunk(3)
            return (F.linear(query, self.q_proj_weight, biases[0]), F.linear(key, self.k_proj_weight, biases[1]),
                    F.linear(value, self.v_proj_weight, biases[2]))
        weight = self.in_proj_weight
        if self_attention:                                                           # one product for q, k and v
            return F.linear(query, weight, bias).chunk(3, dim=-1)
        q = F.linear(query, weight[:E], None if bias is None else bias[:E])
        if shared_kv:                                                                # cross-attention to one memory
            k, v = F.linear(key, weight[E:], None if bias is None else bias[E:]).chunk(2, dim=-1)
            return q, k, v
        return (q, F.linear(key, weight[E:2 * E], None if bias is None else bias[E:2 * E]),
                F.linear(value, weight[2 * E:], None if bias is None else bias[2 * E:]))

    def _check_inputs(self, query, key, value):
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name} must be a Tensor, got {type(t).__name__}")
        if query.ndim not in (2, 3):
            raise ValueError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query "
                             f"tensor (shape {query.shape})")
        batched = query.ndim == 3
        if key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"For {'batched (3-D)' if batched else 'unbatched (2-D)'} `query`, expected `key` and "
                             f"`value` to be {query.ndim}-D but found {key.ndim}-D and {value.ndim}-D tensors "
                             f"respectively")
        for name, t, width in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if t.shape[-1] != width:
                raise ValueError(f"{name} must have {width} features in its last dim "
                                 f"({'embed_dim' if name == 'query' else name[0] + 'dim'}), got shape {t.shape}")
        batch_dim = (0 if self.batch_first else 1) if batched else None
        seq_dim = (1 if self.batch_first else 0) if batched else 0
        if batched and not query.shape[batch_dim] == key.shape[batch_dim] == value.shape[batch_dim]:
            raise ValueError(f"query, key and value batch sizes differ: shapes {query.shape}, {key.shape}, "
                             f"{value.shape} (batch_first={self.batch_first})")
        if key.shape[seq_dim] != value.shape[seq_dim]:
            raise ValueError(f"key and value lengths differ: shapes {key.shape} and {value.shape}")
        return batched


def _canonical(name, mask, dtype):
    """("bool", blocked ndarray) or ("float", additive Tensor of ``dtype``), or None."""
    if mask is None:
        return None
    data = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if data.dtype == np.bool_:
        return "bool", data
    if data.dtype.kind != "f":
        raise TypeError(f"only bool and floating types of {name} are supported, got {data.dtype}")
    if not isinstance(mask, Tensor):
        mask = Tensor._make(data, False, None, 0)
    return "float", mask if data.dtype == dtype else mask.to(dtype)


def _attn_mask_4d(mask, batched, batch, heads, length, source):
    """(L, S) -> (1, 1, L, S); (N * H, L, S) -> (N, H, L, S)."""
    if mask is None:
        return None
    kind, m = mask
    if m.ndim == 2:
        if m.shape != (length, source):
            raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(m.shape)}, but should be "
                               f"{(length, source)}.")
        return kind, m.reshape(1, 1, length, source)
    if m.ndim == 3:
        expected = (batch * heads, length, source)
        if m.shape != expected:
            raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(m.shape)}, but should be {expected}"
                               f"{'' if batched else ' (num_heads, L, S) for unbatched input'}.")
        return kind, m.reshape(batch, heads, length, source)
    raise RuntimeError(f"attn_mask's dimension {m.ndim} is not supported: expected (L, S) or "
                       f"(N * num_heads, L, S)")


def _padding_4d(padding, batched, batch, source):
    """(N, S), or (S,) for unbatched input -> (N, 1, 1, S)."""
    if padding is None:
        return None
    kind, m = padding
    expected = (batch, source) if batched else (source,)
    if m.shape != expected:
        raise ValueError(f"key_padding_mask must be of shape {expected} ({'(N, S)' if batched else '(S,)'}), "
                         f"got {tuple(m.shape)}")
    return kind, m.reshape(batch, 1, 1, source)


def _pad_key(mask):
    """One more key (bias_k or the zero key) that nothing masks: a False / 0 column."""
    if mask is None:
        return None
    kind, m = mask
    if kind == "bool":
        return kind, np.concatenate([m, np.zeros(m.shape[:-1] + (1,), dtype=bool)], axis=-1)
    return kind, cat([m, Tensor._make(np.zeros(m.shape[:-1] + (1,), dtype=m.dtype), False, None, 0)], dim=-1)


def _combine(mask, padding, dtype):
    """One mask for scaled_dot_product_attention: booleans (True = may attend) when both are
    boolean, else their sum as floats (True becomes -inf, as PyTorch converts them)."""
    present = [m for m in (mask, padding) if m is not None]
    if not present:
        return None
    if all(kind == "bool" for kind, _ in present):
        blocked = present[0][1] if len(present) == 1 else present[0][1] | present[1][1]
        return Tensor._make(~blocked, False, None, 0)
    total = None
    for kind, m in present:
        if kind == "bool":
            m = Tensor._make(np.where(m, -np.inf, 0).astype(dtype), False, None, 0)
        total = m if total is None else total + m
    return total
