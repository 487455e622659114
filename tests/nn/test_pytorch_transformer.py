"""PyTorch-named attention and Transformer modules: initialisation scheme, deep copies, state-dict
keys, and one clear error for each kind of bad input. (Numbers against torch are in
tests/crosscheck/test_pytorch_transformer_vs_torch.py.)"""
import copy
import math

import numpy as np
import pytest

import npformer as nf
import npformer.nn as nn

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
F64 = np.float64


# ---------------------------------------------------------------------------- initialisation
def _uniform_in(values, bound):
    """Every value inside [-bound, bound], the extremes near it, the spread of a uniform."""
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.97 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.03 * bound / math.sqrt(3)


def test_multihead_attention_initialisation_is_pytorchs_scheme():
    nf.manual_seed(0)
    e = 128
    m = nn.MultiheadAttention(e, 4, add_bias_kv=True, dtype=F64)
    _uniform_in(m.in_proj_weight._data, math.sqrt(6 / (e + 3 * e)))          # xavier_uniform on (3E, E)
    _uniform_in(m.out_proj.weight._data, 1 / math.sqrt(e))                   # Linear's default
    assert not m.in_proj_bias._data.any() and not m.out_proj.bias._data.any()
    both = np.concatenate([m.bias_k._data.ravel(), m.bias_v._data.ravel()])  # xavier_normal on (1, 1, E)
    assert abs(both.std() - math.sqrt(1 / e)) < 0.2 * math.sqrt(1 / e)
    separate = nn.MultiheadAttention(e, 4, kdim=64, vdim=32, dtype=F64)
    _uniform_in(separate.q_proj_weight._data, math.sqrt(6 / (e + e)))
    _uniform_in(separate.k_proj_weight._data, math.sqrt(6 / (e + 64)))
    _uniform_in(separate.v_proj_weight._data, math.sqrt(6 / (e + 32)))


def test_transformer_initialises_every_matrix_xavier_uniform():
    nf.manual_seed(1)
    model = nn.Transformer(64, 4, 1, 1, dim_feedforward=256, dtype=F64)
    for name, p in model.named_parameters():
        if p.ndim > 1:
            fan_out, fan_in = p.shape
            _uniform_in(p._data, math.sqrt(6 / (fan_in + fan_out)))
        elif "norm" in name and name.endswith("weight"):
            assert (p._data == 1).all(), name
        elif "norm" in name or "in_proj_bias" in name or "out_proj.bias" in name:
            assert not p._data.any(), name
    layer = nn.TransformerEncoderLayer(64, 4, 256, dtype=F64)                  # outside Transformer: Linear's init
    _uniform_in(layer.linear1.weight._data, 1 / math.sqrt(64))
    _uniform_in(layer.linear2.weight._data, 1 / math.sqrt(256))


def test_dtype_and_defaults_follow_pytorch():
    m = nn.MultiheadAttention(8, 2)
    assert m.in_proj_weight.dtype == nf.get_default_dtype()
    assert (m.dropout, m.batch_first, m.kdim, m.vdim, m.head_dim) == (0.0, False, 8, 8, 4)
    layer = nn.TransformerEncoderLayer(8, 2)
    assert layer.linear1.weight.shape == (2048, 8) and layer.dropout.p == 0.1 and layer.norm1.eps == 1e-5
    assert layer.activation is nf.functional.relu and layer.activation_relu_or_gelu == 1
    assert nn.TransformerEncoderLayer(8, 2, activation="gelu").activation_relu_or_gelu == 2
    model = nn.Transformer(16, 2, 1, 1, 32)
    assert (model.d_model, model.nhead, model.batch_first) == (16, 2, False)


# ---------------------------------------------------------------------------- structure
def test_state_dict_keys_are_pytorchs():
    m = nn.MultiheadAttention(8, 2, kdim=4, vdim=6, add_bias_kv=True)
    assert list(m.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k",
                                    "bias_v", "out_proj.weight", "out_proj.bias"]
    assert list(nn.MultiheadAttention(8, 2, bias=False).state_dict()) == ["in_proj_weight", "out_proj.weight"]
    decoder = nn.TransformerDecoderLayer(8, 2, 16)
    assert list(decoder.state_dict()) == [
        f"{a}.{p}" for a in ("self_attn", "multihead_attn") for p in ("in_proj_weight", "in_proj_bias",
                                                                         "out_proj.weight", "out_proj.bias")
    ] + [f"{m}.{p}" for m in ("linear1", "linear2", "norm1", "norm2", "norm3") for p in ("weight", "bias")]
    model = nn.Transformer(8, 2, 2, 1, 16)
    keys = list(model.state_dict())
    assert keys[0] == "encoder.layers.0.self_attn.in_proj_weight"
    assert "encoder.layers.1.norm2.bias" in keys and "encoder.norm.weight" in keys and keys[-1] == "decoder.norm.bias"


def test_stacks_hold_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dtype=F64)
    encoder = nn.TransformerEncoder(layer, 3)
    assert len(encoder.layers) == 3 and encoder.norm is None
    weights = [encoder_layer.self_attn.in_proj_weight for encoder_layer in encoder.layers]
    assert len({id(w) for w in weights}) == 3 and all(w is not layer.self_attn.in_proj_weight for w in weights)
    for w in weights:                                                       # same values, own memory
        np.testing.assert_array_equal(w._data, layer.self_attn.in_proj_weight._data)
        assert not np.shares_memory(w._data, layer.self_attn.in_proj_weight._data)
        assert isinstance(w, nn.Parameter) and w.requires_grad
    encoder.layers[0].linear1.weight._data[...] = 0
    assert encoder.layers[1].linear1.weight._data.any()
    clone = copy.deepcopy(encoder)
    x = nf.tensor(np.random.default_rng(0).standard_normal((3, 2, 8)))
    np.testing.assert_array_equal(np.asarray(clone.eval()(x)), np.asarray(encoder.eval()(x)))


def test_nested_tensor_warning_as_pytorch():
    with pytest.warns(UserWarning, match="batch_first was not True"):
        encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1)
    assert encoder.use_nested_tensor is False and encoder.enable_nested_tensor is True
    quiet = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1)
    assert quiet.use_nested_tensor is True


def test_causal_mask_and_padding_properties():
    """Outputs do not depend on later target tokens (causal mask) nor on padded source tokens."""
    nf.manual_seed(2)
    model = nn.Transformer(8, 2, 1, 2, 16, batch_first=True, dtype=F64).eval()
    rng = np.random.default_rng(0)
    src, tgt = rng.standard_normal((2, 5, 8)), rng.standard_normal((2, 4, 8))
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=F64)
    padding = np.array([[False] * 5, [False] * 3 + [True] * 2])
    out = np.asarray(model(nf.tensor(src), nf.tensor(tgt), tgt_mask=mask, src_key_padding_mask=padding,
                           memory_key_padding_mask=padding))
    src2, tgt2 = src.copy(), tgt.copy()
    src2[1, 3:] += 10.0
    tgt2[:, 2:] -= 5.0
    out2 = np.asarray(model(nf.tensor(src2), nf.tensor(tgt2), tgt_mask=mask, src_key_padding_mask=padding,
                            memory_key_padding_mask=padding))
    np.testing.assert_allclose(out2[:, :2], out[:, :2], rtol=1e-12, atol=1e-12)
    assert not np.allclose(out2[:, 2:], out[:, 2:])


# ---------------------------------------------------------------------------- bad input
def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(0, 2)
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 4)
    with pytest.raises(ValueError, match="dropout probability"):
        nn.MultiheadAttention(8, 2, dropout=1.5)
    with pytest.raises(ValueError, match="device must be None or 'cpu'"):
        nn.TransformerEncoderLayer(8, 2, device="cuda")
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(8, 2, activation="tanh")
    with pytest.raises(TypeError, match="encoder_layer must be a Module"):
        nn.TransformerEncoder("layer", 2)


def _x(*shape):
    return nf.tensor(np.random.default_rng(0).standard_normal(shape))


def test_bad_attention_inputs_name_the_argument():
    m = nn.MultiheadAttention(8, 2)
    x = _x(4, 3, 8)
    with pytest.raises(ValueError, match=r"query must have 8 features .*embed_dim"):
        m(_x(4, 3, 6), x, x)
    with pytest.raises(ValueError, match=r"key must have 8 features .*kdim"):
        m(x, _x(4, 3, 5), x)
    with pytest.raises(ValueError, match="query should be unbatched 2D or batched 3D"):
        m(_x(2, 4, 3, 8), x, x)
    with pytest.raises(ValueError, match="expected `key` and `value` to be 3-D"):
        m(x, _x(4, 8), _x(4, 8))
    with pytest.raises(ValueError, match="batch sizes differ"):
        m(x, _x(5, 2, 8), _x(5, 2, 8))
    with pytest.raises(ValueError, match="key and value lengths differ"):
        m(x, _x(5, 3, 8), _x(6, 3, 8))
    with pytest.raises(TypeError, match="query must be a Tensor"):
        m(np.zeros((4, 3, 8)), x, x)


def test_bad_masks_name_the_argument_and_the_expected_shape():
    m = nn.MultiheadAttention(8, 2)
    q, kv = _x(4, 3, 8), _x(5, 3, 8)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(5, 4\), but should be \(4, 5\)"):
        m(q, kv, kv, attn_mask=np.zeros((5, 4), bool))
    with pytest.raises(RuntimeError, match=r"3D attn_mask is \(3, 4, 5\), but should be \(6, 4, 5\)"):
        m(q, kv, kv, attn_mask=np.zeros((3, 4, 5), bool))
    with pytest.raises(RuntimeError, match="attn_mask's dimension 4 is not supported"):
        m(q, kv, kv, attn_mask=np.zeros((1, 1, 4, 5), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must be of shape \(3, 5\)"):
        m(q, kv, kv, key_padding_mask=np.zeros((5, 3), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must be of shape \(5,\)"):
        m(_x(4, 8), _x(5, 8), _x(5, 8), key_padding_mask=np.zeros((1, 5), bool))
    with pytest.raises(TypeError, match="only bool and floating types of attn_mask"):
        m(q, kv, kv, attn_mask=np.zeros((4, 5), np.int64))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(q, q, q, is_causal=True)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 1)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        encoder(q, is_causal=True)


def test_bad_transformer_inputs():
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(_x(5, 2, 8), _x(4, 3, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to d_model=8"):
        model(_x(5, 2, 8), _x(4, 2, 6))
