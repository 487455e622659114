"""Version counters: how autograd notices that an array it saved was changed in place.

A backward formula reads arrays its forward saved (``exp`` saves its output, ``mul`` its
inputs). If one of them is overwritten in place before backward runs, the formula would
silently compute with the new values. PyTorch's answer, which npformer follows, is a counter
per block of memory:

- every in-place write to a tensor adds one to its counter;
- a view (a slice, a reshape that did not copy, ``detach()``) shares the counter of the
  tensor it views, because writing through either changes both;
- when an op is recorded, the counter values of the tensors whose memory it saved are noted,
  and backward refuses to run the op if any has moved since.

Counters are made on first need, so tensors nobody views, saves or modifies never get one.
``.data`` deliberately gets a counter of its own: as in PyTorch, writes through ``.data`` are
invisible to this check (that is what ``.data`` is for, and why ``detach()`` is safer).
"""
import numpy as np

MODIFIED_IN_PLACE = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: a {dtype} tensor of shape {shape} saved by {op} is at version {now}; expected "
    "version {then} instead. Compute it out of place (x = x + y rather than x += y), or "
    "modify a .clone() of it")


class VersionCounter:
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def counter_of(tensor):
    """The tensor's counter, made now if it has none."""
    counter = tensor._version_counter
    if counter is None:
        counter = tensor._version_counter = VersionCounter()
    return counter


class _Writes:
    """How many in-place writes any tensor has had: one number that moves whenever some memory
    changed, for caches of derived arrays (ops/layouts.py) to notice."""
    total = 0


def bump(tensor):
    counter_of(tensor).value += 1
    _Writes.total += 1


def write_count():
    return _Writes.total


def memory_root(array):
    """The array that owns the memory ``array`` looks at (itself unless it is a view)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def share_views(outputs, inputs):
    """Give each output that views an input's memory that input's counter (and base).

    Called for every op, so written for speed: one attribute test per output unless an
    output is a view; a view of an input's own array is found by identity, others by root.
    """
    for out in outputs:
        array = out._data
        parent = array.base
        source = None
        for t in inputs:
            if t is not None and (t._data is parent or t._data is array):
                source = t
                break
        if source is None:
            if parent is None:
                continue
            root = memory_root(array)
            for t in inputs:
                if t is not None and (t._data is root or (t._data.base is not None and memory_root(t._data) is root)):
                    source = t
                    break
            else:
                continue
        out._version_counter = counter_of(source)
        out._base = base = source if source._base is None else source._base
        out._base_node = base._node


def view_positions(base, view):
    """For each element of ``view`` (an ndarray looking at ``base``'s memory), its flat index in
    ``base`` read in C order; None when some element of view is not an element of base.

    Found from memory addresses, so it works for any chain of slicing, transposing and
    reshaping: sort base's element addresses once, then look each of view's up.
    """
    if view.dtype.itemsize != base.dtype.itemsize:
        return None
    base_offsets = _byte_offsets(base, 0)
    view_offsets = _byte_offsets(view, view.__array_interface__["data"][0] - base.__array_interface__["data"][0])
    order = np.argsort(base_offsets, kind="stable")
    ordered = base_offsets[order]
    if ordered.size > 1 and np.any(ordered[1:] == ordered[:-1]):
        return None                                     # base itself repeats memory (broadcast)
    found = np.searchsorted(ordered, view_offsets)
    if found.size and (found.max() >= ordered.size
                       or np.any(ordered[np.minimum(found, ordered.size - 1)] != view_offsets)):
        return None
    return order[found].reshape(view.shape)


def _byte_offsets(array, start):
    """The byte offset of every element of ``array`` from ``start``, flattened in C order."""
    offsets = np.full((), start, dtype=np.int64)
    for n, stride in zip(array.shape, array.strides):
        offsets = offsets[..., None] + np.arange(n, dtype=np.int64) * stride
    return offsets.reshape(-1)


def note_saved(ctx, inputs, outputs):
    """The (counter, value, shape, dtype) of every input or output whose memory ``ctx`` saved.

    Called for every recorded op, so written for speed. A saved array is usually an input's
    or the output's array itself (found by identity); only a saved view needs memory roots.
    """
    noted = ()
    for value in ctx.__dict__.values():
        if type(value) is np.ndarray:
            noted = _note(value, inputs, outputs, noted)
        elif type(value) is tuple or type(value) is list:
            for item in value:
                if type(item) is np.ndarray:
                    noted = _note(item, inputs, outputs, noted)
    return noted


def _note(array, inputs, outputs, noted):
    hit = False
    for group in (inputs, outputs):
        for t in group:
            if t is not None and t._data is array:
                hit = True
                noted = _add(t, noted)
    if not hit and array.base is not None:
        root = memory_root(array)
        for group in (inputs, outputs):
            for t in group:
                if t is not None and memory_root(t._data) is root:
                    noted = _add(t, noted)
    return noted


def _add(t, noted):
    counter = t._version_counter
    if counter is None:
        counter = t._version_counter = VersionCounter()
    for entry in noted:
        if entry[0] is counter:
            return noted
    return noted + ((counter, counter.value, t._data.shape, t._data.dtype),)


def check_saved(node):
    """Raise PyTorch's error if memory ``node`` saved was written in place after its forward."""
    for counter, then, shape, dtype in node._saved_versions:
        if counter.value != then:
            raise RuntimeError(MODIFIED_IN_PLACE.format(
                dtype=dtype, shape=tuple(shape), op=type(node).__name__, now=counter.value, then=then))
