"""BERT and its five heads <-> npformer.models.Bert*. The body lives under "bert." in a head
model's checkpoint and at the top level in a BertModel checkpoint; so do npformer's names."""
from ..models.bert import (
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from .checkpoint import CheckpointError
from .fields import activation, divides, init_scale, number, probability, require, show, size, token_id, where
from .rules import per_layer, same

MODEL_TYPE = "bert"
ARCHITECTURES = {
    "BertModel": BertModel, "BertForMaskedLM": BertForMaskedLM, "BertForPreTraining": BertForPreTraining,
    "BertForSequenceClassification": BertForSequenceClassification,
    "BertForTokenClassification": BertForTokenClassification, "BertForQuestionAnswering": BertForQuestionAnswering,
}
PREFIX = "bert"
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "relu": "relu",
               "silu": "silu", "swish": "silu"}
PROBLEM_TYPES = (None, "regression", "single_label_classification", "multi_label_classification")
IGNORED = [r"(^|\.)embeddings\.(position_ids|token_type_ids)$", r"^cls\.predictions\.decoder\.(weight|bias)$"]


def config_from_hf(hf, architecture, dtype=None):
    require(hf, "position_embedding_type", "absolute", default="absolute")
    require(hf, "is_decoder", False, default=False)
    d_model, n_heads = size(hf, "hidden_size"), size(hf, "num_attention_heads")
    divides(hf, "num_attention_heads", n_heads, "hidden_size", d_model)
    labels = hf.get("id2label")
    if labels is not None and not isinstance(labels, dict):
        raise CheckpointError(f"{where(hf)}: id2label = {show(labels)}; expected an object of labels by id")
    vocab_size = size(hf, "vocab_size")
    problem_type = hf.get("problem_type")
    if problem_type not in PROBLEM_TYPES:
        raise CheckpointError(f"{where(hf)}: problem_type = {show(problem_type)}; expected one of {PROBLEM_TYPES}")
    classifier_dropout = probability(hf, "classifier_dropout", None)
    return BertConfig(
        vocab_size=vocab_size, max_positions=size(hf, "max_position_embeddings"),
        type_vocab_size=size(hf, "type_vocab_size", 2), d_model=d_model, n_layers=size(hf, "num_hidden_layers"),
        n_heads=n_heads, d_ff=size(hf, "intermediate_size"), activation=activation(hf, "hidden_act", ACTIVATIONS),
        norm_eps=number(hf, "layer_norm_eps", 1e-12), dropout=probability(hf, "hidden_dropout_prob", 0.1),
        attention_dropout=probability(hf, "attention_probs_dropout_prob", 0.1), classifier_dropout=classifier_dropout,
        pad_token_id=token_id(hf, "pad_token_id", vocab_size, 0),
        num_labels=len(labels) if labels else size(hf, "num_labels", 2), problem_type=problem_type,
        init_std=init_scale(hf, "initializer_range", 0.02))


def matches(model):
    return type(model) in ARCHITECTURES.values()


def config_to_hf(model):
    c = model.config
    reverse = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu", "silu": "silu"}
    architecture = next(name for name, cls in ARCHITECTURES.items() if cls is type(model))
    return {"model_type": MODEL_TYPE, "architectures": [architecture], "vocab_size": c.vocab_size,
            "max_position_embeddings": c.max_positions, "type_vocab_size": c.type_vocab_size,
            "hidden_size": c.d_model, "num_hidden_layers": c.n_layers, "num_attention_heads": c.n_heads,
            "intermediate_size": c.d_ff, "hidden_act": reverse[c.activation], "layer_norm_eps": c.norm_eps,
            "hidden_dropout_prob": c.dropout, "attention_probs_dropout_prob": c.attention_dropout,
            "classifier_dropout": c.classifier_dropout, "pad_token_id": c.pad_token_id,
            "id2label": {str(i): f"LABEL_{i}" for i in range(c.num_labels)},
            "label2id": {f"LABEL_{i}": i for i in range(c.num_labels)}, "problem_type": c.problem_type,
            "initializer_range": c.init_std, "position_embedding_type": "absolute", "tie_word_embeddings": True}


def rules(model):
    c = model.config
    base = isinstance(model, BertModel)
    hf, ours = ("", "") if base else ("bert.", "bert.")
    tied = ("mlm_head.decoder.weight",) if isinstance(model, (BertForMaskedLM, BertForPreTraining)) else ()

    def layer(i):
        theirs, mine = f"{hf}encoder.layer.{i}.", f"{ours}encoder.layers.{i}."
        pairs = [("attention.self.query", "self_attn.q_proj"), ("attention.self.key", "self_attn.k_proj"),
                 ("attention.self.value", "self_attn.v_proj"), ("attention.output.dense", "self_attn.out_proj"),
                 ("attention.output.LayerNorm", "self_attn_norm"), ("intermediate.dense", "ffn.up"),
                 ("output.dense", "ffn.down"), ("output.LayerNorm", "ffn_norm")]
        return [same(theirs + a + suffix, mine + b + suffix) for a, b in pairs for suffix in (".weight", ".bias")]

    table = [same(f"{hf}embeddings.word_embeddings.weight", f"{ours}embed_tokens.weight", *tied),
             same(f"{hf}embeddings.position_embeddings.weight", f"{ours}embed_positions.weight"),
             same(f"{hf}embeddings.token_type_embeddings.weight", f"{ours}embed_token_types.weight"),
             same(f"{hf}embeddings.LayerNorm.weight", f"{ours}embed_norm.weight"),
             same(f"{hf}embeddings.LayerNorm.bias", f"{ours}embed_norm.bias")]
    table += per_layer(c.n_layers, layer)
    body = model if base else model.bert
    if body.pooler is not None:
        table += [same(f"{hf}pooler.dense.weight", f"{ours}pooler.weight"),
                  same(f"{hf}pooler.dense.bias", f"{ours}pooler.bias")]
    heads = []
    if tied:
        heads += [("cls.predictions.transform.dense", "mlm_head.dense"),
                  ("cls.predictions.transform.LayerNorm", "mlm_head.norm")]
        table.append(same("cls.predictions.bias", "mlm_head.bias"))
    if isinstance(model, BertForPreTraining):
        heads.append(("cls.seq_relationship", "nsp_head"))
    if isinstance(model, (BertForSequenceClassification, BertForTokenClassification)):
        heads.append(("classifier", "classifier"))
    if isinstance(model, BertForQuestionAnswering):
        heads.append(("qa_outputs", "qa_head"))
    table += [same(a + suffix, b + suffix) for a, b in heads for suffix in (".weight", ".bias")]
    return table


def ignored(model):
    return IGNORED
