"""One configurable Transformer block, and the encoder and decoder stacks built from it.

The seed's central idea: BERT, GPT and the original encoder-decoder are one architecture used
three ways. A block is

    post-norm (the 2017 paper, BERT):   x = norm(x + drop(attn(x)));  x = norm(x + drop(ffn(x)))
    pre-norm (GPT-2, Llama):            x = x + drop(attn(norm(x)));  x = x + drop(ffn(norm(x)))

with causal or bidirectional self-attention, an optional cross-attention sub-layer between
them (decoders of encoder-decoder models), LayerNorm or RMSNorm, bias on or off, and an FFN

    plain:   ffn(x) = down(act(up(x)))              act in relu, gelu, gelu_tanh, silu
    gated:   ffn(x) = down(act(gate(x)) * up(x))    swiglu (act = silu), geglu (act = gelu),
                                                     geglu_tanh (act = gelu_tanh: T5 v1.1's gated-gelu)
"""
from .. import functional as F
from .attention import AttentionHeads, KVCache, prepare_mask
from .layers import Dropout, LayerNorm, Linear, RMSNorm
from .module import Module, ModuleList

ACTIVATIONS = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
}
GATED = {"swiglu": F.silu, "geglu": F.gelu, "geglu_tanh": lambda x: F.gelu(x, approximate="tanh")}


def make_norm(kind, d_model, eps, bias=True, dtype=None):
    if kind == "layernorm":
        return LayerNorm(d_model, eps=eps, bias=bias, dtype=dtype)
    if kind == "rmsnorm":
        return RMSNorm(d_model, eps=eps, dtype=dtype)
    raise ValueError(f"norm must be 'layernorm' or 'rmsnorm', got {kind!r}")


class FeedForward(Module):
    def __init__(self, d_model, d_ff, activation="gelu", bias=True, dropout=0.0, dtype=None, generator=None):
        super().__init__()
        if activation not in ACTIVATIONS and activation not in GATED:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS) + sorted(GATED)}, got {activation!r}")
        self.activation = activation
        self.up = Linear(d_model, d_ff, bias=bias, dtype=dtype, generator=generator)
        self.gate = Linear(d_model, d_ff, bias=bias, dtype=dtype, generator=generator) if activation in GATED else None
        self.down = Linear(d_ff, d_model, bias=bias, dtype=dtype, generator=generator)
        self.dropout = Dropout(dropout, generator=generator)

    def forward(self, x):
        if self.gate is not None:
            hidden = GATED[self.activation](self.gate(x)) * self.up(x)
        else:
            hidden = ACTIVATIONS[self.activation](self.up(x))
        return self.down(self.dropout(hidden))

    def extra_repr(self):
        return f"activation={self.activation!r}"


class BlockCache:
    """What one block keeps between decoding steps: its self-attention keys/values and, in an
    encoder-decoder, the cross-attention keys/values of the encoder output."""

    def __init__(self, batch_size, max_length, n_kv_heads, head_dim, cross_attention=False, memory_length=0,
                 dtype=None):
        self.self_attn = KVCache(batch_size, n_kv_heads, max_length, head_dim, dtype)
        self.cross_attn = KVCache(batch_size, n_kv_heads, memory_length, head_dim, dtype) if cross_attention else None

    @property
    def length(self):
        return self.self_attn.length

    def reorder(self, batch_index):
        self.self_attn.reorder(batch_index)
        if self.cross_attn is not None:
            self.cross_attn.reorder(batch_index)


class StackCache(list):
    """The caches of a stack's blocks, one BlockCache per layer: what a model hands back to
    itself between decoding steps. ``length`` positions are filled; ``reorder`` keeps the batch
    rows ``index`` (beam search)."""

    @property
    def length(self):
        return self[0].length if self else 0

    def reorder(self, batch_index):
        for cache in self:
            cache.reorder(batch_index)


class TransformerBlock(Module):
    def __init__(self, d_model, n_heads, d_ff=None, *, n_kv_heads=None, activation="gelu", norm="layernorm",
                 norm_first=True, bias=True, causal=False, cross_attention=False, dropout=0.0, attention_dropout=0.0,
                 activation_dropout=0.0, norm_eps=1e-5, attention_scale=None, rotary=None, dtype=None,
                 generator=None):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.norm_first, self.causal = norm_first, causal
        attention = dict(n_kv_heads=n_kv_heads, bias=bias, dropout=attention_dropout, scale=attention_scale,
                         dtype=dtype, generator=generator)
        self.self_attn = AttentionHeads(d_model, n_heads, rotary=rotary, **attention)
        self.self_attn_norm = make_norm(norm, d_model, norm_eps, bias, dtype)
        if cross_attention:
            self.cross_attn = AttentionHeads(d_model, n_heads, cross_attention=True, **attention)
            self.cross_attn_norm = make_norm(norm, d_model, norm_eps, bias, dtype)
        else:
            self.cross_attn = self.cross_attn_norm = None
        self.ffn = FeedForward(d_model, d_ff, activation, bias, activation_dropout, dtype, generator)
        self.ffn_norm = make_norm(norm, d_model, norm_eps, bias, dtype)
        self.dropout = Dropout(dropout, generator=generator)

    def extra_repr(self):
        return f"norm_first={self.norm_first}, causal={self.causal}"

    def _sublayer(self, x, norm, fn):
        if self.norm_first:
            return x + self.dropout(fn(norm(x)))
        return norm(x + self.dropout(fn(x)))

    def forward(self, x, memory=None, *, attn_mask=None, key_padding_mask=None, memory_key_padding_mask=None,
                memory_mask=None, position_bias=None, cross_position_bias=None, positions=None, cache=None,
                self_mask=None, cross_mask=None):
        """x (B, L, d_model); memory (B, S, d_model), the encoder output, for cross-attention.
        ``self_mask`` / ``cross_mask``: the masks already combined by ``prepare_mask`` (a stack
        does it once for all its layers), in place of the separate mask arguments."""
        x = self._sublayer(x, self.self_attn_norm, lambda h: self.self_attn(
            h, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=self.causal,
            position_bias=position_bias, positions=positions, cache=None if cache is None else cache.self_attn,
            prepared_mask=self_mask))
        if self.cross_attn is not None:
            if memory is None:
                raise ValueError("this block has cross-attention: pass memory, the encoder output")
            x = self._sublayer(x, self.cross_attn_norm, lambda h: self.cross_attn(
                h, memory, attn_mask=memory_mask, key_padding_mask=memory_key_padding_mask,
                position_bias=cross_position_bias, cache=None if cache is None else cache.cross_attn,
                prepared_mask=cross_mask))
        return self._sublayer(x, self.ffn_norm, self.ffn)


class TransformerStack(Module):
    """n_layers blocks; pre-norm stacks end with a final norm (GPT-2's ln_f), post-norm ones do not."""

    def __init__(self, n_layers, d_model, n_heads, *, final_norm=None, **block_options):
        super().__init__()
        self.layers = ModuleList(TransformerBlock(d_model, n_heads, **block_options) for _ in range(n_layers))
        norm_first = block_options.get("norm_first", True)
        final_norm = norm_first if final_norm is None else final_norm
        self.norm = make_norm(block_options.get("norm", "layernorm"), d_model, block_options.get("norm_eps", 1e-5),
                              block_options.get("bias", True), block_options.get("dtype")) if final_norm else None

    def forward(self, x, memory=None, *, caches=None, attn_mask=None, key_padding_mask=None, memory_mask=None,
                memory_key_padding_mask=None, position_bias=None, cross_position_bias=None, positions=None):
        """x (B, L, d_model) through every block; ``caches`` (a StackCache) holds the positions
        decoded before x. Every layer attends with the same masks, so they are combined once here."""
        if len(self.layers):
            first = self.layers[0]
            batch, length = x.shape[0], x.shape[1]
            past = 0 if caches is None else caches[0].length
            self_mask = prepare_mask((batch, first.self_attn.n_heads, length, past + length), attn_mask,
                                     key_padding_mask, first.causal, position_bias, x.dtype)
            cross_mask = None
            if first.cross_attn is not None and memory is not None:
                cross_mask = prepare_mask((batch, first.cross_attn.n_heads, length, memory.shape[1]), memory_mask,
                                          memory_key_padding_mask, False, cross_position_bias, x.dtype)
        for index, layer in enumerate(self.layers):
            x = layer(x, memory, cache=None if caches is None else caches[index], positions=positions,
                      self_mask=self_mask, cross_mask=cross_mask)
        return x if self.norm is None else self.norm(x)

    def make_caches(self, batch_size, max_length, memory_length=0, dtype=None):
        """A StackCache (one BlockCache per layer) preallocated for ``max_length`` decoded positions
        and, with cross-attention, ``memory_length`` encoder positions."""
        caches = StackCache()
        for layer in self.layers:
            attn = layer.self_attn
            caches.append(BlockCache(batch_size, max_length, attn.n_kv_heads, attn.head_dim,
                                     cross_attention=layer.cross_attn is not None, memory_length=memory_length,
                                     dtype=layer.self_attn.q_proj.weight.dtype if dtype is None else dtype))
        return caches


class EncoderStack(TransformerStack):
    """Bidirectional self-attention blocks (BERT, the encoder of an encoder-decoder)."""

    def __init__(self, n_layers, d_model, n_heads, **block_options):
        super().__init__(n_layers, d_model, n_heads, causal=False, cross_attention=False, **block_options)


class DecoderStack(TransformerStack):
    """Causal self-attention blocks, with cross-attention to an encoder's output when
    ``cross_attention`` (the original decoder) or without (GPT)."""

    def __init__(self, n_layers, d_model, n_heads, cross_attention=True, **block_options):
        super().__init__(n_layers, d_model, n_heads, causal=True, cross_attention=cross_attention, **block_options)
