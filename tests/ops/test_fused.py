"""The fused ops: each fused backward equals the gradient of the same math composed from
primitives (and passes gradcheck, which tests/test_grad_cases.py runs for every case), plus
the properties each op must have and its bad-input errors."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npformer as nf
import npformer.functional as F
from tests.strategies import shapes, values

SQRT_HALF = math.sqrt(0.5)


def assert_same_gradients(fused, composed, arrays, constants=(), rtol=1e-10):
    """Forward values and the gradients of every input agree between two implementations."""
    upstream = None
    results = []
    for fn in (fused, composed):
        leaves = [nf.tensor(a, requires_grad=True) for a in arrays]
        out = fn(*leaves, *constants)
        if upstream is None:
            upstream = np.random.default_rng(0).standard_normal(out.shape)
        out.backward(upstream)
        results.append((out.numpy(), [leaf.grad.numpy() for leaf in leaves]))
    (out_fused, grads_fused), (out_composed, grads_composed) = results
    np.testing.assert_allclose(out_fused, out_composed, rtol=rtol, atol=rtol)
    for g_fused, g_composed in zip(grads_fused, grads_composed):
        np.testing.assert_allclose(g_fused, g_composed, rtol=rtol, atol=rtol)


# ---------------------------------------------------------------- compositions from primitives
def composed_softmax(x, dim):
    e = (x - x.amax(dim, keepdim=True)).exp()
    return e / e.sum(dim, keepdim=True)


def composed_log_softmax(x, dim):
    shifted = x - x.amax(dim, keepdim=True)
    return shifted - shifted.exp().sum(dim, keepdim=True).log()


def composed_cross_entropy(x, target, weight=None, reduction="mean", label_smoothing=0.0):
    """PyTorch's definition for (N, C) logits and class-index targets, from primitives."""
    n, classes = x.shape
    logp = composed_log_softmax(x, 1)
    valid = target != -100
    safe = np.where(valid, target, 0)
    w = np.ones(classes) if weight is None else weight
    target_weight = nf.tensor(w[safe] * valid)
    picked = logp.gather(1, nf.tensor(safe[:, None])).squeeze(1)
    smooth = (logp * nf.tensor(w)).sum(1) * nf.tensor(valid.astype(np.float64))
    per_row = -(1 - label_smoothing) * target_weight * picked - (label_smoothing / classes) * smooth
    if reduction == "none":
        return per_row
    return per_row.sum() if reduction == "sum" else per_row.sum() / target_weight.sum()


def composed_layer_norm(x, weight, bias, eps=1e-5):
    centered = x - x.mean(-1, keepdim=True)
    y = centered / (centered * centered).mean(-1, keepdim=True).__add__(eps).sqrt()
    return y * weight + bias


def composed_rms_norm(x, weight, eps=1e-6):
    return x / ((x * x).mean(-1, keepdim=True) + eps).sqrt() * weight


def composed_gelu(x):
    return x * 0.5 * (1.0 + (x * SQRT_HALF).erf())


def composed_gelu_tanh(x):
    return 0.5 * x * (1.0 + (math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)).tanh())


def composed_attention(q, k, v, allowed, scale):
    scores = (q @ k.transpose(-1, -2)) * scale
    scores = scores.masked_fill(nf.tensor(~allowed), float("-inf"))
    return composed_softmax(scores, -1) @ v


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=4))
def test_softmax_and_log_softmax_equal_their_compositions(data, shape):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(values(shape, -5, 5))
    assert_same_gradients(lambda t: F.softmax(t, dim), lambda t: composed_softmax(t, dim), [x])
    assert_same_gradients(lambda t: F.log_softmax(t, dim), lambda t: composed_log_softmax(t, dim), [x])


@given(data=st.data(), n=st.integers(1, 5), classes=st.integers(2, 5),
       reduction=st.sampled_from(["mean", "sum", "none"]), smoothing=st.sampled_from([0.0, 0.25]),
       weighted=st.booleans())
def test_cross_entropy_equals_its_composition(data, n, classes, reduction, smoothing, weighted):
    x = data.draw(values((n, classes), -3, 3))
    target = np.asarray(data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, classes - 1))))
    target[data.draw(st.integers(0, n - 1))] = -100 if n > 1 else target[0]
    weight = data.draw(values((classes,), 0.3, 2.0)) if weighted else None

    def fused(t):
        return F.cross_entropy(t, nf.tensor(target), None if weight is None else nf.tensor(weight),
                               reduction=reduction, label_smoothing=smoothing)

    def composed(t):
        return composed_cross_entropy(t, target, weight, reduction, smoothing)
    assert_same_gradients(fused, composed, [x])


def test_cross_entropy_with_probability_targets_equals_its_composition():
    rng = np.random.default_rng(3)
    x, q = rng.standard_normal((4, 5)), rng.dirichlet(np.ones(5), size=4)
    weight = rng.uniform(0.5, 2, 5)
    smoothed = q * 0.8 + 0.2 / 5

    def fused(t):
        return F.cross_entropy(t, nf.tensor(q), nf.tensor(weight), label_smoothing=0.2)

    def composed(t):
        return -(composed_log_softmax(t, 1) * nf.tensor(smoothed * weight)).sum(1).mean()
    assert_same_gradients(fused, composed, [x])


def test_nll_loss_equals_its_composition():
    rng = np.random.default_rng(4)
    x, target, weight = rng.standard_normal((5, 3)), np.array([0, 2, -100, 1, 1]), rng.uniform(0.5, 2, 3)
    safe = np.where(target == -100, 0, target)
    tw = weight[safe] * (target != -100)

    def fused(t):
        return F.nll_loss(t, nf.tensor(target), nf.tensor(weight))

    def composed(t):
        return -(t.gather(1, nf.tensor(safe[:, None])).squeeze(1) * nf.tensor(tw)).sum() / tw.sum()
    assert_same_gradients(fused, composed, [x])


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, min_side=2, max_side=5))
def test_norms_equal_their_compositions(data, shape):
    x, w, b = data.draw(values(shape)), data.draw(values(shape[-1:])), data.draw(values(shape[-1:]))
    assert_same_gradients(lambda t, tw, tb: F.layer_norm(t, shape[-1:], tw, tb), composed_layer_norm, [x, w, b])
    assert_same_gradients(lambda t, tw: F.rms_norm(t, shape[-1:], tw, eps=1e-6), composed_rms_norm, [x, w])


@given(data=st.data(), shape=shapes())
def test_activations_equal_their_compositions(data, shape):
    x = data.draw(values(shape, -5, 5))
    assert_same_gradients(F.gelu, composed_gelu, [x])
    assert_same_gradients(lambda t: F.gelu(t, approximate="tanh"), composed_gelu_tanh, [x])
    assert_same_gradients(F.silu, lambda t: t * t.sigmoid(), [x])


@given(data=st.data(), num=st.integers(1, 5), dim=st.integers(1, 3))
def test_embedding_equals_indexing(data, num, dim):
    weight = data.draw(values((num, dim)))
    ids = np.asarray(data.draw(hnp.arrays(np.int64, data.draw(shapes(max_dims=2, max_side=4)),
                                          elements=st.integers(0, num - 1))))
    assert_same_gradients(lambda w: F.embedding(nf.tensor(ids), w), lambda w: w[ids], [weight])


def test_embedding_padding_row_gets_no_gradient():
    w = nf.tensor(np.ones((4, 2)), requires_grad=True)
    F.embedding(nf.tensor([[1, 2, 1]]), w, padding_idx=1).sum().backward()
    np.testing.assert_array_equal(w.grad, [[0, 0], [0, 0], [1, 1], [0, 0]])


def test_embedding_id_out_of_range_is_named():
    with pytest.raises(IndexError, match="id 7 is out of range for an embedding of 4 rows"):
        F.embedding(nf.tensor([7]), nf.tensor(np.ones((4, 2))))


@given(data=st.data(), shape=shapes(min_dims=1), out=st.integers(1, 4), bias=st.booleans())
def test_linear_equals_matmul_plus_bias(data, shape, out, bias):
    arrays = [data.draw(values(shape)), data.draw(values((out, shape[-1])))]
    arrays += [data.draw(values((out,)))] if bias else []
    composed = (lambda x, w, b: x @ w.T + b) if bias else (lambda x, w: x @ w.T)
    assert_same_gradients(F.linear, composed, arrays)


def test_dropout_equals_multiplying_by_its_mask():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 7))
    out = F.dropout(nf.tensor(x), 0.3, generator=nf.Generator(9)).numpy()
    keep = out != 0

    def composed(t):
        return t * nf.tensor(keep / 0.7)
    assert_same_gradients(lambda t: F.dropout(t, 0.3, generator=nf.Generator(9)), composed, [x])


@given(data=st.data(), batch=st.integers(1, 2), L=st.integers(1, 4), S=st.integers(1, 4), E=st.integers(1, 3),
       causal=st.booleans(), scale=st.sampled_from([None, 0.6]))
def test_attention_equals_its_composition(data, batch, L, S, E, causal, scale):
    q, k, v = data.draw(values((batch, L, E))), data.draw(values((batch, S, E))), data.draw(values((batch, S, 2)))
    allowed = np.asarray(data.draw(hnp.arrays(np.bool_, (batch, L, S))))
    allowed[..., 0] = True                               # every query sees a key: the composition stays finite
    if causal:
        allowed &= np.tril(np.ones((L, S), dtype=bool))
    effective_scale = 1 / math.sqrt(E) if scale is None else scale
    assert_same_gradients(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, nf.tensor(allowed), scale=scale),
                          lambda a, b, c: composed_attention(a, b, c, allowed, effective_scale), [q, k, v])


def test_grouped_query_attention_equals_repeated_key_value_heads():
    rng = np.random.default_rng(6)
    q, k, v = rng.standard_normal((2, 6, 3, 4)), rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((2, 2, 5, 4))

    def fused(a, b, c):
        return F.scaled_dot_product_attention(a, b, c, is_causal=True, enable_gqa=True)

    def repeated(a, b, c):
        # each kv head serves 3 consecutive query heads (torch's repeat_interleave on dim -3)
        heads = (0, 0, 0, 1, 1, 1)
        return F.scaled_dot_product_attention(a, nf.cat([b[:, i:i + 1] for i in heads], 1),
                                              nf.cat([c[:, i:i + 1] for i in heads], 1), is_causal=True)
    assert_same_gradients(fused, repeated, [q, k, v])


# ---------------------------------------------------------------- properties
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3), shift=st.floats(-1e3, 1e3))
def test_softmax_rows_sum_to_one_and_ignore_a_constant_shift(data, shape, shift):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = data.draw(values(shape, -10, 10))
    y = F.softmax(nf.tensor(x), dim).numpy()
    np.testing.assert_allclose(y.sum(axis=dim), 1.0, rtol=1e-12)
    np.testing.assert_allclose(F.softmax(nf.tensor(x + shift), dim).numpy(), y, rtol=1e-9, atol=1e-12)


def test_softmax_is_stable_for_huge_logits():
    y = F.softmax(nf.tensor([[1e30, 0.0, -1e30], [1e4, 1e4, 1e4]], dtype=np.float64), -1).numpy()
    np.testing.assert_allclose(y, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])
    assert F.log_softmax(nf.tensor([1e4, 0.0]), -1).numpy()[1] == np.float32(-1e4)


def test_softmax_with_minus_infinity_entries():
    x = nf.tensor([[0.0, float("-inf"), 0.0]], requires_grad=True)
    y = F.softmax(x, -1)
    np.testing.assert_allclose(y.numpy(), [[0.5, 0.0, 0.5]])
    y.backward(np.array([[1.0, 5.0, 0.0]]))
    assert np.all(np.isfinite(x.grad.numpy())) and x.grad.numpy()[0, 1] == 0


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, min_side=2, max_side=6),
       scale=st.floats(0.1, 100.0), shift=st.floats(-100.0, 100.0))
def test_layer_norm_ignores_shifts_and_scales_of_its_input(data, shape, scale, shift):
    x = data.draw(values(shape, -3, 3))
    # Every row has spread (its first element is at least 1 above the rest), so eps is
    # negligible. (Adding 1 to the first element was not enough: it can cancel a gap of -1.)
    x[..., 0] = x[..., 1:].max(axis=-1) + 1.0
    plain = F.layer_norm(nf.tensor(x), shape[-1:], eps=1e-12).numpy()
    moved = F.layer_norm(nf.tensor(x * scale + shift), shape[-1:], eps=1e-12).numpy()
    np.testing.assert_allclose(moved, plain, rtol=1e-6, atol=1e-8)


@given(scale=st.floats(0.1, 100.0))
def test_rms_norm_ignores_scales_of_its_input(scale):
    x = np.random.default_rng(7).standard_normal((3, 5))
    np.testing.assert_allclose(F.rms_norm(nf.tensor(x * scale), 5, eps=0.0).numpy(),
                               F.rms_norm(nf.tensor(x), 5, eps=0.0).numpy(), rtol=1e-12)


def test_fully_masked_query_gets_zero_output_and_zero_gradient():
    rng = np.random.default_rng(8)
    q, k, v = (nf.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    allowed = np.ones((2, 3, 5), dtype=bool)
    allowed[1, 2] = False
    out, weights = F.attention_with_weights(q, k, v, nf.tensor(allowed))
    np.testing.assert_array_equal(out.numpy()[1, 2], 0.0)
    np.testing.assert_array_equal(weights.numpy()[1, 2], 0.0)
    (out.sum() + weights.sum()).backward()
    np.testing.assert_array_equal(q.grad.numpy()[1, 2], 0.0)
    assert all(np.all(np.isfinite(t.grad.numpy())) for t in (q, k, v))
    # the same through a float mask of -inf
    bias = np.where(allowed, 0.0, -np.inf)
    out2 = F.scaled_dot_product_attention(q.detach(), k.detach(), v.detach(), nf.tensor(bias))
    np.testing.assert_array_equal(out2.numpy(), out.numpy())


def test_attention_keeps_float32():
    q = nf.randn(2, 3, 4, requires_grad=True)
    out = F.scaled_dot_product_attention(q, nf.randn(2, 5, 4), nf.randn(2, 5, 4), is_causal=True, dropout_p=0.1)
    assert out.dtype == np.float32
    out.sum().backward()
    assert q.grad.numpy().dtype == np.float32


def test_attention_mask_that_does_not_broadcast_is_named():
    q = nf.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(2, 4\) does not broadcast to the attention scores' "
                                         r"shape \(2, 3, 3\)"):
        F.scaled_dot_product_attention(q, q, q, nf.tensor(np.ones((2, 4), dtype=bool)))


def test_dropout_keep_rate_scaling_and_eval_identity():
    x = nf.ones(200, 500)
    y = F.dropout(x, 0.25, generator=nf.Generator(0)).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.005                    # 100,000 draws: 4 standard errors
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert F.dropout(x, 0.25, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 0.25, generator=nf.Generator(4)).numpy(),
                                  F.dropout(x, 0.25, generator=nf.Generator(4)).numpy())
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), 0.0)
    with pytest.raises(ValueError, match="dropout probability"):
        F.dropout(x, 1.5)


def test_unbatched_cross_entropy_equals_a_batch_of_one():
    x = np.array([0.3, -1.2, 2.0, 0.1])
    for smoothing in (0.0, 0.3):
        single = F.cross_entropy(nf.tensor(x), nf.tensor(2), label_smoothing=smoothing).item()
        batch = F.cross_entropy(nf.tensor(x[None]), nf.tensor([2]), label_smoothing=smoothing).item()
        assert single == pytest.approx(batch, rel=1e-15)


def test_cross_entropy_bad_input():
    x = nf.tensor(np.zeros((3, 4)))
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, nf.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"target has shape \(2,\), expected \(3,\)"):
        F.cross_entropy(x, nf.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(x, nf.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"weight has shape \(3,\), expected \(4,\)"):
        F.cross_entropy(x, nf.tensor([0, 1, 2]), nf.tensor([1.0, 1.0, 1.0]))


def test_cross_entropy_mean_with_every_target_ignored_is_nan_silently():
    assert np.isnan(F.cross_entropy(nf.tensor(np.zeros((2, 3))), nf.tensor([-100, -100])).item())


def test_fused_ops_keep_float32():
    x = nf.randn(3, 4, requires_grad=True)
    w = nf.ones(4, requires_grad=True)
    outs = [F.softmax(x, -1), F.log_softmax(x, 0), F.layer_norm(x, 4, w), F.rms_norm(x, 4, w), F.gelu(x),
            F.gelu(x, approximate="tanh"), F.silu(x), F.cross_entropy(x, nf.tensor([0, 1, 3]), label_smoothing=0.1),
            F.linear(x, nf.randn(2, 4)), F.embedding(nf.tensor([1, 0]), x)]
    assert all(o.dtype == np.float32 for o in outs)
    sum(o.sum() for o in outs).backward()
    assert x.grad.numpy().dtype == np.float32 and w.grad.numpy().dtype == np.float32


def test_layer_norm_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"normalized_shape \(5,\) must equal the trailing dims of the input "
                                         r"shape \(2, 4\)"):
        F.layer_norm(nf.randn(2, 4), 5)
    with pytest.raises(ValueError, match=r"weight has shape \(3,\), expected normalized_shape \(4,\)"):
        F.layer_norm(nf.randn(2, 4), 4, nf.ones(3))


def test_float32_normal_cdf_is_within_its_documented_bound():
    from npformer.ops.activation import normal_cdf_float32
    from npformer.ops.special import erfc
    x = np.linspace(-12, 12, 2_000_001).astype(np.float32)
    exact = 0.5 * erfc(-x.astype(np.float64) / np.sqrt(2.0))
    fast = normal_cdf_float32(x)
    assert fast.dtype == np.float32
    assert np.abs(fast - exact).max() < 2e-7
    assert np.all(fast[x < -2] > 0)                      # the small tail keeps its relative shape
    np.testing.assert_allclose(fast[(x < -2) & (x > -8)], exact[(x < -2) & (x > -8)], rtol=2e-5)


def test_a_nan_in_a_row_makes_its_softmax_attention_and_loss_nan_as_torch():
    # the row max skips NaN (np.fmax, for speed); the NaN must still reach every output of
    # its row and no other row
    x = np.array([[0.5, np.nan, -1.0], [0.1, 0.2, 0.3]])
    for out in (F.softmax(nf.tensor(x), -1).numpy(), F.log_softmax(nf.tensor(x), -1).numpy()):
        assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()
    losses = F.cross_entropy(nf.tensor(x), nf.tensor([0, 1]), reduction="none").numpy()
    assert np.isnan(losses[0]) and np.isfinite(losses[1])
    q = nf.tensor(x[:, None, :].repeat(2, 1))                       # (2 batches, 2 queries, 3)
    attended = F.scaled_dot_product_attention(q, nf.tensor(np.ones((2, 2, 3))), nf.tensor(np.ones((2, 2, 3))))
    assert np.isnan(attended.numpy()[0]).all() and np.isfinite(attended.numpy()[1]).all()


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_across_block_boundaries_equals_its_formula(approximate):
    # 300,001 elements: the blockwise kernels run two full blocks and a ragged third; every
    # element must match the closed form (float64, direct NumPy), forward and backward
    from npformer.ops.activation import BLOCK
    from npformer.ops.special import erf
    rng = np.random.default_rng(5)
    x = rng.uniform(-5, 5, 300_001)
    g = rng.standard_normal(x.shape)
    assert x.size > 2 * BLOCK and x.size % BLOCK
    if approximate == "tanh":
        u = np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)
        y = 0.5 * x * (1 + np.tanh(u))
        slope = (0.5 * (1 + np.tanh(u))
                 + 0.5 * x * (1 - np.tanh(u) ** 2) * np.sqrt(2 / np.pi) * (1 + 3 * 0.044715 * x ** 2))
    else:
        cdf = 0.5 * (1 + erf(x / np.sqrt(2)))
        y = x * cdf
        slope = cdf + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
    leaf = nf.tensor(x, requires_grad=True)
    out = F.gelu(leaf, approximate=approximate)
    out.backward(g)
    np.testing.assert_allclose(out.numpy(), y, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(leaf.grad, g * slope, rtol=1e-12, atol=1e-14)
