"""npformer.nn blocks against torch.nn: AttentionHeads against torch.nn.MultiheadAttention,
TransformerBlock against torch.nn.TransformerEncoderLayer and TransformerDecoderLayer, with
torch's (randomised) weights copied over through one name-mapping table.

For each case the forward output and the gradient of every parameter and every input, for
an upstream gradient R (a fixed random array), are compared in float64 (relative error
<= 1e-10) and float32 (<= 1e-5), where relative error = max |ours - torch| / max(max |torch|, 1).

torch's modules stay in training mode with dropout=0.0: deterministic, and off the
inference "fast path" (which in any case needs autograd off), so torch computes the
reference math.
"""
import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import npformer as nf
import npformer.nn as nn
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}
DTYPES = (np.float64, np.float32)
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
EXAMPLES = settings(max_examples=4)


# ---------------------------------------------------------------------------- the name mapping
def _attention_rows(ours, theirs, d_model):
    """torch packs q, k, v into in_proj_weight (3E, E) / in_proj_bias (3E,): rows [0:E] are q."""
    rows = []
    for index, proj in enumerate("qkv"):
        part = slice(index * d_model, (index + 1) * d_model)
        rows.append((f"{ours}{proj}_proj.weight", f"{theirs}in_proj_weight", part))
        rows.append((f"{ours}{proj}_proj.bias", f"{theirs}in_proj_bias", part))
    rows.append((f"{ours}out_proj.weight", f"{theirs}out_proj.weight", None))
    rows.append((f"{ours}out_proj.bias", f"{theirs}out_proj.bias", None))
    return rows


def torch_name_map(kind, d_model):
    """(npformer name, torch name, rows of the torch tensor or None) for kind in
    "attention" (MultiheadAttention), "encoder" (TransformerEncoderLayer), "decoder"
    (TransformerDecoderLayer). Entries for biases a bias-free model lacks are dropped later."""
    if kind == "attention":
        return _attention_rows("", "", d_model)
    rows = _attention_rows("self_attn.", "self_attn.", d_model)
    modules = [("ffn.up", "linear1"), ("ffn.down", "linear2"), ("self_attn_norm", "norm1")]
    if kind == "encoder":
        modules.append(("ffn_norm", "norm2"))
    elif kind == "decoder":
        rows += _attention_rows("cross_attn.", "multihead_attn.", d_model)
        modules += [("cross_attn_norm", "norm2"), ("ffn_norm", "norm3")]
    else:
        raise ValueError(kind)
    rows += [(f"{ours}.{leaf}", f"{theirs}.{leaf}", None) for ours, theirs in modules for leaf in ("weight", "bias")]
    return rows


def mapping_for(kind, ours, theirs, d_model):
    """The rows of ``torch_name_map`` that both models have; every parameter of each is covered."""
    torch_params = dict(theirs.named_parameters())
    rows = [row for row in torch_name_map(kind, d_model) if row[1] in torch_params]
    assert {row[0] for row in rows} == {name for name, _ in ours.named_parameters()}
    assert {row[1] for row in rows} == set(torch_params)
    return rows


def copy_torch_weights(kind, ours, theirs, d_model):
    """Load torch's weights into ``ours`` (through load_state_dict, strict); return the mapping."""
    rows = mapping_for(kind, ours, theirs, d_model)
    torch_params = dict(theirs.named_parameters())
    state = {}
    for ours_name, torch_name, part in rows:
        array = torch_params[torch_name].detach().cpu().numpy()
        state[ours_name] = array if part is None else array[part]
    ours.load_state_dict(state)
    return rows


def randomise(module, seed):
    """Replace torch's init (zero biases, unit norms) so that every weight is exercised."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            values = rng.uniform(-0.6, 0.6, tuple(param.shape))
            if "norm" in name and name.endswith("weight"):
                values += 1.0
            param.copy_(torch.from_numpy(values))
    return module


# ---------------------------------------------------------------------------- the comparison
def compare(what, kind, d_model, make_ours, torch_module, ours_fn, torch_fn, inputs, seed=0):
    """Run ours and torch in float64 and float32 on ``inputs`` (name -> float64 array), compare
    the outputs, every parameter's gradient and every input's gradient, record the errors."""
    torch_module = torch_module.double().train()
    for dtype in DTYPES:
        name = f"{what} {np.dtype(dtype).name}"
        theirs = torch_module if dtype == np.float64 else copy.deepcopy(torch_module).float()
        ours = make_ours(dtype)
        rows = copy_torch_weights(kind, ours, theirs, d_model)

        our_inputs = {k: nf.tensor(v.astype(dtype), requires_grad=True) for k, v in inputs.items()}
        torch_inputs = {k: torch.tensor(v, dtype=TORCH_DTYPE[dtype], requires_grad=True) for k, v in inputs.items()}
        our_out, torch_out = ours_fn(ours, **our_inputs), torch_fn(theirs, **torch_inputs)
        our_out = our_out if isinstance(our_out, tuple) else (our_out,)
        torch_out = torch_out if isinstance(torch_out, tuple) else (torch_out,)
        assert len(our_out) == len(torch_out)
        rng = np.random.default_rng(seed)
        upstream = [rng.standard_normal(o.shape).astype(dtype) for o in our_out]

        output_error = max(relative_error(o.data, t.detach().numpy()) for o, t in zip(our_out, torch_out))
        for o, u in zip(our_out, upstream):
            assert o.dtype == dtype
        ours.zero_grad()
        theirs.zero_grad()
        torch.autograd.backward(list(torch_out), [torch.from_numpy(u) for u in upstream])
        nf.autograd.backward(list(our_out), upstream)

        torch_params = dict(theirs.named_parameters())
        our_params = dict(ours.named_parameters())
        grad_errors = {}
        for ours_name, torch_name, part in rows:
            expected = torch_params[torch_name].grad.numpy()
            expected = expected if part is None else expected[part]
            got = our_params[ours_name].grad
            assert got is not None, f"{name}: {ours_name} got no gradient"
            assert got.dtype == dtype
            grad_errors[ours_name] = relative_error(got, expected)
        for key in inputs:
            grad_errors["input " + key] = relative_error(our_inputs[key].grad, torch_inputs[key].grad.numpy())

        worst_grad = max(grad_errors, key=grad_errors.get)
        record_torch_error(f"{name} output", output_error)
        record_torch_error(f"{name} gradient", grad_errors[worst_grad])
        tolerance = TOLERANCE[dtype]
        assert output_error <= tolerance, f"{name}: output relative error {output_error:.3e}"
        assert grad_errors[worst_grad] <= tolerance, \
            f"{name}: gradient of {worst_grad} relative error {grad_errors[worst_grad]:.3e}"


# ---------------------------------------------------------------------------- strategies
@st.composite
def padding(draw, batch, length):
    """A (batch, length) key padding mask, True = padding; key 0 is never padding, so every
    query keeps at least one key (torch gives NaN for a query with none, npformer zeros)."""
    rows = draw(st.lists(st.lists(st.booleans(), min_size=length, max_size=length), min_size=batch,
                         max_size=batch))
    mask = np.array(rows, dtype=bool).reshape(batch, length)
    mask[:, 0] = False
    return mask


@st.composite
def allowed_mask(draw, length, key_length):
    """A boolean (L, S) mask in npformer's convention (True = may attend); key 0 always allowed."""
    rows = draw(st.lists(st.lists(st.booleans(), min_size=key_length, max_size=key_length), min_size=length,
                         max_size=length))
    mask = np.array(rows, dtype=bool).reshape(length, key_length)
    mask[:, 0] = True
    return mask


def causal_blocked(length):
    """torch's boolean convention: True where attention is NOT allowed (keys after the query)."""
    return torch.nn.Transformer.generate_square_subsequent_mask(length, dtype=torch.float64) != 0


# ---------------------------------------------------------------------------- AttentionHeads
MHA_MASKS = [("self", "none"), ("self", "padding"), ("self", "bool mask"), ("self", "causal"),
             ("self", "causal + padding"), ("self", "bool mask + padding"),
             ("cross", "none"), ("cross", "padding"), ("cross", "bool mask + padding")]


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("attention, masks", MHA_MASKS)
@EXAMPLES
@given(data=st.data())
def test_multi_head_attention_matches_torch(attention, masks, need_weights, data):
    heads = data.draw(st.sampled_from([1, 2, 4]), label="heads")
    d_model = heads * data.draw(st.integers(1, 3), label="head_dim")
    bias = data.draw(st.booleans(), label="bias")
    batch = data.draw(st.integers(1, 3), label="batch")
    length = data.draw(st.integers(1, 5), label="L")
    if attention == "cross":
        key_length = data.draw(st.integers(1, 5).filter(lambda s: s != length), label="S")
    else:
        key_length = length
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16), label="seed"))
    inputs = {"x": rng.standard_normal((batch, length, d_model))}
    if attention == "cross":
        inputs["memory"] = rng.standard_normal((batch, key_length, d_model))

    key_padding = data.draw(padding(batch, key_length), label="padding") if "padding" in masks else None
    ours_mask = torch_mask = None
    if "bool mask" in masks:
        ours_mask = data.draw(allowed_mask(length, key_length), label="attn_mask")
        torch_mask = torch.from_numpy(~ours_mask)                   # torch: True = not allowed
    if "causal" in masks:
        torch_mask = causal_blocked(length)
    causal = "causal" in masks

    def ours_fn(module, x, memory=None):
        return module(x, memory, attn_mask=ours_mask, key_padding_mask=key_padding, is_causal=causal,
                      need_weights=need_weights)

    def torch_fn(module, x, memory=None):
        context = x if memory is None else memory
        out, weights = module(x, context, context, key_padding_mask=None if key_padding is None else
                              torch.from_numpy(key_padding), attn_mask=torch_mask, need_weights=need_weights,
                              average_attn_weights=False)
        return (out, weights) if need_weights else out

    torch.manual_seed(0)
    theirs = randomise(torch.nn.MultiheadAttention(d_model, heads, dropout=0.0, bias=bias, batch_first=True,
                                                   dtype=torch.float64), seed=1)
    compare(f"AttentionHeads {attention} {masks}{' weights' if need_weights else ''}", "attention", d_model,
            lambda dtype: nn.AttentionHeads(d_model, heads, bias=bias, dtype=dtype), theirs, ours_fn,
            torch_fn, inputs)


# ---------------------------------------------------------------------------- Transformer layers
LAYER_OPTIONS = [(norm_first, activation, bias) for norm_first in (True, False) for activation in ("relu", "gelu")
                 for bias in (True, False)]


@pytest.mark.parametrize("norm_first, activation, bias", LAYER_OPTIONS)
@EXAMPLES
@given(data=st.data())
def test_transformer_encoder_layer_matches_torch(norm_first, activation, bias, data):
    heads = data.draw(st.sampled_from([1, 2]), label="heads")
    d_model = heads * data.draw(st.integers(2, 3), label="head_dim")
    d_ff = data.draw(st.integers(3, 8), label="d_ff")
    batch, length = data.draw(st.integers(1, 3), label="batch"), data.draw(st.integers(1, 5), label="L")
    key_padding = data.draw(st.one_of(st.none(), padding(batch, length)), label="padding")
    src_mask = data.draw(st.one_of(st.none(), allowed_mask(length, length)), label="src_mask")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16), label="seed"))
    inputs = {"x": rng.standard_normal((batch, length, d_model))}

    def ours_fn(block, x):
        return block(x, attn_mask=src_mask, key_padding_mask=key_padding)

    def torch_fn(layer, x):
        return layer(x, src_mask=None if src_mask is None else torch.from_numpy(~src_mask),
                     src_key_padding_mask=None if key_padding is None else torch.from_numpy(key_padding))

    theirs = randomise(torch.nn.TransformerEncoderLayer(
        d_model, heads, d_ff, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first,
        bias=bias, dtype=torch.float64), seed=2)

    def make_ours(dtype):
        return nn.TransformerBlock(d_model, heads, d_ff, activation=activation, norm="layernorm",
                                   norm_first=norm_first, bias=bias, causal=False, dtype=dtype)
    compare(f"TransformerEncoderLayer norm_first={norm_first} {activation} bias={bias}", "encoder", d_model,
            make_ours, theirs, ours_fn, torch_fn, inputs)


@pytest.mark.parametrize("norm_first, activation, bias", LAYER_OPTIONS)
@EXAMPLES
@given(data=st.data())
def test_transformer_decoder_layer_matches_torch(norm_first, activation, bias, data):
    heads = data.draw(st.sampled_from([1, 2]), label="heads")
    d_model = heads * data.draw(st.integers(2, 3), label="head_dim")
    d_ff = data.draw(st.integers(3, 8), label="d_ff")
    batch = data.draw(st.integers(1, 3), label="batch")
    length, memory_length = data.draw(st.integers(1, 5), label="L"), data.draw(st.integers(1, 5), label="S")
    tgt_padding = data.draw(st.one_of(st.none(), padding(batch, length)), label="tgt padding")
    memory_padding = data.draw(st.one_of(st.none(), padding(batch, memory_length)), label="memory padding")
    tgt_is_causal = data.draw(st.booleans(), label="tgt_is_causal")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16), label="seed"))
    inputs = {"x": rng.standard_normal((batch, length, d_model)),
              "memory": rng.standard_normal((batch, memory_length, d_model))}

    def ours_fn(block, x, memory):
        return block(x, memory, key_padding_mask=tgt_padding, memory_key_padding_mask=memory_padding)

    def torch_fn(layer, x, memory):
        # the float causal mask of torch.nn.Transformer; the target padding mask as a float mask
        # too, since torch deprecates mixing a float attn_mask with a boolean padding mask
        tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(length, dtype=x.dtype)
        tgt_key_padding = None
        if tgt_padding is not None:
            tgt_key_padding = torch.zeros(tgt_padding.shape, dtype=x.dtype).masked_fill(
                torch.from_numpy(tgt_padding), float("-inf"))
        return layer(x, memory, tgt_mask=tgt_mask, tgt_key_padding_mask=tgt_key_padding,
                     memory_key_padding_mask=None if memory_padding is None else torch.from_numpy(memory_padding),
                     tgt_is_causal=tgt_is_causal)

    theirs = randomise(torch.nn.TransformerDecoderLayer(
        d_model, heads, d_ff, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first,
        bias=bias, dtype=torch.float64), seed=3)

    def make_ours(dtype):
        return nn.TransformerBlock(d_model, heads, d_ff, activation=activation, norm="layernorm",
                                   norm_first=norm_first, bias=bias, causal=True, cross_attention=True, dtype=dtype)
    compare(f"TransformerDecoderLayer norm_first={norm_first} {activation} bias={bias}", "decoder", d_model,
            make_ours, theirs, ours_fn, torch_fn, inputs)


def test_name_map_covers_every_parameter_of_both_models():
    """The mapping is complete in both directions, with and without biases (an unmapped or
    mis-mapped name would make the parity tests compare the wrong tensors)."""
    for bias in (True, False):
        pairs = [
            ("attention", nn.AttentionHeads(6, 2, bias=bias),
             torch.nn.MultiheadAttention(6, 2, bias=bias, batch_first=True)),
            ("encoder", nn.TransformerBlock(6, 2, 10, bias=bias),
             torch.nn.TransformerEncoderLayer(6, 2, 10, bias=bias, batch_first=True)),
            ("decoder", nn.TransformerBlock(6, 2, 10, bias=bias, causal=True, cross_attention=True),
             torch.nn.TransformerDecoderLayer(6, 2, 10, bias=bias, batch_first=True)),
        ]
        for kind, ours, theirs in pairs:
            rows = mapping_for(kind, ours, theirs, 6)
            assert len(rows) == len(list(ours.named_parameters()))
            copy_torch_weights(kind, ours, theirs, 6)
            np.testing.assert_array_equal(ours.state_dict()["ffn.up.weight" if kind != "attention" else
                                                            "k_proj.weight"],
                                          dict(theirs.named_parameters())["linear1.weight" if kind != "attention"
                                                                          else "in_proj_weight"]
                                          .detach().numpy()[slice(None) if kind != "attention" else slice(6, 12)])
