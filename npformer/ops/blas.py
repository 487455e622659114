"""Matrix products, without BLAS's false "invalid value" alarms.

NumPy clears the CPU's floating-point status flags before a ufunc runs and turns the flags
set afterwards into RuntimeWarnings. Inside ``np.matmul`` the flags are whatever the BLAS
kernel left, and OpenBLAS kernels have raised FE_INVALID on finite inputs (numpy#24067,
numpy#13173, OpenBLAS#1924: vector lanes past the data, or a zero-scaled output buffer that
held garbage). This project's CI met it on a float32 (6, 5) @ (5, 1) product of finite
numbers, on a machine whose kernel this one does not select; which kernel and which garbage
decide it, so no input here can reproduce it on demand.

So every product in npformer goes through ``matmul`` here, which ignores "invalid" and
nothing else. What is lost: a product can only create a NaN from an inf already in an input
(inf * 0, inf - inf), and the op that made the inf has reported its overflow. Overflow in the
product itself (float32 sums past 3.4e38) still warns. PyTorch reports neither.
"""
import numpy as np


def matmul(a, b):
    """np.matmul(a, b) with the "invalid" flag ignored (see the module's docstring). The
    errstate context costs a few microseconds a call, a small share even of a decoding step's
    products (benchmarks/README.md gives the figure and its command)."""
    with np.errstate(invalid="ignore"):
        return np.matmul(a, b)
