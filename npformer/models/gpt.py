"""GPT: a decoder-only Transformer, configurable from GPT-2 to Llama.

    x = embed_tokens(ids) (+ embed_positions(positions))          (B, T, d_model)
    x = decoder(x)      causal pre-norm blocks, then a final norm
    logits = lm_head(x)                                           (B, T, vocab)

GPT-2: learned positions, LayerNorm, gelu_tanh, biases, lm_head tied to embed_tokens.
Llama: RoPE (half-split), RMSNorm, SwiGLU, no biases, grouped-query attention, untied head.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from ..autograd.tensor import Tensor
from ..nn import init
from ..nn.layers import Dropout, Embedding, Linear
from ..nn.module import Module
from ..nn.positional import ALiBi, LearnedPositionalEmbedding, RotaryEmbedding, SinusoidalPositionalEmbedding
from ..nn.transformer import DecoderStack, StackCache
from .common import (
    GenerationMixin,
    Ids,
    PretrainedMixin,
    as_ids,
    causal_lm_loss,
    check_positions,
    init_weights,
    padding_mask,
)
from .output import ModelOutput

POSITIONS = ("learned", "sinusoidal", "rope", "alibi", "none")


@dataclass
class GPTConfig:
    vocab_size: int = 50257
    max_positions: int = 1024
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    n_kv_heads: Optional[int] = None
    d_ff: Optional[int] = None                  # default 4 * d_model
    activation: str = "gelu_tanh"
    norm: str = "layernorm"
    norm_eps: float = 1e-5
    bias: bool = True
    position: str = "learned"
    rope_base: float = 10000.0
    rope_interleaved: bool = False
    rope_table_dtype: str = "float64"           # "float32" reproduces Hugging Face Llama's tables
    tie_embeddings: bool = True
    dropout: float = 0.0                        # on each residual branch
    embedding_dropout: float = 0.0
    attention_dropout: float = 0.0
    init_std: float = 0.02

    def __post_init__(self):
        if self.position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {self.position!r}")
        for name in ("vocab_size", "max_positions", "d_model", "n_layers", "n_heads"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")

    @classmethod
    def gpt2(cls, **overrides) -> GPTConfig:
        """GPT-2 (124M with the defaults)."""
        return cls(**overrides)

    @classmethod
    def llama(cls, **overrides) -> GPTConfig:
        """A Llama-style model: RoPE, RMSNorm, SwiGLU, no biases, untied head."""
        options = dict(vocab_size=32000, max_positions=2048, d_model=4096, n_layers=32, n_heads=32, d_ff=11008,
                       activation="swiglu", norm="rmsnorm", norm_eps=1e-6, bias=False, position="rope",
                       tie_embeddings=False)
        options.update(overrides)
        return cls(**options)

    def to_dict(self):
        return asdict(self)


class GPT(Module, PretrainedMixin, GenerationMixin):
    def __init__(self, config: GPTConfig, dtype=None, generator=None) -> None:
        super().__init__()
        self.config = c = config
        head_dim = c.d_model // c.n_heads
        self.embed_tokens = Embedding(c.vocab_size, c.d_model, dtype=dtype, generator=generator)
        self.embed_positions = None
        rotary = None
        if c.position == "learned":
            self.embed_positions = LearnedPositionalEmbedding(c.max_positions, c.d_model, dtype=dtype,
                                                              generator=generator)
        elif c.position == "sinusoidal":
            self.embed_positions = SinusoidalPositionalEmbedding(c.max_positions, c.d_model, dtype=dtype)
        elif c.position == "rope":
            rotary = RotaryEmbedding(head_dim, base=c.rope_base, interleaved=c.rope_interleaved,
                                     table_dtype=np.dtype(c.rope_table_dtype))
        self.alibi = ALiBi(c.n_heads) if c.position == "alibi" else None
        self.embedding_dropout = Dropout(c.embedding_dropout, generator=generator)
        self.decoder = DecoderStack(
            c.n_layers, c.d_model, c.n_heads, cross_attention=False, n_kv_heads=c.n_kv_heads, d_ff=c.d_ff,
            activation=c.activation, norm=c.norm, norm_eps=c.norm_eps, norm_first=True, bias=c.bias,
            dropout=c.dropout, attention_dropout=c.attention_dropout, rotary=rotary, dtype=dtype, generator=generator)
        self.lm_head = Linear(c.d_model, c.vocab_size, bias=False, dtype=dtype, generator=generator)
        init_weights(self, c.init_std, generator)
        # GPT-2's scaled init: each residual branch's output projection by 1/sqrt(2 n_layers),
        # so the residual stream's variance does not grow with depth.
        for layer in self.decoder.layers:
            for projection in (layer.self_attn.out_proj, layer.ffn.down):
                init.normal_(projection.weight, 0.0, c.init_std / math.sqrt(2 * c.n_layers), generator)
        if c.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight

    # ------------------------------------------------------------------ the decoding interface
    # What npformer.generation needs of a model (see its module docstring): this is a causal LM,
    # its position table bounds the sequence, and decode_step runs forward with the KV cache.
    is_encoder_decoder = False

    @property
    def position_limit(self) -> Optional[int]:
        """The longest sequence the position table allows; None for ALiBi or no positions."""
        return self.config.max_positions if self.config.position in ("learned", "sinusoidal", "rope") else None

    def make_cache(self, batch_size: int, max_length: int, memory_length: int = 0, dtype=None) -> StackCache:
        """Preallocated keys and values for decoding ``max_length`` positions."""
        if memory_length:
            raise ValueError("a decoder-only model has no encoder memory to cache: memory_length must be 0")
        return self.decoder.make_caches(batch_size, max_length, dtype=dtype)

    def decode_step(self, input_ids: Ids, cache: Optional[StackCache] = None, *, attention_mask: Optional[Ids] = None,
                    position_ids: Optional[Ids] = None, memory: None = None,
                    memory_attention_mask: None = None) -> Tensor:
        """The next-token logits (B, vocab) after ``input_ids`` (B, T): the new tokens when
        ``cache`` holds the earlier ones, else the whole sequence. ``attention_mask`` covers
        past + T positions. This is forward's own computation, keeping one position's logits."""
        if memory is not None or memory_attention_mask is not None:
            raise ValueError("a decoder-only model attends to no encoder memory: pass memory=None")
        out = self(input_ids, attention_mask=attention_mask, position_ids=position_ids, cache=cache, logits_to_keep=1)
        return out.logits[:, -1]

    def forward(self, input_ids: Ids, attention_mask: Optional[Ids] = None, position_ids: Optional[Ids] = None,
                labels: Optional[Ids] = None, cache: Optional[StackCache] = None,
                logits_to_keep: int = 0) -> ModelOutput:
        """input_ids (B, T); attention_mask (B, past + T), 1 for real tokens; position_ids (B, T)
        (default: past .. past + T - 1); labels (B, T) give the next-token loss (shifted inside).
        ``logits_to_keep`` k > 0 projects only the last k positions onto the vocabulary, as
        transformers' option of that name (a prompt's prefill needs one row of (vocab,) logits,
        not T). Returns ModelOutput(logits (B, T or k, vocab), loss)."""
        c = self.config
        if isinstance(logits_to_keep, bool) or not isinstance(logits_to_keep, (int, np.integer)) or logits_to_keep < 0:
            raise ValueError(f"logits_to_keep must be an int >= 0 (0 keeps every position), got {logits_to_keep!r}")
        if logits_to_keep and labels is not None:
            raise ValueError("labels need the logits of every position: pass logits_to_keep=0 with labels")
        ids = as_ids(input_ids, "input_ids", c.vocab_size)
        batch, length = ids.shape
        past = cache.length if cache is not None else 0
        if position_ids is None:
            positions = np.broadcast_to(np.arange(past, past + length), (batch, length))
        else:
            positions = as_ids(position_ids, "position_ids")
            if positions.shape != (batch, length):
                raise ValueError(f"position_ids have shape {positions.shape}, expected {(batch, length)}")
        if c.position in ("learned", "sinusoidal", "rope"):
            check_positions(positions, c.max_positions, f"a sequence of length {past + length}")

        x = self.embed_tokens(Tensor._make(ids, False, None, 0))                      # (B, T, d)
        if self.embed_positions is not None:
            x = x + self.embed_positions(positions)
        x = self.embedding_dropout(x)
        position_bias = None
        if self.alibi is not None:
            position_bias = self.alibi(length, past + length, offset=past, dtype=x.dtype)[None]
        x = self.decoder(x, key_padding_mask=padding_mask(attention_mask, (batch, past + length)),
                         positions=positions if c.position == "rope" else None, position_bias=position_bias,
                         caches=cache)
        if logits_to_keep:
            x = x[:, -logits_to_keep:]                                                # (B, k, d)
        logits = self.lm_head(x)                                                      # (B, T or k, vocab)
        loss = causal_lm_loss(logits, labels, c.vocab_size) if labels is not None else None
        return ModelOutput(logits=logits, loss=loss)
