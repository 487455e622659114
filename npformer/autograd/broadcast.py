"""Undoing broadcasting: the one place where a gradient is summed back to an input's shape.

If ``z = f(a, b)`` broadcasts ``a`` from ``shape`` to ``z.shape``, every element of ``a`` was
used once for each position it was copied to, so dL/da is dL/dz summed over the copies:
over the leading dimensions that broadcasting added, and over each dimension where ``a``
had size 1 and ``z`` did not.
"""
import numpy as np


def unbroadcast(grad, shape):
    """Sum ``grad`` (shaped like the broadcast result) down to ``shape``."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    added = grad.ndim - len(shape)
    if added < 0:
        raise ValueError(f"unbroadcast: gradient of shape {grad.shape} cannot come from shape {shape}")
    if added:
        grad = grad.sum(axis=tuple(range(added)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    if grad.shape != shape:
        raise ValueError(f"unbroadcast: gradient of shape {grad.shape} does not reduce to {shape}")
    return np.asarray(grad)
