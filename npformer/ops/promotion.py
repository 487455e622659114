"""Type promotion between operands, by PyTorch's rule rather than NumPy's.

NumPy promotes by value range: int64 with float32 gives float64. PyTorch promotes by
category (bool < integer < floating) and lets only operands of a higher category widen the
result, in three tiers:

1. tensors with dimensions decide first: the highest category among them, and within it the
   usual widening (int8 with int16 is int16, float16 with float32 is float32);
2. 0-d tensors count only when their category is higher than tier 1's result;
3. Python numbers count only when their category is higher still: a float with an integer
   tensor gives the default float dtype, an int with a bool tensor gives int64.

So float32 with an int64 tensor stays float32, float32 with a 0-d float64 tensor stays
float32, and int32 with a 0-d int64 tensor stays int32, as in torch. ``promote`` casts the
tensors that differ from the result with the differentiable Cast, so gradients return to
each operand in its own dtype.
"""
import numpy as np

from ..autograd.dtypes import get_default_dtype
from ..autograd.tensor import Tensor
from .cast import cast


def _category(dtype):
    return 0 if dtype.kind == "b" else 1 if dtype.kind in "iu" else 2


def _widest(dtypes):
    """The dtype of the highest category among ``dtypes``, widened within that category."""
    top = max(_category(d) for d in dtypes)
    return np.result_type(*[d for d in dtypes if _category(d) == top])


def result_type(*operands):
    """PyTorch's result dtype for these operands (Tensors, ndarrays, Python or NumPy numbers)."""
    dimensioned, zero_dim, number = [], [], -1
    for x in operands:
        if isinstance(x, (Tensor, np.ndarray)):
            (dimensioned if x.ndim else zero_dim).append(x.dtype)
        elif isinstance(x, (bool, np.bool_)):
            number = max(number, 0)
        elif isinstance(x, (int, np.integer)):
            number = max(number, 1)
        elif isinstance(x, (float, np.floating)):
            number = max(number, 2)
    result = _widest(dimensioned) if dimensioned else None
    if zero_dim:
        candidate = _widest(zero_dim)
        if result is None or _category(candidate) > _category(result):
            result = candidate
    if result is not None and number > _category(result):
        result = get_default_dtype() if number == 2 else np.dtype(np.int64)
    return result


def promote(*operands):
    """The operands with every tensor (or array) cast to their common dtype by PyTorch's rule.

    Called by every binary op, so the usual case, tensors of one dtype and numbers of no
    higher category, returns at once.
    """
    first, mixed, number = None, False, -1
    for x in operands:
        if isinstance(x, (Tensor, np.ndarray)):
            if first is None:
                first = x.dtype
            elif x.dtype != first:
                mixed = True
        elif isinstance(x, float):
            number = 2
    if first is None or (not mixed and (number < 2 or first.kind == "f")):
        return operands
    target = result_type(*operands)
    return tuple(_as(x, target) for x in operands)


def _as(x, dtype):
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else cast(x, dtype)
    if isinstance(x, np.ndarray):
        return x if x.dtype == dtype else x.astype(dtype)
    return x
