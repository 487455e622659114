"""apply_rotary: rotary position embedding (RoPE) as one fused Function.

RoPE turns each pair of features (x_a, x_b) of a query or key at position p by the angle
p * theta_i of its pair i:

    y_a = x_a cos - x_b sin
    y_b = x_b cos + x_a sin            i.e.  y = x * cos + R(x) * sin,  R(x)_a = -x_b, R(x)_b = x_a

Two conventions choose which features pair up; the cos and sin tables are full width (D),
holding each pair's value in both of its slots:

    half-split  (GPT-NeoX, Llama in Hugging Face):  pairs (i, i + D/2), R(x) = cat(-x[D/2:], x[:D/2]),
                                                    cos = cat(c, c)
    interleaved (GPT-J, the RoFormer paper):        pairs (2i, 2i + 1), cos = (c0, c0, c1, c1, ...)

Backward. y is linear in x with Jacobian diag(cos) + diag(sin) R, so

    dL/dx = g * cos + R^T (g * sin),   R^T = -R:   R^T(w)_a = w_b,  R^T(w)_b = -w_a

(for true rotation tables this is the rotation by -p theta_i: the transpose of an orthogonal
map is its inverse). The tables are constants: they get no gradient.
"""
import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor


def _pair_slots(dim, interleaved):
    """(first, second) index expressions of every pair along the last axis."""
    if interleaved:
        return (Ellipsis, slice(0, None, 2)), (Ellipsis, slice(1, None, 2))
    half = dim // 2
    return (Ellipsis, slice(None, half)), (Ellipsis, slice(half, None))


class Rotary(Function):
    @staticmethod
    def forward(ctx, x, cos, sin, interleaved=False):
        if x.ndim == 0 or x.shape[-1] % 2:
            raise ValueError(f"rotary input must have an even last dim (the rotated features), got shape {x.shape}")
        dim = x.shape[-1]
        for name, table in (("cos", cos), ("sin", sin)):
            if table.ndim == 0 or table.shape[-1] != dim:
                raise ValueError(f"{name} table must be full width: last dim {dim} like the input, "
                                 f"got shape {table.shape}")
            try:
                fits = np.broadcast_shapes(x.shape, table.shape) == x.shape
            except ValueError:
                fits = False
            if not fits:
                raise ValueError(f"{name} table of shape {table.shape} does not broadcast to the input's shape "
                                 f"{x.shape}")
        # The tables follow the input's dtype (as Hugging Face's cos.to(x.dtype)): float32 stays float32.
        cos = cos.astype(x.dtype, copy=False)
        sin = sin.astype(x.dtype, copy=False)
        a, b = _pair_slots(dim, interleaved)
        y = x * cos                                                     # (..., T, D)
        y[a] -= x[b] * sin[a]                                           # y_a = x_a cos - x_b sin
        y[b] += x[a] * sin[b]                                           # y_b = x_b cos + x_a sin
        ctx.cos, ctx.sin, ctx.interleaved = cos, sin, interleaved
        return y

    @staticmethod
    def backward(ctx, grad):
        cos, sin = ctx.cos, ctx.sin
        a, b = _pair_slots(grad.shape[-1], ctx.interleaved)
        grad_x = grad * cos                                             # (..., T, D)
        grad_x[a] += grad[b] * sin[b]                                   # R^T(g sin)_a =  (g sin)_b
        grad_x[b] -= grad[a] * sin[a]                                   # R^T(g sin)_b = -(g sin)_a
        return grad_x, None, None


def apply_rotary(x, cos, sin, interleaved=False):
    """Rotate the feature pairs of ``x`` (..., T, D) by the full-width tables ``cos``, ``sin``.

    The tables (ndarrays or Tensors without gradient) broadcast to x, e.g. (T, D) against
    (B, H, T, D), and are cast to x's dtype. ``interleaved`` pairs features (2i, 2i+1)
    instead of (i, i + D/2).
    """
    for name, table in (("cos", cos), ("sin", sin)):
        if isinstance(table, Tensor) and table.requires_grad:
            raise ValueError(f"the {name} table of apply_rotary gets no gradient; pass it detached")
    return Rotary.apply(x, cos, sin, interleaved=bool(interleaved))
