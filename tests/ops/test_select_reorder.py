"""tril/triu, scatter and friends, repeat/repeat_interleave/flip/roll, sort/argsort/topk and pad,
against plain NumPy (loops where that is clearest), with their bad-input errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
import npformer.nn.functional as F
from tests.strategies import shapes, values


def _arange(*shape, dtype=np.float64):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape) + 1


# ---------------------------------------------------------------- triangles
@pytest.mark.parametrize("diagonal", [-2, -1, 0, 1, 3])
def test_tril_triu_keep_the_elements_of_their_definition(diagonal):
    a = _arange(2, 3, 4)
    lower, upper = nf.tril(nf.tensor(a), diagonal).numpy(), nf.tensor(a).triu(diagonal).numpy()
    for b, i, j in itertools.product(range(2), range(3), range(4)):
        assert lower[b, i, j] == (a[b, i, j] if j - i <= diagonal else 0)
        assert upper[b, i, j] == (a[b, i, j] if j - i >= diagonal else 0)


def test_tril_inplace_and_errors():
    x = nf.tensor(_arange(3, 3))
    assert x.tril_() is x and x.numpy()[0, 2] == 0 and x.numpy()[2, 0] == 7
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nf.tril(nf.tensor([1.0, 2.0]))


def test_causal_mask_from_triu_of_ones_as_nanogpt_builds_it():
    mask = nf.triu(nf.ones(4, 4, dtype=nf.bool_), diagonal=1)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(mask.numpy(), ~np.tril(np.ones((4, 4), dtype=bool)))


# ---------------------------------------------------------------- scatter, index_fill, selections
def _scatter_loop(a, dim, index, src, add=False):
    out = a.copy()
    for position in np.ndindex(*index.shape):
        target = list(position)
        target[dim] = index[position]
        value = src[position] if isinstance(src, np.ndarray) else src
        out[tuple(target)] = out[tuple(target)] + value if add else value
    return out


@given(data=st.data())
def test_scatter_and_scatter_add_match_their_loops(data):
    shape = data.draw(shapes(min_dims=1, max_side=4))
    dim = data.draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(data.draw(st.integers(1, n)) for n in shape)
    index = np.random.default_rng(data.draw(st.integers(0, 99))).integers(0, shape[dim], index_shape)
    src_shape = tuple(n + data.draw(st.integers(0, 1)) for n in index_shape)
    a, src = data.draw(values(shape)), data.draw(values(src_shape))
    summed = nf.scatter_add(nf.tensor(a), dim, nf.tensor(index), nf.tensor(src)).numpy()
    np.testing.assert_allclose(summed, _scatter_loop(a, dim, index, src, add=True), rtol=1e-14)
    written = nf.tensor(a).scatter(dim, nf.tensor(index), 2.5).numpy()
    np.testing.assert_array_equal(written, _scatter_loop(a, dim, index, 2.5))
    unique = np.argsort(np.random.default_rng(1).random(shape), axis=dim)          # distinct along dim
    unique = unique[tuple(slice(0, n) for n in index_shape)]
    np.testing.assert_array_equal(nf.scatter(nf.tensor(a), dim, nf.tensor(unique), nf.tensor(src)).numpy(),
                                  _scatter_loop(a, dim, unique, src))


def test_scatter_gradient_of_a_larger_src_is_zero_outside_the_index_block():
    a, src = nf.tensor(np.zeros((2, 3)), requires_grad=True), nf.tensor(_arange(3, 3), requires_grad=True)
    out = a.scatter(1, nf.tensor([[2], [0]]), src)
    out.backward(nf.tensor(_arange(2, 3) * 10))
    np.testing.assert_array_equal(src.grad.numpy(), [[30, 0, 0], [40, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(a.grad.numpy(), [[10, 20, 0], [0, 50, 60]])


def test_scatter_inplace_and_one_hot_by_scatter():
    target = nf.tensor([2, 0, 1])
    rows = nf.zeros(3, 4).scatter_(1, target.unsqueeze(1), 1.0)
    np.testing.assert_array_equal(rows.numpy(), np.eye(4)[[2, 0, 1]])
    np.testing.assert_array_equal(F.one_hot(target, 4).numpy(), np.eye(4, dtype=np.int64)[[2, 0, 1]])


@pytest.mark.parametrize("call, message", [
    (lambda x: x.scatter(1, nf.tensor([[0.0]]), 1.0), "int32 or int64"),
    (lambda x: x.scatter(1, nf.tensor([0, 1]), 1.0), "same number of dimensions"),
    (lambda x: x.scatter(1, nf.tensor([[4]]), 1.0), "out of bounds for dimension 1 with size 4"),
    (lambda x: x.scatter(0, nf.tensor([[0, 1, 2, 0, 0]]), 1.0), "no larger than the input"),
    (lambda x: x.scatter(1, nf.tensor([[0], [1]]), nf.ones(1, 1, dtype=nf.float64)), "no larger than src"),
    (lambda x: x.scatter(1, nf.tensor([[0]]), nf.ones(1, 1, dtype=nf.float32)), "dtype"),
    (lambda x: x.scatter_add(1, nf.tensor([[0]]), 2.0), "src must be a Tensor"),
    (lambda x: x.index_fill(1, nf.tensor([[0]]), 1.0), "vector or a scalar"),
    (lambda x: x.index_fill(1, nf.tensor([4]), 1.0), "out of bounds"),
    (lambda x: x.index_fill(1, nf.tensor([0]), nf.tensor([1.0])), "0-dimensional value"),
    (lambda x: x.index_select(1, nf.tensor([[0]])), "vector"),
    (lambda x: x.index_select(1, nf.tensor([-1])), "out of range"),
    (lambda x: x.masked_select(nf.tensor([1, 0, 1, 1])), "bool"),
    (lambda x: x.masked_select(nf.tensor([True, False])), "does not broadcast"),
    (lambda x: x.take_along_dim(nf.tensor([[5]]), 1), "out of bounds"),
    (lambda x: F.one_hot(nf.tensor([0, 4]), 3), "smaller than num_classes"),
    (lambda x: F.one_hot(nf.tensor([0, -1])), "non-negative"),
    (lambda x: F.one_hot(nf.tensor([0, 1], dtype=nf.int32)), "int64"),
    (lambda x: F.one_hot(nf.tensor(np.zeros(0, dtype=np.int64))), "empty"),
])
def test_index_ops_refuse_bad_input_with_one_clear_error(call, message):
    with pytest.raises((ValueError, IndexError, TypeError), match=message):
        call(nf.tensor(np.zeros((3, 4))))


def test_index_fill_with_repeats_and_negative_positions():
    x = nf.tensor(_arange(2, 4), requires_grad=True)
    value = nf.tensor(5.0, dtype=np.float64, requires_grad=True)
    out = x.index_fill(1, nf.tensor([0, -1, 0]), value)
    np.testing.assert_array_equal(out.numpy(), [[5, 2, 3, 5], [5, 6, 7, 5]])
    out.backward(nf.tensor(_arange(2, 4)))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2, 3, 0], [0, 6, 7, 0]])
    assert value.grad.item() == 1 + 4 + 5 + 8                    # each filled slice once


def test_index_select_masked_select_take_along_dim():
    a = _arange(3, 4)
    x = nf.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(x.index_select(0, nf.tensor([2, 0, 2])).numpy(), a[[2, 0, 2]])
    mask = np.array([True, False, False, True])
    np.testing.assert_array_equal(x.masked_select(nf.tensor(mask)).numpy(), a[:, mask].reshape(-1))
    order = np.argsort(-a, axis=1)
    np.testing.assert_array_equal(nf.take_along_dim(x, nf.tensor(order), 1).numpy(), np.take_along_axis(a, order, 1))
    np.testing.assert_array_equal(x.take_along_dim(nf.tensor([11, 0])).numpy(), [12, 1])
    x.index_select(0, nf.tensor([2, 0, 2])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1] * 4, [0] * 4, [2] * 4])


# ---------------------------------------------------------------- repeat, repeat_interleave, flip, roll
@given(data=st.data())
def test_repeat_is_np_tile_and_its_gradient_counts_copies(data):
    shape = data.draw(shapes(max_dims=3))
    sizes = tuple(data.draw(st.integers(0, 3)) for _ in range(len(shape) + data.draw(st.integers(0, 2))))
    sizes = sizes or (2,)
    a = data.draw(values(shape))
    x = nf.tensor(a, requires_grad=True)
    out = x.repeat(*sizes)
    np.testing.assert_array_equal(out.numpy(), np.tile(a, sizes))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(shape, np.prod(sizes)))


def test_repeat_interleave_forms():
    a = _arange(3, 2)
    x = nf.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(x.repeat_interleave(2).numpy(), np.repeat(a.reshape(-1), 2))
    counts = nf.tensor([1, 0, 3])
    out = nf.repeat_interleave(x, counts, dim=0)
    np.testing.assert_array_equal(out.numpy(), a[[0, 2, 2, 2]])
    out.backward(nf.tensor(_arange(4, 2)))
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 2], [0, 0], [3 + 5 + 7, 4 + 6 + 8]])
    np.testing.assert_array_equal(nf.repeat_interleave(nf.tensor([2, 0, 1])).numpy(), [0, 0, 2])
    with pytest.raises(ValueError, match="same size as input"):
        x.repeat_interleave(nf.tensor([1, 2]), dim=0)
    with pytest.raises(ValueError, match="negative"):
        x.repeat_interleave(nf.tensor([1, -1, 1]), dim=0)


def test_flip_is_a_copy_and_roll_matches_numpy():
    a = _arange(2, 3, 4)
    x = nf.tensor(a)
    flipped = x.flip(0, 2)
    np.testing.assert_array_equal(flipped.numpy(), a[::-1, :, ::-1])
    flipped[0, 0, 0] = -1.0
    assert a[1, 0, 3] == x.numpy()[1, 0, 3]                      # not a view, as torch.flip
    np.testing.assert_array_equal(nf.roll(x, (1, -2), (0, 2)).numpy(), np.roll(a, (1, -2), (0, 2)))
    np.testing.assert_array_equal(x.roll(5).numpy(), np.roll(a, 5))
    with pytest.raises(ValueError, match="must align"):
        x.roll((1, 2), 0)
    with pytest.raises(TypeError, match="tuple of ints"):
        nf.flip(x, 0.5)


# ---------------------------------------------------------------- sort, argsort, topk
def test_sort_orders_ties_and_nan_as_documented():
    a = np.array([3.0, 1.0, 3.0, np.nan, 1.0, 2.0])
    ascending = nf.sort(nf.tensor(a))
    np.testing.assert_array_equal(ascending.indices.numpy(), [1, 4, 5, 0, 2, 3])     # ties: lowest index first
    descending = nf.tensor(a).sort(descending=True)
    np.testing.assert_array_equal(descending.indices.numpy(), [3, 0, 2, 5, 1, 4])    # nan is the largest
    values_, indices = descending                                                    # tuple-unpackable
    assert values_ is descending.values and indices.dtype == np.int64
    np.testing.assert_array_equal(nf.argsort(nf.tensor(a), descending=True).numpy(), descending.indices.numpy())
    top = nf.tensor(a).topk(3)
    np.testing.assert_array_equal(top.indices.numpy(), [3, 0, 2])
    np.testing.assert_array_equal(nf.tensor(a).topk(2, largest=False).indices.numpy(), [1, 4])


@given(data=st.data())
def test_sort_and_topk_values_and_gradients(data):
    shape = data.draw(shapes(min_dims=1, max_side=5))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = data.draw(values(shape, distinct=True))
    x = nf.tensor(a, requires_grad=True)
    k = data.draw(st.integers(0, shape[dim]))
    top = x.topk(k, dim)
    expected = np.take(-np.sort(-a, axis=dim), np.arange(k), axis=dim)
    np.testing.assert_array_equal(top.values.numpy(), expected)
    np.testing.assert_array_equal(np.take_along_axis(a, top.indices.numpy(), dim), expected)
    top.values.sum().backward()
    chosen = np.zeros(shape)
    np.put_along_axis(chosen, top.indices.numpy(), 1.0, dim)
    np.testing.assert_array_equal(x.grad.numpy(), chosen)
    np.testing.assert_array_equal(nf.sort(nf.tensor(a), dim).values.numpy(), np.sort(a, axis=dim))


def test_topk_refuses_k_out_of_range():
    with pytest.raises(ValueError, match="k out of range"):
        nf.tensor([1.0, 2.0]).topk(3)


# ---------------------------------------------------------------- pad
@pytest.mark.parametrize("mode, numpy_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_pad_modes_match_np_pad(mode, numpy_mode):
    a = _arange(2, 3, 4)
    ours = F.pad(nf.tensor(a), (2, 1, 1, 2), mode=mode)
    np.testing.assert_array_equal(ours.numpy(), np.pad(a, ((0, 0), (1, 2), (2, 1)), mode=numpy_mode))


def test_constant_pad_any_rank_crops_and_casts_like_torch():
    a = _arange(2, 3, 4)
    out = F.pad(nf.tensor(a), (1, -1, 0, 2, 1, 0), value=-1.0)
    expected = np.pad(a[:, :, :3], ((1, 0), (0, 2), (1, 0)), constant_values=-1.0)
    np.testing.assert_array_equal(out.numpy(), expected)
    assert F.pad(nf.tensor([1, 2]), (1, 1), value=2.7).tolist() == [2, 1, 2, 2]     # int input truncates


@pytest.mark.parametrize("call, message", [
    (lambda x: F.pad(x, (1, 2, 3)), "divisible by 2"),
    (lambda x: F.pad(x, (1,) * 8), "less than or equal to two times"),
    (lambda x: F.pad(x, (1, 1), mode="wrap"), "unrecognised padding mode"),
    (lambda x: F.pad(x, (1, 1), mode="reflect", value=1.0), "doesn't take in value"),
    (lambda x: F.pad(x, (4, 0), mode="reflect"), "less than the corresponding input dimension"),
    (lambda x: F.pad(x, (5, 0), mode="circular"), "more than once"),
    (lambda x: F.pad(x, (-3, -2)), "below zero"),
    (lambda x: F.pad(x[0, 0], (1, 1), mode="replicate"), "needs a 2-D or 3-D"),
    (lambda x: F.pad(x, (1.0, 1)), "tuple of ints"),
])
def test_pad_refuses_bad_input(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(nf.tensor(_arange(2, 3, 4)))
