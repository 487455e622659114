"""einsum and the fixed-rank products, norms, prod/cumprod/cumsum/diff, logsumexp, and the view
names (unbind, narrow, movedim, ...) against plain NumPy, with their bad-input errors."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
import npformer.nn.functional as F
from tests.strategies import FLOAT_DTYPES, dims_for, numpy_axes, shapes, values


def _rng_array(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ---------------------------------------------------------------- einsum
@pytest.mark.parametrize("equation, shapes_", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j", [(2,), (3,)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ji", [(2, 3)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]),
    ("b...d,bd->b...", [(2, 3, 4), (2, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("i j , j k -> i k", [(2, 3), (3, 2)]),
])
def test_einsum_matches_np_einsum_and_keeps_float32(equation, shapes_):
    arrays = [_rng_array(*s, seed=k) for k, s in enumerate(shapes_)]
    ours = nf.einsum(equation, *[nf.tensor(a) for a in arrays])
    np.testing.assert_allclose(ours.numpy(), np.einsum(equation.replace(" ", ""), *arrays), rtol=1e-13, atol=1e-13)
    single = nf.einsum(equation, [nf.tensor(a.astype(np.float32)) for a in arrays])
    assert single.dtype == np.float32


def test_einsum_broadcasts_a_size_one_letter_as_torch_does():
    a, b = _rng_array(2, 1), _rng_array(3, 4, seed=1)
    np.testing.assert_allclose(nf.einsum("ij,jk->ik", nf.tensor(a), nf.tensor(b)).numpy(), a * b.sum(0), rtol=1e-14)


@pytest.mark.parametrize("equation, shapes_, message", [
    ("ij,jk->ik", [(2, 3)], "names 2 operand"),
    ("ij->i", [(2, 3, 4)], "does not match the number of dimensions"),
    ("ij,jk->ik", [(2, 3), (4, 5)], "do not broadcast"),
    ("ij->ii", [(2, 2)], "more than once"),
    ("ij->k", [(2, 2)], "does not appear in any input"),
    ("i1->i", [(2, 2)], "invalid subscript"),
])
def test_einsum_refuses_bad_equations(equation, shapes_, message):
    with pytest.raises(ValueError, match=message):
        nf.einsum(equation, *[nf.tensor(np.ones(s)) for s in shapes_])


# ---------------------------------------------------------------- fixed-rank products
def test_products_match_numpy():
    a, b, v, w = _rng_array(2, 3), _rng_array(3, 4, seed=1), _rng_array(3, seed=2), _rng_array(4, seed=3)
    batch1, batch2, c = _rng_array(5, 2, 3, seed=4), _rng_array(5, 3, 4, seed=5), _rng_array(2, 4, seed=6)
    t = nf.tensor
    np.testing.assert_allclose(nf.mm(t(a), t(b)).numpy(), a @ b)
    np.testing.assert_allclose(t(batch1).bmm(t(batch2)).numpy(), batch1 @ batch2)
    np.testing.assert_allclose(nf.dot(t(v), t(v)).numpy(), v @ v)
    np.testing.assert_allclose(nf.outer(t(v), t(w)).numpy(), np.outer(v, w))
    np.testing.assert_allclose(nf.addmm(t(c), t(a), t(b), beta=0.5, alpha=2).numpy(), 0.5 * c + 2 * a @ b)
    np.testing.assert_allclose(nf.baddbmm(t(c), t(batch1), t(batch2), alpha=-1).numpy(), c - batch1 @ batch2)
    nan = np.full((2, 4), np.nan)
    np.testing.assert_allclose(nf.addmm(t(nan), t(a), t(b), beta=0).numpy(), a @ b)   # beta=0 ignores input


@pytest.mark.parametrize("call, message", [
    (lambda t: nf.mm(t(3), t(3, 4)), "input to be a 2-D tensor"),
    (lambda t: nf.mm(t(2, 3), t(4, 4)), r"cannot be multiplied \(2x3 and 4x4\)"),
    (lambda t: nf.bmm(t(2, 2, 3), t(3, 3, 4)), "first two dimensions"),
    (lambda t: nf.dot(t(3), t(4)), "same number of elements"),
    (lambda t: nf.outer(t(2, 2), t(3)), "1-D tensor"),
    (lambda t: nf.addmm(t(3, 4), t(2, 3), t(3, 4)), "does not broadcast"),
])
def test_products_refuse_wrong_ranks(call, message):
    with pytest.raises(ValueError, match=message):
        call(lambda *shape: nf.tensor(np.ones(shape)))


# ---------------------------------------------------------------- norms
@given(data=st.data(), dtype=FLOAT_DTYPES)
def test_norms_match_their_definitions(data, dtype):
    shape = data.draw(shapes())
    dim = data.draw(dims_for(len(shape)))
    keepdim = data.draw(st.booleans())
    p = data.draw(st.sampled_from([2, 1, math.inf, -math.inf, 0, 3, 0.5]))
    a = data.draw(values(shape, away_from=[0.0])).astype(dtype)
    axis = numpy_axes(dim, len(shape))
    magnitude = np.abs(a.astype(np.float64))
    if p == math.inf:
        expected = np.max(magnitude, axis=axis, keepdims=keepdim)
    elif p == -math.inf:
        expected = np.min(magnitude, axis=axis, keepdims=keepdim)
    elif p == 0:
        expected = np.sum(magnitude != 0, axis=axis, keepdims=keepdim).astype(np.float64)
    else:
        expected = np.sum(magnitude ** p, axis=axis, keepdims=keepdim) ** (1 / p)
    ours = nf.norm(nf.tensor(a), p, dim, keepdim)
    assert ours.dtype == dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(ours.numpy(), expected, rtol=tolerance)
    np.testing.assert_allclose(nf.linalg.vector_norm(nf.tensor(a), p, dim, keepdim).numpy(), expected, rtol=tolerance)


def test_norm_gradient_is_zero_at_a_zero_vector_and_shared_at_ties():
    x = nf.tensor(np.zeros(3), requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0])
    y = nf.tensor([1.0, -3.0, 3.0, 2.0], dtype=np.float64, requires_grad=True)
    nf.linalg.vector_norm(y, math.inf).backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0, -0.5, 0.5, 0])


def test_norm_refuses_what_it_does_not_compute():
    with pytest.raises(ValueError, match="nuc"):
        nf.tensor(np.ones((2, 2))).norm("nuc")
    with pytest.raises(TypeError, match="floating-point"):
        nf.norm(nf.tensor([1, 2]))


def test_normalize_and_cosine_similarity():
    a, b = _rng_array(3, 4), _rng_array(3, 4, seed=1)
    unit = F.normalize(nf.tensor(a), dim=1).numpy()
    np.testing.assert_allclose(unit, a / np.linalg.norm(a, axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_array_equal(F.normalize(nf.tensor(np.zeros((1, 3)))).numpy(), np.zeros((1, 3)))  # eps
    cosine = F.cosine_similarity(nf.tensor(a), nf.tensor(b)).numpy()
    expected = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(cosine, expected, rtol=1e-14)
    assert F.cosine_similarity(nf.tensor(a[:1]), nf.tensor(b), dim=-1).shape == (3,)


# ---------------------------------------------------------------- products and sums along a dim
@given(data=st.data())
def test_prod_cumprod_cumsum_match_numpy_with_zeros(data):
    shape = data.draw(shapes(min_dims=1, max_side=4))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = data.draw(values(shape))
    a = np.where(np.random.default_rng(data.draw(st.integers(0, 9))).random(shape) < 0.3, 0.0, a)
    x = nf.tensor(a, requires_grad=True)
    np.testing.assert_allclose(x.prod(dim).numpy(), np.prod(a, axis=dim), rtol=1e-14)
    np.testing.assert_allclose(nf.prod(x).numpy(), np.prod(a), rtol=1e-14)
    np.testing.assert_allclose(nf.cumprod(x, dim).numpy(), np.cumprod(a, axis=dim), rtol=1e-14)
    np.testing.assert_allclose(x.cumsum(dim).numpy(), np.cumsum(a, axis=dim), rtol=1e-14, atol=1e-14)
    # d prod / d a_i = the product of the others, zeros included
    x.prod().backward()
    flat = a.reshape(-1)
    others = [np.prod(np.delete(flat, i)) for i in range(flat.size)]
    np.testing.assert_allclose(x.grad.numpy().reshape(-1), others, rtol=1e-13, atol=1e-300)


def test_integer_scans_accumulate_in_int64_and_dtype_casts_first():
    small = nf.tensor(np.array([100, 100, 100], dtype=np.int8))
    assert nf.cumsum(small, 0).dtype == np.int64 and nf.cumsum(small, 0).tolist() == [100, 200, 300]
    assert nf.prod(small).item() == 10 ** 6
    assert nf.tensor([1.5, 2.0]).cumsum(0, dtype=nf.float64).dtype == np.float64
    with pytest.raises(TypeError, match="dim must be an int"):
        nf.prod(nf.tensor([1.0]), (0,))


def test_diff_matches_np_diff():
    a = _rng_array(3, 5)
    x = nf.tensor(a)
    for n in range(4):
        np.testing.assert_allclose(nf.diff(x, n).numpy(), np.diff(a, n), rtol=1e-14)
    before, after = _rng_array(3, 1, seed=1), _rng_array(3, 2, seed=2)
    np.testing.assert_allclose(x.diff(dim=1, prepend=nf.tensor(before), append=nf.tensor(after)).numpy(),
                               np.diff(a, axis=1, prepend=before, append=after), rtol=1e-14)
    assert nf.diff(nf.tensor([True, True, False])).tolist() == [False, True]


@given(data=st.data(), dtype=FLOAT_DTYPES)
def test_logsumexp_matches_its_definition_without_overflow(data, dtype):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(dims_for(len(shape)).filter(lambda d: d is not None and d != ()))
    a = data.draw(values(shape)) * 500                                # e^1000 overflows; the result must not
    keepdim = data.draw(st.booleans())
    axis = numpy_axes(dim, len(shape))
    m = np.max(a, axis=axis, keepdims=True)
    expected = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    expected = expected if keepdim else np.squeeze(expected, axis=axis)
    out = nf.logsumexp(nf.tensor(a.astype(dtype)), dim, keepdim)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_logsumexp_of_all_minus_inf_is_minus_inf():
    out = nf.logsumexp(nf.tensor([[-np.inf, -np.inf], [0.0, -np.inf]]), 1)
    assert out.tolist() == [-np.inf, 0.0]


# ---------------------------------------------------------------- view names
def test_views_and_reshapes():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = nf.tensor(a)
    pieces = x.unbind(1)
    assert len(pieces) == 3 and all(np.array_equal(p.numpy(), a[:, i]) for i, p in enumerate(pieces))
    np.testing.assert_array_equal(x.narrow(2, -3, 2).numpy(), a[:, :, 1:3])
    np.testing.assert_array_equal(nf.movedim(x, (0, 1), (2, 0)).numpy(), np.moveaxis(a, (0, 1), (2, 0)))
    np.testing.assert_array_equal(x.swapaxes(0, 2).numpy(), np.swapaxes(a, 0, 2))
    np.testing.assert_array_equal(x.swapdims(-1, 1).numpy(), np.swapaxes(a, -1, 1))
    np.testing.assert_array_equal(x[0].t().numpy(), a[0].T)
    np.testing.assert_array_equal(nf.tensor([1.0, 2.0]).t().numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(x.view_as(nf.zeros(6, 4)).numpy(), a.reshape(6, 4))
    np.testing.assert_array_equal(x.unflatten(2, (2, -1)).numpy(), a.reshape(2, 3, 2, 2))
    view = x.narrow(1, 0, 1)
    x[0, 0, 0] = -5.0
    assert view.numpy()[0, 0, 0] == -5.0                    # narrow is a view, as in PyTorch
    with pytest.raises(ValueError, match="exceeds dimension size"):
        x.narrow(1, 2, 2)
    with pytest.raises(IndexError, match="start out of range"):
        x.narrow(1, -4, 1)
    with pytest.raises(ValueError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        x.t()
    with pytest.raises(ValueError, match="same number of dims"):
        x.movedim((0, 1), 2)
