"""Matrix products ignore the floating-point "invalid" flag, which BLAS kernels can raise on
finite inputs (npformer/ops/blas.py), and nothing else; every product in the library goes
through that one function.

The spurious flag itself cannot be produced on demand (it depends on the machine's BLAS
kernel and on memory contents), so these tests pin the policy with a real invalid product,
inf * 0, which NumPy's matmul reports, and check that every product site uses the policy.
"""
import ast
import pathlib
import warnings

import numpy as np
import pytest

import npformer
from npformer import Tensor
from npformer.ops.blas import matmul
from npformer.ops.linear import linear
from npformer.ops.rows import row_sums

LIBRARY = pathlib.Path(npformer.__file__).parent


def _with_inf_times_zero(dtype):
    a = np.ones((6, 5), dtype)
    a[0, 0] = np.inf
    b = np.ones((5, 3), dtype)
    b[0, :] = 0                     # row 0 of the product sums inf * 0 + finite terms
    return a, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_reports_inf_times_zero_in_a_product(dtype):
    # the premise of the tests below: without the policy, this product warns
    a, b = _with_inf_times_zero(dtype)
    with pytest.warns(RuntimeWarning, match="invalid value"):
        np.matmul(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_ignores_invalid_and_still_gives_nan(dtype):
    a, b = _with_inf_times_zero(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = matmul(a, b)
    assert np.isnan(out[0]).all()
    np.testing.assert_array_equal(out[1:], np.full((5, 3), 4, dtype))


def test_matmul_still_reports_overflow():
    big = np.full((4, 4), 1e30, np.float32)
    with pytest.warns(RuntimeWarning, match="overflow"):
        matmul(big, big)


def test_matmul_leaves_the_callers_error_state_alone():
    a, b = _with_inf_times_zero(np.float64)
    before = np.geterr()
    matmul(a, b)
    assert np.geterr() == before
    with pytest.warns(RuntimeWarning, match="invalid value"):
        np.matmul(a, b)


@pytest.mark.parametrize("rows", [1, 40])
def test_linear_with_an_inf_input_gives_nan_without_a_warning(rows):
    # rows = 1 takes Linear's few-rows path (W @ x^T), where CI once met the spurious flag
    x = np.ones((rows, 5), np.float32)
    x[:, 0] = np.inf
    weight = np.ones((6, 5), np.float32)
    weight[:, 0] = 0
    opposite = x.copy()
    opposite[:, 1] = -np.inf                                # row sums inf - inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = linear(Tensor(x), Tensor(weight)).numpy()
        sums = row_sums(opposite)
    assert np.isnan(y).all()
    assert np.isnan(sums).all()


def _products_outside_blas(path):
    """(line, text) of each `a @ b`, np.matmul or np.dot in one library file"""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            found.append((node.lineno, ast.unparse(node)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("matmul", "dot", "vdot", "inner", "tensordot")
              and isinstance(node.func.value, ast.Name) and node.func.value.id == "np"):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_every_library_product_goes_through_ops_blas():
    offenders = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        if path.name == "blas.py" and path.parent.name == "ops":
            continue
        found = _products_outside_blas(path)
        if found:
            offenders[str(path.relative_to(LIBRARY))] = found
    assert offenders == {}, "use npformer.ops.blas.matmul for these products: " + repr(offenders)
