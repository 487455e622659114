"""Position schemes against Hugging Face transformers' own functions, in float32 and float64.

What is exact and what is not, measured with torch 2.13 (CPU) and transformers 5.24:

- the rotation itself (apply_rotary vs Llama's and GPT-J's apply_rotary_pos_emb, given the same
  tables) agrees bit for bit in float32 and float64, forward and gradient;
- RoPE tables with ``table_dtype=float32`` follow HF's float32 steps, but torch's float32
  pow, cos and sin are SIMD kernels that are not correctly rounded (ours are): ~5% of cos/sin
  values differ by 1 ulp, and for some (base, head_dim) one inv_freq entry differs by 1-2
  ulp, which moves that frequency's angles by position * that difference;
- Marian's sinusoidal table and T5's buckets and bias agree bit for bit;
- BLOOM computes its ALiBi slopes in float32 by repeated multiplication; ours are exact
  powers of two, within n_heads float32 roundings of BLOOM's.

Like-for-like comparisons are recorded with ``record_torch_error`` and printed at the end;
the documented precision differences above are asserted against their bounds, not recorded.
"""
import numpy as np
import pytest

import npformer as nf
from npformer.nn.positional import (
    ALiBi,
    RotaryEmbedding,
    SinusoidalPositionalEmbedding,
    T5RelativePositionBias,
    alibi_slopes,
    relative_position_bucket,
)
from npformer.ops.rotary import apply_rotary
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")
pytest.importorskip("transformers", reason="transformers is not installed: pip install -e '.[crosscheck]'")

from transformers import LlamaConfig, T5Config  # noqa: E402
from transformers.models.bloom.modeling_bloom import build_alibi_tensor  # noqa: E402
from transformers.models.gptj import modeling_gptj  # noqa: E402
from transformers.models.llama import modeling_llama  # noqa: E402
from transformers.models.marian.modeling_marian import MarianSinusoidalPositionalEmbedding  # noqa: E402
from transformers.models.t5.modeling_t5 import T5Attention  # noqa: E402

# The registered ops this file compares with torch (see tests/crosscheck/test_coverage.py).
COVERS = {"Rotary"}

FLOAT32_ULP = 2.0 ** -24          # half the spacing of float32 numbers in [0.5, 1): 1 ulp of |x| <= 1 is <= 2^-24


def _ulps(a, b):
    """Distance in float32 units in the last place, elementwise."""
    def ordered(x):
        bits = np.asarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
        return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)
    return np.abs(ordered(a) - ordered(b))


def _hf_llama_rotary(base, head_dim, max_positions):
    config = LlamaConfig(hidden_size=2 * head_dim, num_attention_heads=2, head_dim=head_dim, rope_theta=base,
                         max_position_embeddings=max_positions)
    return modeling_llama.LlamaRotaryEmbedding(config)


def _check_float32_tables(ours, inv_freq_hf, cos_hf, sin_hf, positions, what):
    """Our float32-table_dtype tables against HF's, on any platform.

    Equal inv_freq (the common case) leaves only torch's cos/sin roundings: within 1 ulp.
    Where torch's pow rounded an inv_freq entry differently (it depends on the base, the
    width and torch's SIMD kernels), the angles of that frequency move by position times the
    difference, which bounds the tables' difference; with HF's inv_freq copied in, the
    tables are within 1 ulp again.
    """
    cos, sin = ours.cos_sin(positions, cos_hf.dtype)
    assert cos.dtype == cos_hf.dtype
    inv_freq_difference = np.abs(ours.inv_freq.astype(np.float64) - inv_freq_hf).max()
    assert _ulps(ours.inv_freq, inv_freq_hf).max() <= 2
    worst = max(relative_error(cos, cos_hf), relative_error(sin, sin_hf))
    assert worst <= positions.max() * inv_freq_difference + 2 * FLOAT32_ULP
    if inv_freq_difference == 0:
        assert max(_ulps(cos, cos_hf).max(), _ulps(sin, sin_hf).max()) <= 1
    if inv_freq_difference == 0:
        record_torch_error(f"{what}, float32 table_dtype", worst)
    ours.inv_freq = inv_freq_hf.astype(np.float32)
    cos, sin = ours.cos_sin(positions, cos_hf.dtype)
    assert max(_ulps(cos, cos_hf).max(), _ulps(sin, sin_hf).max()) <= 1


# ---------------------------------------------------------------- Llama (half-split RoPE)
# The first three are common checkpoints' settings; with torch 2.13 on AVX-512 the last three
# hit an inv_freq entry that torch's float32 pow rounds differently.
LLAMA_ROPE = [(10000.0, 64), (10000.0, 128), (500000.0, 128), (1e6, 128), (10000.0, 96), (25000.0, 64)]


@pytest.mark.parametrize("base, head_dim", LLAMA_ROPE)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_llama_tables_with_float32_table_dtype(base, head_dim, dtype):
    positions = np.arange(4096)
    hf = _hf_llama_rotary(base, head_dim, 4096)
    cos_hf, sin_hf = (t[0].numpy() for t in hf(torch.zeros(1, dtype=dtype), torch.from_numpy(positions)[None]))
    ours = RotaryEmbedding(head_dim, base=base, table_dtype=np.float32)
    _check_float32_tables(ours, hf.inv_freq.numpy().astype(np.float64), cos_hf, sin_hf, positions,
                          f"Llama RoPE tables (base {base:g}, D {head_dim})")


def test_llama_tables_with_float64_table_dtype():
    positions = np.arange(2048)
    hf = _hf_llama_rotary(10000.0, 64, 2048)
    cos_hf, _ = hf(torch.zeros(1, dtype=torch.float64), torch.from_numpy(positions)[None])
    cos, _ = RotaryEmbedding(64).cos_sin(positions, np.float64)
    exact = np.cos(positions[:, None] * np.tile(10000.0 ** (-np.arange(0, 64, 2) / 64), 2))
    assert np.abs(cos - exact).max() < 1e-12                        # the float64 tables are exact...
    difference = np.abs(cos - cos_hf[0].numpy()).max()              # ...and HF's are float32 ones
    assert difference <= positions.max() * 2.0 ** -22               # float32 angles: ~1 ulp of p * theta


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_llama_apply_rotary_pos_emb(dtype):
    rng = np.random.default_rng(0)
    batch, heads, length, head_dim = 2, 3, 5, 8
    q = rng.standard_normal((batch, heads, length, head_dim)).astype(dtype)
    k = rng.standard_normal((batch, heads, length, head_dim)).astype(dtype)
    positions = np.array([[0, 1, 2, 3, 4], [7, 8, 9, 10, 11]])
    hf = _hf_llama_rotary(10000.0, head_dim, 64)
    cos, sin = hf(torch.zeros(1, dtype=torch.from_numpy(q).dtype), torch.from_numpy(positions))  # (B, T, D)
    q_t, k_t = torch.from_numpy(q).requires_grad_(), torch.from_numpy(k)
    q_hf, k_hf = modeling_llama.apply_rotary_pos_emb(q_t, k_t, cos, sin)
    q_ours = nf.tensor(q, requires_grad=True)
    out = apply_rotary(q_ours, cos.numpy()[:, None], sin.numpy()[:, None])
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), q_hf.detach().numpy())                            # bit for bit
    record_torch_error(f"Llama apply_rotary_pos_emb ({np.dtype(dtype).name})",
                       relative_error(out.numpy(), q_hf.detach().numpy()))
    np.testing.assert_array_equal(apply_rotary(k, cos.numpy()[:, None], sin.numpy()[:, None]).numpy(), k_hf.numpy())
    upstream = rng.standard_normal(q.shape).astype(dtype)
    q_hf.backward(torch.from_numpy(upstream))
    out.backward(upstream)
    error = relative_error(q_ours.grad, q_t.grad.numpy())
    assert error <= (2e-7 if dtype == np.float32 else 1e-15)
    record_torch_error(f"Llama apply_rotary_pos_emb gradient ({np.dtype(dtype).name})", error)


def test_llama_rotary_module_end_to_end_in_float64():
    # An HF float64 model: float32 tables cast to float64, then the rotation in float64.
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 6, 64))
    positions = np.array([[3, 4, 5, 6, 7, 8], [0, 1, 2, 3, 4, 5]]) * 97
    hf = _hf_llama_rotary(10000.0, 64, 1024)
    cos, sin = hf(torch.zeros(1, dtype=torch.float64), torch.from_numpy(positions))
    expected, _ = modeling_llama.apply_rotary_pos_emb(torch.from_numpy(x), torch.from_numpy(x), cos, sin)
    ours = RotaryEmbedding(64, table_dtype=np.float32)(nf.tensor(x), positions=positions).numpy()
    error = relative_error(ours, expected.numpy())
    assert error <= 4 * FLOAT32_ULP * np.abs(x).max()               # the tables' 1-ulp differences only


# ---------------------------------------------------------------- GPT-J (interleaved RoPE)
@pytest.mark.parametrize("rotary_dim", [16, 64])
def test_gptj_sinusoidal_positions(rotary_dim):
    table = modeling_gptj.create_sinusoidal_positions(2048, rotary_dim).numpy()                  # (P, sin | cos)
    inv_freq_hf = (1.0 / (10000 ** (torch.arange(0, rotary_dim, 2, dtype=torch.int64) / rotary_dim))).numpy()
    ours = RotaryEmbedding(rotary_dim, interleaved=True, table_dtype=np.float32)
    cos, _ = ours.cos_sin(np.arange(2048), np.float32)
    np.testing.assert_array_equal(cos[:, 0::2], cos[:, 1::2])     # (c0, c0, c1, c1, ...)
    # GPT-J stores one value per pair, sines then cosines: widen to ours
    sin_hf = np.repeat(table[:, :rotary_dim // 2], 2, axis=-1)
    cos_hf = np.repeat(table[:, rotary_dim // 2:], 2, axis=-1)
    _check_float32_tables(ours, inv_freq_hf.astype(np.float64), cos_hf, sin_hf, np.arange(2048),
                          f"GPT-J sinusoidal positions (rotary_dim {rotary_dim})")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gptj_apply_rotary_pos_emb_with_partial_rotary(dtype):
    # GPT-J keeps (B, T, H, D), rotates the first rotary_dim features and passes the rest.
    rng = np.random.default_rng(2)
    batch, length, heads, head_dim, rotary_dim = 2, 5, 3, 12, 8
    key = rng.standard_normal((batch, length, heads, head_dim)).astype(dtype)
    positions = np.array([[0, 1, 2, 3, 4], [9, 10, 11, 12, 13]])
    table = modeling_gptj.create_sinusoidal_positions(64, rotary_dim)[torch.from_numpy(positions)].to(
        torch.from_numpy(key).dtype)
    sin, cos = torch.split(table, rotary_dim // 2, dim=-1)                                     # (B, T, r/2)
    key_t = torch.from_numpy(key).requires_grad_()
    k_rot = modeling_gptj.apply_rotary_pos_emb(key_t[..., :rotary_dim], sin, cos)
    expected = torch.cat([k_rot, key_t[..., rotary_dim:]], dim=-1)

    # the fused op given GPT-J's own tables, widened to (c0, c0, c1, c1, ...): bit for bit
    wide_cos = np.repeat(cos.numpy(), 2, axis=-1)[:, :, None]                                # (B, T, 1, r)
    wide_sin = np.repeat(sin.numpy(), 2, axis=-1)[:, :, None]
    key_ours = nf.tensor(key, requires_grad=True)
    rotated = apply_rotary(key_ours[..., :rotary_dim], wide_cos, wide_sin, interleaved=True)
    np.testing.assert_array_equal(rotated.numpy(), k_rot.detach().numpy())
    upstream = rng.standard_normal(k_rot.shape).astype(dtype)
    rotated.backward(upstream)
    k_rot.backward(torch.from_numpy(upstream))
    gradient_error = relative_error(key_ours.grad, key_t.grad.numpy())
    assert gradient_error <= (2e-7 if dtype == np.float32 else 1e-15)
    record_torch_error(f"GPT-J apply_rotary_pos_emb gradient ({np.dtype(dtype).name})", gradient_error)

    # the module, with its own float32 tables, on the (B, H, T, D) layout
    rope = RotaryEmbedding(head_dim, interleaved=True, rotary_dim=rotary_dim, table_dtype=np.float32)
    ours = rope(nf.tensor(key.transpose(0, 2, 1, 3)), positions=positions).numpy().transpose(0, 2, 1, 3)
    np.testing.assert_array_equal(ours[..., rotary_dim:], key[..., rotary_dim:])
    error = relative_error(ours, expected.detach().numpy())
    assert error <= 4 * FLOAT32_ULP * np.abs(key).max()


# ---------------------------------------------------------------- Marian (sinusoidal, half layout)
@pytest.mark.parametrize("dim", [6, 7, 64])
def test_marian_sinusoidal_table(dim):
    hf = MarianSinusoidalPositionalEmbedding(256, dim)
    ours32 = SinusoidalPositionalEmbedding(256, dim, layout="half", dtype=np.float32).table.numpy()
    np.testing.assert_array_equal(ours32, hf.create_weight().numpy())                           # bit for bit
    record_torch_error(f"Marian sinusoidal table, float32 (dim {dim})",
                       relative_error(ours32, hf.create_weight().numpy()))
    # HF's float64 table is its float32 one widened; ours is the float64 values themselves
    hf64 = hf.double().create_weight().numpy()
    ours64 = SinusoidalPositionalEmbedding(256, dim, layout="half", dtype=np.float64).table.numpy()
    error = np.abs(ours64 - hf64).max()
    assert error <= FLOAT32_ULP


# ---------------------------------------------------------------- BLOOM (ALiBi)
@pytest.mark.parametrize("n_heads", range(1, 34))
def test_bloom_alibi_slopes(n_heads):
    alibi = build_alibi_tensor(torch.ones(1, 2, dtype=torch.long), n_heads, torch.float32)   # (H, 1, 2)
    slopes_hf = alibi[:, 0, 1].numpy().astype(np.float64)          # slope * key position 1
    ours = alibi_slopes(n_heads)
    error = float(np.max(np.abs(ours - slopes_hf) / ours))
    # BLOOM rounds the ratio to float32 and multiplies up to n_heads times
    assert error <= n_heads * 2 * FLOAT32_ULP


def test_bloom_alibi_bias_gives_the_same_causal_attention():
    # Same slopes, BLOOM's slope * j against our -slope * |i - j|: equal causal softmax.
    n_heads, length = 6, 7
    alibi_hf = build_alibi_tensor(torch.ones(1, length, dtype=torch.long), n_heads, torch.float64)  # (H, 1, S)
    module = ALiBi(n_heads)
    module.slopes = alibi_hf[:, 0, 1].numpy()                        # BLOOM's float32 slopes, exactly
    scores = torch.from_numpy(np.random.default_rng(3).standard_normal((n_heads, length, length)))
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    expected = torch.softmax((scores + alibi_hf).masked_fill(~causal, float("-inf")), dim=-1).numpy()
    bias = module(length, length, dtype=np.float64)
    logits = np.where(causal.numpy(), scores.numpy() + bias.numpy(), -np.inf)
    ours = np.exp(logits - logits.max(-1, keepdims=True))
    ours /= ours.sum(-1, keepdims=True)
    error = relative_error(ours, expected)
    assert error <= 1e-14
    record_torch_error("BLOOM ALiBi causal attention weights, float64 with BLOOM's slopes", error)


# ---------------------------------------------------------------- T5 (relative position buckets)
BUCKET_CONFIGS = [(32, 128), (16, 64), (64, 256), (8, 20), (4, 5), (128, 1000), (32, 33)]


@pytest.mark.parametrize("num_buckets, max_distance", BUCKET_CONFIGS)
@pytest.mark.parametrize("bidirectional", [True, False], ids=["bidirectional", "causal"])
def test_t5_relative_position_buckets(num_buckets, max_distance, bidirectional):
    relative = np.concatenate([np.arange(-5000, 5001), [-10 ** 9, -10 ** 6, 10 ** 6, 10 ** 9]])
    expected = T5Attention._relative_position_bucket(torch.from_numpy(relative), bidirectional=bidirectional,
                                                     num_buckets=num_buckets, max_distance=max_distance).numpy()
    ours = relative_position_bucket(relative, bidirectional, num_buckets, max_distance)
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("is_decoder", [False, True], ids=["encoder", "decoder"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_t5_compute_bias(is_decoder, dtype):
    config = T5Config(d_model=16, d_kv=4, num_heads=4, relative_attention_num_buckets=16,
                      relative_attention_max_distance=40, is_decoder=is_decoder)
    hf = T5Attention(config, has_relative_attention_bias=True, layer_idx=0).to(dtype)
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    ours = T5RelativePositionBias(4, num_buckets=16, max_distance=40, bidirectional=not is_decoder, dtype=np_dtype)
    ours.load_state_dict({"relative_attention_bias.weight": hf.relative_attention_bias.weight.detach().numpy()})
    for length, keys, offset in [(7, 7, 0), (1, 60, 59), (5, 90, 3)]:
        expected = hf.compute_bias(length, keys, past_seen_tokens=offset).detach().numpy()
        bias = ours(length, keys, offset=offset)
        assert bias.dtype == np_dtype
        np.testing.assert_array_equal(bias.numpy(), expected)
        record_torch_error(f"T5 compute_bias with copied weights ({np_dtype.__name__})",
                           relative_error(bias.numpy(), expected))
