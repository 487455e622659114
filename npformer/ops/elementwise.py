"""Elementwise functions. Each backward is the upstream gradient times the local derivative,
written with the output z where that is cheaper than recomputing from the input a.

Functions defined on part of the real line (log, sqrt) return NaN or inf outside it silently,
as PyTorch does; NumPy's RuntimeWarnings are not allowed to leak out of npformer. Forwards
that can leave their domain say so with np.errstate; backwards run under the engine's.
"""
import math

import numpy as np

from ..autograd.broadcast import unbroadcast
from ..autograd.dtypes import get_default_dtype
from ..autograd.function import Function
from .promotion import promote
from .special import erf as erf_array
from .unary import floating

TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


class Exp(Function):
    """z = e^a;   dz/da = z"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)                  # an integer input gives the default float, as torch
        with np.errstate(over="ignore"):
            z = np.exp(a)
        ctx.z = z
        return z

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.z


class Log(Function):
    """z = ln a;   dz/da = 1/a"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)                  # an integer input gives the default float, as torch
        ctx.a = a
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.a


class Erf(Function):
    """z = erf(a);   dz/da = 2/sqrt(pi) e^(-a^2)   (erf itself: npformer.ops.special, to float64 rounding)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)                  # an integer input gives the default float, as torch
        ctx.a = a
        return erf_array(a)

    @staticmethod
    def backward(ctx, grad):
        a = ctx.a
        return grad * (TWO_OVER_SQRT_PI * np.exp(-(a * a)))


class Sqrt(Function):
    """z = sqrt(a);   dz/da = 1 / (2 z)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)                  # an integer input gives the default float, as torch
        with np.errstate(invalid="ignore"):
            z = np.sqrt(a)
        ctx.z = z
        return z

    @staticmethod
    def backward(ctx, grad):
        return grad / (2 * ctx.z)


class Tanh(Function):
    """z = tanh a;   dz/da = 1 - z^2"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)                  # an integer input gives the default float, as torch
        z = np.tanh(a)
        ctx.z = z
        return z

    @staticmethod
    def backward(ctx, grad):
        z = ctx.z
        return grad * (1 - z * z)


class Sigmoid(Function):
    """z = 1 / (1 + e^-a);   dz/da = z (1 - z)

    Computed from e = e^-|a| <= 1, which never overflows: z = 1/(1+e) for a >= 0 and
    e/(1+e) for a < 0, accurate in both tails.
    """

    @staticmethod
    def forward(ctx, a):
        a = floating(a)                  # an integer input gives the default float, as torch
        z = sigmoid_array(a)
        ctx.z = z
        return z

    @staticmethod
    def backward(ctx, grad):
        z = ctx.z
        return grad * z * (1 - z)


def sigmoid_array(a):
    """The stable sigmoid of an ndarray (no graph); also used by silu."""
    one = a.dtype.type(1)         # typed: NumPy 1.x would make 0-d float32 + 1 float64
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, one, e) / (one + e)


class ReLU(Function):
    """z = max(a, 0);   dz/da = 1 where a > 0, else 0 (0 at the kink, as in PyTorch)"""

    @staticmethod
    def forward(ctx, a):
        z = np.maximum(a, a.dtype.type(0))
        ctx.z = z
        return z

    @staticmethod
    def backward(ctx, grad):
        return grad * (ctx.z > 0)        # a multiply by the mask: np.where measured slower (benchmarks/README.md)


class Abs(Function):
    """z = |a|;   dz/da = sign(a) (0 at 0)"""

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.sign(ctx.a)


class Maximum(Function):
    """z = max(a, b) elementwise. The gradient goes to the larger operand; at a tie each
    operand gets half, PyTorch's choice, which makes max(a, a) have derivative 1."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        return _split_by_winner(grad, ctx.a, ctx.b, ctx.a > ctx.b, ctx.needs_input_grad)


class Minimum(Function):
    """z = min(a, b) elementwise; the gradient goes to the smaller operand, half each at a tie."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        return _split_by_winner(grad, ctx.a, ctx.b, ctx.a < ctx.b, ctx.needs_input_grad)


def _split_by_winner(grad, a, b, a_wins, needs_input_grad):
    share_a = np.where(a_wins, 1.0, np.where(a == b, 0.5, 0.0)).astype(grad.dtype)  # broadcast shape
    grad_a = unbroadcast(grad * share_a, a.shape) if needs_input_grad[0] else None
    grad_b = unbroadcast(grad * (1 - share_a), b.shape) if needs_input_grad[1] else None
    return grad_a, grad_b


class Where(Function):
    """z = a where condition else b;   dz/da = condition,  dz/db = not condition"""

    @staticmethod
    def forward(ctx, condition, a, b):
        if condition.dtype != np.bool_:
            raise TypeError(f"where: condition must be a bool tensor, got {condition.dtype}")
        ctx.condition = condition
        ctx.shapes = a.shape, b.shape
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, grad):
        shape_a, shape_b = ctx.shapes
        zero = np.zeros((), dtype=grad.dtype)
        grad_a = unbroadcast(np.where(ctx.condition, grad, zero), shape_a) if ctx.needs_input_grad[1] else None
        grad_b = unbroadcast(np.where(ctx.condition, zero, grad), shape_b) if ctx.needs_input_grad[2] else None
        return None, grad_a, grad_b


class Clamp(Function):
    """z = min(max(a, lo), hi);   dz/da = 1 where lo <= a <= hi (bounds included, as in PyTorch)"""

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp needs at least one of min and max")
        inside = np.ones(a.shape, dtype=bool)
        z = a
        if min is not None:
            inside &= a >= min
            z = np.maximum(z, np.asarray(min, dtype=a.dtype))
        if max is not None:
            inside &= a <= max
            z = np.minimum(z, np.asarray(max, dtype=a.dtype))
        ctx.inside = inside
        return z

    @staticmethod
    def backward(ctx, grad):
        return np.where(ctx.inside, grad, 0)


def exp(a):
    return Exp.apply(a)


def log(a):
    return Log.apply(a)


def sqrt(a):
    return Sqrt.apply(a)


def erf(a):
    return Erf.apply(a)


def rsqrt(a):
    return 1.0 / Sqrt.apply(a)


def tanh(a):
    return Tanh.apply(a)


def sigmoid(a):
    return Sigmoid.apply(a)


def relu(a):
    return ReLU.apply(a)


def abs(a):
    return Abs.apply(a)


def maximum(a, b):
    return Maximum.apply(*promote(a, b))


def minimum(a, b):
    return Minimum.apply(*promote(a, b))


def where(condition, a, b):
    return Where.apply(condition, *promote(a, b))


def clamp(a, min=None, max=None):
    """An integer tensor with a float bound is clamped in the default float dtype, as torch's
    type promotion does (never truncating the bound)."""
    data = getattr(a, "_data", None)
    if data is not None and data.dtype.kind in "iub" and any(isinstance(b, float) for b in (min, max)):
        a = a.to(get_default_dtype())
    return Clamp.apply(a, min=min, max=max)
