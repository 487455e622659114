"""matmul under NumPy's rules: 1-D promotion, batch broadcasting, and clear shape errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npformer as nf
from tests.strategies import FLOAT_DTYPES, values


@st.composite
def matmul_shapes(draw):
    """Shapes (a, b) that np.matmul accepts: 1-D or batched, with broadcasting batch dims."""
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)).input_shapes
    a = (k,) if draw(st.booleans()) and not batch_a else batch_a + (m, k)
    b = (k,) if draw(st.booleans()) and not batch_b else batch_b + (k, n)
    return a, b


@given(data=st.data(), shapes=matmul_shapes(), dtype=FLOAT_DTYPES)
def test_forward_matches_numpy(data, shapes, dtype):
    a = data.draw(values(shapes[0])).astype(dtype)
    b = data.draw(values(shapes[1])).astype(dtype)
    out = nf.tensor(a) @ nf.tensor(b)
    expected = np.matmul(a, b)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-6 if dtype == np.float32 else 1e-14)


@given(data=st.data(), shapes=matmul_shapes())
def test_gradients(data, shapes):
    a = nf.tensor(data.draw(values(shapes[0])), requires_grad=True)
    b = nf.tensor(data.draw(values(shapes[1])), requires_grad=True)
    assert nf.gradcheck(nf.matmul, (a, b))


def test_batched_input_times_matrix_uses_the_same_math():
    rng = np.random.default_rng(0)
    a, w = rng.standard_normal((4, 5, 6)), rng.standard_normal((6, 3))
    np.testing.assert_allclose((nf.tensor(a) @ nf.tensor(w)).data, np.matmul(a, w), rtol=1e-13)


def test_gradient_only_to_the_operand_that_needs_it():
    a = nf.tensor(np.ones((2, 3)), requires_grad=True)
    b = nf.tensor(np.ones((3, 4)))
    (a @ b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((2, 3), 4.0))
    assert b.grad is None


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3, 4), (5,)), ((3,), (2, 4, 1))])
def test_shape_mismatch_names_both_shapes(shape_a, shape_b):
    with pytest.raises(ValueError, match=r"MatMul: shapes .* do not fit"):
        nf.tensor(np.ones(shape_a)) @ nf.tensor(np.ones(shape_b))


def test_scalar_operand_is_refused():
    with pytest.raises(ValueError, match="at least 1 dimension"):
        nf.tensor(2.0) @ nf.tensor(np.ones(3))
