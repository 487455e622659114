"""GPT-2 <-> npformer.models.GPT. Hugging Face stores GPT-2's projections as Conv1D, whose
weight is (in, out): transposed here to Linear's (out, in), and its q, k, v projections packed
in one c_attn matrix, split here into three."""
from ..models.gpt import GPT, GPTConfig
from .fields import activation, divides, flag, init_scale, number, probability, require, size
from .rules import per_layer, same, split_columns_transposed, transposed

MODEL_TYPE = "gpt2"
ARCHITECTURES = {"GPT2LMHeadModel": GPT, "GPT2Model": GPT}
PREFIX = "transformer"
ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu", "relu": "relu",
               "silu": "silu", "swish": "silu"}
# buffers of older checkpoints (the causal mask), recomputed here
IGNORED = [r"^transformer\.h\.\d+\.attn\.(bias|masked_bias)$"]


def config_from_hf(hf, architecture, dtype=None):
    require(hf, "scale_attn_weights", True, default=True)
    require(hf, "scale_attn_by_inverse_layer_idx", False, default=False)
    require(hf, "add_cross_attention", False, default=False)
    d_model, n_heads = size(hf, "n_embd"), size(hf, "n_head")
    divides(hf, "n_head", n_heads, "n_embd", d_model)
    return GPTConfig.gpt2(
        vocab_size=size(hf, "vocab_size"), max_positions=size(hf, "n_positions"), d_model=d_model,
        n_layers=size(hf, "n_layer"), n_heads=n_heads, d_ff=size(hf, "n_inner", 4 * d_model),
        activation=activation(hf, "activation_function", ACTIVATIONS),
        norm_eps=number(hf, "layer_norm_epsilon", 1e-5), dropout=probability(hf, "resid_pdrop", 0.1),
        embedding_dropout=probability(hf, "embd_pdrop", 0.1), attention_dropout=probability(hf, "attn_pdrop", 0.1),
        tie_embeddings=flag(hf, "tie_word_embeddings", True), init_std=init_scale(hf, "initializer_range", 0.02))


def matches(model):
    c = getattr(model, "config", None)
    return (isinstance(model, GPT) and c.position == "learned" and c.norm == "layernorm" and c.bias
            and c.activation in ("gelu_tanh", "gelu", "relu", "silu") and c.n_kv_heads in (None, c.n_heads))


def config_to_hf(model):
    c = model.config
    reverse = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu", "silu": "silu"}
    return {"model_type": MODEL_TYPE, "architectures": ["GPT2LMHeadModel"], "vocab_size": c.vocab_size,
            "n_positions": c.max_positions, "n_embd": c.d_model, "n_layer": c.n_layers, "n_head": c.n_heads,
            "n_inner": c.d_ff, "activation_function": reverse[c.activation], "layer_norm_epsilon": c.norm_eps,
            "resid_pdrop": c.dropout, "embd_pdrop": c.embedding_dropout, "attn_pdrop": c.attention_dropout,
            "tie_word_embeddings": c.tie_embeddings, "initializer_range": c.init_std, "scale_attn_weights": True,
            "bos_token_id": None, "eos_token_id": None}


def rules(model):
    c = model.config
    embedding = ("embed_tokens.weight", "lm_head.weight") if c.tie_embeddings else ("embed_tokens.weight",)

    def layer(i):
        hf, ours = f"transformer.h.{i}.", f"decoder.layers.{i}."
        attention = [ours + f"self_attn.{p}_proj" for p in "qkv"]
        return [
            same(hf + "ln_1.weight", ours + "self_attn_norm.weight"),
            same(hf + "ln_1.bias", ours + "self_attn_norm.bias"),
            split_columns_transposed(hf + "attn.c_attn.weight", [a + ".weight" for a in attention], 3),
            split_columns_transposed(hf + "attn.c_attn.bias", [a + ".bias" for a in attention], 3),
            transposed(hf + "attn.c_proj.weight", ours + "self_attn.out_proj.weight"),
            same(hf + "attn.c_proj.bias", ours + "self_attn.out_proj.bias"),
            same(hf + "ln_2.weight", ours + "ffn_norm.weight"),
            same(hf + "ln_2.bias", ours + "ffn_norm.bias"),
            transposed(hf + "mlp.c_fc.weight", ours + "ffn.up.weight"),
            same(hf + "mlp.c_fc.bias", ours + "ffn.up.bias"),
            transposed(hf + "mlp.c_proj.weight", ours + "ffn.down.weight"),
            same(hf + "mlp.c_proj.bias", ours + "ffn.down.bias"),
        ]

    table = [same("transformer.wte.weight", *embedding), same("transformer.wpe.weight", "embed_positions.weight")]
    table += per_layer(c.n_layers, layer)
    table += [same("transformer.ln_f.weight", "decoder.norm.weight"),
              same("transformer.ln_f.bias", "decoder.norm.bias")]
    if not c.tie_embeddings:
        table.append(same("lm_head.weight", "lm_head.weight"))
    return table


def ignored(model):
    return IGNORED + ([r"^lm_head\.weight$"] if model.config.tie_embeddings else [])
