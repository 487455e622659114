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

For float32 that accuracy costs ~100 array passes, so float32 inputs take a float32 formula
instead (measured faster; see benchmarks/README.md):

    erfc(z) = t exp(-z^2 + P(2t - 1)),  t = 1 / (1 + z/2),  z >= 0,

with P of degree 10 fitted by least squares to log(erfc(z) / t) + z^2 on z in [0, 9] against the
float64 erfc (the fitting error is 2e-8 relative). Evaluated in float32, Phi's absolute error is
below 2e-7 (about 3 float32 ulps at 1/2; tests/ops/test_fused.py bounds it).
"""
import math

import numpy as np

from ..autograd.function import Function
from .elementwise import sigmoid_array
from .special import erfc

SQRT_HALF = math.sqrt(0.5)
# P's coefficients, highest degree first (see the module docstring for the fit)
ERFC_FLOAT32 = np.array([
    -0.00014844905166962283, 0.0005383815180046228, -5.427702541594365e-05, -0.0023087601571869154,
    0.0017222512456584334, 0.008821170021812437, -0.009866941626241781, -0.046895496293269175,
    0.047342988925919906, 0.6726432225633859, -0.6717940812116827], dtype=np.float32)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
TANH_CUBIC = 0.044715


def normal_cdf_float32(x):
    """Phi(x) of a float32 array in float32 arithmetic (see the module docstring), in place on
    three temporaries: each pass over the array costs about as much as a fresh allocation."""
    one, half = np.float32(1), np.float32(0.5)
    z = np.abs(x, out=np.empty_like(x))                         # out=: 0-d stays an array
    z *= np.float32(SQRT_HALF)                                  # z = |x| / sqrt 2
    t = np.multiply(z, half, out=np.empty_like(x))
    t += one
    np.divide(one, t, out=t)                                    # t = 1 / (1 + z/2)
    u = np.multiply(t, np.float32(2), out=np.empty_like(x))
    u -= one                                                    # u = 2t - 1 in [-1, 1]
    p = np.multiply(u, ERFC_FLOAT32[0], out=np.empty_like(x))
    p += ERFC_FLOAT32[1]
    for c in ERFC_FLOAT32[2:]:
        p *= u
        p += c
    z *= z
    p -= z
    np.exp(p, out=p)
    p *= t
    p *= half
    # p = erfc(|x|/sqrt 2) / 2 = Phi(-|x|), so Phi(x) = p + [x >= 0] (1 - 2p): exactly p in the
    # negative tail (no 1 - (1 - p) rounding it away), branch-free (np.where on random signs
    # measured slower; see benchmarks/README.md).
    flip = np.multiply(p, np.float32(-2), out=u)
    flip += one
    flip *= x >= 0
    flip += p
    return flip


# Elements per block of the blockwise kernels below: 512 KiB of float32 per array, so the few
# arrays a block touches stay in a core's L2 cache across the kernel's passes instead of each
# pass streaming the whole array through memory. The tanh GELU measured faster this way than
# in one pass over the whole array, and than in blocks of 8K elements, where the per-call
# overhead of each NumPy pass dominates (benchmarks/README.md has the figures).
BLOCK = 1 << 17


def _blockwise(kernel, shape, dtype, outputs, inputs, scratch=0):
    """Run ``kernel(*output_blocks, *input_blocks, *scratch_blocks)`` over consecutive flat blocks
    of C-ordered arrays; returns the ``outputs`` new arrays of ``shape``."""
    made = [np.empty(shape, dtype) for _ in range(outputs)]
    flat = [a.reshape(-1) for a in made] + [np.ascontiguousarray(a).reshape(-1) for a in inputs]
    size = flat[0].size
    if size <= BLOCK:                                   # one block: no slicing to do
        kernel(*flat, *(np.empty(size, dtype) for _ in range(scratch)))
        return made
    spare = [np.empty(min(size, BLOCK), dtype) for _ in range(scratch)]
    for start in range(0, size, BLOCK):
        stop = min(start + BLOCK, size)
        kernel(*(a[start:stop] for a in flat), *(a[:stop - start] for a in spare))
    return made


def _gelu_tanh_forward(y, t, x):
    """t = tanh(u), u = sqrt(2/pi) (x + 0.044715 x^3) = x (a + b x^2);  y = x (1 + t) / 2"""
    constant = x.dtype.type
    np.multiply(x, x, out=t)
    t *= constant(SQRT_2_OVER_PI * TANH_CUBIC)
    t += constant(SQRT_2_OVER_PI)
    t *= x
    np.tanh(t, out=t)
    np.add(t, constant(1), out=y)
    y *= x
    y *= constant(0.5)


def _gelu_tanh_backward(slope, grad, x, t, scratch):
    """slope = grad dy/dx,  dy/dx = (1 + t)/2 + (1 - t^2) x (a + 3 b x^2) / 2"""
    constant = x.dtype.type
    np.multiply(t, t, out=scratch)
    np.subtract(constant(1), scratch, out=scratch)                  # 1 - t^2
    np.multiply(x, x, out=slope)
    slope *= constant(1.5 * SQRT_2_OVER_PI * TANH_CUBIC)
    slope += constant(0.5 * SQRT_2_OVER_PI)
    slope *= x
    slope *= scratch
    np.multiply(t, constant(0.5), out=scratch)
    slope += scratch
    slope += constant(0.5)
    slope *= grad


def _gelu_backward(slope, grad, x, cdf):
    """slope = grad dy/dx,  dy/dx = Phi(x) + x phi(x)"""
    constant = x.dtype.type
    np.multiply(x, x, out=slope)
    slope *= constant(-0.5)
    np.exp(slope, out=slope)
    slope *= constant(INV_SQRT_2PI)
    slope *= x                                                      # x phi(x)
    slope += cdf
    slope *= grad


class GELU(Function):
    @staticmethod
    def forward(ctx, x, approximate="none"):
        if approximate == "none":
            cdf = normal_cdf_float32(x) if x.dtype == np.float32 else 0.5 * erfc(-SQRT_HALF * x)   # Phi(x)
            ctx.x, ctx.cdf, ctx.approximate = x, cdf, approximate
            return x * cdf
        if approximate == "tanh":
            y, t = _blockwise(_gelu_tanh_forward, x.shape, x.dtype, 2, (x,))
            ctx.x, ctx.t, ctx.approximate = x, t, approximate
            return y
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")

    @staticmethod
    def backward(ctx, grad):
        x = ctx.x
        if ctx.approximate == "none":
            return _blockwise(_gelu_backward, x.shape, x.dtype, 1, (grad, x, ctx.cdf))[0]
        return _blockwise(_gelu_tanh_backward, x.shape, x.dtype, 1, (grad, x, ctx.t), scratch=1)[0]


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
