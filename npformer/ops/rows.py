"""Row reductions through BLAS.

NumPy's ``sum(axis=-1)`` over short rows walks them one by one; a matrix-vector product with
a vector of ones does the same sum in BLAS (vectorised, multithreaded), measured faster on
(2048, 384) float32 (benchmarks/README.md). The fused ops normalise over the last dim and use
these for their row statistics. Arrays that are not C-contiguous, and those of fewer than
BLAS_MIN_ROWS rows (a decoding step's), use NumPy's reductions: there the BLAS call costs more than it saves.
"""
import numpy as np

from .blas import matmul


def _ones(n, dtype):
    return np.ones(n, dtype=dtype)


BLAS_MIN_ROWS = 64              # fewer rows (a decoding step's): NumPy's own sum, without BLAS's call cost


def row_sums(x):
    """sum over the last axis, keepdims: (..., C) -> (..., 1)"""
    if not x.flags.c_contiguous or x.ndim == 0 or x.shape[-1] == 0 or x.size < BLAS_MIN_ROWS * x.shape[-1]:
        with np.errstate(invalid="ignore"):             # inf - inf is NaN silently, as the BLAS path
            return np.add.reduce(x, axis=-1, keepdims=True)
    return matmul(x.reshape(-1, x.shape[-1]), _ones(x.shape[-1], x.dtype)).reshape(x.shape[:-1] + (1,))


def row_max(x, axis=-1):
    """max over ``axis``, keepdims, for softmax's shift. np.fmax.reduce skips NumPy max's NaN
    bookkeeping (measured against np.max: see benchmarks/README.md).
    It ignores NaN where np.max returns it, but the shifted row still holds the NaN, so the
    softmax of a row with a NaN is NaN all the same."""
    return np.fmax.reduce(x, axis=axis, keepdims=True)


def row_dots(a, b):
    """sum over the last axis of a * b, keepdims, without the product as a temporary"""
    return np.einsum("...i,...i->...", a, b)[..., None]


def leading_sums(x, trailing):
    """sum over every axis but the last ``trailing`` ones: (..., *normalized) -> normalized"""
    shape = x.shape[x.ndim - trailing:]
    if not x.flags.c_contiguous or x.size == 0:
        return np.sum(x, axis=tuple(range(x.ndim - trailing)))
    rows = x.reshape(-1, int(np.prod(shape)))
    return matmul(_ones(rows.shape[0], x.dtype), rows).reshape(shape)
