"""Vector norms over dims: torch.norm, torch.linalg.vector_norm, F.normalize, F.cosine_similarity.

    p = 2:     z = sqrt(sum a^2)          dz/da = a / z
    p = 1:     z = sum |a|                dz/da = sign(a)
    p = inf:   z = max |a|                dz/da = sign(a) / m at the m elements where |a| = z, else 0
    p = -inf:  z = min |a|                (the same at the minima)
    p = 0:     z = number of nonzeros     dz/da = 0
    other p:   z = (sum |a|^p)^(1/p)      dz/da = sign(a) |a|^(p-1) / z^(p-1)

Where z = 0 the gradient is 0, and an element a = 0 gets 0 for every p (no 0 * inf), as in
PyTorch; at ties for +-inf the gradient is shared equally, also as in PyTorch.
"""
import math

import numpy as np

from ..autograd.dtypes import as_dtype
from ..autograd.function import Function
from .dims import keepdim_shape, normalize_dims


class Norm(Function):
    """z = ||a||_p over ``dim``; see the module docstring."""

    @staticmethod
    def forward(ctx, a, p=2.0, dim=None, keepdim=False):
        if a.dtype.kind != "f":
            raise TypeError(f"vector_norm: expected a floating-point tensor as input, got {a.dtype}")
        dims = normalize_dims(dim, a.ndim)
        magnitude = np.abs(a)
        if p == 2:
            kept = np.sqrt(np.sum(a * a, axis=dims, keepdims=True))
        elif p == 1:
            kept = np.sum(magnitude, axis=dims, keepdims=True)
        elif p == math.inf:
            kept = np.max(magnitude, axis=dims, keepdims=True, initial=0)
        elif p == -math.inf:
            if a.size == 0:
                raise ValueError("vector_norm: the -inf norm of an empty tensor is undefined")
            kept = np.min(magnitude, axis=dims, keepdims=True)
        elif p == 0:
            kept = np.sum(a != 0, axis=dims, keepdims=True).astype(a.dtype)
        else:
            with np.errstate(divide="ignore", over="ignore"):
                kept = np.sum(magnitude ** a.dtype.type(p), axis=dims, keepdims=True) ** a.dtype.type(1 / p)
        ctx.a, ctx.p, ctx.dims, ctx.kept = a, p, dims, kept
        return kept if keepdim else kept.reshape([n for i, n in enumerate(a.shape) if i not in dims])

    @staticmethod
    def backward(ctx, grad):
        a, p, kept = ctx.a, ctx.p, ctx.kept
        grad = grad.reshape(keepdim_shape(a.shape, ctx.dims))
        if p == 0:
            return np.zeros_like(a)
        if p == 1:
            return grad * np.sign(a)
        if p in (math.inf, -math.inf):
            extreme = np.abs(a) == kept
            count = np.sum(extreme, axis=ctx.dims, keepdims=True)
            return np.where(extreme, np.sign(a) * (grad / count), 0)
        scale = np.where(kept == 0, 0, grad / (kept if p == 2 else kept ** (p - 1)))
        if p == 2:
            return a * scale
        magnitude = np.abs(a)
        return np.where(a == 0, 0, np.sign(a) * magnitude ** (p - 1) * scale)


def _number(p, name):
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number (or inf), got {p!r}")
    return float(p)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """As torch.linalg.vector_norm: ``ord`` a number, inf or -inf; dim None (every element), an
    int or a tuple; ``dtype`` casts the input first."""
    if dtype is not None:
        from .cast import cast
        x = cast(x, as_dtype(dtype))
    return Norm.apply(x, p=_number(ord, "vector_norm: ord"), dim=dim, keepdim=keepdim)


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """As torch.norm: the vector p-norm over ``dim`` (every element when None). ``"fro"`` is the
    2-norm over the given dims; the nuclear norm ("nuc") and ``out=`` are not supported."""
    if out is not None:
        raise TypeError("norm: out= is not supported; assign the result instead")
    if p == "fro" or p is None:
        p = 2.0
    elif isinstance(p, str):
        raise ValueError(f"norm: p={p!r} is not supported; npformer has vector norms only (a number, inf, "
                         "-inf or 'fro')")
    return vector_norm(input, _number(p, "norm: p"), dim, keepdim, dtype=dtype)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """As torch.nn.functional.normalize: input / max(||input||_p over dim, eps)."""
    if out is not None:
        raise TypeError("normalize: out= is not supported; assign the result instead")
    from .elementwise import clamp
    from .shape import expand
    denominator = clamp(vector_norm(input, p, dim, keepdim=True), min=eps)
    return input / expand(denominator, input.shape)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """As torch.nn.functional.cosine_similarity: sum over dim of (x1 / |x1|) (x2 / |x2|), x1 and
    x2 broadcast together first, each norm raised to at least eps.

    As in PyTorch, raising the norm to eps changes its value but not its gradient (the clamp is
    invisible to autograd), which matters only for vectors shorter than eps.
    """
    from ..autograd.tensor import Tensor
    from .reduction import sum
    from .shape import expand
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = (x if x.shape == shape else expand(x, shape) for x in (x1, x2))

    def unit(x):
        length = vector_norm(x, 2, dim, keepdim=True)
        floor = Tensor._make(np.maximum(length._data, length._data.dtype.type(eps)) - length._data, False, None, 0)
        return x / (length + floor)          # value max(|x|, eps), gradient that of |x|

    return sum(unit(x1) * unit(x2), dim)
