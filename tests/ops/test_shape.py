"""reshape/view, permute/transpose, expand, squeeze/unsqueeze, flatten, cat, stack, split, chunk."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
from tests.strategies import FLOAT_DTYPES, shapes, values


@given(data=st.data(), shape=shapes(max_dims=4), dtype=FLOAT_DTYPES)
def test_reshape_and_view(data, shape, dtype):
    a = data.draw(values(shape)).astype(dtype)
    target = tuple(data.draw(st.permutations(list(shape))))
    target = target[:-1] + (-1,) if target and data.draw(st.booleans()) else target
    out = nf.tensor(a).reshape(target)
    np.testing.assert_array_equal(out.numpy(), a.reshape(target))
    np.testing.assert_array_equal(nf.tensor(a).view(*target).numpy(), a.reshape(target))
    weights = nf.tensor(np.arange(a.size).reshape(a.reshape(target).shape) + 1.0)
    assert nf.gradcheck(lambda t: t.reshape(target) * weights, (nf.tensor(a.astype(np.float64), requires_grad=True),))


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=4))
def test_permute_and_transpose(data, shape):
    a = data.draw(values(shape))
    order = tuple(data.draw(st.permutations(range(len(shape)))))
    np.testing.assert_array_equal(nf.tensor(a).permute(order).numpy(), np.transpose(a, order))
    d0, d1 = data.draw(st.integers(-len(shape), len(shape) - 1)), data.draw(st.integers(-len(shape), len(shape) - 1))
    np.testing.assert_array_equal(nf.tensor(a).transpose(d0, d1).numpy(), np.swapaxes(a, d0, d1))
    weights = nf.tensor(np.arange(a.size, dtype=np.float64).reshape(np.transpose(a, order).shape))
    assert nf.gradcheck(lambda t: t.permute(order) * weights, (nf.tensor(a, requires_grad=True),))


def test_T_and_mT():
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(nf.tensor(a).T.numpy(), a.T)
    np.testing.assert_array_equal(nf.tensor(a).mT.numpy(), np.swapaxes(a, -1, -2))


@given(data=st.data(), shape=shapes(max_dims=3), extra=st.integers(0, 2))
def test_expand(data, shape, extra):
    a = data.draw(values(shape))
    target = tuple(data.draw(st.integers(1, 3)) for _ in range(extra))
    target += tuple(data.draw(st.sampled_from([n, -1] if n != 1 else [1, -1, 2, 3])) for n in shape)
    out = nf.tensor(a).expand(*target)
    expected_shape = target[:extra] + tuple(n if t == -1 else t for n, t in zip(shape, target[extra:]))
    np.testing.assert_array_equal(out.numpy(), np.broadcast_to(a, expected_shape))
    weights = nf.tensor(np.arange(int(np.prod(expected_shape)), dtype=np.float64).reshape(expected_shape))
    assert nf.gradcheck(lambda t: t.expand(target) * weights, (nf.tensor(a, requires_grad=True),))


def test_expand_refuses_a_non_singleton_dim():
    with pytest.raises(ValueError, match=r"Expand: cannot expand shape \(2, 3\) to \(4, 3\)"):
        nf.tensor(np.ones((2, 3))).expand(4, 3)


def test_squeeze_unsqueeze_flatten():
    a = np.arange(6.0).reshape(1, 2, 1, 3)
    t = nf.tensor(a)
    assert t.squeeze().shape == (2, 3)
    assert t.squeeze(0).shape == (2, 1, 3)
    assert t.squeeze(1).shape == (1, 2, 1, 3)         # not size 1: left alone, as in PyTorch
    assert t.squeeze((0, 2)).shape == (2, 3)
    assert t.unsqueeze(-1).shape == (1, 2, 1, 3, 1)
    assert t.unsqueeze(0).shape == (1, 1, 2, 1, 3)
    assert t.flatten().shape == (6,)
    assert t.flatten(1, 2).shape == (1, 2, 3)
    assert nf.tensor(5.0).flatten().shape == (1,)
    x = nf.tensor(a, requires_grad=True)
    weights = nf.tensor(np.arange(6.0).reshape(2, 3))
    assert nf.gradcheck(lambda u: u.squeeze().unsqueeze(1).flatten(0, 1) * weights, (x,))


@given(data=st.data(), base=shapes(min_dims=1, max_dims=3), count=st.integers(1, 3), dtype=FLOAT_DTYPES)
def test_cat(data, base, count, dtype):
    dim = data.draw(st.integers(-len(base), len(base) - 1))
    arrays = []
    for _ in range(count):
        shape = list(base)
        shape[dim] = data.draw(st.integers(0, 3))
        arrays.append(data.draw(values(tuple(shape))).astype(dtype))
    out = nf.cat([nf.tensor(a) for a in arrays], dim)
    np.testing.assert_array_equal(out.numpy(), np.concatenate(arrays, dim))
    assert out.dtype == dtype
    weights = nf.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape))
    leaves = [nf.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    assert nf.gradcheck(lambda *ts: nf.cat(ts, dim) * weights, leaves)


def test_cat_mismatch_names_the_tensor():
    with pytest.raises(ValueError, match=r"tensor 1 has shape \(2, 4\)"):
        nf.cat([nf.tensor(np.ones((2, 3))), nf.tensor(np.ones((2, 4)))], 0)


@given(data=st.data(), shape=shapes(max_dims=3), count=st.integers(1, 3))
def test_stack(data, shape, count):
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [data.draw(values(shape)) for _ in range(count)]
    out = nf.stack([nf.tensor(a) for a in arrays], dim)
    np.testing.assert_array_equal(out.numpy(), np.stack(arrays, dim))
    weights = nf.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape))
    assert nf.gradcheck(lambda *ts: nf.stack(ts, dim) * weights, [nf.tensor(a, requires_grad=True) for a in arrays])


@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=6))
def test_split_and_chunk_match_torch_semantics(data, shape):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    length = shape[dim]
    a = data.draw(values(shape))
    size = data.draw(st.integers(1, length + 1))
    pieces = nf.tensor(a).split(size, dim)
    offsets = list(range(size, length, size))
    expected = np.split(a, offsets, axis=dim)
    assert len(pieces) == len(expected)
    for piece, reference in zip(pieces, expected):
        np.testing.assert_array_equal(piece.numpy(), reference)
    chunks = data.draw(st.integers(1, length + 1))
    chunk_size = -(-length // chunks)
    assert [p.shape[dim] for p in nf.tensor(a).chunk(chunks, dim)] == [
        min(chunk_size, length - start) for start in range(0, length, chunk_size)]
    used = data.draw(st.lists(st.integers(0, len(pieces) - 1), min_size=1, unique=True))
    x = nf.tensor(a, requires_grad=True)
    assert nf.gradcheck(lambda t: sum((t.split(size, dim)[i] * float(i + 1)).sum() for i in used), (x,))


def test_split_with_sections_must_add_up():
    with pytest.raises(ValueError, match=r"do not add up to 5"):
        nf.tensor(np.ones(5)).split([2, 2])
