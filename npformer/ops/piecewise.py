"""Activations composed from primitives, with torch.nn.functional's names and signatures.

None is a Function of its own: each is a few differentiable primitives (where, minimum, exp,
...), so its gradient is the composition's, and each form below is chosen so that no branch
that ``where`` discards can overflow (a discarded inf still poisons the gradient as 0 * inf).

    leaky_relu(x) = x if x > 0 else s x                 d/dx = 1 or s
    elu(x)        = x if x > 0 else a (e^x - 1)         d/dx = 1 or a e^x     (e^min(x, 0): no overflow)
    hardtanh(x)   = clamp(x, lo, hi)                    d/dx = 1 inside, 0 outside; relu6 = hardtanh(0, 6)
    logsigmoid(x) = -softplus(-x) = min(x, 0) - log(1 + e^-|x|)
    mish(x)       = x tanh(softplus(x))
    glu(x, dim)   = a sigmoid(b), where a, b are the two halves of x along dim

``inplace=True`` writes the result into the input (autograd/inplace.py), as PyTorch does.
"""
from ..autograd.inplace import write
from .elementwise import abs, clamp, exp, log, minimum, sigmoid, tanh, where
from .shape import split
from .softplus import softplus
from .unary import expm1


def _maybe_inplace(input, inplace, compute):
    return write(input, compute) if inplace else compute(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: where(x > 0, x, x * negative_slope))


def elu(input, alpha=1.0, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: where(x > 0, x, expm1(minimum(x, 0.0)) * alpha))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _maybe_inplace(input, inplace, lambda x: clamp(x, min_val, max_val))


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def logsigmoid(input):
    return minimum(input, 0.0) - log(exp(-abs(input)) + 1.0)


def mish(input, inplace=False):
    return _maybe_inplace(input, inplace, lambda x: x * tanh(softplus(x)))


def glu(input, dim=-1):
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim % input.ndim} is size {size}")
    a, b = split(input, size // 2, dim)
    return a * sigmoid(b)


__all__ = ["leaky_relu", "elu", "hardtanh", "relu6", "logsigmoid", "mish", "glu"]
