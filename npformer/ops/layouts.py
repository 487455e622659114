"""Weight layouts BLAS prefers for decoding's few-row products, prepared once per run.

A decoding step multiplies a few rows (one new token per sequence) by every weight W, stored
(out, in) as PyTorch stores it. For a large W, OpenBLAS computes rows @ W^T markedly slower
than rows @ C, where C is a contiguous (in, out) copy of W^T: the copy is read in the order the
kernel wants. The vocabulary projection is such a weight, and it dominates a small model's step
(figures and the command that measures them: benchmarks/README.md). For the small matrices of
a block the two layouts run alike, and a copy would only double their memory, so only weights
of at least ``MIN_ELEMENTS`` elements are copied.

Copies are made only inside ``prepared_layouts()``, which generation enters for each run:

- the first few-row product against a weight notes it; the second makes the copy; the rest
  reuse it (a single forward pass never pays for a copy);
- a copy is remade when its weight changed within the run: its array was replaced, or some
  tensor was written in place (the engine's count of in-place writes, autograd/version.py);
- every copy is dropped when the run ends. Between runs a weight may be written any way at all,
  through raw NumPy too (``w.numpy()[...] = ...``), and no later run can meet a stale copy.

Both layouts give the same product up to the order of the sums, so a prepared step's logits
equal an unprepared one's to float rounding (tests/test_generation.py holds them to it).
"""
import contextlib
import threading

import numpy as np

from ..autograd.version import write_count

MIN_ELEMENTS = 1 << 22          # 4M elements: 16 MB in float32, past any CPU cache
TRANSPOSE_BLOCK = 128           # rows transposed at a time by _contiguous_transpose

_local = threading.local()


class _Run:
    """The copies of one prepared_layouts() scope: id(weight) -> [weight, writes, copy or None].
    Holding ``weight`` keeps its id from being reused by another array within the run."""

    def __init__(self):
        self.entries = {}


@contextlib.contextmanager
def prepared_layouts():
    """A scope in which few-row products against large weights use prepared (in, out) copies.
    Nested scopes share the outer one's copies."""
    if getattr(_local, "run", None) is not None:
        yield
        return
    _local.run = _Run()
    try:
        yield
    finally:
        _local.run = None


def transposed(weight):
    """A contiguous copy of ``weight.T`` (in, out) when a prepared_layouts() scope is active and
    the weight is large and already seen in it; else None (multiply by ``weight`` itself)."""
    if weight.size < MIN_ELEMENTS:
        return None
    run = getattr(_local, "run", None)
    if run is None:
        return None
    writes = write_count()
    entry = run.entries.get(id(weight))
    if entry is None or entry[0] is not weight or entry[1] != writes:
        run.entries[id(weight)] = [weight, writes, None]          # seen once: no copy yet
        return None
    if entry[2] is None:
        entry[2] = _contiguous_transpose(weight)
    return entry[2]


def _contiguous_transpose(weight):
    """weight.T as a C-contiguous array, copied a block of rows at a time: a plain
    np.ascontiguousarray(weight.T) reads with a large stride and misses the cache on every
    element, the blocks keep each read and write within a few pages."""
    out = np.empty(weight.shape[::-1], dtype=weight.dtype)
    for start in range(0, weight.shape[0], TRANSPOSE_BLOCK):
        out[:, start:start + TRANSPOSE_BLOCK] = weight[start:start + TRANSPOSE_BLOCK].T
    return out
