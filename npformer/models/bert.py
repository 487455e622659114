"""BERT: a bidirectional post-norm encoder with heads for pretraining and fine-tuning.

    x = norm(embed_tokens(ids) + embed_positions(pos) + embed_token_types(types))   (B, T, d)
    h = encoder(x)             post-norm blocks, exact gelu, no final norm
    pooled = tanh(pooler(h[:, 0]))                                                  (B, d)

Heads: masked LM (transform = dense, gelu, norm; then the tied embedding matrix plus a bias),
pretraining (masked LM + next-sentence prediction on the pooled [CLS]), sequence
classification (pooled), token classification and question answering (per token).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from .. import functional as F
from ..autograd.tensor import Tensor
from ..nn.layers import Dropout, Embedding, LayerNorm, Linear
from ..nn.module import Module, Parameter
from ..nn.positional import LearnedPositionalEmbedding
from ..nn.shapes import new_array
from ..nn.transformer import ACTIVATIONS, EncoderStack
from .common import Ids, PretrainedMixin, as_ids, check_positions, init_weights, padding_mask
from .output import ModelOutput


@dataclass
class BertConfig:
    vocab_size: int = 30522
    max_positions: int = 512
    type_vocab_size: int = 2
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    d_ff: int = 3072
    activation: str = "gelu"                   # BERT's gelu is the exact erf form
    norm_eps: float = 1e-12
    dropout: float = 0.1
    attention_dropout: float = 0.1
    classifier_dropout: Optional[float] = None  # default: dropout
    pad_token_id: int = 0
    num_labels: int = 2
    problem_type: Optional[str] = None          # regression / single_label_classification / multi_label_classification
    init_std: float = 0.02

    def to_dict(self):
        return asdict(self)


class BertModel(Module, PretrainedMixin):
    def __init__(self, config: BertConfig, add_pooler=True, dtype=None, generator=None):
        super().__init__()
        self.config = c = config
        self.embed_tokens = Embedding(c.vocab_size, c.d_model, padding_idx=c.pad_token_id, dtype=dtype,
                                      generator=generator)
        self.embed_positions = LearnedPositionalEmbedding(c.max_positions, c.d_model, dtype=dtype, generator=generator)
        self.embed_token_types = Embedding(c.type_vocab_size, c.d_model, dtype=dtype, generator=generator)
        self.embed_norm = LayerNorm(c.d_model, eps=c.norm_eps, dtype=dtype)
        self.embedding_dropout = Dropout(c.dropout, generator=generator)
        self.encoder = EncoderStack(
            c.n_layers, c.d_model, c.n_heads, d_ff=c.d_ff, activation=c.activation, norm="layernorm",
            norm_eps=c.norm_eps, norm_first=False, bias=True, dropout=c.dropout, attention_dropout=c.attention_dropout,
            dtype=dtype, generator=generator)
        self.pooler = Linear(c.d_model, c.d_model, dtype=dtype, generator=generator) if add_pooler else None
        init_weights(self, c.init_std, generator)

    def forward(self, input_ids: Ids, attention_mask: Optional[Ids] = None, token_type_ids: Optional[Ids] = None,
                position_ids: Optional[Ids] = None) -> ModelOutput:
        """input_ids (B, T); attention_mask (B, T), 1 for real tokens; token_type_ids (B, T),
        0 for sentence A and 1 for B. Returns ModelOutput(last_hidden_state (B, T, d),
        pooler_output (B, d))."""
        c = self.config
        ids = as_ids(input_ids, "input_ids", c.vocab_size)
        batch, length = ids.shape
        positions = (np.broadcast_to(np.arange(length), (batch, length)) if position_ids is None
                     else as_ids(position_ids, "position_ids"))
        check_positions(positions, c.max_positions, f"a sequence of length {length}")
        types = (np.zeros((batch, length), dtype=np.int64) if token_type_ids is None
                 else as_ids(token_type_ids, "token_type_ids", c.type_vocab_size))
        if types.shape != (batch, length):
            raise ValueError(f"token_type_ids have shape {types.shape}, expected {(batch, length)}")
        x = (self.embed_tokens(Tensor._make(ids, False, None, 0)) + self.embed_positions(positions)
             + self.embed_token_types(Tensor._make(types, False, None, 0)))
        x = self.embedding_dropout(self.embed_norm(x))
        hidden = self.encoder(x, key_padding_mask=padding_mask(attention_mask, (batch, length)))
        pooled = self.pooler(hidden[:, 0]).tanh() if self.pooler is not None else None
        return ModelOutput(last_hidden_state=hidden, pooler_output=pooled)


class MaskedLMHead(Module):
    """dense -> activation -> norm -> (tied) vocabulary projection + bias"""

    def __init__(self, config: BertConfig, embedding_weight, dtype=None, generator=None):
        super().__init__()
        self.activation = config.activation
        self.dense = Linear(config.d_model, config.d_model, dtype=dtype, generator=generator)
        self.norm = LayerNorm(config.d_model, eps=config.norm_eps, dtype=dtype)
        self.decoder = Linear(config.d_model, config.vocab_size, bias=False, dtype=dtype, generator=generator)
        self.decoder.weight = embedding_weight
        self.bias = Parameter(new_array((config.vocab_size,), embedding_weight.dtype))

    def forward(self, hidden):
        h = self.norm(ACTIVATIONS[self.activation](self.dense(hidden)))
        return F.linear(h, self.decoder.weight, self.bias)


class _BertWithHead(Module, PretrainedMixin):
    """The BERT body plus whatever head a subclass adds."""

    add_pooler = True

    def __init__(self, config: BertConfig, dtype=None, generator=None):
        super().__init__()
        self.config = config
        self.bert = BertModel(config, add_pooler=self.add_pooler, dtype=dtype, generator=generator)
        self.build_head(config, dtype, generator)
        init_weights(self, config.init_std, generator)          # the head's layers, as the body's

    def build_head(self, config, dtype, generator):
        raise TypeError("subclasses build their head")

    def encode(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
        return self.bert(input_ids, attention_mask, token_type_ids, position_ids)

    def _classifier_dropout(self, config, generator):
        p = config.dropout if config.classifier_dropout is None else config.classifier_dropout
        return Dropout(p, generator=generator)


def _labels(labels, shape, name="labels"):
    """Integer labels of exactly ``shape`` (a trailing dim of 1 is squeezed, as HF allows),
    flattened for cross_entropy."""
    array = np.asarray(getattr(labels, "data", labels))
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, got {array.dtype}")
    if array.ndim == len(shape) + 1 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.shape != tuple(shape):
        raise ValueError(f"{name} have shape {array.shape}, expected {tuple(shape)}")
    return Tensor._make(array.reshape(-1).astype(np.int64, copy=False), False, None, 0)


class BertForMaskedLM(_BertWithHead):
    add_pooler = False

    def build_head(self, config, dtype, generator):
        self.mlm_head = MaskedLMHead(config, self.bert.embed_tokens.weight, dtype, generator)

    def forward(self, input_ids: Ids, attention_mask: Optional[Ids] = None, token_type_ids: Optional[Ids] = None,
                position_ids: Optional[Ids] = None, labels: Optional[Ids] = None) -> ModelOutput:
        """labels (B, T): the original token where masked, -100 elsewhere."""
        hidden = self.encode(input_ids, attention_mask, token_type_ids, position_ids).last_hidden_state
        logits = self.mlm_head(hidden)                                           # (B, T, vocab)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, self.config.vocab_size), _labels(labels, logits.shape[:2]))
        return ModelOutput(logits=logits, loss=loss)


class BertForPreTraining(_BertWithHead):
    def build_head(self, config, dtype, generator):
        self.mlm_head = MaskedLMHead(config, self.bert.embed_tokens.weight, dtype, generator)
        self.nsp_head = Linear(config.d_model, 2, dtype=dtype, generator=generator)

    def forward(self, input_ids: Ids, attention_mask: Optional[Ids] = None, token_type_ids: Optional[Ids] = None,
                position_ids: Optional[Ids] = None, labels: Optional[Ids] = None,
                next_sentence_label: Optional[Ids] = None) -> ModelOutput:
        """loss = masked-LM loss + next-sentence loss (label 0: B follows A; 1: B is random)."""
        out = self.encode(input_ids, attention_mask, token_type_ids, position_ids)
        logits = self.mlm_head(out.last_hidden_state)
        nsp_logits = self.nsp_head(out.pooler_output)                             # (B, 2)
        loss = None
        if labels is not None and next_sentence_label is not None:
            loss = (F.cross_entropy(logits.reshape(-1, self.config.vocab_size), _labels(labels, logits.shape[:2]))
                    + F.cross_entropy(nsp_logits, _labels(next_sentence_label, nsp_logits.shape[:1],
                                                           "next_sentence_label")))
        return ModelOutput(prediction_logits=logits, seq_relationship_logits=nsp_logits, loss=loss)


class BertForSequenceClassification(_BertWithHead):
    def build_head(self, config, dtype, generator):
        self.dropout = self._classifier_dropout(config, generator)
        self.classifier = Linear(config.d_model, config.num_labels, dtype=dtype, generator=generator)

    def forward(self, input_ids: Ids, attention_mask: Optional[Ids] = None, token_type_ids: Optional[Ids] = None,
                position_ids: Optional[Ids] = None, labels: Optional[Ids] = None) -> ModelOutput:
        """labels (B,): class ids; float values of shape (B,) for regression (num_labels 1) or
        (B, num_labels) multi-hot targets for multi-label classification."""
        pooled = self.encode(input_ids, attention_mask, token_type_ids, position_ids).pooler_output
        logits = self.classifier(self.dropout(pooled))                            # (B, num_labels)
        loss = None if labels is None else self._loss(logits, labels)
        return ModelOutput(logits=logits, loss=loss)

    def _loss(self, logits, labels):
        c = self.config
        data = np.asarray(getattr(labels, "data", labels))
        problem = c.problem_type
        if problem is None:
            if c.num_labels == 1:
                problem = "regression"
            elif data.dtype.kind in "iu":
                problem = "single_label_classification"
            else:
                problem = "multi_label_classification"
        if problem == "regression":
            target = Tensor._make(data.astype(logits.dtype).reshape(-1), False, None, 0)
            prediction = logits.reshape(-1) if c.num_labels == 1 else logits
            return F.mse_loss(prediction, target if c.num_labels == 1 else target.reshape(logits.shape))
        if problem == "single_label_classification":
            return F.cross_entropy(logits, _labels(labels, logits.shape[:1]))
        if data.shape != logits.shape:
            raise ValueError(f"multi-label labels have shape {data.shape}, expected {logits.shape}")
        return F.binary_cross_entropy_with_logits(logits, Tensor._make(data.astype(logits.dtype), False, None, 0))


class BertForTokenClassification(_BertWithHead):
    add_pooler = False

    def build_head(self, config, dtype, generator):
        self.dropout = self._classifier_dropout(config, generator)
        self.classifier = Linear(config.d_model, config.num_labels, dtype=dtype, generator=generator)

    def forward(self, input_ids: Ids, attention_mask: Optional[Ids] = None, token_type_ids: Optional[Ids] = None,
                position_ids: Optional[Ids] = None, labels: Optional[Ids] = None) -> ModelOutput:
        """labels (B, T): a class per token (e.g. named-entity tags), -100 where not scored."""
        hidden = self.encode(input_ids, attention_mask, token_type_ids, position_ids).last_hidden_state
        logits = self.classifier(self.dropout(hidden))                            # (B, T, num_labels)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, self.config.num_labels), _labels(labels, logits.shape[:2]))
        return ModelOutput(logits=logits, loss=loss)


class BertForQuestionAnswering(_BertWithHead):
    add_pooler = False

    def build_head(self, config, dtype, generator):
        self.qa_head = Linear(config.d_model, 2, dtype=dtype, generator=generator)

    def forward(self, input_ids: Ids, attention_mask: Optional[Ids] = None, token_type_ids: Optional[Ids] = None,
                position_ids: Optional[Ids] = None, start_positions: Optional[Ids] = None,
                end_positions: Optional[Ids] = None) -> ModelOutput:
        """Span extraction: a start and an end logit per token. Positions outside the input are
        clamped to T and ignored, as in Hugging Face; the loss is the mean of both."""
        hidden = self.encode(input_ids, attention_mask, token_type_ids, position_ids).last_hidden_state
        logits = self.qa_head(hidden)                                             # (B, T, 2)
        start_logits, end_logits = (part.squeeze(-1) for part in logits.split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            length = start_logits.shape[1]
            losses = []
            for scores, positions, name in ((start_logits, start_positions, "start_positions"),
                                            (end_logits, end_positions, "end_positions")):
                target = np.clip(_labels(positions, scores.shape[:1], name)._data, 0, length)
                losses.append(F.cross_entropy(scores, Tensor._make(target, False, None, 0), ignore_index=length))
            loss = (losses[0] + losses[1]) / 2
        return ModelOutput(start_logits=start_logits, end_logits=end_logits, loss=loss)
