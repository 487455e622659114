"""Type promotion against torch: mixed-dtype operands give torch's result dtype and values,
and the gradient returns to each operand in its own dtype (ops/promotion.py)."""
import numpy as np
import pytest

import npformer as nf

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

CASES = {
    "float32 / int 0-d": lambda L: L.ones(3) / L.tensor(5),
    "float32 * int64": lambda L: L.ones(3) * L.ones(3, dtype=L.long),
    "float16 + int64": lambda L: L.ones(3, dtype=L.float16) + L.ones(3, dtype=L.int64),
    "float32 + float64 0-d": lambda L: L.ones(3) + L.tensor(2.0, dtype=L.float64),
    "float32 + float64": lambda L: L.ones(2) + L.ones(2, dtype=L.float64),
    "int32 + int64 0-d": lambda L: L.ones(3, dtype=L.int32) + L.tensor(2),
    "int16 + int 0-d": lambda L: L.ones(2, dtype=L.int16) + L.tensor(1),
    "uint8 + int8": lambda L: L.ones(2, dtype=L.uint8) + L.ones(2, dtype=L.int8),
    "bool + 1": lambda L: L.tensor([True, False]) + 1,
    "bool * float32": lambda L: L.tensor([True, False]) * L.ones(2),
    "int + 1.5": lambda L: L.tensor([1, 2, 3]) + 1.5,
    "int * numpy float64": lambda L: L.tensor([1, 2]) * np.float64(0.5),
    "int / 2": lambda L: L.tensor([1, 2, 3]) / 2,
    "int / int": lambda L: L.div(L.tensor([1, 2, 3]), L.tensor([2, 2, 2])),
    "1 / int": lambda L: 1 / L.tensor([1, 2]),
    "int ** 0.5": lambda L: L.tensor([1, 2, 3]) ** 0.5,
    "int ** 2": lambda L: L.tensor([1, 2, 3]) ** 2,
    "2.0 ** int": lambda L: 2.0 ** L.tensor([1, 2]),
    "int 0-d * float 0-d": lambda L: L.tensor(3) * L.tensor(2.5),
    "maximum int, float": lambda L: L.maximum(L.tensor([1, 5]), L.tensor([2.0, 3.0])),
    "where float32, float64 0-d": lambda L: L.where(L.tensor([True, False]), L.ones(2), L.tensor(0.0, dtype=L.float64)),
    "cat float32, int64": lambda L: L.cat([L.ones(2), L.arange(2)]),
    "positional encoding idiom": lambda L: L.sin(L.arange(4).unsqueeze(1) * L.exp(L.arange(0, 4, 2) * -0.5)),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_result_dtype_and_values_match_torch(case):
    ours, theirs = CASES[case](nf), CASES[case](torch)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    if case == "positional encoding idiom":
        # float32 exp and sin: NumPy's and torch's vectorised kernels may differ in the last
        # bit (measured: 1 ulp), so allow 2 ulps there; arithmetic alone is exact.
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=2 * np.finfo(np.float32).eps)
    else:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_gradients_return_in_each_operands_dtype():
    for lib in (nf, torch):
        half = lib.ones(3, dtype=lib.float16, requires_grad=True)
        wide = lib.tensor(2.0, dtype=lib.float64, requires_grad=True)
        out = (half * wide * lib.arange(3)).sum()       # float16 throughout, as in torch
        out.backward()
        assert str(out.dtype).endswith("float16")
        assert str(half.grad.dtype).endswith("float16") and str(wide.grad.dtype).endswith("float64")
        assert half.grad.tolist() == [0.0, 2.0, 4.0] and wide.grad.item() == 3.0
