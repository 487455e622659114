"""What every model family shares: checking token ids and masks, GPT-2/BERT-style weight
initialisation, the shifted causal-LM loss, and the save/load entry points."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor
from ..nn import init
from ..nn.layers import Embedding, LayerNorm, Linear, RMSNorm
from ..nn.positional import LearnedPositionalEmbedding
from ..nn.shapes import holds_values

Ids = Union[np.ndarray, Tensor, Sequence[int], Sequence[Sequence[int]]]      # (B, T) or (T,) integers


def as_ids(ids, name, vocab_size=None):
    """Integer ids (B, T) as an ndarray, each below ``vocab_size``."""
    array = ids._data if isinstance(ids, Tensor) else np.asarray(ids)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer ids, got {array.dtype}")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise ValueError(f"{name} must be (batch, length), got shape {array.shape}")
    if vocab_size is not None and array.size and (array.min() < 0 or array.max() >= vocab_size):
        bad = int(array.max() if array.max() >= vocab_size else array.min())
        raise IndexError(f"{name} holds id {bad}, outside the vocabulary of {vocab_size} tokens (0..{vocab_size - 1})")
    return array.astype(np.int64, copy=False)


def padding_mask(attention_mask, shape, name="attention_mask"):
    """Hugging Face's attention_mask (1 = real token, 0 = padding) as npformer's
    key_padding_mask (True = padding), checked against the expected (batch, length)."""
    if attention_mask is None:
        return None
    mask = attention_mask._data if isinstance(attention_mask, Tensor) else np.asarray(attention_mask)
    if mask.ndim == 1:
        mask = mask[None, :]
    if mask.shape != tuple(shape):
        raise ValueError(f"{name} has shape {mask.shape}, expected (batch, length) = {tuple(shape)}")
    return mask == 0


def check_positions(positions, limit, what="sequence"):
    if positions.size and positions.max() >= limit:
        raise ValueError(f"{what} reaches position {int(positions.max())}, beyond the position table of {limit} "
                         f"positions (0..{limit - 1})")


def init_weights(module, std=0.02, generator=None):
    """N(0, std) for Linear and Embedding weights, zero biases, unit norms (GPT-2, BERT, BART)."""
    for layer in module.modules():
        if isinstance(layer, (Linear, Embedding, LearnedPositionalEmbedding)):
            init.normal_(layer.weight, 0.0, std, generator)
            if getattr(layer, "padding_idx", None) is not None and holds_values(layer.weight._data):
                layer.weight._data[layer.padding_idx] = 0
        if isinstance(layer, Linear) and layer.bias is not None:
            init.zeros_(layer.bias)
        if isinstance(layer, (LayerNorm, RMSNorm)):
            if layer.weight is not None:
                init.ones_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                init.zeros_(layer.bias)


def causal_lm_loss(logits, labels, vocab_size):
    """Cross entropy of each position's logits against the next token: labels are shifted
    inside, as in Hugging Face (pass labels = input_ids); -100 labels are ignored."""
    labels = as_ids(labels, "labels")
    if labels.shape != logits.shape[:2]:
        raise ValueError(f"labels have shape {labels.shape}, expected (batch, length) = {logits.shape[:2]}")
    shifted = logits[:, :-1].reshape(-1, vocab_size)
    return F.cross_entropy(shifted, Tensor._make(labels[:, 1:].reshape(-1), False, None, 0))


class GenerationMixin:
    """model.generate / model.stream for the families that can decode (npformer.generation,
    a floor above the models, imported on use)."""

    def generate(self, input_ids: Ids, attention_mask: Optional[Ids] = None, **options) -> np.ndarray:
        from ..generation import generate
        return generate(self, input_ids, attention_mask, **options)

    def stream(self, input_ids: Ids, attention_mask: Optional[Ids] = None, **options):
        from ..generation import stream
        return stream(self, input_ids, attention_mask, **options)


class PretrainedMixin:
    """save_pretrained / from_pretrained for Hugging Face checkpoint folders. The conversion
    tables live in npformer.interop, a floor above the models; they are imported on use."""

    def save_pretrained(self, directory: str, dtype=None, max_shard_size: Union[int, str, None] = None) -> None:
        from ..interop import save_pretrained
        return save_pretrained(self, directory, dtype=dtype, max_shard_size=max_shard_size)
