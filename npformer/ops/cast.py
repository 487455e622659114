"""Cast: a copy in another dtype (or the same one: ``clone``). The gradient flows back in the
input's dtype, so ``x.double()`` inside a float32 model still trains x in float32."""
from ..autograd.dtypes import as_dtype
from ..autograd.function import Function


class Cast(Function):
    """z = a as ``dtype`` (always a copy);   dL/da = dL/dz as a's dtype"""

    pin_scalar_dtype = False

    @staticmethod
    def forward(ctx, a, dtype, order="K"):
        # order "K" keeps a's memory layout (torch's clone and .to keep strides); "C" makes
        # the copy row-major (torch's .contiguous())
        ctx.dtype = a.dtype
        return a.astype(dtype, order=order, copy=True)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype, copy=False)


def cast(a, dtype):
    return Cast.apply(a, dtype=as_dtype(dtype))


def contiguous(a):
    """A row-major copy of a (``Tensor.contiguous()`` returns a itself when it already is one)."""
    return Cast.apply(a, dtype=a.dtype, order="C")
