"""matmul with NumPy's rules: 1-D operands are promoted to matrices and the added dim is
removed from the result; leading (batch) dims broadcast.

For Z = A @ B with A (..., m, k), B (..., k, n) and upstream G (..., m, n):

    dL/dA = G @ B^T   (..., m, k)        dL/dB = A^T @ G   (..., k, n)

each then summed over the batch dims that broadcasting added (``unbroadcast``).
"""
import numpy as np

from ..autograd.broadcast import unbroadcast
from ..autograd.function import Function
from . import blas


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs operands of at least 1 dimension, got shapes {a.shape} and {b.shape}")
        k_a, k_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise ValueError(
                f"shapes {a.shape} and {b.shape} do not fit: the contracted dims are {k_a} and {k_b}")
        ctx.a = a if ctx.needs_input_grad[1] else None
        ctx.b = b if ctx.needs_input_grad[0] else None
        ctx.shapes = a.shape, b.shape
        if b.ndim == 2 and a.ndim > 2:
            # (..., m, k) @ (k, n) as one (M, k) @ (k, n) product: one BLAS call, not one per batch.
            return blas.matmul(a.reshape(-1, k_a), b).reshape(a.shape[:-1] + (b.shape[1],))
        return blas.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        shape_a, shape_b = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        a, b = ctx.a, ctx.b
        # Promote 1-D operands to matrices, and give grad the dims matmul removed: b's
        # trailing dim first, so that (k,) @ (k,) grows grad () -> (1,) -> (1, 1).
        if len(shape_b) == 1:
            b = None if b is None else b[:, None]
            grad = np.expand_dims(grad, -1)
        if len(shape_a) == 1:
            a = None if a is None else a[None, :]
            grad = np.expand_dims(grad, -2)
        grad_a = grad_b = None
        if need_a:
            if b.ndim == 2 and grad.ndim > 2:
                rows = blas.matmul(grad.reshape(-1, grad.shape[-1]), b.T)      # (M, k)
                grad_a = rows.reshape(grad.shape[:-1] + (b.shape[0],))         # (..., m, k)
            else:
                grad_a = blas.matmul(grad, np.swapaxes(b, -1, -2))             # (..., m, k)
            grad_a = unbroadcast(grad_a, _promoted(shape_a, 0)).reshape(shape_a)
        if need_b:
            if len(shape_b) == 2 and a.ndim > 2:
                # Sum over the batch inside one product: (k, M) @ (M, n).
                k, n = a.shape[-1], grad.shape[-1]
                grad_b = blas.matmul(a.reshape(-1, k).T, grad.reshape(-1, n))  # (k, n)
            else:
                grad_b = blas.matmul(np.swapaxes(a, -1, -2), grad)             # (..., k, n)
                grad_b = unbroadcast(grad_b, _promoted(shape_b, 1))
            grad_b = grad_b.reshape(shape_b)
        return grad_a, grad_b


def _promoted(shape, side):
    """The matrix shape a 1-D operand was promoted to: (1, k) on the left, (k, 1) on the right."""
    if len(shape) != 1:
        return shape
    return (1,) + shape if side == 0 else shape + (1,)


def matmul(a, b):
    return MatMul.apply(a, b)
