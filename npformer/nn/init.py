"""Initialisers, as torch.nn.init: each fills a tensor in place (outside the graph, as under
``no_grad``) and returns it, with PyTorch's signatures, distributions and errors.

The distributions are PyTorch's, computed with its formulas; the random streams are npformer's
own. Every function that draws takes ``generator=None`` (an ``npformer.Generator``; None is the
default generator, reseeded by ``npformer.manual_seed``). Samples are drawn in float64 and
rounded to the tensor's dtype, so a float32 and a float64 model built from one seed hold the
same weights up to rounding. A placeholder of ``nn.shapes_only()`` is returned untouched:
nothing is drawn for it.

For a weight (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel).

    uniform_(a, b)            U(a, b)
    normal_(mean, std)        N(mean, std^2)
    trunc_normal_             N(mean, std^2) conditioned on [a, b] (absolute bounds)
    xavier_uniform_(gain)     U(-r, r),   r = gain sqrt(3) sqrt(2 / (fan_in + fan_out))
    xavier_normal_(gain)      N(0, s^2),  s = gain sqrt(2 / (fan_in + fan_out))
    kaiming_uniform_          U(-r, r),   r = sqrt(3) gain / sqrt(fan),  gain = calculate_gain(nonlinearity, a)
    kaiming_normal_           N(0, s^2),  s = gain / sqrt(fan),          fan = fan_in or fan_out (mode)
    orthogonal_(gain)         gain Q, Q from the QR decomposition of a normal matrix, signs fixed by diag(R)
    sparse_(sparsity, std)    N(0, std^2) with ceil(sparsity rows) zeros in each column
    eye_, dirac_, constant_, ones_, zeros_   deterministic
"""
import math
import warnings

import numpy as np

from ..autograd.random import resolve
from ..autograd.version import bump
from ..ops.special import erfc
from .shapes import holds_values


def _fill(tensor, values):
    tensor._data[...] = np.asarray(values).astype(tensor._data.dtype, copy=False)
    bump(tensor)
    return tensor


def _rng(generator):
    return resolve(generator).numpy


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight (out, in, *kernel), as PyTorch's private helper."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                         f"(got shape {tuple(shape)})")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


fan_in_and_fan_out = _calculate_fan_in_and_fan_out


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh, sqrt(2)
    for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``, default 0.01), 3/4 for selu."""
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif (isinstance(param, int) and not isinstance(param, bool)) or isinstance(param, float):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    if not holds_values(tensor._data):
        return tensor
    return _fill(tensor, _rng(generator).uniform(a, b, tensor._data.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    if not holds_values(tensor._data):
        return tensor
    return _fill(tensor, mean + std * _rng(generator).standard_normal(tensor._data.shape))


def _upper_tail(z):
    """P(Z > z) for a standard normal Z, accurate far into the tail."""
    return 0.5 * erfc(np.asarray(z, dtype=np.float64) / math.sqrt(2.0))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std^2) conditioned on [a, b] (absolute bounds, as PyTorch).

    Resampling when [a, b] holds a fair share of the normal's mass; otherwise inverting the
    tail probability (by bisection), which stays exact however far [a, b] is from the mean.
    """
    if not holds_values(tensor._data):
        return tensor
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values "
                      "may be incorrect.", stacklevel=2)
    rng, shape = _rng(generator), tensor._data.shape
    alpha, beta = (a - mean) / std, (b - mean) / std
    mass = float(_upper_tail(alpha) - _upper_tail(beta))
    if mass >= 0.05:
        values = mean + std * rng.standard_normal(shape)
        outside = (values < a) | (values > b)
        while np.any(outside):
            values[outside] = mean + std * rng.standard_normal(int(outside.sum()))
            outside = (values < a) | (values > b)
        return _fill(tensor, values)
    # little mass: invert P(Z > z) = u by bisection, on the side of the mean where [a, b] lies
    # (mirrored when it lies below), where the tail probability keeps its precision
    flip = beta < 0
    low, high = (-beta, -alpha) if flip else (alpha, beta)
    tail_low, tail_high = float(_upper_tail(low)), float(_upper_tail(high))
    u = rng.uniform(tail_high, tail_low, shape)                             # P(Z > z) = u, z in [low, high]
    lo, hi = np.full(shape, low), np.full(shape, high)
    for _ in range(80):
        mid = (lo + hi) / 2
        above = _upper_tail(mid) > u                                        # mid is left of the root
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    z = np.clip((lo + hi) / 2, low, high)
    return _fill(tensor, mean + std * (-z if flip else z))


def constant_(tensor, val):
    if holds_values(tensor._data):
        tensor._data[...] = val
        bump(tensor)
    return tensor


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """The identity matrix (ones on the diagonal of a 2-D tensor)."""
    if tensor.ndim != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported (got shape {tuple(tensor.shape)})")
    if not holds_values(tensor._data):
        return tensor
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """The Dirac delta of a (out, in, *kernel) convolution weight: each of the first min(out/groups,
    in) channels of each group passes through unchanged."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    shape = tensor.shape
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    if not holds_values(tensor._data):
        return tensor
    per_group = shape[0] // groups
    values = np.zeros(shape)
    centre = tuple(k // 2 for k in shape[2:])
    for g in range(groups):
        for d in range(min(per_group, shape[1])):
            values[(g * per_group + d, d) + centre] = 1
    return _fill(tensor, values)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix, trailing dims flattened: rows orthonormal when rows <= columns,
    columns orthonormal otherwise; times ``gain``."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0 or not holds_values(tensor._data):
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)                                          # q (max, min) with orthonormal columns
    q *= np.sign(np.diag(r))                                           # unique: the diagonal of r positive
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """N(0, std^2), then ceil(sparsity * rows) entries of each column set to 0 (2-D only)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    if not holds_values(tensor._data):
        return tensor
    rows, cols = tensor.shape
    rng = _rng(generator)
    values = std * rng.standard_normal((rows, cols))
    zeros = math.ceil(sparsity * rows)
    for col in range(cols):
        values[rng.permutation(rows)[:zeros], col] = 0
    return _fill(tensor, values)


def _deprecated(function):
    old = function.__name__[:-1]

    def deprecated(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{function.__name__}`.",
                      FutureWarning, stacklevel=2)
        return function(*args, **kwargs)

    deprecated.__name__ = old
    deprecated.__doc__ = f"Deprecated (as in PyTorch): use nn.init.{function.__name__}."
    return deprecated


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
