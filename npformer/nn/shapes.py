"""Building a model's shape without its numbers, as PyTorch's meta device does.

    with nn.shapes_only():
        skeleton = GPT(config)          # every parameter and buffer has its shape and dtype, and no memory

Under ``shapes_only()`` every array a module makes at construction (parameters, buffers, and
tables computed from its sizes) is a read-only placeholder: a zero-size scalar broadcast to the
shape, so a (50257, 768) embedding costs a few bytes whatever its size. The initialisers of
``nn.init`` draw nothing and write nothing into a placeholder. Building a skeleton therefore
costs nothing that grows with a width, a vocabulary or a position count, only with the number
of modules; checkpoint loading builds one to compare a config's sizes with a file's before it
allocates anything (npformer.interop).

Outside the context nothing changes: modules allocate and initialise as always.
"""
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

__all__ = ["shapes_only", "new_array", "computed_array", "holds_values"]

_SHAPES_ONLY = ContextVar("npformer_shapes_only", default=False)

# One read-only zero scalar per dtype; every placeholder is a broadcast view of one of them,
# which is how holds_values tells a placeholder from an array that holds numbers.
_SEEDS = {}


@contextmanager
def shapes_only():
    """Modules constructed inside get placeholder arrays (shape and dtype, no memory, read-only)."""
    token = _SHAPES_ONLY.set(True)
    try:
        yield
    finally:
        _SHAPES_ONLY.reset(token)


def _placeholder(shape, dtype):
    dtype = np.dtype(dtype)
    seed = _SEEDS.get(dtype)
    if seed is None:
        seed = np.zeros((), dtype=dtype)
        seed.flags.writeable = False
        seed = _SEEDS.setdefault(dtype, seed)
    return np.broadcast_to(seed, shape)


def new_array(shape, dtype):
    """Zeros of ``shape`` for a parameter or buffer to be initialised; under ``shapes_only()``
    a placeholder instead."""
    if _SHAPES_ONLY.get():
        return _placeholder(shape, dtype)
    return np.zeros(shape, dtype=dtype)


def computed_array(shape, dtype, compute):
    """``compute()``, a table derived from a module's sizes (of ``shape`` and ``dtype``); under
    ``shapes_only()`` a placeholder, and ``compute`` is not called."""
    if _SHAPES_ONLY.get():
        return _placeholder(shape, dtype)
    return compute()


def holds_values(array):
    """False for a placeholder made under ``shapes_only()``: there is nothing to fill or read."""
    base = array.base
    return base is None or base is not _SEEDS.get(array.dtype)
