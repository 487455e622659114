"""softplus, a smooth relu, as torch.nn.functional.softplus(input, beta=1, threshold=20).

    y = log(1 + e^(beta x)) / beta     where beta x <= threshold
    y = x                              where beta x >  threshold (the two agree to float rounding there)
    dy/dx = sigmoid(beta x) = e^(beta x) / (1 + e^(beta x))   below the threshold, 1 above

log(1 + e^t) is computed as max(t, 0) + log1p(e^-|t|), which never overflows (PyTorch's
log1p(e^t) overflows to inf for t past ~88 in float32 when threshold is raised that far) and
agrees with it to rounding everywhere else.
"""
import numpy as np

from ..autograd.function import Function
from .elementwise import sigmoid_array


class Softplus(Function):
    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        if x.dtype.kind != "f":
            raise TypeError(f"softplus is only defined for floating-point tensors, not {x.dtype}")
        t = x * x.dtype.type(beta)                                      # beta x
        linear = t > threshold
        smooth = (np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))) / x.dtype.type(beta)
        ctx.t, ctx.linear = t, linear
        return np.where(linear, x, smooth)

    @staticmethod
    def backward(ctx, grad):
        return np.where(ctx.linear, grad, grad * sigmoid_array(ctx.t))


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus.apply(input, beta=beta, threshold=threshold)
