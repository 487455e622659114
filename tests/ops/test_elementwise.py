"""exp, log, sqrt, tanh, sigmoid, relu, abs, maximum, minimum, where, clamp."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
from tests.strategies import FLOAT_DTYPES, broadcast_pairs, shapes, values

# name -> (npformer function, NumPy reference, domain (low, high), points to stay away from)
UNARY = {
    "exp": (nf.exp, np.exp, (-3, 3), None),
    "log": (nf.log, np.log, (0.1, 4), None),
    "sqrt": (nf.sqrt, np.sqrt, (0.1, 4), None),
    "erf": (nf.erf, np.vectorize(math.erf, otypes=[float]), (-4, 4), None),
    "tanh": (nf.tanh, np.tanh, (-3, 3), None),
    "sigmoid": (nf.sigmoid, lambda a: 1 / (1 + np.exp(-a)), (-6, 6), None),
    "relu": (nf.relu, lambda a: np.maximum(a, 0), (-2, 2), [0.0]),
    "abs": (nf.abs, np.abs, (-2, 2), [0.0]),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data(), shape=shapes(), dtype=FLOAT_DTYPES)
def test_unary_forward_matches_numpy(name, data, shape, dtype):
    ours, reference, (low, high), away = UNARY[name]
    a = data.draw(values(shape, low, high, away_from=away)).astype(dtype)
    out = ours(nf.tensor(a))
    assert out.dtype == dtype
    tolerance = 2e-7 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(out.numpy(), reference(a.astype(np.float64)), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data(), shape=shapes())
def test_unary_gradients(name, data, shape):
    ours, _, (low, high), away = UNARY[name]
    x = nf.tensor(data.draw(values(shape, low, high, away_from=away)), requires_grad=True)
    assert nf.gradcheck(ours, (x,))


def test_sigmoid_is_stable_and_accurate_in_both_tails():
    x = nf.tensor([-800.0, -40.0, 0.0, 40.0, 800.0], dtype=np.float64)
    out = nf.sigmoid(x).numpy()
    assert out[0] == 0.0 and out[-1] == 1.0 and out[2] == 0.5
    np.testing.assert_allclose(out[1], math.exp(-40) / (1 + math.exp(-40)), rtol=1e-15)
    big = nf.tensor([-200.0, 200.0], requires_grad=True)
    nf.sigmoid(big).sum().backward()
    assert np.all(np.isfinite(big.grad.numpy()))


def test_domain_errors_give_nan_silently_as_in_pytorch():
    out = nf.tensor([-1.0, 0.0]).log()
    assert np.isnan(out.numpy()[0]) and np.isneginf(out.numpy()[1])
    assert np.isnan(nf.tensor([-1.0]).sqrt().numpy()[0])
    assert np.isposinf(nf.tensor([1000.0]).exp().numpy()[0])


def test_relu_and_abs_derivative_at_zero_is_zero():
    x = nf.tensor([0.0, 0.0], requires_grad=True)
    (x.relu() + x.abs()).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


@pytest.mark.parametrize("ours, reference", [(nf.maximum, np.maximum), (nf.minimum, np.minimum)])
@given(data=st.data(), pair=broadcast_pairs(), dtype=FLOAT_DTYPES)
def test_maximum_minimum(ours, reference, data, pair, dtype):
    joint = data.draw(values((int(np.prod(pair[0])) + int(np.prod(pair[1])),), distinct=True))
    a = joint[:int(np.prod(pair[0]))].reshape(pair[0])
    b = joint[int(np.prod(pair[0])):].reshape(pair[1])
    out = ours(nf.tensor(a.astype(dtype)), nf.tensor(b.astype(dtype)))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), reference(a.astype(dtype), b.astype(dtype)))
    assert nf.gradcheck(ours, (nf.tensor(a, requires_grad=True), nf.tensor(b, requires_grad=True)))


def test_maximum_tie_splits_the_gradient():
    a = nf.tensor([1.0, 2.0], requires_grad=True)
    b = nf.tensor([1.0, 3.0], requires_grad=True)
    nf.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0])


@given(data=st.data(), shapes3=st.tuples(broadcast_pairs(), st.booleans()), dtype=FLOAT_DTYPES)
def test_where(data, shapes3, dtype):
    (shape_a, shape_b), mask_full = shapes3
    out_shape = np.broadcast_shapes(shape_a, shape_b)
    condition = data.draw(values(out_shape if mask_full else (1,) * len(out_shape))) > 0
    a = data.draw(values(shape_a)).astype(dtype)
    b = data.draw(values(shape_b)).astype(dtype)
    out = nf.where(nf.tensor(condition), nf.tensor(a), nf.tensor(b))
    np.testing.assert_array_equal(out.numpy(), np.where(condition, a, b))
    assert out.dtype == dtype
    assert nf.gradcheck(lambda x, y: nf.where(nf.tensor(condition), x, y),
                        (nf.tensor(a, requires_grad=True), nf.tensor(b, requires_grad=True)))


def test_where_with_a_scalar_branch_keeps_float32():
    x = nf.tensor([1.0, -1.0])
    assert nf.where(x > 0, x, 0.0).dtype == np.float32


@given(data=st.data(), shape=shapes(), bounds=st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.2, None)]),
       dtype=FLOAT_DTYPES)
def test_clamp(data, shape, bounds, dtype):
    low, high = bounds
    a = data.draw(values(shape, away_from=[b for b in bounds if b is not None])).astype(dtype)
    out = nf.clamp(nf.tensor(a), low, high)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), np.clip(a, low, high).astype(dtype))
    assert nf.gradcheck(lambda t: t.clamp(low, high), (nf.tensor(a, requires_grad=True),))


def test_clamp_gradient_includes_the_bounds():
    x = nf.tensor([-1.0, -0.5, 0.0, 0.5, 1.0], requires_grad=True)
    x.clamp(-0.5, 0.5).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 0])


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="at least one"):
        nf.tensor([1.0]).clamp()
