"""Position schemes: the fused Rotary op (gradients, the composed-primitives equivalence), RoPE's
relative-position property, sinusoidal and learned tables, ALiBi, T5 relative buckets."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
from npformer.autograd.engine import grad as autograd_grad
from npformer.nn.positional import (
    ALiBi,
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEmbedding,
    T5RelativePositionBias,
    alibi_slopes,
    relative_position_bucket,
    sinusoidal_table,
)
from npformer.ops.rotary import apply_rotary
from tests.helpers import relative_error
from tests.strategies import values


def _leaf(array):
    return nf.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def _rotary_tables(angle, interleaved):
    """Full-width cos and sin of half-width angles (..., D/2) in the convention's layout."""
    full = np.repeat(angle, 2, axis=-1) if interleaved else np.concatenate([angle, angle], axis=-1)
    return np.cos(full), np.sin(full)


def _composed_rotary(x, cos, sin, interleaved):
    """The same rotation from primitives: y = x * cos + R(x) * sin."""
    dim = x.shape[-1]
    if interleaved:
        even, odd = x[..., 0::2], x[..., 1::2]
        rotated = nf.stack([-odd, even], -1).reshape(x.shape)      # (-x1, x0, -x3, x2, ...)
    else:
        rotated = nf.cat([-x[..., dim // 2:], x[..., :dim // 2]], -1)
    return x * nf.tensor(cos) + rotated * nf.tensor(sin)


@st.composite
def rotary_problem(draw):
    """x (lead..., T, D) in float64, tables (T, D) or broadcast over the leading dims, a convention."""
    lead = tuple(draw(st.lists(st.integers(1, 2), min_size=0, max_size=2)))
    length, half = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = draw(values(lead + (length, 2 * half)))
    table_lead = tuple(draw(st.sampled_from([1, n])) for n in lead) if draw(st.booleans()) else ()
    angle = draw(values(table_lead + (length, half), -4.0, 4.0))
    return x, angle, draw(st.booleans())


# ---------------------------------------------------------------- the fused Rotary op
@given(rotary_problem())
def test_rotary_gradcheck(problem):
    x, angle, interleaved = problem
    cos, sin = _rotary_tables(angle, interleaved)
    assert nf.gradcheck(lambda t: apply_rotary(t, cos, sin, interleaved), (_leaf(x),))


@given(rotary_problem(), st.integers(0, 2 ** 32 - 1))
def test_rotary_gradcheck_with_arbitrary_tables(problem, seed):
    # The op is linear in x for any tables, and backward must be the transpose of that map even
    # when a pair's two table entries differ (here nothing is duplicated).
    x, angle, interleaved = problem
    rng = np.random.default_rng(seed)
    table_shape = angle.shape[:-1] + (x.shape[-1],)
    cos, sin = rng.uniform(-1, 1, table_shape), rng.uniform(-1, 1, table_shape)
    assert nf.gradcheck(lambda t: apply_rotary(t, cos, sin, interleaved), (_leaf(x),))


@given(rotary_problem())
def test_fused_rotary_equals_the_composed_primitives(problem):
    x, angle, interleaved = problem
    cos, sin = _rotary_tables(angle, interleaved)
    upstream = np.random.default_rng(0).standard_normal(x.shape)
    fused_x, composed_x = _leaf(x), _leaf(x)
    fused = apply_rotary(fused_x, cos, sin, interleaved)
    composed = _composed_rotary(composed_x, cos, sin, interleaved)
    # a - b*s and a + (-b)*s round identically: the forward values agree bit for bit
    np.testing.assert_array_equal(fused.numpy(), composed.numpy())
    fused.backward(upstream)
    composed.backward(upstream)
    assert relative_error(fused_x.grad, composed_x.grad.numpy()) <= 1e-15


@given(rotary_problem())
def test_rotary_is_a_rotation_of_each_pair(problem):
    # With true cos/sin tables every pair keeps its length, and backward undoes forward: the
    # gradient of a rotation is the rotation back.
    x, angle, interleaved = problem
    cos, sin = _rotary_tables(angle, interleaved)
    y = apply_rotary(nf.tensor(x), cos, sin, interleaved).numpy()
    pairs = (lambda a: a.reshape(a.shape[:-1] + (-1, 2))) if interleaved else \
            (lambda a: np.stack(np.split(a, 2, axis=-1), axis=-1))
    np.testing.assert_allclose(np.hypot(*np.moveaxis(pairs(y), -1, 0)), np.hypot(*np.moveaxis(pairs(x), -1, 0)),
                               rtol=1e-13, atol=1e-15)
    leaf = _leaf(x)
    apply_rotary(leaf, cos, sin, interleaved).backward(y)
    np.testing.assert_allclose(leaf.grad, x, rtol=1e-13, atol=1e-14)


def test_rotary_half_split_by_hand():
    # D = 4, pairs (0, 2) and (1, 3), angles (pi/2, pi): x = (1, 2, 3, 4) -> (-3, -2, 1, -4)
    cos, sin = _rotary_tables(np.array([np.pi / 2, np.pi]), interleaved=False)
    y = apply_rotary(nf.tensor(np.array([[1.0, 2.0, 3.0, 4.0]])), cos, sin).numpy()
    np.testing.assert_allclose(y, [[-3.0, -2.0, 1.0, -4.0]], atol=1e-15)
    # interleaved: pairs (0, 1) and (2, 3)
    cos, sin = _rotary_tables(np.array([np.pi / 2, np.pi]), interleaved=True)
    y = apply_rotary(nf.tensor(np.array([[1.0, 2.0, 3.0, 4.0]])), cos, sin, interleaved=True).numpy()
    np.testing.assert_allclose(y, [[-2.0, 1.0, -3.0, -4.0]], atol=1e-15)


@pytest.mark.parametrize("interleaved", [False, True])
def test_rotary_float32_stays_float32(interleaved):
    rng = np.random.default_rng(0)
    cos, sin = _rotary_tables(rng.uniform(-3, 3, (5, 4)), interleaved)              # float64 tables
    x = nf.tensor(rng.standard_normal((2, 5, 8)).astype(np.float32), requires_grad=True)
    y = apply_rotary(x, cos, sin, interleaved)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert x.grad.numpy().dtype == np.float32
    rope = RotaryEmbedding(8, interleaved=interleaved)
    x = nf.tensor(rng.standard_normal((2, 3, 5, 8)).astype(np.float32), requires_grad=True)
    out = rope(x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.numpy().dtype == np.float32


def test_rotary_refuses_bad_inputs():
    cos = sin = np.ones((3, 4))
    with pytest.raises(ValueError, match="even last dim"):
        apply_rotary(nf.tensor(np.ones((3, 5))), np.ones((3, 5)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="full width"):
        apply_rotary(nf.tensor(np.ones((3, 4))), np.ones((3, 2)), sin)
    with pytest.raises(ValueError, match="does not broadcast"):
        apply_rotary(nf.tensor(np.ones((3, 4))), np.ones((2, 3, 4)), sin)
    with pytest.raises(ValueError, match="no gradient"):
        apply_rotary(nf.tensor(np.ones((3, 4))), nf.tensor(cos, requires_grad=True), sin)


# ---------------------------------------------------------------- RotaryEmbedding
def _rotate_at(rope, vector, position):
    """One head vector rotated as if at ``position``."""
    return rope(nf.tensor(vector[None, :]), positions=np.array([position])).numpy()[0]


@given(data=st.data(), interleaved=st.booleans(), partial=st.booleans(),
       m=st.integers(0, 5000), n=st.integers(0, 5000), shift=st.integers(-5000, 5000))
def test_rope_scores_depend_only_on_the_relative_position(data, interleaved, partial, m, n, shift):
    shift = max(shift, -min(m, n))                                  # positions stay >= 0
    q, k = data.draw(values((8,))), data.draw(values((8,)))
    rope = RotaryEmbedding(8, interleaved=interleaved, rotary_dim=4 if partial else None)
    before = _rotate_at(rope, q, m) @ _rotate_at(rope, k, n)
    after = _rotate_at(rope, q, m + shift) @ _rotate_at(rope, k, n + shift)
    # float64 angles up to 1e4 rad carry ~1e-12 absolute rounding, so the scores agree to that
    assert abs(before - after) <= 1e-10 * max(1.0, float(np.abs(q).sum() * np.abs(k).sum()))


def test_rope_scores_do_depend_on_the_distance():
    rope = RotaryEmbedding(8)
    q = k = np.arange(1.0, 9.0)
    assert abs(_rotate_at(rope, q, 5) @ _rotate_at(rope, k, 3) - _rotate_at(rope, q, 5) @ _rotate_at(rope, k, 4)) > 1e-3


@pytest.mark.parametrize("interleaved", [False, True])
def test_rope_tables_against_the_formula(interleaved):
    rope = RotaryEmbedding(12, base=500.0, interleaved=interleaved)
    positions = np.array([[0, 3, 17], [1000, 2, 5]])
    cos, sin = rope.cos_sin(positions, np.float64)
    assert cos.shape == sin.shape == (2, 3, 12)
    theta = 500.0 ** (-np.arange(6) * 2 / 12)
    feature = np.arange(12)
    pair = feature // 2 if interleaved else feature % 6
    np.testing.assert_allclose(cos, np.cos(positions[..., None] * theta[pair]), rtol=0, atol=1e-13)
    np.testing.assert_allclose(sin, np.sin(positions[..., None] * theta[pair]), rtol=0, atol=1e-13)
    float32_tables = RotaryEmbedding(12, base=500.0, interleaved=interleaved, table_dtype=np.float32)
    cos32, _ = float32_tables.cos_sin(positions, np.float64)
    assert cos32.dtype == np.float64
    # float32 tables, cast afterwards: off by about an ulp of the float32 angle p * theta
    assert 0 < np.abs(cos32 - cos).max() <= positions.max() * 2.0 ** -22


def test_rope_interleaved_is_half_split_up_to_a_feature_permutation():
    # Pair i is (2i, 2i+1) in one convention and (i, i + D/2) in the other: sort the features
    # into the other layout, rotate, sort back.
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 10))
    to_half = np.concatenate([np.arange(0, 10, 2), np.arange(1, 10, 2)])
    interleaved = RotaryEmbedding(10, interleaved=True)(nf.tensor(x)).numpy()
    half = RotaryEmbedding(10)(nf.tensor(x[..., to_half])).numpy()
    np.testing.assert_array_equal(interleaved[..., to_half], half)


@pytest.mark.parametrize("interleaved", [False, True])
def test_partial_rotary_passes_the_other_features_through(interleaved):
    x = np.random.default_rng(2).standard_normal((2, 2, 5, 10))
    partial = RotaryEmbedding(10, rotary_dim=4, interleaved=interleaved)
    full = RotaryEmbedding(4, interleaved=interleaved)
    leaf = _leaf(x)
    out = partial(leaf, offset=3)
    np.testing.assert_array_equal(out.numpy()[..., 4:], x[..., 4:])
    np.testing.assert_array_equal(out.numpy()[..., :4], full(nf.tensor(x[..., :4]), offset=3).numpy())
    assert not np.allclose(out.numpy()[..., :4], x[..., :4])
    upstream = np.random.default_rng(3).standard_normal(x.shape)
    out.backward(upstream)
    np.testing.assert_array_equal(leaf.grad.numpy()[..., 4:], upstream[..., 4:])
    assert nf.gradcheck(lambda t: partial(t, offset=3), (_leaf(x[:1, :, :3]),))


def test_rope_offset_equals_explicit_positions():
    x = nf.tensor(np.random.default_rng(4).standard_normal((1, 2, 4, 6)))
    rope = RotaryEmbedding(6)
    np.testing.assert_array_equal(rope(x, offset=7).numpy(), rope(x, positions=np.arange(7, 11)).numpy())
    np.testing.assert_array_equal(rope(x).numpy(), rope(x, positions=[0, 1, 2, 3]).numpy())
    np.testing.assert_array_equal(rope(x, offset=7).numpy(), rope(x, positions=nf.tensor(np.arange(7, 11))).numpy())


@pytest.mark.parametrize("interleaved", [False, True])
def test_rope_batch_positions_apply_per_row(interleaved):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 4, 6))                          # (B, H, T, D)
    positions = np.array([[0, 1, 2, 3], [5, 6, 7, 8], [2, 0, 9, 4]])
    rope = RotaryEmbedding(6, interleaved=interleaved)
    out = rope(nf.tensor(x), positions=positions).numpy()
    for b in range(3):
        np.testing.assert_array_equal(out[b], rope(nf.tensor(x[b]), positions=positions[b]).numpy())
    no_heads = rope(nf.tensor(x[:, 0]), positions=positions).numpy()  # (B, T, D) with (B, T)
    np.testing.assert_array_equal(no_heads, out[:, 0])


def test_rope_refuses_bad_inputs():
    rope = RotaryEmbedding(6)
    with pytest.raises(ValueError, match="head_dim=6"):
        rope(nf.tensor(np.ones((2, 4))))
    with pytest.raises(ValueError, match="T=3"):
        rope(nf.tensor(np.ones((1, 3, 6))), positions=np.arange(4))
    with pytest.raises(ValueError, match="B=2"):
        rope(nf.tensor(np.ones((3, 1, 4, 6))), positions=np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(TypeError, match="integers"):
        rope(nf.tensor(np.ones((3, 6))), positions=np.arange(3.0))
    with pytest.raises(ValueError, match="even"):
        RotaryEmbedding(6, rotary_dim=3)
    with pytest.raises(ValueError, match="at most head_dim"):
        RotaryEmbedding(6, rotary_dim=8)


def test_rope_has_no_parameters_and_to_keeps_the_table_precision():
    rope = RotaryEmbedding(8, table_dtype=np.float32)
    assert list(rope.parameters()) == [] and rope.state_dict() == {}
    rope.to(np.float64)
    assert rope.inv_freq.dtype == np.float32


# ---------------------------------------------------------------- sinusoidal and learned tables
@pytest.mark.parametrize("dim", [1, 2, 6, 7])
def test_sinusoidal_table_against_the_formula(dim):
    positions = np.arange(50)
    interleaved = sinusoidal_table(50, dim, base=100.0)
    half = sinusoidal_table(50, dim, base=100.0, layout="half")
    for i in range((dim + 1) // 2):
        angle = positions / 100.0 ** (2 * i / dim)
        np.testing.assert_array_equal(interleaved[:, 2 * i], np.sin(angle))
        np.testing.assert_array_equal(half[:, i], np.sin(angle))
        if 2 * i + 1 < dim:
            np.testing.assert_array_equal(interleaved[:, 2 * i + 1], np.cos(angle))
            np.testing.assert_array_equal(half[:, (dim + 1) // 2 + i], np.cos(angle))


def test_sinusoidal_embedding_lookup():
    table = SinusoidalPositionalEmbedding(16, 6)
    assert table.table.dtype == np.float32 and table.state_dict() == {}
    positions = np.array([[3, 0, 15], [1, 1, 2]])
    out = table(positions)
    assert out.shape == (2, 3, 6) and out.dtype == np.float32 and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), sinusoidal_table(16, 6).astype(np.float32)[positions])
    np.testing.assert_array_equal(table([4, 5]).numpy(), table(nf.tensor(np.array([4, 5]))).numpy())
    assert table(7).shape == (6,)
    assert SinusoidalPositionalEmbedding(16, 6, dtype=np.float64)(positions).dtype == np.float64


@pytest.mark.parametrize("bad", [16, -1, [[0, 99]]])
def test_position_tables_refuse_out_of_range(bad):
    for module in (SinusoidalPositionalEmbedding(16, 4), LearnedPositionalEmbedding(16, 4, offset=2)):
        with pytest.raises(IndexError, match="num_positions=16"):
            module(bad)
    with pytest.raises(TypeError, match="integers"):
        SinusoidalPositionalEmbedding(16, 4)(np.array([1.0]))
    with pytest.raises(ValueError, match="layout"):
        SinusoidalPositionalEmbedding(16, 4, layout="split")


def test_learned_embedding_offset_and_gradient():
    module = LearnedPositionalEmbedding(10, 3, offset=2, dtype=np.float64, generator=nf.Generator().manual_seed(0))
    assert module.weight.shape == (12, 3)
    assert list(module.state_dict()) == ["weight"]
    positions = np.array([[0, 9, 9], [4, 0, 1]])
    out = module(positions)
    np.testing.assert_array_equal(out.numpy(), module.weight.numpy()[positions + 2])
    upstream = np.random.default_rng(6).standard_normal(out.shape)
    out.backward(upstream)
    expected = np.zeros((12, 3))
    np.add.at(expected, positions + 2, upstream)
    np.testing.assert_allclose(module.weight.grad, expected, rtol=1e-15)
    assert not module.weight.grad.numpy()[:2].any()                         # the offset rows are never used
    assert LearnedPositionalEmbedding(4, 3).weight.dtype == np.float32


# ---------------------------------------------------------------- ALiBi
def _paper_slopes(n):
    """Press et al.'s reference get_slopes, as published."""
    def power_of_2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start ** i for i in range(n)]
    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + _paper_slopes(2 * closest)[0::2][:n - closest]


@pytest.mark.parametrize("n_heads", range(1, 34))
def test_alibi_slopes_match_the_paper(n_heads):
    slopes = alibi_slopes(n_heads)
    assert slopes.dtype == np.float64 and slopes.shape == (n_heads,)
    np.testing.assert_allclose(slopes, _paper_slopes(n_heads), rtol=1e-14)


@pytest.mark.parametrize("n_heads", [1, 2, 4, 8, 16, 32])
def test_alibi_slopes_of_a_power_of_two_are_geometric(n_heads):
    ratio = 2.0 ** (-8 / n_heads)
    np.testing.assert_allclose(alibi_slopes(n_heads), ratio ** np.arange(1, n_heads + 1), rtol=1e-14)
    if n_heads == 8:
        np.testing.assert_array_equal(alibi_slopes(8), 1 / 2.0 ** np.arange(1, 9))


def test_alibi_bias_values():
    alibi = ALiBi(6)
    bias = alibi(3, 5, offset=2)
    assert bias.shape == (6, 3, 5) and bias.dtype == np.float32 and not bias.requires_grad
    slopes = alibi_slopes(6)
    for h in range(6):
        for i in range(3):
            for j in range(5):
                assert bias.numpy()[h, i, j] == np.float32(-slopes[h] * abs(i + 2 - j))
    assert alibi(2, 2, dtype=np.float64).dtype == np.float64
    assert list(alibi.parameters()) == []


def test_alibi_under_a_causal_mask_equals_blooms_key_position_bias():
    # BLOOM adds slope * j; ours is -slope * (i + offset - j). Per row they differ by a constant,
    # so the causal softmax is the same.
    rng = np.random.default_rng(7)
    n_heads, length, offset = 5, 4, 3
    keys = offset + length
    scores = rng.standard_normal((n_heads, length, keys))
    allowed = np.arange(keys)[None, :] <= (np.arange(length)[:, None] + offset)
    slopes = alibi_slopes(n_heads)[:, None, None]

    def causal_softmax(s):
        s = np.where(allowed, s, -np.inf)
        e = np.exp(s - s.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    ours = causal_softmax(scores + ALiBi(n_heads)(length, keys, offset=offset, dtype=np.float64).numpy())
    bloom = causal_softmax(scores + slopes * np.arange(keys))
    np.testing.assert_allclose(ours, bloom, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- T5 relative position buckets
bucket_configs = st.tuples(st.sampled_from([4, 6, 8, 16, 32, 64]), st.integers(1, 300), st.booleans()).filter(
    lambda c: c[1] > (c[0] // 2 if c[2] else c[0]) // 2)


@given(bucket_configs)
def test_t5_buckets_are_monotone_within_each_direction(config):
    num_buckets, max_distance, bidirectional = config
    distance = np.arange(0, 3 * max_distance + 50)
    later = relative_position_bucket(distance, bidirectional, num_buckets, max_distance)
    earlier = relative_position_bucket(-distance, bidirectional, num_buckets, max_distance)
    assert np.all(np.diff(earlier) >= 0)
    per_direction = num_buckets // 2 if bidirectional else num_buckets
    exact = per_direction // 2
    np.testing.assert_array_equal(earlier[:exact], np.arange(exact))     # one bucket per small distance
    assert earlier[-1] == per_direction - 1                              # far keys share the last bucket
    np.testing.assert_array_equal(earlier[distance >= max_distance], per_direction - 1)
    assert earlier.min() >= 0 and earlier.max() < per_direction
    if bidirectional:
        # keys after the query use the upper half, the rest the lower half
        assert np.all(np.diff(later[1:]) >= 0)
        np.testing.assert_array_equal(later[1:], earlier[1:] + per_direction)
        assert later[0] == 0
    else:
        np.testing.assert_array_equal(later, 0)                          # a decoder never sees later keys


def test_t5_buckets_known_values_and_shape():
    # one bucket each below 8; then bucket 8 + floor(8 log(d / 8) / log 16): d = 16 starts bucket 10,
    # d = 91 > 8 * 16^(7/8) = 90.5 reaches the last one
    relative = np.array([[-200, -128, -127, -91, -90, -16, -15, -8, -7, 0, 1, 7, 8, 16, 91, 127, 128, 5000]])
    buckets = relative_position_bucket(relative)                         # num_buckets=32, max_distance=128
    assert buckets.shape == relative.shape and buckets.dtype == np.int64
    np.testing.assert_array_equal(buckets[0], [15, 15, 15, 15, 14, 10, 9, 8, 7, 0, 17, 23, 24, 26, 31, 31, 31, 31])
    np.testing.assert_array_equal(relative_position_bucket(np.array([-1, 3]), bidirectional=False,
                                                           num_buckets=32), [1, 0])
    with pytest.raises(ValueError, match="num_buckets"):
        relative_position_bucket(np.array([1]), num_buckets=2)
    with pytest.raises(ValueError, match="max_distance"):
        relative_position_bucket(np.array([1]), num_buckets=32, max_distance=8)


def _t5_expected(module, length, keys, offset):
    relative = np.arange(keys)[None, :] - (np.arange(length)[:, None] + offset)
    buckets = relative_position_bucket(relative, module.bidirectional, module.num_buckets, module.max_distance)
    return buckets


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_relative_position_bias_values_and_gradient(bidirectional):
    module = T5RelativePositionBias(3, num_buckets=8, max_distance=12, bidirectional=bidirectional,
                                    dtype=np.float64, generator=nf.Generator().manual_seed(1))
    assert list(module.state_dict()) == ["relative_attention_bias.weight"]
    length, keys, offset = 4, 20, 5
    bias = module(length, keys, offset=offset)
    assert bias.shape == (1, 3, length, keys) and bias.requires_grad
    buckets = _t5_expected(module, length, keys, offset)
    weight = module.relative_attention_bias.weight
    np.testing.assert_array_equal(bias.numpy()[0], np.transpose(weight.numpy()[buckets], (2, 0, 1)))
    # offset: the rows of a longer query block
    np.testing.assert_array_equal(bias.numpy(), module(length + offset, keys).numpy()[:, :, offset:])
    upstream = np.random.default_rng(8).standard_normal(bias.shape)
    (grad_weight,) = autograd_grad([bias], [weight], [upstream])
    expected = np.zeros(weight.shape)
    for i in range(length):
        for j in range(keys):
            expected[buckets[i, j]] += upstream[0, :, i, j]
    np.testing.assert_allclose(grad_weight.numpy(), expected, rtol=1e-14, atol=1e-15)


def test_t5_bias_is_float32_by_default():
    bias = T5RelativePositionBias(2)(3, 4)
    assert bias.dtype == np.float32
