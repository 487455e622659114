"""matmul under NumPy's rules: 1-D promotion, batch broadcasting, and clear shape errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
from npformer.ops.blas import matmul as reference_matmul  # np.matmul without BLAS's false alarms
from tests.strategies import FLOAT_DTYPES, matmul_shapes, values


@given(data=st.data(), shapes=matmul_shapes(), dtype=FLOAT_DTYPES)
def test_forward_matches_numpy(data, shapes, dtype):
    a = data.draw(values(shapes[0])).astype(dtype)
    b = data.draw(values(shapes[1])).astype(dtype)
    out = nf.tensor(a) @ nf.tensor(b)
    expected = reference_matmul(a, b)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6 if dtype == np.float32 else 1e-14)


@given(data=st.data(), shapes=matmul_shapes())
def test_gradients(data, shapes):
    a = nf.tensor(data.draw(values(shapes[0])), requires_grad=True)
    b = nf.tensor(data.draw(values(shapes[1])), requires_grad=True)
    assert nf.gradcheck(nf.matmul, (a, b))


def test_batched_input_times_matrix_uses_the_same_math():
    rng = np.random.default_rng(0)
    a, w = rng.standard_normal((4, 5, 6)), rng.standard_normal((6, 3))
    np.testing.assert_allclose((nf.tensor(a) @ nf.tensor(w)).numpy(), reference_matmul(a, w), rtol=1e-13)


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
