"""Elementwise functions of two or three tensors beyond arithmetic: atan2, hypot, lerp, and
addcmul / addcdiv (composed from arithmetic). Operands broadcast as in NumPy; each gradient is
summed back to its operand's shape by ``unbroadcast``. Integer operands give the default
float dtype, as in PyTorch.
"""
import numpy as np

from ..autograd.broadcast import unbroadcast
from ..autograd.function import Function
from .arithmetic import add, div, mul
from .unary import floating


class Atan2(Function):
    """z = atan2(a, b), the angle of the point (b, a) in (-pi, pi];
    dz/da = b / (a^2 + b^2),  dz/db = -a / (a^2 + b^2)"""

    @staticmethod
    def forward(ctx, a, b):
        a, b = floating(a), floating(b)
        ctx.a, ctx.b = a, b
        return np.arctan2(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.a, ctx.b
        with np.errstate(divide="ignore"):
            scale = grad / (a * a + b * b)                  # broadcast shape
        return (unbroadcast(scale * b, a.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(-scale * a, b.shape) if ctx.needs_input_grad[1] else None)


class Hypot(Function):
    """z = sqrt(a^2 + b^2), without overflow for large a, b;   dz/da = a / z,  dz/db = b / z"""

    @staticmethod
    def forward(ctx, a, b):
        a, b = floating(a), floating(b)
        z = np.hypot(a, b)
        ctx.a, ctx.b, ctx.z = a, b, z
        return z

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.a, ctx.b
        scale = grad / ctx.z                                # broadcast shape
        return (unbroadcast(scale * a, a.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(scale * b, b.shape) if ctx.needs_input_grad[1] else None)


class Lerp(Function):
    """z = a + w (b - a), computed as PyTorch does: a + w (b - a) where |w| < 1/2, else
    b - (b - a)(1 - w), so that w = 1 gives exactly b.
    dz/da = 1 - w,  dz/db = w,  dz/dw = b - a"""

    @staticmethod
    def forward(ctx, a, b, w):
        if a.dtype != b.dtype:
            raise TypeError(f"lerp: expected end to have the same dtype as input ({a.dtype}), but got {b.dtype}")
        if a.dtype.kind != "f":
            raise TypeError(f"lerp is only defined for floating-point tensors, not {a.dtype}")
        diff = b - a
        ctx.a_shape, ctx.b_shape, ctx.w, ctx.diff = a.shape, b.shape, w, diff
        return np.where(np.abs(w) < 0.5, a + w * diff, b - diff * (1 - w))

    @staticmethod
    def backward(ctx, grad):
        w, need = ctx.w, ctx.needs_input_grad
        return (unbroadcast(grad * (1 - w), ctx.a_shape) if need[0] else None,
                unbroadcast(grad * w, ctx.b_shape) if need[1] else None,
                unbroadcast(grad * ctx.diff, w.shape) if need[2] else None)


def atan2(input, other):
    return Atan2.apply(input, other)


arctan2 = atan2


def hypot(input, other):
    return Hypot.apply(input, other)


def lerp(input, end, weight):
    """input + weight (end - input); ``weight`` a number or a tensor (then differentiable too)."""
    return Lerp.apply(input, end, weight)


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2"""
    product = mul(tensor1, tensor2)
    return add(input, product if value == 1 else mul(product, value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2"""
    quotient = div(tensor1, tensor2)
    return add(input, quotient if value == 1 else mul(quotient, value))
