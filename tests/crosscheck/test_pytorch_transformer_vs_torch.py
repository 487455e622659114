"""npformer.nn's PyTorch-named attention and Transformer modules against torch.nn's.

Each module is built by ONE function for both libraries, ``build(lib, F, dtype)`` with lib =
torch.nn or npformer.nn (the issue's promise: PyTorch code with only its imports changed). The
state-dict key lists must be equal, in order; torch's (randomised) state dict is loaded into
ours as NumPy arrays; then the outputs (attention weights included), the gradient of every
parameter and every input (float masks too, where marked) for an upstream gradient R (a fixed
random array) are compared in float64: relative error <= 1e-10, where relative error =
max |ours - torch| / max(max |torch|, 1).

Modules run in eval mode with gradients on, so torch takes its reference ("slow") path and
dropout is off; dropout in train mode is tested by its properties, and with p = 1, where it is
deterministic, against torch.
"""
import numpy as np
import pytest

import npformer as nf
import npformer.functional as nF
import npformer.nn as nn
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")
from tests.crosscheck.test_nn_vs_torch import randomise  # noqa: E402  (needs torch)

tF = torch.nn.functional

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True",
                                        "ignore:Support for mismatched key_padding_mask")

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
E, H, L, S, N = 8, 2, 4, 5, 3         # embed dim, heads, target length, source length, batch


def libraries(dtype):
    return ((torch.nn, tF, TORCH_DTYPE[dtype], torch.tensor), (nn, nF, dtype, nf.tensor))


def build_pair(build, dtype, seed=0, train=False):
    (tnn, tf, tdt, _), (onn, of, odt, _) = libraries(dtype)
    theirs = randomise(build(tnn, tf, tdt), seed).train(train)
    ours = build(onn, of, odt).train(train)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return theirs, ours


def _tuple(out):
    return out if isinstance(out, tuple) else (out,)


def check(what, build, call, inputs, masks=None, grad_masks=(), dtype=np.float64, seed=0):
    """Compare forward outputs and all gradients; ``call(module, tensors)`` runs the module on
    the dict of tensors (one library's), built from ``inputs`` (differentiable float arrays)
    and ``masks`` (constant unless named in ``grad_masks``)."""
    theirs, ours = build_pair(build, dtype, seed)
    masks = masks or {}
    tensors = {}
    for (_, _, _, make), side in zip(libraries(dtype), ("torch", "ours")):
        made = {k: make(v.astype(dtype), requires_grad=True) for k, v in inputs.items()}
        for k, v in masks.items():
            array = v if v.dtype == np.bool_ else v.astype(dtype)
            made[k] = make(array, requires_grad=k in grad_masks)
        tensors[side] = made
    torch_out, our_out = _tuple(call(theirs, tensors["torch"])), _tuple(call(ours, tensors["ours"]))
    assert [o is None for o in our_out] == [t is None for t in torch_out]
    errors = {}
    rng = np.random.default_rng(seed + 1)
    torch_loss = our_loss = 0
    for index, (o, t) in enumerate(zip(our_out, torch_out)):
        if t is None:
            continue
        assert o.shape == tuple(t.shape), f"output {index}: shape {o.shape} vs torch {tuple(t.shape)}"
        assert o.dtype == dtype
        errors[f"output {index}"] = relative_error(np.asarray(o), t.detach().numpy())
        upstream = rng.standard_normal(o.shape).astype(dtype)
        torch_loss = torch_loss + (t * torch.from_numpy(upstream)).sum()
        our_loss = our_loss + (o * nf.tensor(upstream)).sum()
    torch_loss.backward()
    our_loss.backward()
    pairs = [(f"grad {name}", dict(ours.named_parameters())[name], p) for name, p in theirs.named_parameters()]
    pairs += [(f"grad {name}", tensors["ours"][name], tensors["torch"][name]) for name in [*inputs, *grad_masks]]
    for name, o, t in pairs:
        expected = np.zeros(tuple(t.shape)) if t.grad is None else t.grad.numpy()
        actual = np.zeros(o.shape) if o.grad is None else np.asarray(o.grad)
        errors[name] = relative_error(actual, expected)
    worst = max(errors.values())
    record_torch_error(f"{what} {np.dtype(dtype).name}", worst)
    assert worst <= TOLERANCE[dtype], sorted(errors.items(), key=lambda item: -item[1])[:5]
    return theirs, ours


# ---------------------------------------------------------------------------- MultiheadAttention
rng = np.random.default_rng(12)
PADDING = np.zeros((N, S), dtype=bool)
PADDING[0, -2:] = PADDING[2, -1] = True                   # no query loses all its keys
SELF_PADDING = np.zeros((N, L), dtype=bool)
SELF_PADDING[1, -1] = SELF_PADDING[2, -2:] = True
BOOL_MASK = rng.random((L, S)) < 0.3
BOOL_MASK[:, 0] = False
FLOAT_MASK = np.where(BOOL_MASK, -np.inf, rng.standard_normal((L, S)))
BOOL_MASK_3D = rng.random((N * H, L, S)) < 0.3
BOOL_MASK_3D[..., 1] = False
FLOAT_MASK_3D = rng.standard_normal((N * H, L, S))
CAUSAL_BOOL = np.triu(np.ones((L, L), dtype=bool), 1)
CAUSAL_FLOAT = np.where(CAUSAL_BOOL, -np.inf, 0.0)


def _layout(batch_first, batched, length, width):
    if not batched:
        return (length, width)
    return (N, length, width) if batch_first else (length, N, width)


def _mha(attention="self", batch_first=False, batched=True, kdim=None, vdim=None, call=None, **options):
    """(build, call, inputs) for one MultiheadAttention case; ``attention`` is "self" (query is
    key is value), "memory" (key is value) or "cross" (three tensors)."""
    def build(lib, F, dtype):
        return lib.MultiheadAttention(E, H, batch_first=batch_first, kdim=kdim, vdim=vdim, dtype=dtype, **options)

    inputs = {"query": rng.standard_normal(_layout(batch_first, batched, L, E))}
    if attention != "self":
        inputs["key"] = rng.standard_normal(_layout(batch_first, batched, S, kdim or E))
    if attention == "cross":
        inputs["value"] = rng.standard_normal(_layout(batch_first, batched, S, vdim or E))
    call = call or {}

    def run(module, t):
        query = t["query"]
        key = t.get("key", query)
        value = t.get("value", key)
        arguments = {name: t[name] for name in ("key_padding_mask", "attn_mask") if name in t}
        return module(query, key, value, **arguments, **call)

    return build, run, inputs


MHA_CASES = {
    # id: (case options, masks, masks given a gradient)
    "self seq-first": (dict(), {}, ()),
    "self batch_first": (dict(batch_first=True), {}, ()),
    "self unbatched": (dict(batched=False), {}, ()),
    "cross seq-first": (dict(attention="cross"), {}, ()),
    "memory batch_first": (dict(attention="memory", batch_first=True), {}, ()),
    "padding bool": (dict(attention="memory", batch_first=True), {"key_padding_mask": PADDING}, ()),
    "padding float": (dict(attention="cross"), {"key_padding_mask": rng.standard_normal((N, S))},
                      ("key_padding_mask",)),
    "attn_mask bool 2d": (dict(attention="cross"), {"attn_mask": BOOL_MASK}, ()),
    "attn_mask float 2d": (dict(attention="cross", batch_first=True), {"attn_mask": FLOAT_MASK}, ("attn_mask",)),
    "attn_mask bool 3d": (dict(attention="memory"), {"attn_mask": BOOL_MASK_3D}, ()),
    "attn_mask float 3d": (dict(attention="cross", batch_first=True), {"attn_mask": FLOAT_MASK_3D}, ("attn_mask",)),
    "both masks bool": (dict(attention="cross"), {"attn_mask": BOOL_MASK, "key_padding_mask": PADDING}, ()),
    "both masks float": (dict(attention="cross"), {"attn_mask": FLOAT_MASK,
                                                    "key_padding_mask": np.where(PADDING, -np.inf, 0.5)},
                         ("attn_mask",)),
    "both masks bool, no weights": (dict(attention="cross", call=dict(need_weights=False)),
                                    {"attn_mask": BOOL_MASK, "key_padding_mask": PADDING}, ()),
    "is_causal float mask, no weights": (dict(call=dict(is_causal=True, need_weights=False)),
                                         {"attn_mask": CAUSAL_FLOAT}, ()),
    "is_causal bool mask, weights": (dict(batch_first=True, call=dict(is_causal=True)),
                                     {"attn_mask": CAUSAL_BOOL}, ()),
    "is_causal with padding": (dict(call=dict(is_causal=True, need_weights=False)),
                               {"attn_mask": CAUSAL_BOOL, "key_padding_mask": SELF_PADDING}, ()),
    "is_causal hint replaces the mask": (dict(call=dict(is_causal=True, need_weights=False)),
                                         {"attn_mask": rng.standard_normal((L, L))}, ()),
    "per-head weights": (dict(attention="cross", call=dict(average_attn_weights=False)),
                         {"key_padding_mask": PADDING}, ()),
    "no weights": (dict(batch_first=True, call=dict(need_weights=False)), {}, ()),
    "kdim vdim": (dict(attention="cross", kdim=6, vdim=5), {"key_padding_mask": PADDING}, ()),
    "kdim vdim batch_first no bias": (dict(attention="cross", kdim=6, vdim=3, batch_first=True, bias=False,
                                           call=dict(average_attn_weights=False)), {"attn_mask": BOOL_MASK}, ()),
    "kdim only, memory": (dict(attention="memory", kdim=6, vdim=6, call=dict(need_weights=False)), {}, ()),
    "add_bias_kv": (dict(attention="cross", add_bias_kv=True),
                    {"attn_mask": FLOAT_MASK, "key_padding_mask": PADDING}, ()),
    "add_zero_attn": (dict(attention="cross", add_zero_attn=True, batch_first=True),
                      {"attn_mask": BOOL_MASK_3D, "key_padding_mask": PADDING}, ()),
    "bias_kv and zero_attn, no weights": (dict(attention="memory", add_bias_kv=True, add_zero_attn=True,
                                               call=dict(need_weights=False)),
                                          {"attn_mask": BOOL_MASK, "key_padding_mask": PADDING}, ()),
    "bias_kv, zero_attn, kdim": (dict(attention="cross", add_bias_kv=True, add_zero_attn=True, kdim=3, vdim=7,
                                      call=dict(average_attn_weights=False)), {"attn_mask": FLOAT_MASK}, ()),
    "no bias": (dict(bias=False), {}, ()),
    "unbatched masks per head": (dict(attention="cross", batched=False, call=dict(average_attn_weights=False)),
                                 {"attn_mask": BOOL_MASK_3D[:H], "key_padding_mask": PADDING[0]}, ()),
    "unbatched bias_kv no weights": (dict(attention="memory", batched=False, add_bias_kv=True,
                                          call=dict(need_weights=False)),
                                     {"attn_mask": FLOAT_MASK, "key_padding_mask": PADDING[2]}, ("attn_mask",)),
    "dropout in eval": (dict(attention="cross", dropout=0.5), {"key_padding_mask": PADDING}, ()),
}


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_matches_torch(case):
    options, masks, grad_masks = MHA_CASES[case]
    build, run, inputs = _mha(**options)
    check(f"MultiheadAttention {case}", build, run, inputs, masks, grad_masks)


@pytest.mark.parametrize("case", ["both masks bool", "kdim vdim", "bias_kv, zero_attn, kdim"])
def test_multihead_attention_matches_torch_in_float32(case):
    options, masks, grad_masks = MHA_CASES[case]
    build, run, inputs = _mha(**options)
    check(f"MultiheadAttention {case}", build, run, inputs, masks, grad_masks, dtype=np.float32)


def test_multihead_attention_documented_example():
    """torch's docstring: multihead_attn = nn.MultiheadAttention(embed_dim, num_heads);
    attn_output, attn_output_weights = multihead_attn(query, key, value)."""
    embed_dim, num_heads = 16, 4
    inputs = {name: rng.standard_normal((length, 2, embed_dim)) for name, length in
              (("query", 7), ("key", 9), ("value", 9))}
    check("MultiheadAttention documented example", lambda lib, F, dtype: lib.MultiheadAttention(
        embed_dim, num_heads, dtype=dtype), lambda m, t: m(t["query"], t["key"], t["value"]), inputs)


def test_multihead_attention_without_gradients_matches_torch_fast_path():
    """eval + no_grad + batch_first self-attention is torch's native fast path: same numbers."""
    theirs, ours = build_pair(lambda lib, F, dtype: lib.MultiheadAttention(E, H, batch_first=True, dtype=dtype),
                              np.float64)
    x = rng.standard_normal((N, L, E))
    for masks in ({}, {"key_padding_mask": SELF_PADDING}, {"attn_mask": CAUSAL_BOOL}):
        with torch.no_grad():
            t = torch.from_numpy(x)
            expected = theirs(t, t, t, **{k: torch.from_numpy(v) for k, v in masks.items()})
        with nf.no_grad():
            o = nf.tensor(x)
            actual = ours(o, o, o, **{k: nf.tensor(v) for k, v in masks.items()})
        error = max(relative_error(np.asarray(a), e.numpy()) for a, e in zip(actual, expected))
        record_torch_error("MultiheadAttention fast path float64", error)
        assert error <= 1e-10


# ---------------------------------------------------------------------------- layers
def _encoder_layer(**options):
    def build(lib, F, dtype):
        options_here = dict(options)
        if options_here.get("activation") == "silu":
            options_here["activation"] = F.silu             # a callable of the module's own library
        return lib.TransformerEncoderLayer(E, H, dim_feedforward=12, dtype=dtype, **options_here)
    return build


LAYER_CASES = {
    "post-norm relu, padding": (dict(), "seq", {"src_key_padding_mask": SELF_PADDING}, {}),
    "norm_first gelu batch_first, bool mask": (dict(norm_first=True, activation="gelu", batch_first=True), "batch",
                                               {"src_mask": BOOL_MASK[:, :L]}, {}),
    "callable activation, no bias, unbatched": (dict(activation="silu", bias=False), "unbatched",
                                                {"src_key_padding_mask": SELF_PADDING[2]}, {}),
    "eps, is_causal with mask": (dict(layer_norm_eps=1e-3, batch_first=True), "batch", {"src_mask": CAUSAL_FLOAT},
                                 {"is_causal": True}),
    "float masks, 3d": (dict(norm_first=True), "seq", {"src_mask": rng.standard_normal((N * H, L, L)),
                                                       "src_key_padding_mask": np.where(SELF_PADDING, -np.inf, 0.0)},
                        {}),
}


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_transformer_encoder_layer_matches_torch(case):
    options, layout, masks, call = LAYER_CASES[case]
    shape = {"seq": (L, N, E), "batch": (N, L, E), "unbatched": (L, E)}[layout]
    check(f"TransformerEncoderLayer {case}", _encoder_layer(**options),
          lambda m, t: m(t["src"], **{k: t[k] for k in masks}, **call), {"src": rng.standard_normal(shape)}, masks)


DECODER_CASES = {
    "post-norm relu, causal float, memory padding": (dict(), "seq", {"tgt_mask": CAUSAL_FLOAT,
                                                                     "memory_key_padding_mask": PADDING}, {}),
    "norm_first gelu batch_first, bool masks": (dict(norm_first=True, activation="gelu", batch_first=True), "batch",
                                                {"memory_mask": BOOL_MASK, "tgt_key_padding_mask": SELF_PADDING,
                                                 "tgt_mask": CAUSAL_BOOL}, {}),
    "unbatched no bias": (dict(bias=False), "unbatched", {"tgt_mask": CAUSAL_BOOL,
                                                          "memory_key_padding_mask": PADDING[0]}, {}),
    "tgt_is_causal hint": (dict(batch_first=True), "batch", {"tgt_mask": CAUSAL_FLOAT}, {"tgt_is_causal": True}),
}


def _shapes(layout, length):
    return {"seq": (length, N, E), "batch": (N, length, E), "unbatched": (length, E)}[layout]


@pytest.mark.parametrize("case", list(DECODER_CASES))
def test_transformer_decoder_layer_matches_torch(case):
    options, layout, masks, call = DECODER_CASES[case]
    inputs = {"tgt": rng.standard_normal(_shapes(layout, L)), "memory": rng.standard_normal(_shapes(layout, S))}
    check(f"TransformerDecoderLayer {case}",
          lambda lib, F, dtype: lib.TransformerDecoderLayer(E, H, dim_feedforward=12, dtype=dtype, **options),
          lambda m, t: m(t["tgt"], t["memory"], **{k: t[k] for k in masks}, **call), inputs, masks)


# ---------------------------------------------------------------------------- stacks and Transformer
def test_transformer_encoder_stack_with_final_norm():
    def build(lib, F, dtype):
        layer = lib.TransformerEncoderLayer(E, H, 12, dtype=dtype)
        return lib.TransformerEncoder(layer, 3, norm=lib.LayerNorm(E, dtype=dtype))
    check("TransformerEncoder 3 layers + norm", build,
          lambda m, t: m(t["src"], src_key_padding_mask=t["pad"]), {"src": rng.standard_normal((L, N, E))},
          {"pad": SELF_PADDING})


def test_transformer_encoder_stack_detects_a_causal_mask():
    def build(lib, F, dtype):
        return lib.TransformerEncoder(lib.TransformerEncoderLayer(E, H, 12, batch_first=True, norm_first=True,
                                                                  activation="gelu", dtype=dtype), 2)
    check("TransformerEncoder batch_first causal", build,
          lambda m, t: m(t["src"], mask=t["mask"], src_key_padding_mask=t["pad"]),
          {"src": rng.standard_normal((N, L, E))}, {"mask": CAUSAL_BOOL, "pad": SELF_PADDING})


def test_transformer_decoder_stack_with_final_norm():
    def build(lib, F, dtype):
        layer = lib.TransformerDecoderLayer(E, H, 12, batch_first=True, dtype=dtype)
        return lib.TransformerDecoder(layer, 2, norm=lib.LayerNorm(E, dtype=dtype))
    check("TransformerDecoder 2 layers + norm", build,
          lambda m, t: m(t["tgt"], t["memory"], tgt_mask=t["mask"], memory_key_padding_mask=t["pad"]),
          {"tgt": rng.standard_normal((N, L, E)), "memory": rng.standard_normal((N, S, E))},
          {"mask": CAUSAL_FLOAT, "pad": PADDING})


SOURCE_MASK = np.where((rng.random((S, S)) < 0.2) & ~np.eye(S, dtype=bool), -np.inf, 0.0)   # float, keeps the diagonal
TRANSFORMER_CASES = {
    "defaults, all masks": (dict(), "seq", {"src_mask": SOURCE_MASK, "tgt_mask": CAUSAL_FLOAT, "memory_mask": BOOL_MASK,
                                            "src_key_padding_mask": PADDING, "tgt_key_padding_mask": SELF_PADDING,
                                            "memory_key_padding_mask": PADDING}),
    "batch_first norm_first gelu no bias": (dict(batch_first=True, norm_first=True, activation="gelu", bias=False),
                                            "batch", {"tgt_mask": CAUSAL_BOOL, "src_key_padding_mask": PADDING,
                                                      "memory_key_padding_mask": PADDING}),
    "unbatched": (dict(), "unbatched", {"tgt_mask": CAUSAL_FLOAT, "src_key_padding_mask": PADDING[1],
                                        "memory_key_padding_mask": PADDING[1]}),
}


@pytest.mark.parametrize("case", list(TRANSFORMER_CASES))
def test_transformer_end_to_end(case):
    options, layout, masks = TRANSFORMER_CASES[case]
    inputs = {"src": rng.standard_normal(_shapes(layout, S)), "tgt": rng.standard_normal(_shapes(layout, L))}
    check(f"Transformer {case}", lambda lib, F, dtype: lib.Transformer(
        E, H, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=12, dtype=dtype, **options),
        lambda m, t: m(t["src"], t["tgt"], **{k: t[k] for k in masks}), inputs, masks)


def test_transformer_end_to_end_in_float32():
    options, layout, masks = TRANSFORMER_CASES["defaults, all masks"]
    inputs = {"src": rng.standard_normal(_shapes(layout, S)), "tgt": rng.standard_normal(_shapes(layout, L))}
    check("Transformer defaults, all masks", lambda lib, F, dtype: lib.Transformer(
        E, H, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=12, dtype=dtype),
        lambda m, t: m(t["src"], t["tgt"], **{k: t[k] for k in masks}), inputs, masks, dtype=np.float32)


def test_transformer_with_custom_encoder_and_decoder():
    def build(lib, F, dtype):
        encoder = lib.TransformerEncoder(lib.TransformerEncoderLayer(E, H, 12, dtype=dtype), 1)
        decoder = lib.TransformerDecoder(lib.TransformerDecoderLayer(E, H, 12, dtype=dtype), 1)
        return lib.Transformer(E, H, custom_encoder=encoder, custom_decoder=decoder, dtype=dtype)
    check("Transformer custom encoder/decoder", build, lambda m, t: m(t["src"], t["tgt"]),
          {"src": rng.standard_normal((S, N, E)), "tgt": rng.standard_normal((L, N, E))})


def test_generate_square_subsequent_mask_is_torchs():
    for size in (1, 4, 7):
        ours = nn.Transformer.generate_square_subsequent_mask(size)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(size)
        assert ours.dtype == nf.get_default_dtype()
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())
    ours = nn.Transformer.generate_square_subsequent_mask(3, dtype=nf.float64)
    assert ours.dtype == np.float64


# ---------------------------------------------------------------------------- PyTorch's examples
EXAMPLE_D = 32
EXAMPLE_INPUTS = {name: rng.standard_normal(shape) for name, shape in
                  (("src", (10, 2, EXAMPLE_D)), ("memory", (10, 2, EXAMPLE_D)), ("tgt", (20, 2, EXAMPLE_D)))}
# name: (build(lib, F, dtype), call(module, tensors), the inputs it takes). The single layers keep
# the default dim_feedforward=2048; the stacks use 64 so that the test stays quick.
EXAMPLES = {
    "encoder layer": (lambda lib, F, dt: lib.TransformerEncoderLayer(d_model=EXAMPLE_D, nhead=8, dtype=dt),
                      lambda m, t: m(t["src"]), ("src",)),
    "encoder layer batch_first": (lambda lib, F, dt: lib.TransformerEncoderLayer(
        d_model=EXAMPLE_D, nhead=8, batch_first=True, dtype=dt), lambda m, t: m(t["src"].transpose(1, 0)), ("src",)),
    "encoder": (lambda lib, F, dt: lib.TransformerEncoder(lib.TransformerEncoderLayer(
        d_model=EXAMPLE_D, nhead=8, dim_feedforward=64, dtype=dt), num_layers=6), lambda m, t: m(t["src"]), ("src",)),
    "decoder layer": (lambda lib, F, dt: lib.TransformerDecoderLayer(d_model=EXAMPLE_D, nhead=8, dtype=dt),
                      lambda m, t: m(t["tgt"], t["memory"]), ("tgt", "memory")),
    "decoder layer batch_first": (lambda lib, F, dt: lib.TransformerDecoderLayer(
        d_model=EXAMPLE_D, nhead=8, dim_feedforward=64, batch_first=True, dtype=dt),
        lambda m, t: m(t["tgt"].transpose(1, 0), t["memory"].transpose(1, 0)), ("tgt", "memory")),
    "decoder": (lambda lib, F, dt: lib.TransformerDecoder(lib.TransformerDecoderLayer(
        d_model=EXAMPLE_D, nhead=8, dim_feedforward=64, dtype=dt), num_layers=6),
        lambda m, t: m(t["tgt"], t["memory"]), ("tgt", "memory")),
    "transformer": (lambda lib, F, dt: lib.Transformer(d_model=EXAMPLE_D, nhead=16, num_encoder_layers=12,
                                                       dim_feedforward=64, dtype=dt),
                    lambda m, t: m(t["src"], t["tgt"]), ("src", "tgt")),
}


@pytest.mark.parametrize("example", list(EXAMPLES))
def test_documented_examples_scaled_down(example):
    """The docstring examples of torch.nn's Transformer classes (d_model 32 instead of 512)."""
    build, call, names = EXAMPLES[example]
    check(f"documented example: {example}", build, call, {name: EXAMPLE_INPUTS[name] for name in names})


def test_word_language_model_style_usage():
    """The pattern of PyTorch's word-language-model example: a TransformerEncoder run with
    generate_square_subsequent_mask (seq-first) and the mask made by each library itself."""
    def build(lib, F, dtype):
        return lib.TransformerEncoder(lib.TransformerEncoderLayer(16, 2, 32, 0.2, dtype=dtype), 2)

    def run(module, t):
        lib = torch.nn if isinstance(module, torch.nn.Module) else nn
        mask = lib.Transformer.generate_square_subsequent_mask(t["src"].shape[0], dtype=t["src"].dtype)
        return module(t["src"], mask)
    check("word language model pattern", build, run, {"src": rng.standard_normal((6, 2, 16))})


# ---------------------------------------------------------------------------- eval without gradients
@pytest.mark.parametrize("mask_check", [True, False])
@pytest.mark.parametrize("aligned", [True, False])
def test_encoder_without_gradients_matches_torchs_nested_path(mask_check, aligned):
    """torch, in eval mode without autograd, runs a batch_first post-norm encoder on nested
    tensors: outputs at padded positions are 0 (before the final norm). A padding mask that is
    not left-aligned takes the masked path with mask_check, and without it is read as
    left-aligned (row i = its first n_i positions). Ours gives the same numbers in all four."""
    def build(lib, F, dtype):
        layer = lib.TransformerEncoderLayer(E, H, 12, batch_first=True, dtype=dtype)
        return lib.TransformerEncoder(layer, 2, norm=lib.LayerNorm(E, dtype=dtype), mask_check=mask_check)
    theirs, ours = build_pair(build, np.float64)
    x = rng.standard_normal((N, L, E))
    padding = SELF_PADDING.copy()
    if aligned:
        padding[0] = True                                        # a sequence that is all padding
    else:                                                        # (on the masked path torch gives NaN for it)
        padding[2] = [True, False, True, False]
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x), src_key_padding_mask=torch.from_numpy(padding)).numpy()
    with nf.no_grad():
        actual = np.asarray(ours(nf.tensor(x), src_key_padding_mask=nf.tensor(padding)))
    if aligned:                                                  # torch's own behaviour: norm(0) = bias
        assert np.allclose(expected[padding], theirs.norm.bias.detach().numpy())
    error = relative_error(actual, expected)
    record_torch_error(f"TransformerEncoder nested path mask_check={mask_check} aligned={aligned} float64", error)
    assert error <= 1e-10


# ---------------------------------------------------------------------------- dropout in train mode
@pytest.mark.parametrize("norm_first", [False, True])
def test_dropout_one_in_train_mode_matches_torch(norm_first):
    """With p = 1 every dropout zeroes its input: the layers reduce to their norms (post-norm)
    or the identity (pre-norm), deterministically; torch in train mode agrees."""
    def build(lib, F, dtype):
        return lib.Transformer(E, H, 1, 1, 12, dropout=1.0, norm_first=norm_first, dtype=dtype)
    theirs, ours = build_pair(build, np.float64, train=True)
    src, tgt = rng.standard_normal((S, N, E)), rng.standard_normal((L, N, E))
    expected = theirs(torch.from_numpy(src), torch.from_numpy(tgt)).detach().numpy()
    actual = np.asarray(ours(nf.tensor(src), nf.tensor(tgt)))
    error = relative_error(actual, expected)
    record_torch_error(f"Transformer dropout=1 train norm_first={norm_first} float64", error)
    assert error <= 1e-10


def test_attention_dropout_in_train_mode_zeroes_and_rescales_weights():
    m = nn.MultiheadAttention(16, 4, dropout=0.4, batch_first=True, dtype=np.float64)
    x = nf.tensor(rng.standard_normal((8, 12, 16)))
    nf.manual_seed(3)
    dropped = np.asarray(m(x, x, x, average_attn_weights=False)[1])       # (N, H, L, S)
    nf.manual_seed(3)
    again = np.asarray(m(x, x, x, average_attn_weights=False)[1])
    m.eval()
    clean = np.asarray(m(x, x, x, average_attn_weights=False)[1])
    np.testing.assert_array_equal(dropped, again)                          # seeded: reproducible
    zero = dropped == 0
    assert np.allclose(dropped[~zero], clean[~zero] / 0.6, rtol=1e-12, atol=0)   # survivors scaled by 1/(1-p)
    fraction = zero.mean()                                                 # 8*4*12*12 = 4608 draws
    assert abs(fraction - 0.4) < 5 * np.sqrt(0.4 * 0.6 / zero.size)
    m.train()
    out_train = np.asarray(m(x, x, x)[0])
    m.eval()
    assert not np.allclose(out_train, np.asarray(m(x, x, x)[0]))


def test_layer_dropout_in_train_mode_scales_survivors():
    """The encoder layer's dropouts: with linear2 and out_proj zeroed but their biases kept, the
    pre-norm layer outputs x + dropout1(b_out) + dropout2(b2): each bias element appears as 0 or
    b / (1 - p), and about p of them are zero."""
    p = 0.3
    layer = nn.TransformerEncoderLayer(E, H, 12, dropout=p, norm_first=True, batch_first=True, dtype=np.float64)
    for name, param in layer.named_parameters():
        if name in ("linear2.weight", "self_attn.out_proj.weight"):
            param._data[...] = 0
    layer.linear2.bias._data[...] = 1.0
    layer.self_attn.out_proj.bias._data[...] = 2.0
    x = rng.standard_normal((64, L, E))
    nf.manual_seed(0)
    added = np.asarray(layer(nf.tensor(x))) - x
    scale = 1 / (1 - p)
    allowed = np.array([0.0, 1.0 * scale, 2.0 * scale, 3.0 * scale])
    assert np.min(np.abs(added[..., None] - allowed), axis=-1).max() < 1e-12
    first_zero = np.isclose(added, 0) | np.isclose(added, 1.0 * scale)     # dropout1 zeroed out_proj's bias
    assert abs(first_zero.mean() - p) < 5 * np.sqrt(p * (1 - p) / added.size)


def test_a_torch_state_dict_loads_as_it_is():
    """load_state_dict takes torch's own state dict (CPU tensors), no conversion step."""
    theirs = torch.nn.Transformer(E, H, 1, 1, 12, dtype=torch.float64).eval()
    ours = nn.Transformer(E, H, 1, 1, 12, dtype=np.float64).eval()
    ours.load_state_dict(theirs.state_dict())
    src, tgt = rng.standard_normal((S, N, E)), rng.standard_normal((L, N, E))
    expected = theirs(torch.from_numpy(src), torch.from_numpy(tgt)).detach().numpy()
    error = relative_error(np.asarray(ours(nf.tensor(src), nf.tensor(tgt))), expected)
    record_torch_error("Transformer loads torch's state_dict float64", error)
    assert error <= 1e-10
