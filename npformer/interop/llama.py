"""Llama <-> npformer.models.GPT with the Llama configuration (RoPE, RMSNorm, SwiGLU,
grouped-query attention). The names map one to one."""
import numpy as np

from ..models.gpt import GPT, GPTConfig
from .checkpoint import CheckpointError
from .fields import (
    UnsupportedModelError,
    divides,
    flag,
    init_scale,
    number,
    probability,
    require,
    section,
    show,
    size,
    where,
)
from .rules import per_layer, same

MODEL_TYPE = "llama"
ARCHITECTURES = {"LlamaForCausalLM": GPT}
PREFIX = "model"
IGNORED = [r"^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$"]


def _rope_theta(hf):
    parameters = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
    if not isinstance(parameters, dict):
        raise CheckpointError(f"{where(hf)}: rope_parameters = {show(parameters)}; expected an object")
    rope_type = parameters.get("rope_type", parameters.get("type", "default"))
    if rope_type != "default":
        raise UnsupportedModelError(f"{where(hf)}: rope_type {show(rope_type)} is not supported (npformer "
                                    f"implements 'default')")
    within = section(hf, parameters) if "rope_theta" in parameters else hf
    return float(number(within, "rope_theta", 10000.0, low=1e-30))


def config_from_hf(hf, architecture, dtype=None):
    require(hf, "hidden_act", "silu")
    require(hf, "pretraining_tp", 1, default=1)
    bias = flag(hf, "attention_bias", False)
    if bias != flag(hf, "mlp_bias", False):
        raise UnsupportedModelError(f"{where(hf)}: attention_bias and mlp_bias must agree (npformer has one bias "
                                    f"switch)")
    d_model, n_heads = size(hf, "hidden_size"), size(hf, "num_attention_heads")
    divides(hf, "num_attention_heads", n_heads, "hidden_size", d_model)
    n_kv_heads = size(hf, "num_key_value_heads", n_heads)
    divides(hf, "num_key_value_heads", n_kv_heads, "num_attention_heads", n_heads)
    head_dim = size(hf, "head_dim", d_model // n_heads)
    if head_dim != d_model // n_heads:
        raise UnsupportedModelError(f"{where(hf)}: head_dim={head_dim} differs from hidden_size / num_attention_heads")
    # Hugging Face builds the RoPE tables in float32 whatever the model's dtype: do the same for
    # a float32 model (its logits then agree to float32 rounding); a float64 model keeps exact tables.
    table_dtype = "float64" if np.dtype(dtype or "float32") == np.float64 else "float32"
    return GPTConfig.llama(
        vocab_size=size(hf, "vocab_size"), max_positions=size(hf, "max_position_embeddings"), d_model=d_model,
        n_layers=size(hf, "num_hidden_layers"), n_heads=n_heads, n_kv_heads=n_kv_heads,
        d_ff=size(hf, "intermediate_size"), norm_eps=number(hf, "rms_norm_eps", 1e-6), bias=bias,
        rope_base=_rope_theta(hf), rope_table_dtype=table_dtype,
        attention_dropout=probability(hf, "attention_dropout", 0.0),
        tie_embeddings=flag(hf, "tie_word_embeddings", False), init_std=init_scale(hf, "initializer_range", 0.02))


def matches(model):
    c = getattr(model, "config", None)
    return (isinstance(model, GPT) and c.position == "rope" and not c.rope_interleaved and c.norm == "rmsnorm"
            and c.activation == "swiglu")


def config_to_hf(model):
    c = model.config
    return {"model_type": MODEL_TYPE, "architectures": ["LlamaForCausalLM"], "vocab_size": c.vocab_size,
            "max_position_embeddings": c.max_positions, "hidden_size": c.d_model, "num_hidden_layers": c.n_layers,
            "num_attention_heads": c.n_heads, "num_key_value_heads": c.n_kv_heads or c.n_heads,
            "intermediate_size": c.d_ff or 4 * c.d_model, "hidden_act": "silu", "rms_norm_eps": c.norm_eps,
            "attention_bias": c.bias, "mlp_bias": c.bias, "attention_dropout": c.attention_dropout,
            "rope_parameters": {"rope_type": "default", "rope_theta": c.rope_base},
            "tie_word_embeddings": c.tie_embeddings, "initializer_range": c.init_std,
            "bos_token_id": None, "eos_token_id": None, "pad_token_id": None}


def rules(model):
    c = model.config
    embedding = ("embed_tokens.weight", "lm_head.weight") if c.tie_embeddings else ("embed_tokens.weight",)
    names = [("self_attn.q_proj", "self_attn.q_proj"), ("self_attn.k_proj", "self_attn.k_proj"),
             ("self_attn.v_proj", "self_attn.v_proj"), ("self_attn.o_proj", "self_attn.out_proj"),
             ("mlp.gate_proj", "ffn.gate"), ("mlp.up_proj", "ffn.up"), ("mlp.down_proj", "ffn.down")]

    def layer(i):
        hf, ours = f"model.layers.{i}.", f"decoder.layers.{i}."
        table = [same(hf + "input_layernorm.weight", ours + "self_attn_norm.weight"),
                 same(hf + "post_attention_layernorm.weight", ours + "ffn_norm.weight")]
        for theirs, mine in names:
            table.append(same(hf + theirs + ".weight", ours + mine + ".weight"))
            if c.bias:
                table.append(same(hf + theirs + ".bias", ours + mine + ".bias"))
        return table

    table = [same("model.embed_tokens.weight", *embedding)] + per_layer(c.n_layers, layer)
    table.append(same("model.norm.weight", "decoder.norm.weight"))
    if not c.tie_embeddings:
        table.append(same("lm_head.weight", "lm_head.weight"))
    return table


def ignored(model):
    return IGNORED + ([r"^lm_head\.weight$"] if model.config.tie_embeddings else [])
