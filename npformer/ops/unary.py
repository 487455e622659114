"""More elementwise functions of one tensor: trigonometric and hyperbolic functions and their
inverses, the log and exp variants (log1p, expm1, log2, log10, exp2), square and reciprocal.

Each backward is the upstream gradient times the local derivative, written in the docstring,
using the output z where that is cheaper than recomputing from the input a.

As in PyTorch, an integer or bool input gives a result in the default float dtype
(``npformer.sin(torch.tensor([1, 2]))`` is float32), except ``square``, which keeps integers.
Outside its domain a function returns NaN or inf silently (asin(2), log1p(-2)), as PyTorch does.
"""
import math

import numpy as np

from ..autograd.dtypes import get_default_dtype
from ..autograd.function import Function

LN2 = math.log(2.0)
LN10 = math.log(10.0)


def floating(a):
    """a itself when it is floating point, else a copy in the default float dtype."""
    return a if a.dtype.kind == "f" else a.astype(get_default_dtype())


class Sin(Function):
    """z = sin a;   dz/da = cos a"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(invalid="ignore"):     # sin(inf) is NaN
            return np.sin(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.cos(ctx.a)


class Cos(Function):
    """z = cos a;   dz/da = -sin a"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(invalid="ignore"):
            return np.cos(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad * np.sin(ctx.a)


class Tan(Function):
    """z = tan a;   dz/da = 1 + z^2"""

    @staticmethod
    def forward(ctx, a):
        with np.errstate(invalid="ignore"):
            z = np.tan(floating(a))
        ctx.z = z
        return z

    @staticmethod
    def backward(ctx, grad):
        z = ctx.z
        return grad * (1 + z * z)


class Asin(Function):
    """z = asin a;   dz/da = 1 / sqrt(1 - a^2)   (NaN outside [-1, 1])"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(invalid="ignore"):
            return np.arcsin(a)

    @staticmethod
    def backward(ctx, grad):
        a = ctx.a
        return grad / np.sqrt(1 - a * a)


class Acos(Function):
    """z = acos a;   dz/da = -1 / sqrt(1 - a^2)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(invalid="ignore"):
            return np.arccos(a)

    @staticmethod
    def backward(ctx, grad):
        a = ctx.a
        return -grad / np.sqrt(1 - a * a)


class Atan(Function):
    """z = atan a;   dz/da = 1 / (1 + a^2)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        return np.arctan(a)

    @staticmethod
    def backward(ctx, grad):
        a = ctx.a
        return grad / (1 + a * a)


class Sinh(Function):
    """z = sinh a;   dz/da = cosh a"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(over="ignore"):
            return np.sinh(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.cosh(ctx.a)


class Cosh(Function):
    """z = cosh a;   dz/da = sinh a"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(over="ignore"):
            return np.cosh(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.sinh(ctx.a)


class Asinh(Function):
    """z = asinh a;   dz/da = 1 / sqrt(a^2 + 1)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        return np.arcsinh(a)

    @staticmethod
    def backward(ctx, grad):
        a = ctx.a
        return grad / np.sqrt(a * a + 1)


class Acosh(Function):
    """z = acosh a;   dz/da = 1 / sqrt(a^2 - 1)   (NaN below 1)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(invalid="ignore"):
            return np.arccosh(a)

    @staticmethod
    def backward(ctx, grad):
        a = ctx.a
        return grad / np.sqrt(a * a - 1)


class Atanh(Function):
    """z = atanh a;   dz/da = 1 / (1 - a^2)   (+-inf at +-1, NaN beyond)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.arctanh(a)

    @staticmethod
    def backward(ctx, grad):
        a = ctx.a
        return grad / (1 - a * a)


class Log1p(Function):
    """z = ln(1 + a), accurate for small a;   dz/da = 1 / (1 + a)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log1p(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / (ctx.a + 1)


class Expm1(Function):
    """z = e^a - 1, accurate for small a;   dz/da = e^a = z + 1"""

    @staticmethod
    def forward(ctx, a):
        with np.errstate(over="ignore"):
            z = np.expm1(floating(a))
        ctx.z = z
        return z

    @staticmethod
    def backward(ctx, grad):
        return grad * (ctx.z + 1)


class Log2(Function):
    """z = log2 a;   dz/da = 1 / (a ln 2)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log2(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / (ctx.a * LN2)


class Log10(Function):
    """z = log10 a;   dz/da = 1 / (a ln 10)"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        ctx.a = a
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log10(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / (ctx.a * LN10)


class Exp2(Function):
    """z = 2^a;   dz/da = z ln 2"""

    @staticmethod
    def forward(ctx, a):
        with np.errstate(over="ignore"):
            z = np.exp2(floating(a))
        ctx.z = z
        return z

    @staticmethod
    def backward(ctx, grad):
        return grad * (ctx.z * LN2)


class Square(Function):
    """z = a^2;   dz/da = 2 a   (integers stay integers, as torch.square; bool becomes int64)"""

    @staticmethod
    def forward(ctx, a):
        if a.dtype == np.bool_:
            a = a.astype(np.int64)
        ctx.a = a
        with np.errstate(over="ignore"):
            return a * a

    @staticmethod
    def backward(ctx, grad):
        return grad * (2 * ctx.a)


class Reciprocal(Function):
    """z = 1 / a;   dz/da = -1/a^2 = -z^2"""

    @staticmethod
    def forward(ctx, a):
        a = floating(a)
        with np.errstate(divide="ignore"):
            z = 1 / a
        ctx.z = z
        return z

    @staticmethod
    def backward(ctx, grad):
        z = ctx.z
        return -grad * (z * z)


def sin(input): return Sin.apply(input)
def cos(input): return Cos.apply(input)
def tan(input): return Tan.apply(input)
def asin(input): return Asin.apply(input)
def acos(input): return Acos.apply(input)
def atan(input): return Atan.apply(input)
def sinh(input): return Sinh.apply(input)
def cosh(input): return Cosh.apply(input)
def asinh(input): return Asinh.apply(input)
def acosh(input): return Acosh.apply(input)
def atanh(input): return Atanh.apply(input)
def log1p(input): return Log1p.apply(input)
def expm1(input): return Expm1.apply(input)
def log2(input): return Log2.apply(input)
def log10(input): return Log10.apply(input)
def exp2(input): return Exp2.apply(input)
def square(input): return Square.apply(input)
def reciprocal(input): return Reciprocal.apply(input)


# PyTorch's NumPy-style aliases: the same functions under a second name.
arcsin, arccos, arctan = asin, acos, atan
arcsinh, arccosh, arctanh = asinh, acosh, atanh
