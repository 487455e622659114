"""F.pad(input, pad, mode="constant", value=None), as torch.nn.functional.pad.

``pad`` lists (before, after) pairs starting from the LAST dim: (left, right) pads the last dim,
(left, right, top, bottom) the last two, and so on. A negative amount crops.

Each padded dim is described by a map from output position j to input position i (j - before
before wrapping), or to nothing for a constant fill:
    constant   i if 0 <= i < n, else the fill value
    reflect    mirrored about the edge elements, which are not repeated  (n=4: 2 1 | 0 1 2 3 | 2 1)
    replicate  the edge element repeated                                  (0 0 | 0 1 2 3 | 3 3)
    circular   wrapped around                                             (2 3 | 0 1 2 3 | 0 1)
               (after cropping, when one side crops: (1, -1) gives 2 | 0 1 2, as in PyTorch)
The forward takes each dim's map in turn; the backward adds each output gradient into the input
position it was read from (``np.add.at``), dims in reverse order. For constant mode that is a
plain slice, used directly.
"""
import numpy as np

from ..autograd.function import Function

MODES = ("constant", "reflect", "replicate", "circular")


def _source(n, before, after, mode):
    """For each output position along one dim, the input position it reads (-1: the fill value)."""
    i = np.arange(-before, n + after)
    if mode == "constant":
        return np.where((i >= 0) & (i < n), i, -1)
    if mode == "reflect":
        period = 2 * (n - 1)
        if period == 0:
            return np.zeros_like(i)
        i = np.abs(i) % period
        return np.where(i < n, i, period - i)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    # circular: crop first, then wrap within what is left (PyTorch's order, which matters when
    # one side crops and the other pads)
    low, high = max(0, -before), n - max(0, -after)
    return low + (i - low) % (high - low)


class Pad(Function):
    """z = a padded along its last dims; see the module docstring."""

    @staticmethod
    def forward(ctx, a, pad, mode, value):
        maps = []                                              # (axis, source positions)
        for k in range(len(pad) // 2):
            axis = a.ndim - 1 - k
            maps.append((axis, _source(a.shape[axis], pad[2 * k], pad[2 * k + 1], mode)))
        z = a
        for axis, source in maps:
            z = np.take(z, np.maximum(source, 0), axis=axis)
            if mode == "constant" and (source < 0).any():
                fill = (slice(None),) * axis + (source < 0,)
                z[fill] = value
        ctx.maps, ctx.shape, ctx.constant = maps, a.shape, mode == "constant"
        return z if z is not a else z.copy()

    @staticmethod
    def backward(ctx, grad):
        if ctx.constant:
            # each map is a run of -1, then consecutive input positions, then -1: a slice each way
            out_index, in_index = [slice(None)] * grad.ndim, [slice(None)] * grad.ndim
            for axis, source in ctx.maps:
                read = np.flatnonzero(source >= 0)
                if read.size == 0:
                    return np.zeros(ctx.shape, dtype=grad.dtype)
                out_index[axis] = slice(read[0], read[-1] + 1)
                in_index[axis] = slice(source[read[0]], source[read[-1]] + 1)
            grad_a = np.zeros(ctx.shape, dtype=grad.dtype)
            grad_a[tuple(in_index)] = grad[tuple(out_index)]
            return grad_a
        for axis, source in reversed(ctx.maps):
            shape = list(grad.shape)
            shape[axis] = ctx.shape[axis]
            summed = np.zeros(shape, dtype=grad.dtype)
            np.add.at(np.moveaxis(summed, axis, 0), source, np.moveaxis(grad, axis, 0))
            grad = summed
        return grad


def pad(input, pad, mode="constant", value=None):
    if mode not in MODES:
        raise ValueError(f"pad: unrecognised padding mode {mode!r}; expected one of {', '.join(MODES)}")
    if not isinstance(pad, (tuple, list)) or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool)
                                                     for p in pad):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    padded = len(pad) // 2
    if padded > input.ndim:
        raise ValueError(f"pad: padding length should be less than or equal to two times the input dimension but "
                         f"got padding length {len(pad)} and input of dimension {input.ndim}")
    if mode != "constant":
        if value is not None and value != 0:
            raise ValueError(f'pad: padding mode "{mode}" doesn\'t take in value argument')
        if padded > 3 or input.ndim not in (padded + 1, padded + 2):
            raise ValueError(f"pad: {mode} padding of the last {padded} dim(s) needs a {padded + 1}-D or "
                             f"{padded + 2}-D (batched) input, got shape {tuple(input.shape)}")
    for k in range(padded):
        axis = input.ndim - 1 - k
        n, before, after = input.shape[axis], pad[2 * k], pad[2 * k + 1]
        if n + before + after < 0:
            raise ValueError(f"pad: padding {(before, after)} crops dim {axis} of size {n} below zero")
        if mode == "reflect" and (before >= n or after >= n):
            raise ValueError(f"pad: reflect padding size should be less than the corresponding input dimension, "
                             f"but got padding {(before, after)} at dimension {axis} of input {list(input.shape)}")
        kept = n - max(0, -before) - max(0, -after)
        if mode == "circular" and (before > kept or after > kept):
            raise ValueError(f"pad: circular padding {(before, after)} wraps around dimension {axis} of size {n} "
                             "more than once")
        if mode != "constant" and n == 0:
            raise ValueError(f"pad: {mode} padding needs a non-empty dim {axis}, got shape {tuple(input.shape)}")
    return Pad.apply(input, pad=pad, mode=mode, value=0 if value is None else value)
