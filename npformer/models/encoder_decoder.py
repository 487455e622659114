"""The encoder-decoder Transformer of "Attention Is All You Need", configurable into BART,
Marian and T5.

    memory = encoder(embed(src))                         bidirectional blocks   (B, S, d)
    h = decoder(embed(tgt), memory)                      causal blocks with cross-attention
    logits = lm_head(h) (+ final_logits_bias)                                  (B, T, vocab)

with embed(ids) = norm?(embed_tokens(ids) * scale + positions). The original: sinusoidal
positions, post-norm, ReLU, one embedding matrix shared by the encoder, the decoder and the
output projection, scaled by sqrt(d_model), label smoothing 0.1. BART: learned positions
offset by 2, GELU, a LayerNorm on the embeddings, no scaling. Marian: sinusoidal positions
(sines then cosines), SiLU ("swish"), scaling by sqrt(d_model). T5: no position table but a
learned bias per head on the attention scores, a function of the bucketed distance key - query
(one table per stack, computed once and shared by its layers; none in cross-attention),
unscaled scores (T5's initialisation folds 1/sqrt(d_head) into the query weights), pre-norm RMSNorm
without biases, ReLU or gated GELU, and the decoder output scaled by d_model^-0.5 before the
shared embedding when ``scale_decoder_outputs`` (the original T5; not v1.1).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor
from ..nn import init
from ..nn.layers import Dropout, Embedding, LayerNorm, Linear
from ..nn.module import Module
from ..nn.positional import LearnedPositionalEmbedding, SinusoidalPositionalEmbedding, T5RelativePositionBias
from ..nn.shapes import new_array
from ..nn.transformer import DecoderStack, EncoderStack, StackCache
from .common import GenerationMixin, Ids, PretrainedMixin, as_ids, check_positions, init_weights, padding_mask
from .output import ModelOutput


@dataclass
class EncoderDecoderConfig:
    vocab_size: int = 32000
    d_model: int = 512
    n_heads: int = 8
    encoder_layers: int = 6
    decoder_layers: int = 6
    d_ff: int = 2048
    activation: str = "relu"
    norm_first: bool = False
    norm_eps: float = 1e-5
    max_positions: int = 1024
    position: str = "sinusoidal"               # or "learned", or "t5" (relative bias, no table)
    position_offset: int = 0                   # BART's learned table starts at position 2
    sinusoidal_layout: str = "interleaved"     # Marian: "half" (all sines, then all cosines)
    sinusoidal_table_dtype: str = "float64"    # "float32" rounds the table as Hugging Face's Marian does
    scale_embedding: bool = True               # multiply token embeddings by sqrt(d_model)
    embedding_norm: bool = False               # BART's layernorm_embedding
    final_norm: Optional[bool] = None          # default: with pre-norm only
    final_logits_bias: bool = False            # BART and Marian add a (vocab,) bias to the logits
    norm: str = "layernorm"                    # or "rmsnorm" (T5)
    attention_scale: Optional[float] = None    # default 1/sqrt(d_head); T5: 1.0
    relative_buckets: int = 32                 # T5's relative_attention_num_buckets
    relative_max_distance: int = 128           # T5's relative_attention_max_distance
    scale_decoder_outputs: bool = False        # T5: decoder output * d_model^-0.5 before lm_head
    freeze_pad_embedding: bool = True          # padding_idx: no gradient to the pad row (BART, Marian); T5 has none
    bias: bool = True
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    label_smoothing: float = 0.1
    pad_token_id: int = 0
    bos_token_id: int = 1
    eos_token_id: int = 2
    decoder_start_token_id: int = 1
    init_std: float = 0.02                     # N(0, init_std) weights; for T5, T5's initializer_factor

    @classmethod
    def transformer(cls, **overrides) -> EncoderDecoderConfig:
        """The base model of Vaswani et al. (2017)."""
        return cls(**overrides)

    @classmethod
    def bart(cls, **overrides) -> EncoderDecoderConfig:
        options = dict(vocab_size=50265, d_model=768, n_heads=12, encoder_layers=6, decoder_layers=6, d_ff=3072,
                       activation="gelu", position="learned", position_offset=2, scale_embedding=False,
                       embedding_norm=True, final_logits_bias=True, attention_dropout=0.0, label_smoothing=0.0,
                       pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2)
        options.update(overrides)
        return cls(**options)

    @classmethod
    def marian(cls, **overrides) -> EncoderDecoderConfig:
        options = dict(vocab_size=58101, d_model=512, n_heads=8, encoder_layers=6, decoder_layers=6, d_ff=2048,
                       activation="silu", position="sinusoidal", sinusoidal_layout="half", max_positions=512,
                       sinusoidal_table_dtype="float32",         # as Hugging Face's Marian builds it
                       scale_embedding=True, final_logits_bias=True, label_smoothing=0.0, pad_token_id=58100,
                       bos_token_id=0, eos_token_id=0, decoder_start_token_id=58100)
        options.update(overrides)
        return cls(**options)

    @classmethod
    def t5(cls, **overrides) -> EncoderDecoderConfig:
        """T5 (Raffel et al., 2020) as t5-small; ``activation="geglu_tanh"`` and
        ``scale_decoder_outputs=False`` make it T5 v1.1."""
        options = dict(vocab_size=32128, d_model=512, n_heads=8, encoder_layers=6, decoder_layers=6, d_ff=2048,
                       activation="relu", norm_first=True, norm="rmsnorm", norm_eps=1e-6, position="t5",
                       scale_embedding=False, bias=False, attention_scale=1.0, scale_decoder_outputs=True,
                       freeze_pad_embedding=False, label_smoothing=0.0, pad_token_id=0, bos_token_id=0,
                       eos_token_id=1, decoder_start_token_id=0, init_std=1.0)
        options.update(overrides)
        return cls(**options)

    def to_dict(self):
        return asdict(self)


class EncoderDecoder(Module, PretrainedMixin, GenerationMixin):
    def __init__(self, config: EncoderDecoderConfig, dtype=None, generator=None) -> None:
        super().__init__()
        self.config = c = config
        if c.position not in ("sinusoidal", "learned", "t5"):
            raise ValueError(f"position must be 'sinusoidal', 'learned' or 't5', got {c.position!r}")
        self.embed_tokens = Embedding(c.vocab_size, c.d_model, padding_idx=c.pad_token_id if c.freeze_pad_embedding
                                      else None, dtype=dtype, generator=generator)
        self.embed_scale = math.sqrt(c.d_model) if c.scale_embedding else 1.0
        self.encoder_positions = self._positions(dtype, generator)
        self.decoder_positions = self._positions(dtype, generator)
        self.encoder_relative_bias = self._relative_bias(True, dtype, generator)
        self.decoder_relative_bias = self._relative_bias(False, dtype, generator)
        self.encoder_embed_norm = LayerNorm(c.d_model, eps=c.norm_eps, dtype=dtype) if c.embedding_norm else None
        self.decoder_embed_norm = LayerNorm(c.d_model, eps=c.norm_eps, dtype=dtype) if c.embedding_norm else None
        self.embedding_dropout = Dropout(c.dropout, generator=generator)
        blocks = dict(d_ff=c.d_ff, activation=c.activation, norm=c.norm, norm_eps=c.norm_eps,
                      norm_first=c.norm_first, bias=c.bias, dropout=c.dropout, attention_dropout=c.attention_dropout,
                      activation_dropout=c.activation_dropout, final_norm=c.final_norm,
                      attention_scale=c.attention_scale, dtype=dtype, generator=generator)
        self.encoder = EncoderStack(c.encoder_layers, c.d_model, c.n_heads, **blocks)
        self.decoder = DecoderStack(c.decoder_layers, c.d_model, c.n_heads, cross_attention=True, **blocks)
        self.lm_head = Linear(c.d_model, c.vocab_size, bias=False, dtype=dtype, generator=generator)
        if c.final_logits_bias:
            bias = new_array((c.vocab_size,), self.lm_head.weight.dtype)
            self.register_buffer("final_logits_bias", Tensor._make(bias, False, None, 0))
        else:
            self.final_logits_bias = None
        if c.position == "t5":
            self._init_t5(c.init_std, generator)
        else:
            init_weights(self, c.init_std, generator)
        self.lm_head.weight = self.embed_tokens.weight          # one matrix: source, target and output

    def _init_t5(self, factor, generator):
        """T5's initialisation (transformers' T5 with initializer_factor = ``factor``): each
        matrix N(0, factor / sqrt(fan_in)), the shared embedding N(0, factor), and the queries
        N(0, factor / sqrt(d_model d_head)), which stands in for the 1/sqrt(d_head) the scores lack."""
        c = self.config
        d, head_dim = c.d_model, c.d_model // c.n_heads
        init.normal_(self.embed_tokens.weight, 0.0, factor, generator)
        for table in (self.encoder_relative_bias, self.decoder_relative_bias):
            init.normal_(table.relative_attention_bias.weight, 0.0, factor * d ** -0.5, generator)
        for layer in list(self.encoder.layers) + list(self.decoder.layers):
            for attention in (layer.self_attn, layer.cross_attn):
                if attention is None:
                    continue
                init.normal_(attention.q_proj.weight, 0.0, factor * (d * head_dim) ** -0.5, generator)
                init.normal_(attention.k_proj.weight, 0.0, factor * d ** -0.5, generator)
                init.normal_(attention.v_proj.weight, 0.0, factor * d ** -0.5, generator)
                init.normal_(attention.out_proj.weight, 0.0, factor * (c.n_heads * head_dim) ** -0.5, generator)
            for projection in (layer.ffn.gate, layer.ffn.up):
                if projection is not None:
                    init.normal_(projection.weight, 0.0, factor * d ** -0.5, generator)
            init.normal_(layer.ffn.down.weight, 0.0, factor * c.d_ff ** -0.5, generator)

    @property
    def position_limit(self) -> Optional[int]:
        """The longest source or decoded sequence the position tables allow; None for T5,
        whose relative bias has no table to overrun."""
        return None if self.config.position == "t5" else self.config.max_positions

    def _positions(self, dtype, generator):
        c = self.config
        if c.position == "t5":
            return None
        if c.position == "learned":
            return LearnedPositionalEmbedding(c.max_positions, c.d_model, offset=c.position_offset, dtype=dtype,
                                              generator=generator)
        return SinusoidalPositionalEmbedding(c.max_positions, c.d_model, layout=c.sinusoidal_layout, dtype=dtype,
                                             table_dtype=np.dtype(c.sinusoidal_table_dtype))

    def _relative_bias(self, bidirectional, dtype, generator):
        c = self.config
        if c.position != "t5":
            return None
        return T5RelativePositionBias(c.n_heads, c.relative_buckets, c.relative_max_distance, bidirectional,
                                      dtype=dtype, generator=generator)

    def _embed(self, ids, positions_module, norm, past=0):
        batch, length = ids.shape
        positions = np.arange(past, past + length)
        if self.position_limit is not None:
            check_positions(positions, self.position_limit, f"a sequence of length {past + length}")
        x = self.embed_tokens(Tensor._make(ids, False, None, 0))
        if self.embed_scale != 1.0:
            x = x * self.embed_scale
        if positions_module is not None:
            x = x + positions_module(positions)
        if norm is not None:
            x = norm(x)
        return self.embedding_dropout(x)

    def encode(self, input_ids: Ids, attention_mask: Optional[Ids] = None) -> Tensor:
        """Source ids (B, S) -> memory (B, S, d_model)."""
        ids = as_ids(input_ids, "input_ids", self.config.vocab_size)
        x = self._embed(ids, self.encoder_positions, self.encoder_embed_norm)
        bias = None if self.encoder_relative_bias is None else self.encoder_relative_bias(ids.shape[1], ids.shape[1])
        return self.encoder(x, key_padding_mask=padding_mask(attention_mask, ids.shape), position_bias=bias)

    def decode(self, decoder_input_ids: Ids, memory: Tensor, attention_mask: Optional[Ids] = None,
               decoder_attention_mask: Optional[Ids] = None, cache: Optional[StackCache] = None,
               logits_to_keep: int = 0) -> Tensor:
        """Target ids (B, T) and the encoder's memory -> logits (B, T, vocab). ``attention_mask``
        is the source's; with a cache, T is the new positions only. ``logits_to_keep`` k > 0
        projects only the last k positions onto the vocabulary (B, k, vocab)."""
        if isinstance(logits_to_keep, bool) or not isinstance(logits_to_keep, (int, np.integer)) or logits_to_keep < 0:
            raise ValueError(f"logits_to_keep must be an int >= 0 (0 keeps every position), got {logits_to_keep!r}")
        ids = as_ids(decoder_input_ids, "decoder_input_ids", self.config.vocab_size)
        batch, length = ids.shape
        past = cache.length if cache is not None else 0
        x = self._embed(ids, self.decoder_positions, self.decoder_embed_norm, past)
        bias = (None if self.decoder_relative_bias is None
                else self.decoder_relative_bias(length, past + length, offset=past))     # (1, H, T, past + T)
        h = self.decoder(x, memory, key_padding_mask=padding_mask(decoder_attention_mask, (batch, past + length),
                                                                  "decoder_attention_mask"),
                         memory_key_padding_mask=padding_mask(attention_mask, (batch, memory.shape[1])), caches=cache,
                         position_bias=bias)
        if logits_to_keep:
            h = h[:, -logits_to_keep:]                                                # (B, k, d)
        if self.config.scale_decoder_outputs:
            h = h * self.config.d_model ** -0.5
        logits = self.lm_head(h)
        if self.final_logits_bias is not None:
            logits = logits + self.final_logits_bias
        return logits

    # ------------------------------------------------------------------ the decoding interface
    # What npformer.generation needs of a model (see its module docstring): encode the source
    # once, then decode_step the decoder with the KV cache; position_limit is above.
    is_encoder_decoder = True

    def make_cache(self, batch_size: int, max_length: int, memory_length: int = 0, dtype=None) -> StackCache:
        """Preallocated keys and values for ``max_length`` decoded positions, and for the
        cross-attention's ``memory_length`` encoder positions (filled by the first step)."""
        return self.decoder.make_caches(batch_size, max_length, memory_length=memory_length, dtype=dtype)

    def decode_step(self, input_ids: Ids, cache: Optional[StackCache] = None, *, memory: Tensor,
                    attention_mask: Optional[Ids] = None, position_ids: None = None,
                    memory_attention_mask: Optional[Ids] = None) -> Tensor:
        """The next-token logits (B, vocab) after the decoder ids ``input_ids`` (B, T): the new
        ones when ``cache`` holds the earlier ones, else the whole sequence so far. ``memory`` is
        encode()'s output and ``memory_attention_mask`` the source's mask; ``attention_mask``
        covers the decoder's past + T positions. decode's own computation, keeping one position."""
        if position_ids is not None:
            raise ValueError("the encoder-decoder numbers decoder positions itself: pass position_ids=None")
        return self.decode(input_ids, memory, memory_attention_mask, attention_mask, cache=cache,
                           logits_to_keep=1)[:, -1]

    def shift_right(self, labels: Ids) -> np.ndarray:
        """Teacher forcing: the decoder sees [start, y_1, ..., y_{T-1}] and predicts y_1..y_T."""
        labels = as_ids(labels, "labels")
        shifted = np.empty_like(labels)
        shifted[:, 0] = self.config.decoder_start_token_id
        shifted[:, 1:] = labels[:, :-1]
        shifted[shifted == -100] = self.config.pad_token_id
        return shifted

    def forward(self, input_ids: Ids, attention_mask: Optional[Ids] = None, decoder_input_ids: Optional[Ids] = None,
                decoder_attention_mask: Optional[Ids] = None, labels: Optional[Ids] = None) -> ModelOutput:
        """Returns ModelOutput(logits (B, T, vocab), loss, encoder_last_hidden_state). The loss
        is cross entropy with the config's label smoothing; -100 labels are ignored. Without
        decoder_input_ids they are the labels shifted right."""
        if decoder_input_ids is None:
            if labels is None:
                raise ValueError("pass decoder_input_ids, or labels to derive them from")
            decoder_input_ids = self.shift_right(labels)
        memory = self.encode(input_ids, attention_mask)
        logits = self.decode(decoder_input_ids, memory, attention_mask, decoder_attention_mask)
        loss = None
        if labels is not None:
            target = as_ids(labels, "labels")
            if target.shape != logits.shape[:2]:
                raise ValueError(f"labels have shape {target.shape}, expected (batch, length) = {logits.shape[:2]}")
            loss = F.cross_entropy(logits.reshape(-1, self.config.vocab_size),
                                   Tensor._make(target.reshape(-1), False, None, 0),
                                   label_smoothing=self.config.label_smoothing)
        return ModelOutput(logits=logits, loss=loss, encoder_last_hidden_state=memory)
