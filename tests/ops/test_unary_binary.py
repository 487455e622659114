"""The elementwise ops of ops/unary.py, ops/rounding.py, ops/binary.py and ops/softplus.py against
plain NumPy formulas; dtypes; in-place forms; and their edge cases."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
import npformer.nn.functional as F
from tests.strategies import FLOAT_DTYPES, broadcast_pairs, shapes, values

# name -> (npformer function, NumPy formula in float64, domain)
UNARY = {
    "sin": (nf.sin, np.sin, (-4, 4)),
    "cos": (nf.cos, np.cos, (-4, 4)),
    "tan": (nf.tan, lambda a: np.sin(a) / np.cos(a), (-1.3, 1.3)),
    "asin": (nf.asin, np.arcsin, (-0.99, 0.99)),
    "acos": (nf.acos, lambda a: math.pi / 2 - np.arcsin(a), (-0.99, 0.99)),
    "atan": (nf.atan, np.arctan, (-4, 4)),
    "sinh": (nf.sinh, lambda a: (np.exp(a) - np.exp(-a)) / 2, (-3, 3)),
    "cosh": (nf.cosh, lambda a: (np.exp(a) + np.exp(-a)) / 2, (-3, 3)),
    "asinh": (nf.asinh, lambda a: np.log(a + np.sqrt(a * a + 1)), (-4, 4)),
    "acosh": (nf.acosh, lambda a: np.log(a + np.sqrt(a * a - 1)), (1.05, 4)),
    "atanh": (nf.atanh, lambda a: 0.5 * np.log((1 + a) / (1 - a)), (-0.9, 0.9)),
    "log1p": (nf.log1p, lambda a: np.log(1 + a), (-0.9, 4)),
    "expm1": (nf.expm1, lambda a: np.exp(a) - 1, (-3, 3)),
    "log2": (nf.log2, lambda a: np.log(a) / math.log(2), (0.1, 4)),
    "log10": (nf.log10, lambda a: np.log(a) / math.log(10), (0.1, 4)),
    "exp2": (nf.exp2, lambda a: np.exp(a * math.log(2)), (-4, 4)),
    "square": (nf.square, lambda a: a * a, (-3, 3)),
    "reciprocal": (nf.reciprocal, lambda a: 1 / a, (0.2, 3)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data(), shape=shapes(), dtype=FLOAT_DTYPES)
def test_unary_forward_matches_numpy_formula(name, data, shape, dtype):
    ours, formula, (low, high) = UNARY[name]
    a = data.draw(values(shape, low, high)).astype(dtype)
    out = ours(nf.tensor(a))
    assert out.dtype == dtype
    tolerance = 3e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out.numpy(), formula(a.astype(np.float64)), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_method_and_inplace_agree_with_the_function(name):
    ours, _, (low, high) = UNARY[name]
    a = np.random.default_rng(3).uniform(low, high, (2, 3))
    expected = ours(nf.tensor(a)).numpy()
    np.testing.assert_array_equal(getattr(nf.tensor(a), name)().numpy(), expected)
    x = nf.tensor(a)
    alias = x[0]                                        # a view sees the write, as in PyTorch
    assert getattr(x, name + "_")() is x
    np.testing.assert_array_equal(x.numpy(), expected)
    np.testing.assert_array_equal(alias.numpy(), expected[0])
    assert x._version == 1


def test_small_arguments_keep_their_precision():
    tiny = nf.tensor([1e-12, -3e-17], dtype=np.float64)
    np.testing.assert_allclose(nf.log1p(tiny).numpy(), [1e-12 - 5e-25, -3e-17], rtol=1e-15)
    np.testing.assert_allclose(nf.expm1(tiny).numpy(), [1e-12 + 5e-25, -3e-17], rtol=1e-15)


def test_outside_the_domain_gives_nan_and_inf_silently(recwarn):
    x = nf.tensor([2.0, -1.0, 1.0], dtype=np.float64)
    assert np.isnan(nf.asin(x).numpy()[0]) and np.isnan(nf.acosh(nf.tensor([0.5])).numpy()[0])
    assert nf.log1p(x).numpy()[1] == -np.inf and nf.atanh(x).numpy()[2] == np.inf
    assert nf.reciprocal(nf.tensor([0.0, -0.0])).numpy().tolist() == [np.inf, -np.inf]
    assert not recwarn.list


def test_integer_inputs_become_the_default_float_or_stay_integers():
    ints = nf.tensor([1, -2, 3])
    assert nf.sin(ints).dtype == np.float32 and nf.reciprocal(ints).dtype == np.float32
    assert nf.square(ints).dtype == np.int64 and nf.square(ints).tolist() == [1, 4, 9]
    assert nf.sign(ints).tolist() == [1, -1, 1] and nf.sign(ints).dtype == np.int64
    assert nf.floor(ints).dtype == np.int64 and nf.round(ints).tolist() == [1, -2, 3]
    with pytest.raises(TypeError, match="floating-point"):
        nf.frac(ints)
    with pytest.raises(RuntimeError, match="can't be cast"):
        ints.sin_()                                     # a float result cannot go into int memory


# ---------------------------------------------------------------- rounding
def test_rounding_values_and_zero_gradients():
    a = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 1.2, 0.0])
    x = nf.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(nf.round(x).numpy(), [-2, -2, -0, 0, 2, 2, -2, 1, 0])   # half to even
    np.testing.assert_array_equal(nf.floor(x).numpy(), np.floor(a))
    np.testing.assert_array_equal(nf.ceil(x).numpy(), np.ceil(a))
    np.testing.assert_array_equal(nf.trunc(x).numpy(), [-2, -1, -0, 0, 1, 2, -1, 1, 0])
    np.testing.assert_array_equal(nf.frac(x).numpy(), a - np.trunc(a))
    np.testing.assert_array_equal(nf.sign(x).numpy(), np.sign(a))
    (nf.round(x) + nf.floor(x) + nf.ceil(x) + nf.trunc(x) + nf.sign(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros_like(a))
    x.grad = None
    nf.frac(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(a))


@pytest.mark.parametrize("decimals", [1, 2, -1, -2])
def test_round_with_decimals(decimals):
    a = np.array([1234.5678, -0.125, 0.35, 15.0, -250.0])
    expected = np.round(a, decimals)
    np.testing.assert_array_equal(nf.round(nf.tensor(a), decimals=decimals).numpy(), expected)
    np.testing.assert_array_equal(nf.tensor(a).round(decimals=decimals).numpy(), expected)


def test_round_rejects_a_positional_or_float_decimals():
    with pytest.raises(TypeError):
        nf.tensor([1.0]).round(2)
    with pytest.raises(TypeError, match="decimals must be an int"):
        nf.round(nf.tensor([1.0]), decimals=1.5)


# ---------------------------------------------------------------- two and three operands
@given(data=st.data(), pair=broadcast_pairs(), dtype=FLOAT_DTYPES)
def test_atan2_and_hypot_match_numpy(data, pair, dtype):
    a = data.draw(values(pair[0], away_from=[0.0])).astype(dtype)
    b = data.draw(values(pair[1], away_from=[0.0])).astype(dtype)
    tolerance = 3e-6 if dtype == np.float32 else 1e-14
    angle = nf.atan2(nf.tensor(a), nf.tensor(b))
    assert angle.dtype == dtype
    np.testing.assert_allclose(np.cos(angle.numpy().astype(np.float64)) * np.hypot(a, b),
                               np.broadcast_to(b, angle.shape), rtol=tolerance * 10, atol=tolerance * 10)
    length = nf.hypot(nf.tensor(a), nf.tensor(b))
    np.testing.assert_allclose(length.numpy(), np.sqrt(a.astype(np.float64) ** 2 + b.astype(np.float64) ** 2),
                               rtol=tolerance, atol=tolerance)


def test_hypot_does_not_overflow():
    out = nf.hypot(nf.tensor([3e200], dtype=np.float64), nf.tensor([4e200], dtype=np.float64)).item()
    assert out == pytest.approx(5e200, rel=1e-15)          # (3e200)^2 alone would be inf


def test_lerp_is_exact_at_the_ends_and_differentiable_in_all_three():
    start = nf.tensor([0.1, -3.0], requires_grad=True, dtype=np.float64)
    end = nf.tensor([0.7, 2.0], requires_grad=True, dtype=np.float64)
    assert nf.lerp(start, end, 1.0).tolist() == [0.7, 2.0]
    assert nf.lerp(start, end, 0.0).tolist() == [0.1, -3.0]
    weight = nf.tensor([0.25, 0.75], requires_grad=True, dtype=np.float64)
    out = start.lerp(end, weight)
    np.testing.assert_allclose(out.numpy(), [0.1 + 0.25 * 0.6, -3.0 + 0.75 * 5.0], rtol=1e-15)
    out.sum().backward()
    np.testing.assert_allclose(start.grad.numpy(), [0.75, 0.25])
    np.testing.assert_allclose(end.grad.numpy(), [0.25, 0.75])
    np.testing.assert_allclose(weight.grad.numpy(), [0.6, 5.0])


def test_addcmul_addcdiv():
    a, b, c = (np.random.default_rng(i).uniform(1, 2, (2, 3)) for i in range(3))
    np.testing.assert_allclose(nf.addcmul(nf.tensor(a), nf.tensor(b), nf.tensor(c), value=0.5).numpy(), a + 0.5 * b * c)
    np.testing.assert_allclose(nf.tensor(a).addcdiv(nf.tensor(b), nf.tensor(c), value=-2).numpy(), a - 2 * b / c)
    x = nf.tensor(a)
    x.addcmul_(nf.tensor(b), nf.tensor(c))
    np.testing.assert_allclose(x.numpy(), a + b * c)


# ---------------------------------------------------------------- softplus
@given(data=st.data(), shape=shapes(), dtype=FLOAT_DTYPES)
def test_softplus_matches_its_formula(data, shape, dtype):
    beta = data.draw(st.sampled_from([1.0, 2.0, 0.5]))
    threshold = data.draw(st.sampled_from([20.0, 1.0]))
    a = data.draw(values(shape, -40, 40)).astype(dtype)
    x = a.astype(np.float64)
    expected = np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)
    out = F.softplus(nf.tensor(a), beta, threshold)
    assert out.dtype == dtype
    tolerance = 3e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(out.numpy(), expected, rtol=tolerance, atol=tolerance)


def test_softplus_never_overflows_and_needs_floats():
    out = F.softplus(nf.tensor([1000.0, -1000.0]), threshold=1e9)
    assert out.tolist() == [1000.0, 0.0]
    with pytest.raises(TypeError, match="floating-point"):
        F.softplus(nf.tensor([1, 2]))
