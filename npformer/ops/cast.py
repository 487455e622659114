"""Cast: a copy in another dtype (or the same one: ``clone``). The gradient flows back in the
input's dtype, so ``x.double()`` inside a float32 model still trains x in float32."""
from ..autograd.dtypes import as_dtype
from ..autograd.function import Function


class Cast(Function):
    """z = a as ``dtype`` (always a copy);   dL/da = dL/dz as a's dtype"""

    pin_scalar_dtype = False

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype, copy=True)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype, copy=False)


def cast(a, dtype):
    return Cast.apply(a, dtype=as_dtype(dtype))
