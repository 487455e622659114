"""T5 <-> npformer.models.EncoderDecoder with the T5 configuration (relative position bias,
RMSNorm, pre-norm, no biases, unscaled attention).

transformers 5 always ties the output projection to ``shared`` (T5Config forces
tie_word_embeddings) and keeps the old flag's meaning as ``scale_decoder_outputs``: the original
T5 multiplies the decoder output by d_model^-0.5, v1.1 (tie_word_embeddings=false in its
config) does not. Only the first block of each stack holds a relative_attention_bias table; the
others reuse its bias, as npformer's one table per stack does.
"""
from ..models.encoder_decoder import EncoderDecoder, EncoderDecoderConfig
from .checkpoint import CheckpointError
from .fields import UnsupportedModelError, init_scale, number, probability, show, size, text, token_id, where
from .rules import per_layer, same

MODEL_TYPES = ("t5",)
ARCHITECTURES = {"T5ForConditionalGeneration": EncoderDecoder}
PREFIX = None                                   # T5's names have no base-model prefix
# dense_act_fn, then whether gated -> npformer's activation
# (T5Config reads "gated-gelu" as the tanh approximation, so a gated exact GELU has no name)
ACTIVATIONS = {("relu", False): "relu", ("gelu", False): "gelu", ("gelu_new", False): "gelu_tanh",
               ("silu", False): "silu", ("gelu_new", True): "geglu_tanh", ("silu", True): "swiglu"}
# the stacks' tied copies of shared, the tied lm_head, and a cross-attention table no layer uses
IGNORED = [r"^(encoder|decoder)\.embed_tokens\.weight$", r"^lm_head\.weight$",
           r"^decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$"]


def _activation(hf):
    proj = text(hf, "feed_forward_proj", "relu")
    parts = proj.split("-")
    gated = len(parts) == 2 and parts[0] == "gated"
    name = parts[-1]
    if gated and name == "gelu":
        name = "gelu_new"                       # T5Config's own reading of "gated-gelu"
    if (name, gated) not in ACTIVATIONS or len(parts) > 2 or (len(parts) == 2 and not gated):
        raise UnsupportedModelError(f"{where(hf)}: feed_forward_proj={show(proj)} is not supported; supported: relu, "
                                    f"gelu, gelu_new, silu, gated-gelu, gated-silu")
    return ACTIVATIONS[(name, gated)]


def config_from_hf(hf, architecture, dtype=None):
    d_model, n_heads, d_kv = size(hf, "d_model"), size(hf, "num_heads"), size(hf, "d_kv")
    if d_kv * n_heads != d_model:
        raise UnsupportedModelError(f"{where(hf)}: d_kv * num_heads = {d_kv} * {n_heads} differs from d_model = "
                                    f"{d_model} (npformer's attention projects d_model to d_model)")
    vocab_size, layers = size(hf, "vocab_size"), size(hf, "num_layers")
    scale = hf.get("scale_decoder_outputs", hf.get("tie_word_embeddings") is not False)
    if not isinstance(scale, bool):
        raise CheckpointError(f"{where(hf)}: scale_decoder_outputs = {show(scale)}; expected true or false")
    buckets, distance = size(hf, "relative_attention_num_buckets", 32), size(hf, "relative_attention_max_distance", 128)
    if buckets < 4 or distance <= buckets // 2:          # the decoder's one-way buckets need both
        raise CheckpointError(f"{where(hf)}: relative_attention_num_buckets = {buckets} and "
                              f"relative_attention_max_distance = {distance}; expected at least 4 buckets and a "
                              f"distance beyond half of them")
    pad = token_id(hf, "pad_token_id", vocab_size, 0)
    return EncoderDecoderConfig.t5(
        vocab_size=vocab_size, d_model=d_model, n_heads=n_heads, encoder_layers=layers,
        decoder_layers=size(hf, "num_decoder_layers", layers), d_ff=size(hf, "d_ff"), activation=_activation(hf),
        norm_eps=number(hf, "layer_norm_epsilon", 1e-6),
        relative_buckets=buckets, relative_max_distance=distance, scale_decoder_outputs=scale,
        dropout=probability(hf, "dropout_rate", 0.1), pad_token_id=pad,
        eos_token_id=token_id(hf, "eos_token_id", vocab_size, 1),
        decoder_start_token_id=token_id(hf, "decoder_start_token_id", vocab_size, 0), bos_token_id=pad,
        init_std=init_scale(hf, "initializer_factor", 1.0))


def matches(model):
    c = getattr(model, "config", None)
    return (isinstance(model, EncoderDecoder) and c.position == "t5" and c.norm == "rmsnorm" and c.norm_first
            and not c.bias and c.attention_scale == 1.0 and not c.embedding_norm and not c.final_logits_bias
            and not c.scale_embedding and c.final_norm in (None, True)
            and c.activation in set(ACTIVATIONS.values()))


def config_to_hf(model):
    c = model.config
    reverse = {v: k for k, v in ACTIVATIONS.items()}
    name, gated = reverse[c.activation]
    proj = ("gated-" if gated else "") + ("gelu" if gated and name == "gelu_new" else name)
    return {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "vocab_size": c.vocab_size,
            "d_model": c.d_model, "d_kv": c.d_model // c.n_heads, "d_ff": c.d_ff, "num_layers": c.encoder_layers,
            "num_decoder_layers": c.decoder_layers, "num_heads": c.n_heads,
            "relative_attention_num_buckets": c.relative_buckets,
            "relative_attention_max_distance": c.relative_max_distance, "dropout_rate": c.dropout,
            "layer_norm_epsilon": c.norm_eps, "feed_forward_proj": proj, "is_encoder_decoder": True,
            "tie_word_embeddings": True, "scale_decoder_outputs": c.scale_decoder_outputs,
            "pad_token_id": c.pad_token_id, "eos_token_id": c.eos_token_id,
            "decoder_start_token_id": c.decoder_start_token_id, "initializer_factor": c.init_std}


def rules(model):
    c = model.config
    ffn = [("wi_0", "gate"), ("wi_1", "up")] if c.activation in ("geglu_tanh", "swiglu") else [("wi", "up")]
    ffn.append(("wo", "down"))

    def attention(theirs, mine):
        return [same(f"{theirs}.{p}.weight", f"{mine}.{q}_proj.weight")
                for p, q in (("q", "q"), ("k", "k"), ("v", "v"), ("o", "out"))]

    def layer(stack, i):
        theirs, mine = f"{stack}.block.{i}.layer.", f"{stack}.layers.{i}."
        table = attention(theirs + "0.SelfAttention", mine + "self_attn")
        table.append(same(theirs + "0.layer_norm.weight", mine + "self_attn_norm.weight"))
        ff = 1
        if stack == "decoder":
            table += attention(theirs + "1.EncDecAttention", mine + "cross_attn")
            table.append(same(theirs + "1.layer_norm.weight", mine + "cross_attn_norm.weight"))
            ff = 2
        table += [same(f"{theirs}{ff}.DenseReluDense.{a}.weight", f"{mine}ffn.{b}.weight") for a, b in ffn]
        table.append(same(f"{theirs}{ff}.layer_norm.weight", mine + "ffn_norm.weight"))
        return table

    table = [same("shared.weight", "embed_tokens.weight", "lm_head.weight")]
    for stack in ("encoder", "decoder"):
        table.append(same(f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                          f"{stack}_relative_bias.relative_attention_bias.weight"))
        table += per_layer(getattr(c, f"{stack}_layers"), lambda i, s=stack: layer(s, i))
        table.append(same(f"{stack}.final_layer_norm.weight", f"{stack}.norm.weight"))
    return table


def ignored(model):
    return IGNORED
