"""add, sub, mul, div, neg, pow: forward against NumPy, gradients against finite differences,
over Hypothesis-drawn broadcasting shapes and both float dtypes."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
from tests.strategies import FLOAT_DTYPES, broadcast_pairs, shapes, values

BINARY = {
    "add": (nf.add, np.add),
    "sub": (nf.sub, np.subtract),
    "mul": (nf.mul, np.multiply),
    "div": (nf.div, np.divide),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data(), pair=broadcast_pairs(), dtype=FLOAT_DTYPES)
def test_binary_forward_matches_numpy(name, data, pair, dtype):
    ours, reference = BINARY[name]
    a = data.draw(values(pair[0])).astype(dtype)
    b = data.draw(values(pair[1], away_from=[0.0] if name == "div" else None)).astype(dtype)
    out = ours(nf.tensor(a), nf.tensor(b))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), reference(a, b))


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data(), pair=broadcast_pairs())
def test_binary_gradients_with_broadcasting(name, data, pair):
    ours, _ = BINARY[name]
    a = nf.tensor(data.draw(values(pair[0])), requires_grad=True)
    b = nf.tensor(data.draw(values(pair[1], away_from=[0.0] if name == "div" else None)), requires_grad=True)
    assert nf.gradcheck(ours, (a, b))


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data(), shape=shapes(), scalar=st.floats(0.5, 3.0), reflected=st.booleans())
def test_binary_with_python_scalar(name, data, shape, scalar, reflected):
    ours, reference = BINARY[name]
    a = data.draw(values(shape, away_from=[0.0]))
    x = nf.tensor(a, requires_grad=True)
    fn = (lambda t: ours(scalar, t)) if reflected else (lambda t: ours(t, scalar))
    expected = reference(scalar, a) if reflected else reference(a, scalar)
    np.testing.assert_allclose(fn(x).numpy(), expected, rtol=1e-15)
    assert nf.gradcheck(fn, (x,))


@given(data=st.data(), shape=shapes(), dtype=FLOAT_DTYPES)
def test_neg(data, shape, dtype):
    a = data.draw(values(shape)).astype(dtype)
    np.testing.assert_array_equal((-nf.tensor(a)).numpy(), -a)
    assert nf.gradcheck(nf.neg, (nf.tensor(a, requires_grad=True),))


@given(data=st.data(), pair=broadcast_pairs())
def test_pow_tensor_exponent(data, pair):
    base = data.draw(values(pair[0], low=0.3, high=2.0))
    exponent = data.draw(values(pair[1], low=-2.0, high=2.0))
    out = nf.pow(nf.tensor(base), nf.tensor(exponent))
    np.testing.assert_allclose(out.numpy(), np.power(base, exponent), rtol=1e-15)
    assert nf.gradcheck(nf.pow, (nf.tensor(base, requires_grad=True), nf.tensor(exponent, requires_grad=True)))


@given(data=st.data(), shape=shapes(), exponent=st.sampled_from([0, 1, 2, 3, -1, 0.5, -1.5]))
def test_pow_scalar_exponent(data, shape, exponent):
    positive_only = not float(exponent).is_integer()
    base = data.draw(values(shape, low=0.3 if positive_only else -2.0, high=2.0, away_from=[0.0]))
    x = nf.tensor(base, requires_grad=True)
    np.testing.assert_allclose((x ** exponent).numpy(), np.power(base, float(exponent)), rtol=1e-14)
    assert nf.gradcheck(lambda t: t ** exponent, (x,))


def test_pow_edge_cases_follow_pytorch():
    # d(x^0)/dx is 0 even at x = 0; d(0^p)/dp is 0 for p >= 0 (the limit of 0^p ln 0).
    x = nf.tensor([0.0, 2.0], requires_grad=True, dtype=np.float64)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    p = nf.tensor([0.0, 2.0], requires_grad=True, dtype=np.float64)
    (nf.tensor([0.0, 0.0], dtype=np.float64) ** p).sum().backward()
    np.testing.assert_array_equal(p.grad, [0.0, 0.0])


def test_division_by_zero_gives_inf_silently():
    # RuntimeWarnings are errors under pytest here, so this also proves none leaks.
    out = nf.tensor([1.0, -1.0, 0.0]) / nf.tensor([0.0, 0.0, 0.0])
    assert np.isposinf(out.numpy()[0]) and np.isneginf(out.numpy()[1]) and np.isnan(out.numpy()[2])


def test_broadcast_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"Add: .*\(2,3\).*\(4,\)"):
        nf.tensor(np.ones((2, 3))) + nf.tensor(np.ones(4))
