"""__getitem__ (ints, slices, None, Ellipsis, integer arrays, boolean masks), masked_fill, gather."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npformer as nf
from tests.strategies import FLOAT_DTYPES, shapes, values


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=4), dtype=FLOAT_DTYPES)
def test_basic_indexing(data, shape, dtype):
    a = data.draw(values(shape)).astype(dtype)
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    out = nf.tensor(a)[index]
    np.testing.assert_array_equal(out.numpy(), a[index])
    assert out.dtype == dtype
    if out.numel():
        weights = nf.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape) + 1)
        assert nf.gradcheck(lambda t: t[index] * weights, (nf.tensor(a.astype(np.float64), requires_grad=True),))


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=4))
def test_integer_array_indexing_accumulates_repeats(data, shape):
    a = data.draw(values(shape))
    index = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2, max_side=5)))
    out = nf.tensor(a)[index]
    np.testing.assert_array_equal(out.numpy(), a[index])
    x = nf.tensor(a, requires_grad=True)
    x[index].sum().backward()
    counts = np.zeros(shape)
    np.add.at(counts, index, 1.0)
    np.testing.assert_array_equal(x.grad, counts)
    assert nf.gradcheck(lambda t: t[index] * 2.0, (nf.tensor(a, requires_grad=True),))


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=4))
def test_boolean_mask_indexing(data, shape):
    a = data.draw(values(shape))
    mask = data.draw(hnp.arrays(np.bool_, shape))
    np.testing.assert_array_equal(nf.tensor(a)[mask].numpy(), a[mask])
    np.testing.assert_array_equal(nf.tensor(a)[nf.tensor(mask)].numpy(), a[mask])
    x = nf.tensor(a, requires_grad=True)
    x[mask].sum().backward()
    np.testing.assert_array_equal(x.grad, mask.astype(np.float64))


def test_mixed_index_and_tensor_index():
    a = np.arange(24.0).reshape(2, 3, 4)
    idx = nf.tensor([2, 0, 2])
    np.testing.assert_array_equal(nf.tensor(a)[1, idx, 1:3].numpy(), a[1, [2, 0, 2], 1:3])
    np.testing.assert_array_equal(nf.tensor(a)[..., [0, 0]].numpy(), a[..., [0, 0]])
    assert nf.gradcheck(lambda t: t[:, [1, 1, 0], None, ::-2], (nf.tensor(a, requires_grad=True),))


@pytest.mark.parametrize("index", [5, (0, 7), (slice(None), [0, 9]), -4])
def test_out_of_bounds_names_the_index_and_shape(index):
    with pytest.raises(IndexError, match=r"GetItem: index .* does not fit a tensor of shape \(3, 4\)"):
        nf.tensor(np.ones((3, 4)))[index]


def test_float_index_is_refused():
    with pytest.raises(IndexError, match="integer or bool"):
        nf.tensor(np.ones(3))[np.array([0.5])]


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3), dtype=FLOAT_DTYPES)
def test_masked_fill(data, shape, dtype):
    a = data.draw(values(shape)).astype(dtype)
    mask_shape = tuple(data.draw(st.sampled_from([n, 1])) for n in shape)[data.draw(st.integers(0, len(shape))):]
    mask = data.draw(hnp.arrays(np.bool_, mask_shape))
    out = nf.tensor(a).masked_fill(nf.tensor(mask), -1e9)
    np.testing.assert_array_equal(out.numpy(), np.where(mask, dtype(-1e9), a))
    assert out.dtype == dtype
    x = nf.tensor(a.astype(np.float64), requires_grad=True)
    assert nf.gradcheck(lambda t: t.masked_fill(nf.tensor(mask), 3.0) * 2.0, (x,))


def test_masked_fill_with_minus_infinity_then_exp_has_zero_gradient_there():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    x.masked_fill(nf.tensor([True, False]), float("-inf")).exp().sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, np.exp(2.0)], rtol=1e-6)


def test_masked_fill_mask_must_broadcast_to_the_input():
    with pytest.raises(ValueError, match=r"mask of shape \(2, 3\) does not broadcast to the input shape \(3,\)"):
        nf.tensor(np.ones(3)).masked_fill(nf.tensor(np.ones((2, 3), dtype=bool)), 0.0)


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=4))
def test_gather(data, shape):
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    index_shape = tuple(data.draw(st.integers(1, 4)) if d == dim % ndim else data.draw(st.integers(1, n))
                        for d, n in enumerate(shape))
    index = data.draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[dim] - 1)))
    a = data.draw(values(shape))
    out = nf.tensor(a).gather(dim, nf.tensor(index))
    # torch.gather's definition, written out: out[i][j][k] = a[i][index[i][j][k]][k] for dim 1.
    expected = np.empty(index_shape)
    for position in np.ndindex(*index_shape):
        source = list(position)
        source[dim] = index[position]
        expected[position] = a[tuple(source)]
    np.testing.assert_array_equal(out.numpy(), expected)
    x = nf.tensor(a, requires_grad=True)
    assert nf.gradcheck(lambda t: t.gather(dim, nf.tensor(index)) * 1.5, (x,))


def test_gather_errors():
    a = nf.tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match="index 3 is out of bounds for dim 1 with size 3"):
        a.gather(1, nf.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="index has 1 dims but the input has 2"):
        a.gather(1, nf.tensor([0, 1]))
    with pytest.raises(ValueError, match="larger than input shape"):
        a.gather(1, nf.tensor([[0], [0], [0]]))
