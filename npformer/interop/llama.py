"""Llama <-> npformer.models.GPT with the Llama configuration (RoPE, RMSNorm, SwiGLU,
grouped-query attention). The names map one to one."""
import numpy as np

from ..models.gpt import GPT, GPTConfig
from .fields import UnsupportedModelError, field, require
from .rules import per_layer, same

MODEL_TYPE = "llama"
ARCHITECTURES = {"LlamaForCausalLM": GPT}
PREFIX = "model"
IGNORED = [r"^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$"]


def _rope_theta(hf):
    parameters = hf.get("rope_parameters") or hf.get("rope_scaling") or {}
    rope_type = parameters.get("rope_type", parameters.get("type", "default"))
    if rope_type != "default":
        raise UnsupportedModelError(f"llama: rope_type {rope_type!r} is not supported (npformer implements 'default')")
    return float(parameters.get("rope_theta", hf.get("rope_theta", 10000.0)))


def config_from_hf(hf, architecture, dtype=None):
    require(hf, "hidden_act", "silu")
    require(hf, "pretraining_tp", 1, default=1)
    if bool(hf.get("attention_bias", False)) != bool(hf.get("mlp_bias", False)):
        raise UnsupportedModelError("llama: attention_bias and mlp_bias must agree (npformer has one bias switch)")
    d_model, n_heads = field(hf, "hidden_size"), field(hf, "num_attention_heads")
    if field(hf, "head_dim", d_model // n_heads) != d_model // n_heads:
        raise UnsupportedModelError(f"llama: head_dim={hf['head_dim']} differs from hidden_size / num_attention_heads")
    # Hugging Face builds the RoPE tables in float32 whatever the model's dtype: do the same for
    # a float32 model (its logits then agree to float32 rounding); a float64 model keeps exact tables.
    table_dtype = "float64" if np.dtype(dtype or "float32") == np.float64 else "float32"
    return GPTConfig.llama(
        vocab_size=field(hf, "vocab_size"), max_positions=field(hf, "max_position_embeddings"), d_model=d_model,
        n_layers=field(hf, "num_hidden_layers"), n_heads=n_heads, n_kv_heads=field(hf, "num_key_value_heads", n_heads),
        d_ff=field(hf, "intermediate_size"), norm_eps=field(hf, "rms_norm_eps", 1e-6),
        bias=bool(hf.get("attention_bias", False)), rope_base=_rope_theta(hf), rope_table_dtype=table_dtype,
        attention_dropout=field(hf, "attention_dropout", 0.0), tie_embeddings=field(hf, "tie_word_embeddings", False),
        init_std=field(hf, "initializer_range", 0.02))


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
