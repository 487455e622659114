"""dropout, inverted: each element is zeroed with probability p and the survivors are scaled
by 1 / (1 - p), so the expected value is unchanged and evaluation needs no rescaling.

    y = x m / (1 - p),  m_i ~ Bernoulli(1 - p)      dL/dx = g m / (1 - p)

The mask comes from a seeded ``Generator``; forward keeps it as booleans (1 byte an element).
"""
import numpy as np

from ..autograd.function import Function
from ..autograd.inplace import write
from ..autograd.random import resolve


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p, generator=None):
        keep = resolve(generator).numpy.random(x.shape, dtype=np.float32) >= p
        scale = x.dtype.type(1 / (1 - p)) if p < 1 else x.dtype.type(0)
        ctx.keep, ctx.scale = keep, scale
        y = x * keep
        y *= scale
        return y

    @staticmethod
    def backward(ctx, grad):
        dx = grad * ctx.keep
        dx *= ctx.scale
        return dx


def dropout(input, p=0.5, training=True, inplace=False, *, generator=None):
    """Identity when not training or p == 0, as torch.nn.functional.dropout; ``inplace``
    writes the result into ``input``. ``generator`` (npformer's own) seeds the mask."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if inplace:
        return write(input, lambda x: Dropout.apply(x, p=float(p), generator=generator))
    return Dropout.apply(input, p=float(p), generator=generator)
