"""BART and Marian <-> npformer.models.EncoderDecoder. The two share one layout; Marian has no
learned positions (its sinusoidal table is recomputed) and no embedding LayerNorm."""
from ..models.encoder_decoder import EncoderDecoder, EncoderDecoderConfig
from .fields import (
    UnsupportedModelError,
    activation,
    divides,
    flag,
    init_scale,
    probability,
    require,
    size,
    token_id,
    where,
)
from .rules import per_layer, row, same

MODEL_TYPES = ("bart", "marian")
ARCHITECTURES = {"BartForConditionalGeneration": EncoderDecoder, "MarianMTModel": EncoderDecoder}
PREFIX = "model"
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "relu": "relu", "silu": "silu", "swish": "silu"}
# tied copies of model.shared (written by some versions), and Marian's recomputed sinusoids
IGNORED = [r"^model\.(encoder|decoder)\.embed_tokens\.weight$", r"^lm_head\.weight$"]
MARIAN_IGNORED = [r"^model\.(encoder|decoder)\.embed_positions\.weight$"]


def config_from_hf(hf, architecture, dtype=None):
    kind = hf.get("model_type")
    for a, b in (("encoder_attention_heads", "decoder_attention_heads"), ("encoder_ffn_dim", "decoder_ffn_dim")):
        if size(hf, a) != size(hf, b):
            raise UnsupportedModelError(f"{where(hf)}: {a} != {b} (npformer uses one value for both stacks)")
    require(hf, "normalize_before", False, default=False)
    require(hf, "add_final_layer_norm", False, default=False)
    vocab_size, d_model, n_heads = size(hf, "vocab_size"), size(hf, "d_model"), size(hf, "encoder_attention_heads")
    divides(hf, "encoder_attention_heads", n_heads, "d_model", d_model)
    common = dict(
        vocab_size=vocab_size, d_model=d_model, n_heads=n_heads, encoder_layers=size(hf, "encoder_layers"),
        decoder_layers=size(hf, "decoder_layers"), d_ff=size(hf, "encoder_ffn_dim"),
        activation=activation(hf, "activation_function", ACTIVATIONS),
        max_positions=size(hf, "max_position_embeddings"), scale_embedding=flag(hf, "scale_embedding", False),
        dropout=probability(hf, "dropout", 0.1),
        attention_dropout=probability(hf, "attention_dropout", 0.0),
        activation_dropout=probability(hf, "activation_dropout", 0.0),
        pad_token_id=token_id(hf, "pad_token_id", vocab_size), bos_token_id=token_id(hf, "bos_token_id", vocab_size, 0),
        eos_token_id=token_id(hf, "eos_token_id", vocab_size),
        decoder_start_token_id=token_id(hf, "decoder_start_token_id", vocab_size),
        init_std=init_scale(hf, "init_std", 0.02))
    if kind == "marian":
        if (not flag(hf, "share_encoder_decoder_embeddings", True)
                or size(hf, "decoder_vocab_size", vocab_size) != vocab_size):
            raise UnsupportedModelError(f"{where(hf)}: separate decoder embeddings are not supported")
        # the preset rounds the sinusoids through float32, as Hugging Face does even in float64
        return EncoderDecoderConfig.marian(**common)
    return EncoderDecoderConfig.bart(**common)


def _kind(model):
    c = getattr(model, "config", None)
    if not isinstance(model, EncoderDecoder) or c.norm_first or c.final_norm or not c.final_logits_bias:
        return None
    if c.position == "learned" and c.position_offset == 2 and c.embedding_norm:
        return "bart"
    if c.position == "sinusoidal" and c.sinusoidal_layout == "half" and not c.embedding_norm:
        return "marian"
    return None


def matches(model):
    return _kind(model) is not None


def config_to_hf(model):
    c, kind = model.config, _kind(model)
    reverse = {"gelu": "gelu", "gelu_tanh": "gelu_new", "relu": "relu", "silu": "swish"}
    architecture = "BartForConditionalGeneration" if kind == "bart" else "MarianMTModel"
    config = {"model_type": kind, "architectures": [architecture],
              "vocab_size": c.vocab_size, "d_model": c.d_model, "encoder_attention_heads": c.n_heads,
              "decoder_attention_heads": c.n_heads, "encoder_layers": c.encoder_layers,
              "decoder_layers": c.decoder_layers, "encoder_ffn_dim": c.d_ff, "decoder_ffn_dim": c.d_ff,
              "activation_function": reverse[c.activation], "max_position_embeddings": c.max_positions,
              "scale_embedding": c.scale_embedding, "dropout": c.dropout, "attention_dropout": c.attention_dropout,
              "activation_dropout": c.activation_dropout, "pad_token_id": c.pad_token_id,
              "bos_token_id": c.bos_token_id, "eos_token_id": c.eos_token_id,
              "decoder_start_token_id": c.decoder_start_token_id, "forced_eos_token_id": c.eos_token_id,
              "init_std": c.init_std, "is_encoder_decoder": True, "tie_word_embeddings": True}
    if kind == "marian":
        config.update(share_encoder_decoder_embeddings=True, decoder_vocab_size=c.vocab_size)
    return config


def rules(model):
    c, kind = model.config, _kind(model)

    def attention(theirs, mine):
        return [same(f"{theirs}.{p}_proj.{s}", f"{mine}.{q}_proj.{s}")
                for p, q in (("q", "q"), ("k", "k"), ("v", "v"), ("out", "out")) for s in ("weight", "bias")]

    def layer(stack, i):
        theirs, mine = f"model.{stack}.layers.{i}.", f"{stack}.layers.{i}."
        table = attention(theirs + "self_attn", mine + "self_attn")
        pairs = [("self_attn_layer_norm", "self_attn_norm"), ("fc1", "ffn.up"), ("fc2", "ffn.down"),
                 ("final_layer_norm", "ffn_norm")]
        if stack == "decoder":
            table += attention(theirs + "encoder_attn", mine + "cross_attn")
            pairs.append(("encoder_attn_layer_norm", "cross_attn_norm"))
        return table + [same(theirs + a + "." + s, mine + b + "." + s) for a, b in pairs for s in ("weight", "bias")]

    table = [same("model.shared.weight", "embed_tokens.weight", "lm_head.weight"),
             row("final_logits_bias", "final_logits_bias")]
    for stack in ("encoder", "decoder"):
        if kind == "bart":
            table += [same(f"model.{stack}.embed_positions.weight", f"{stack}_positions.weight"),
                      same(f"model.{stack}.layernorm_embedding.weight", f"{stack}_embed_norm.weight"),
                      same(f"model.{stack}.layernorm_embedding.bias", f"{stack}_embed_norm.bias")]
        table += per_layer(getattr(c, f"{stack}_layers"), lambda i, s=stack: layer(s, i))
    return table


def ignored(model):
    return IGNORED + (MARIAN_IGNORED if _kind(model) == "marian" else [])
