"""gelu (exact and tanh) and silu, each one fused Function.

    gelu:       y = x Phi(x),  Phi(x) = erfc(-x / sqrt 2) / 2 (the normal CDF)
                dy/dx = Phi(x) + x phi(x),  phi(x) = e^(-x^2/2) / sqrt(2 pi)
    gelu tanh:  y = x (1 + t) / 2,  t = tanh(u),  u = sqrt(2/pi) (x + 0.044715 x^3)
                dy/dx = (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2
    silu:       y = x s,  s = sigmoid(x)
                dy/dx = s (1 + x (1 - s))

Phi is written with erfc rather than 1 + erf: for very negative x, 1 + erf(x/sqrt 2) cancels
to nothing while erfc keeps full relative accuracy, so gelu's small negative tail is right.
NumPy has no erf; npformer.ops.special provides one accurate to float64 rounding.
"""
import math

import numpy as np

from ..autograd.function import Function
from .elementwise import sigmoid_array
from .special import erfc

SQRT_HALF = math.sqrt(0.5)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
TANH_CUBIC = 0.044715


class GELU(Function):
    @staticmethod
    def forward(ctx, x, approximate="none"):
        if approximate == "none":
            cdf = 0.5 * erfc(-SQRT_HALF * x)                                # Phi(x)
            ctx.x, ctx.cdf, ctx.approximate = x, cdf, approximate
            return x * cdf
        if approximate == "tanh":
            t = np.tanh(SQRT_2_OVER_PI * (x + TANH_CUBIC * x * x * x))
            ctx.x, ctx.t, ctx.approximate = x, t, approximate
            return 0.5 * x * (1 + t)
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")

    @staticmethod
    def backward(ctx, grad):
        x = ctx.x
        if ctx.approximate == "none":
            pdf = INV_SQRT_2PI * np.exp(-0.5 * x * x)                       # phi(x)
            return grad * (ctx.cdf + x * pdf)
        t = ctx.t
        du_dx = SQRT_2_OVER_PI * (1 + 3 * TANH_CUBIC * x * x)
        return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du_dx)


class SiLU(Function):
    @staticmethod
    def forward(ctx, x):
        s = sigmoid_array(x)
        ctx.x, ctx.s = x, s
        return x * s

    @staticmethod
    def backward(ctx, grad):
        s = ctx.s
        return grad * s * (1 + ctx.x * (1 - s))


def gelu(x, approximate="none"):
    return GELU.apply(x, approximate=approximate)


def silu(x):
    return SiLU.apply(x)
