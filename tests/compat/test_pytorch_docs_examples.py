"""PyTorch's documented usage of nn.MultiheadAttention, nn.TransformerEncoder(Layer),
nn.TransformerDecoder(Layer), nn.Transformer and F.scaled_dot_product_attention, run by torch
and by npformer with only the imports changed; torch's weights are copied into npformer's, and
outputs, attention weights and the gradients of every input and parameter must agree in
float64 (relative error <= 1e-10). Modules run in training mode with dropout 0, so torch
computes its reference math (no inference fast path)."""
import numpy as np
import pytest

from tests.compat.harness import assert_close, assert_grads_close, copy_state, load_pair

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

import npformer  # noqa: E402


@pytest.fixture
def programs(float64):
    return load_pair("pytorch_docs_examples")


def _inputs(rng, *shapes):
    arrays = [rng.standard_normal(shape) for shape in shapes]
    return ([torch.tensor(a, requires_grad=True) for a in arrays],
            [npformer.tensor(a, requires_grad=True) for a in arrays])


def _pair(array):
    return (None, None) if array is None else (torch.tensor(array), npformer.tensor(array))


def _build(programs, builder, *args, **kwargs):
    theirs, ours = (getattr(module, builder)(*args, **kwargs) for module in programs)
    copy_state(theirs, ours)
    return theirs, ours


def _backward_and_compare(what, outs, ins, modules, rng):
    """Backward a random upstream gradient through the first output; compare every gradient."""
    (out_t, out_o), (ins_t, ins_o), (theirs, ours) = outs, ins, modules
    upstream = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(upstream))
    out_o.backward(npformer.tensor(upstream))
    for index, (a, b) in enumerate(zip(ins_o, ins_t)):
        assert_close(f"{what} grad input {index}", a.grad, b.grad)
    assert_grads_close(what, ours, theirs)


# ----------------------------------------------------------------------- MultiheadAttention
def _padding(batch, length):
    mask = np.zeros((batch, length), dtype=bool)
    mask[0, -2:] = True  # True = padding, not attended (PyTorch's key_padding_mask convention)
    return mask


MHA_CASES = {
    # name: (batch_first, key_padding, attn_mask kind, average weights)
    "seq-first": (False, False, None, True),
    "batch-first": (True, False, None, True),
    "seq-first padding": (False, True, None, True),
    "batch-first bool mask": (True, False, "bool", True),
    "batch-first float mask per-head weights": (True, True, "float", False),
    "seq-first 3-D mask": (False, False, "3d", True),
}


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention(programs, case):
    batch_first, padding, mask_kind, average = MHA_CASES[case]
    embed_dim, num_heads, batch, L, S = 8, 2, 3, 4, 5
    rng = np.random.default_rng(0)
    theirs, ours = _build(programs, "multihead_attention", embed_dim, num_heads, batch_first=batch_first)
    shape_q = (batch, L, embed_dim) if batch_first else (L, batch, embed_dim)
    shape_kv = (batch, S, embed_dim) if batch_first else (S, batch, embed_dim)
    ins_t, ins_o = _inputs(rng, shape_q, shape_kv, shape_kv)
    attn_mask = {None: None, "bool": np.triu(np.ones((L, S), dtype=bool), 1),
                 "float": rng.standard_normal((L, S)),
                 "3d": rng.standard_normal((batch * num_heads, L, S))}[mask_kind]
    kpm = _padding(batch, S) if padding else None
    if kpm is not None and mask_kind == "float":  # torch wants both masks of one kind
        kpm = np.where(kpm, -np.inf, 0.0)
    outs = [module.run_multihead_attention(model, *ins, key_padding_mask=_pair(kpm)[i],
                                           attn_mask=_pair(attn_mask)[i], average_attn_weights=average)
            for i, (module, model, ins) in enumerate(zip(programs, (theirs, ours), (ins_t, ins_o)))]
    (out_t, w_t), (out_o, w_o) = outs
    assert tuple(out_o.shape) == tuple(out_t.shape) and tuple(w_o.shape) == tuple(w_t.shape)
    assert_close(f"docs MHA {case} output", out_o, out_t)
    assert_close(f"docs MHA {case} weights", w_o, w_t)
    _backward_and_compare(f"docs MHA {case}", (out_t, out_o), (ins_t, ins_o), (theirs, ours), rng)


def test_multihead_attention_kdim_vdim(programs):
    rng = np.random.default_rng(1)
    theirs, ours = _build(programs, "multihead_attention", 8, 4, batch_first=True, kdim=6, vdim=5)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ins_t, ins_o = _inputs(rng, (2, 3, 8), (2, 4, 6), (2, 4, 5))
    (out_t, w_t), (out_o, w_o) = (module.run_multihead_attention(model, *ins)
                                  for module, model, ins in zip(programs, (theirs, ours), (ins_t, ins_o)))
    assert_close("docs MHA kdim/vdim output", out_o, out_t)
    assert_close("docs MHA kdim/vdim weights", w_o, w_t)
    _backward_and_compare("docs MHA kdim/vdim", (out_t, out_o), (ins_t, ins_o), (theirs, ours), rng)


def test_multihead_self_attention_need_weights_false(programs):
    rng = np.random.default_rng(2)
    theirs, ours = _build(programs, "multihead_attention", 8, 2, bias=False)
    (x_t,), (x_o,) = _inputs(rng, (5, 2, 8))
    out_t, out_o = (module.run_self_attention_no_weights(model, x)
                    for module, model, x in zip(programs, (theirs, ours), (x_t, x_o)))
    assert_close("docs MHA need_weights=False output", out_o, out_t)
    _backward_and_compare("docs MHA need_weights=False", (out_t, out_o), ([x_t], [x_o]), (theirs, ours), rng)


# ----------------------------------------------------------------------- encoder
ENCODER_CASES = {
    # name: (builder kwargs, causal mask, key padding)
    "seq-first relu": (dict(), False, False),
    "batch-first gelu padding": (dict(batch_first=True, activation="gelu"), False, True),
    "norm-first causal final-norm": (dict(norm_first=True, final_norm=True), True, False),
    "batch-first causal padding": (dict(batch_first=True), True, True),
}


@pytest.mark.parametrize("case", list(ENCODER_CASES))
def test_transformer_encoder(programs, case):
    kwargs, causal, padding = ENCODER_CASES[case]
    d_model, nhead, batch, S = 8, 2, 3, 5
    rng = np.random.default_rng(3)
    theirs, ours = _build(programs, "encoder", d_model, nhead, num_layers=2, dim_feedforward=16, **kwargs)
    shape = (batch, S, d_model) if kwargs.get("batch_first") else (S, batch, d_model)
    ins_t, ins_o = _inputs(rng, shape)
    masks = [module.causal_mask(S) if causal else None for module in programs]
    if causal:
        assert_close("docs generate_square_subsequent_mask", masks[1], masks[0])
    kpm = _pair(_padding(batch, S) if padding else None)
    out_t, out_o = (module.run_encoder(model, ins[0], mask=masks[i], src_key_padding_mask=kpm[i])
                    for i, (module, model, ins) in enumerate(zip(programs, (theirs, ours), (ins_t, ins_o))))
    assert_close(f"docs TransformerEncoder {case} output", out_o, out_t)
    _backward_and_compare(f"docs TransformerEncoder {case}", (out_t, out_o), (ins_t, ins_o), (theirs, ours), rng)


def test_transformer_encoder_layer_alone(programs):
    rng = np.random.default_rng(4)
    theirs, ours = _build(programs, "encoder_layer", 8, 4, dim_feedforward=12, batch_first=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ins_t, ins_o = _inputs(rng, (2, 6, 8))
    out_t, out_o = (module.run_encoder_layer(model, ins[0])
                    for module, model, ins in zip(programs, (theirs, ours), (ins_t, ins_o)))
    assert_close("docs TransformerEncoderLayer output", out_o, out_t)
    _backward_and_compare("docs TransformerEncoderLayer", (out_t, out_o), (ins_t, ins_o), (theirs, ours), rng)


def test_transformer_encoder_eval_no_grad(programs):
    """Inference as the documentation shows it: eval mode under no_grad (torch may take its fast path)."""
    theirs, ours = _build(programs, "encoder", 8, 2, num_layers=2, dim_feedforward=16, batch_first=True)
    theirs.eval(), ours.eval()
    x = np.random.default_rng(5).standard_normal((2, 5, 8))
    with torch.no_grad():
        out_t = programs[0].run_encoder(theirs, torch.tensor(x))
    with npformer.no_grad():
        out_o = programs[1].run_encoder(ours, npformer.tensor(x))
    assert_close("docs TransformerEncoder eval no_grad", out_o, out_t)


# ----------------------------------------------------------------------- decoder
@pytest.mark.parametrize("batch_first, norm_first", [(False, False), (True, True)])
def test_transformer_decoder_layer(programs, batch_first, norm_first):
    d_model, nhead, batch, T, S = 8, 2, 2, 4, 5
    rng = np.random.default_rng(6)
    theirs, ours = _build(programs, "decoder_layer", d_model, nhead, dim_feedforward=16, batch_first=batch_first,
                          norm_first=norm_first)
    shapes = [(batch, T, d_model), (batch, S, d_model)] if batch_first else [(T, batch, d_model), (S, batch, d_model)]
    ins_t, ins_o = _inputs(rng, *shapes)
    masks = [module.causal_mask(T) for module in programs]
    mpm = _pair(_padding(batch, S))
    out_t, out_o = (module.run_decoder(model, ins[0], ins[1], tgt_mask=masks[i], memory_key_padding_mask=mpm[i])
                    for i, (module, model, ins) in enumerate(zip(programs, (theirs, ours), (ins_t, ins_o))))
    what = f"docs TransformerDecoderLayer batch_first={batch_first} norm_first={norm_first}"
    assert_close(f"{what} output", out_o, out_t)
    _backward_and_compare(what, (out_t, out_o), (ins_t, ins_o), (theirs, ours), rng)


def test_transformer_decoder(programs):
    rng = np.random.default_rng(7)
    theirs, ours = _build(programs, "decoder", 8, 2, num_layers=2, dim_feedforward=16)
    ins_t, ins_o = _inputs(rng, (4, 2, 8), (6, 2, 8))
    masks = [module.causal_mask(4) for module in programs]
    out_t, out_o = (module.run_decoder(model, ins[0], ins[1], tgt_mask=masks[i])
                    for i, (module, model, ins) in enumerate(zip(programs, (theirs, ours), (ins_t, ins_o))))
    assert_close("docs TransformerDecoder output", out_o, out_t)
    _backward_and_compare("docs TransformerDecoder", (out_t, out_o), (ins_t, ins_o), (theirs, ours), rng)


# ----------------------------------------------------------------------- nn.Transformer
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer(programs, batch_first):
    d_model, batch, S, T = 8, 2, 5, 4
    rng = np.random.default_rng(8)
    theirs, ours = _build(programs, "transformer", d_model, 2, num_encoder_layers=2, num_decoder_layers=2,
                          dim_feedforward=16, batch_first=batch_first)
    shapes = [(batch, S, d_model), (batch, T, d_model)] if batch_first else [(S, batch, d_model), (T, batch, d_model)]
    ins_t, ins_o = _inputs(rng, *shapes)
    spm = _pair(_padding(batch, S))
    out_t, out_o = (module.run_transformer(model, ins[0], ins[1], src_key_padding_mask=spm[i])
                    for i, (module, model, ins) in enumerate(zip(programs, (theirs, ours), (ins_t, ins_o))))
    assert tuple(out_o.shape) == tuple(out_t.shape)
    assert_close(f"docs Transformer batch_first={batch_first} output", out_o, out_t)
    _backward_and_compare(f"docs Transformer batch_first={batch_first}", (out_t, out_o), (ins_t, ins_o),
                          (theirs, ours), rng)


# ----------------------------------------------------------------------- F.scaled_dot_product_attention
SDPA_CASES = {
    "plain": dict(),
    "causal": dict(is_causal=True),
    "bool mask": dict(mask="bool"),
    "float mask scale": dict(mask="float", scale=0.3),
}


@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_scaled_dot_product_attention(programs, case):
    params = dict(SDPA_CASES[case])
    mask_kind = params.pop("mask", None)
    rng = np.random.default_rng(9)
    ins_t, ins_o = _inputs(rng, (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7))
    if case == "causal":  # is_causal aligns the mask to the top-left: square query/key here
        ins_t, ins_o = _inputs(rng, (2, 3, 6, 5), (2, 3, 6, 5), (2, 3, 6, 7))
    mask = {None: None, "bool": rng.random((2, 1, 4, 6)) > 0.3, "float": rng.standard_normal((4, 6))}[mask_kind]
    if mask_kind == "bool":
        mask[..., 0] = True  # every query attends somewhere
    masks = _pair(mask)
    out_t, out_o = (module.sdpa(*ins, attn_mask=masks[i], **params)
                    for i, (module, ins) in enumerate(zip(programs, (ins_t, ins_o))))
    assert_close(f"docs sdpa {case} output", out_o, out_t)
    upstream = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(upstream))
    out_o.backward(npformer.tensor(upstream))
    for name, a, b in zip("qkv", ins_o, ins_t):
        assert_close(f"docs sdpa {case} grad {name}", a.grad, b.grad)
