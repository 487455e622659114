"""Arithmetic: add, sub, mul, div, neg, pow. Operands broadcast as in NumPy; each gradient is
summed back to its input's shape by ``unbroadcast``."""
import numpy as np

from ..autograd.broadcast import unbroadcast
from ..autograd.function import Function
from .promotion import promote, result_type


class Add(Function):
    """z = a + b;   dz/da = 1,  dz/db = 1"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad):
        shape_a, shape_b = ctx.shapes
        return (unbroadcast(grad, shape_a) if ctx.needs_input_grad[0] else None,
                unbroadcast(grad, shape_b) if ctx.needs_input_grad[1] else None)


class Sub(Function):
    """z = a - b;   dz/da = 1,  dz/db = -1"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a - b

    @staticmethod
    def backward(ctx, grad):
        shape_a, shape_b = ctx.shapes
        return (unbroadcast(grad, shape_a) if ctx.needs_input_grad[0] else None,
                unbroadcast(-grad, shape_b) if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """z = a * b;   dz/da = b,  dz/db = a"""

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.a = a if need_b else None
        ctx.b = b if need_a else None
        ctx.shapes = a.shape, b.shape
        return a * b

    @staticmethod
    def backward(ctx, grad):
        shape_a, shape_b = ctx.shapes
        return (unbroadcast(grad * ctx.b, shape_a) if ctx.needs_input_grad[0] else None,
                unbroadcast(grad * ctx.a, shape_b) if ctx.needs_input_grad[1] else None)


class Div(Function):
    """z = a / b;   dz/da = 1/b,  dz/db = -a/b^2 = -z/b"""

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            z = a / b
        ctx.b = b
        ctx.z = z if ctx.needs_input_grad[1] else None
        ctx.shapes = a.shape, b.shape
        return z

    @staticmethod
    def backward(ctx, grad):
        shape_a, shape_b = ctx.shapes
        grad_over_b = grad / ctx.b
        return (unbroadcast(grad_over_b, shape_a) if ctx.needs_input_grad[0] else None,
                unbroadcast(-grad_over_b * ctx.z, shape_b) if ctx.needs_input_grad[1] else None)


class Neg(Function):
    """z = -a;   dz/da = -1"""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Function):
    """z = a ** p;   dz/da = p a^(p-1),   dz/dp = z ln a

    As in PyTorch, dz/da is 0 where p == 0 (not 0 * inf at a == 0), and dz/dp is 0 where
    a == 0 and p >= 0 (the limit of a^p ln a), so those points give numbers, not NaN.
    """

    @staticmethod
    def forward(ctx, a, p):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = np.power(a, p)
        # z only when p wants a gradient: a saved array is one an in-place write may not touch
        ctx.a, ctx.p, ctx.z = a, p, (z if ctx.needs_input_grad[1] else None)
        return z

    @staticmethod
    def backward(ctx, grad):
        a, p, z = ctx.a, ctx.p, ctx.z
        grad_a = grad_p = None
        if ctx.needs_input_grad[0]:
            grad_a = unbroadcast(grad * np.where(p == 0, 0, p * np.power(a, p - 1)), a.shape)
        if ctx.needs_input_grad[1]:
            log_a = np.where((a == 0) & (p >= 0), 0, np.log(a))
            grad_p = unbroadcast(grad * z * log_a, p.shape)
        return grad_a, grad_p


def add(a, b):
    return Add.apply(*promote(a, b))


def sub(a, b):
    return Sub.apply(*promote(a, b))


def mul(a, b):
    return Mul.apply(*promote(a, b))


def div(a, b):
    """True division: integer operands give the default float dtype, as in torch."""
    a, b = promote(a, b)
    common = result_type(a, b)
    if common is not None and common.kind != "f":
        a, b, _ = promote(a, b, 0.0)          # a float number lifts both to the default float
    return Div.apply(a, b)


def neg(a):
    return Neg.apply(a)


def pow(a, exponent):
    return Pow.apply(*promote(a, exponent))
