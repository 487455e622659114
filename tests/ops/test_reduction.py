"""sum, mean, var, amax, amin, and max/min/argmax/argmin built on them, over drawn dims."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
from tests.strategies import FLOAT_DTYPES, dims_for, numpy_axes, shapes, values

REDUCTIONS = {
    "sum": (nf.sum, np.sum),
    "mean": (nf.mean, np.mean),
    "amax": (nf.amax, np.max),
    "amin": (nf.amin, np.min),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(data=st.data(), shape=shapes(), keepdim=st.booleans(), dtype=FLOAT_DTYPES)
def test_forward_matches_numpy(name, data, shape, keepdim, dtype):
    ours, reference = REDUCTIONS[name]
    dim = data.draw(dims_for(len(shape)))
    a = data.draw(values(shape, distinct=True)).astype(dtype)
    out = ours(nf.tensor(a), dim, keepdim)
    expected = reference(a, axis=numpy_axes(dim, len(shape)), keepdims=keepdim)
    assert out.shape == np.shape(expected) and out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(data=st.data(), shape=shapes(), keepdim=st.booleans())
def test_gradients(name, data, shape, keepdim):
    ours, _ = REDUCTIONS[name]
    dim = data.draw(dims_for(len(shape)))
    x = nf.tensor(data.draw(values(shape, distinct=True)), requires_grad=True)
    assert nf.gradcheck(lambda t: ours(t, dim, keepdim), (x,))


@given(data=st.data(), shape=shapes(min_dims=1), keepdim=st.booleans(), correction=st.sampled_from([0, 1]),
       dtype=FLOAT_DTYPES)
def test_var_and_std(data, shape, keepdim, correction, dtype):
    dim = data.draw(dims_for(len(shape)))
    a = data.draw(values(shape)).astype(dtype)
    axes = numpy_axes(dim, len(shape))
    count = a.size if axes is None else int(np.prod([shape[d] for d in np.atleast_1d(axes)]))
    if count - correction <= 0:
        return          # the variance is undefined there; test_var_of_one_element covers it
    out = nf.var(nf.tensor(a), dim, keepdim=keepdim, correction=correction)
    assert out.dtype == dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out.numpy(), np.var(a.astype(np.float64), axis=axes, keepdims=keepdim, ddof=correction),
                               rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(nf.std(nf.tensor(a), dim, keepdim=keepdim, correction=correction).numpy(),
                               np.std(a.astype(np.float64), axis=axes, keepdims=keepdim, ddof=correction),
                               rtol=tolerance, atol=tolerance)
    x = nf.tensor(a.astype(np.float64), requires_grad=True)
    assert nf.gradcheck(lambda t: t.var(dim, keepdim=keepdim, correction=correction), (x,))


def test_var_unbiased_flag_matches_correction():
    x = nf.tensor([1.0, 2.0, 4.0])
    assert nf.var(x, unbiased=False).item() == pytest.approx(np.var([1, 2, 4]))
    assert x.var().item() == pytest.approx(np.var([1, 2, 4], ddof=1))


def test_var_of_one_element_is_nan_silently():
    assert np.isnan(nf.tensor([3.0]).var().item())


def test_std_of_a_constant_has_zero_gradient_as_in_pytorch():
    x = nf.tensor([2.0, 2.0, 2.0], requires_grad=True)
    x.std().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_amax_ties_share_the_gradient_equally():
    x = nf.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_max_over_dim_returns_values_and_first_indices():
    x = nf.tensor([[1.0, 3.0, 3.0], [5.0, 2.0, 2.0]], requires_grad=True)
    values_, indices = x.max(dim=1)
    np.testing.assert_array_equal(values_.numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert indices.dtype == np.int64
    values_.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])   # the returned index only


@given(data=st.data(), shape=shapes(min_dims=1), keepdim=st.booleans())
def test_max_min_argmax_argmin_over_a_dim(data, shape, keepdim):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = data.draw(values(shape, distinct=True))
    for ours, arg, reference, arg_reference in ((nf.max, nf.argmax, np.max, np.argmax),
                                                (nf.min, nf.argmin, np.min, np.argmin)):
        result = ours(nf.tensor(a), dim, keepdim)
        np.testing.assert_array_equal(result.values.numpy(), reference(a, axis=dim, keepdims=keepdim))
        np.testing.assert_array_equal(result.indices.numpy(), arg_reference(a, axis=dim, keepdims=keepdim))
        np.testing.assert_array_equal(arg(nf.tensor(a), dim, keepdim).numpy(),
                                      arg_reference(a, axis=dim, keepdims=keepdim))
        x = nf.tensor(a, requires_grad=True)
        assert nf.gradcheck(lambda t: ours(t, dim, keepdim).values, (x,))


def test_max_without_dim_is_the_overall_maximum():
    x = nf.tensor([[1.0, 7.0], [3.0, 2.0]])
    assert x.max().item() == 7.0 and x.min().item() == 1.0 and x.argmax().item() == 1


def test_dim_out_of_range_is_named():
    with pytest.raises(IndexError, match="dim 2 is out of range for a tensor of 2 dimensions"):
        nf.tensor(np.ones((2, 3))).sum(2)
    with pytest.raises(ValueError, match="same dimension twice"):
        nf.tensor(np.ones((2, 3))).sum((1, -1))


def test_empty_max_is_refused():
    with pytest.raises(ValueError, match="empty"):
        nf.tensor(np.ones((0, 3))).amax()
