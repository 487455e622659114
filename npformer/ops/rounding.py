"""Piecewise-constant functions: sign, floor, ceil, round, trunc; and frac = a - trunc(a).

Their derivative is 0 wherever it exists, and PyTorch's backward returns zeros everywhere
(also at the jumps), so these backwards do too: a model that rounds still trains the other
paths, and the rounded path contributes nothing. frac has derivative 1.

As in PyTorch, integer inputs come back unchanged in their own dtype (floor of an int is that
int; sign of an int is an int), and ``round`` rounds half to even (``round(2.5) = 2``).
"""
import numpy as np

from ..autograd.function import Function


def _zeros(ctx, grad):
    return np.zeros(ctx.shape, dtype=grad.dtype)


class Sign(Function):
    """z = -1, 0 or 1 by the sign of a (0 for 0, NaN for NaN);   dz/da = 0"""

    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        if a.dtype == np.bool_:
            return a.copy()
        return np.sign(a)

    backward = staticmethod(_zeros)


class Floor(Function):
    """z = the largest integer <= a;   dz/da = 0"""

    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        return np.floor(a) if a.dtype.kind == "f" else a.copy()

    backward = staticmethod(_zeros)


class Ceil(Function):
    """z = the smallest integer >= a;   dz/da = 0"""

    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        return np.ceil(a) if a.dtype.kind == "f" else a.copy()

    backward = staticmethod(_zeros)


class Trunc(Function):
    """z = a rounded towards zero;   dz/da = 0"""

    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        return np.trunc(a) if a.dtype.kind == "f" else a.copy()

    backward = staticmethod(_zeros)


class Round(Function):
    """z = a rounded to ``decimals`` decimal places, half to even;   dz/da = 0

    decimals > 0 rounds a * 10^d and divides back; decimals < 0 rounds a / 10^-d and multiplies
    back (the same two steps as PyTorch, so the results agree to the last bit in float64).
    """

    @staticmethod
    def forward(ctx, a, decimals=0):
        ctx.shape = a.shape
        if a.dtype.kind != "f":
            if decimals != 0:
                raise TypeError(f"round: decimals={decimals} is only supported for floating-point tensors, "
                                f"not {a.dtype}")
            return a.copy()
        if decimals == 0:
            return np.rint(a)
        with np.errstate(over="ignore", invalid="ignore"):
            if decimals > 0:
                scale = a.dtype.type(10.0 ** decimals)
                return np.rint(a * scale) / scale
            scale = a.dtype.type(10.0 ** -decimals)
            return np.rint(a / scale) * scale

    backward = staticmethod(_zeros)


def sign(input): return Sign.apply(input)
def floor(input): return Floor.apply(input)
def ceil(input): return Ceil.apply(input)
def trunc(input): return Trunc.apply(input)


def round(input, *, decimals=0):
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    return Round.apply(input, decimals=decimals)


def frac(input):
    """a - trunc(a), the fractional part with a's sign;   d/da = 1. Floating-point only, as in torch."""
    dtype = getattr(input, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise TypeError(f"frac is only defined for floating-point tensors, not {dtype}")
    return input - Trunc.apply(input)


fix = trunc          # PyTorch's alias
