"""linear: y = x W^T + b with W of shape (out_features, in_features), as PyTorch stores it.

With x flattened to rows X (M, in) and g to G (M, out):

    dL/dX = G W          (M, in)
    dL/dW = G^T X        (out, in)   -- one product sums over every batch position
    dL/db = sum_rows G   (out,)

A product of a few rows (decoding) multiplies by a prepared (in, out) copy of a large W when
a decoding run has made one (ops/layouts.py).
"""
import numpy as np

from ..autograd.function import Function
from .blas import matmul
from .layouts import transposed

FEW_ROWS = 16                   # a decoding step's products: one row per sequence


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        if weight.ndim != 2:
            raise ValueError(f"weight must be 2-D (out_features, in_features), got shape {weight.shape}")
        if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ValueError(f"input shape {x.shape} does not fit weight {weight.shape}: the input's last dim "
                             f"must be in_features = {weight.shape[1]}")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"bias has shape {bias.shape}, expected ({weight.shape[0]},)")
        rows = x.reshape(-1, weight.shape[1])                              # (M, in)
        prepared = transposed(weight) if rows.shape[0] <= FEW_ROWS else None
        if prepared is not None:
            y = matmul(rows, prepared)                                     # (M, out): a decoding run's copy
        elif rows.shape[0] <= FEW_ROWS:
            # a few rows (decoding): OpenBLAS multiplies W (out, in) by rows^T faster than rows
            # by W^T (see benchmarks/README.md)
            y = np.ascontiguousarray(matmul(weight, rows.T).T)             # (M, out)
        else:
            y = matmul(rows, weight.T)                                     # (M, out)
        if bias is not None:
            y += bias
        need_x, need_w, _ = ctx.needs_input_grad
        ctx.rows = rows if need_w else None
        ctx.weight = weight if need_x else None
        ctx.x_shape = x.shape
        return y.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        need_x, need_w, need_b = ctx.needs_input_grad
        g = grad.reshape(-1, grad.shape[-1])                               # (M, out)
        grad_x = matmul(g, ctx.weight).reshape(ctx.x_shape) if need_x else None
        grad_w = matmul(g.T, ctx.rows) if need_w else None
        grad_b = np.sum(g, axis=0) if need_b else None
        return grad_x, grad_w, grad_b


def linear(input, weight, bias=None):
    return Linear.apply(input, weight, bias)
