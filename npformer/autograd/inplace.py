"""In-place writes: ``x.add_(y)``, ``x[mask] = v``, ``x += y``, with PyTorch's rules.

Every in-place method is its out-of-place op plus one write. ``write(target, compute)``
computes ``compute(target)`` with the ordinary differentiable op, copies the result into
target's own memory (so views of target see it, as in PyTorch), counts the write on target's
version counter (see version.py), and, when the graph is recorded, moves target to the new
node: afterwards ``target.grad_fn`` is the op that wrote it, and gradients flow through it.

While recording, the op reads a private copy of target's old values: the write would
otherwise overwrite memory the new node may have saved for its own backward. Memory that
*earlier* nodes saved is not protected by copying: their version check fails instead, with
PyTorch's "modified by an inplace operation" error, rather than a silently wrong gradient.

Views. Writing through a view changes its base too (``x[0] += w``: Python runs ``t = x[0];
t += w; x[0] = t``). While recording, the base then moves to a node that puts the view's new
values at the view's positions (found from memory addresses: version.view_positions), so
gradients reach w through x. Any other view of that base made earlier is now stale; the
next op that reads it re-derives it from the base's new node first (``refresh_view``), as
PyTorch regenerates a view's grad_fn.

Refused, with PyTorch's messages:
- a leaf that requires grad, or a view of one, while grad mode is on (wrap initialisation in
  ``no_grad()``);
- memory that several elements share (the output of ``expand``): ``clone()`` it first.
"""
import numpy as np

from .grad_mode import _mode, no_grad
from .version import bump, view_positions

LEAF = ("a leaf Variable that requires grad is being used in an in-place operation; do it under "
        "`with npformer.no_grad():` (as init code does), or on a .clone()")
VIEW_OF_LEAF = ("a view of a leaf Variable that requires grad is being used in an in-place operation; do it "
                "under `with npformer.no_grad():`, or on a .clone()")
UNMAPPED_VIEW = ("this in-place operation writes through a view whose elements npformer cannot map back to its "
                 "base; compute out of place, or write to the base with x[index] = value")
OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
           "location (it came from expand or broadcasting); clone() the tensor before writing to it")


def write(target, compute, operands=(), direct=None):
    """Write ``compute(t)`` (an out-of-place op of target's values) into ``target``; return target.

    ``operands``: the other values compute reads, so the write joins the graph when one of them
    requires grad. ``direct(array)``, when given, does the same write straight into the ndarray;
    it is used when nothing is recorded, to skip a whole-tensor temporary (``x[i] = v``).
    """
    from .tensor import Tensor
    grad_mode = _mode.enabled
    if grad_mode and target._requires_grad and target._node is None:
        raise RuntimeError(LEAF)
    recording = grad_mode and (target._requires_grad or any(
        isinstance(o, Tensor) and o._requires_grad for o in operands))
    if recording and target._base is not None:
        return _write_view(target, compute)
    destination = _writable(target)
    if not recording and direct is not None:
        direct(destination)
    elif recording:
        source = Tensor._make(destination.copy(), target._requires_grad, target._node, target._out_index)
        result = compute(source)
        _copy_into(destination, result._data)
        target._node, target._out_index, target._requires_grad = result._node, result._out_index, result._requires_grad
    else:
        with no_grad():
            result = compute(target)
        _copy_into(destination, result._data)
    bump(target)
    return target


def _write_view(view, compute):
    """Recorded write through a view: the view's new values from ``compute``, and its base's
    new node, ``base`` with those values put at the view's positions."""
    from .. import ops
    from .tensor import Tensor
    base = view._base
    if base._requires_grad and base._node is None:
        raise RuntimeError(VIEW_OF_LEAF)
    positions = view_positions(base._data, view._data)
    if positions is None:
        raise RuntimeError(UNMAPPED_VIEW)
    if view._base_node is not base._node:
        refresh_view(view)
    destination = _writable(view)
    result = compute(Tensor._make(destination.copy(), view._requires_grad, view._node, view._out_index))
    old_base = Tensor._make(base._data.copy(), base._requires_grad, base._node, base._out_index)
    new_base = ops.reshape(ops.setitem(ops.reshape(old_base, (-1,)), positions.reshape(-1),
                                       ops.reshape(result, (-1,))), base._data.shape)
    _copy_into(destination, result._data)
    base._node, base._out_index, base._requires_grad = new_base._node, new_base._out_index, new_base._requires_grad
    view._node, view._out_index, view._requires_grad = result._node, result._out_index, result._requires_grad
    view._base_node = base._node
    bump(view)
    return view


def refresh_view(view):
    """Re-derive a view's place in the graph from its base, after the base was written in place."""
    from .. import ops
    base = view._base
    positions = view_positions(base._data, view._data)
    if positions is None:
        raise RuntimeError(UNMAPPED_VIEW)
    fresh = ops.reshape(ops.getitem(ops.reshape(base, (-1,)), positions.reshape(-1)), view._data.shape)
    view._node, view._out_index, view._requires_grad = fresh._node, fresh._out_index, fresh._requires_grad
    view._base_node = base._node


def _writable(target):
    array = target._data
    if array.flags.writeable:
        return array
    if any(stride == 0 and n > 1 for stride, n in zip(array.strides, array.shape)):
        raise RuntimeError(OVERLAP)
    # Read-only memory that no other element shares (e.g. mapped from a checkpoint file): the
    # tensor gets a private, writable copy, as the optimizers do before their first step.
    target._data = array.copy()
    return target._data


def _copy_into(destination, values):
    if values.shape != destination.shape:
        raise RuntimeError(f"output with shape {list(destination.shape)} doesn't match the broadcast shape "
                           f"{list(values.shape)}")
    cast_values(values.dtype, destination.dtype)
    np.copyto(destination, values, casting="unsafe")


def cast_values(source, destination):
    """PyTorch's in-place casting rule: a result may not change kind downwards (float into int)."""
    if source != destination and not np.can_cast(source, destination, casting="same_kind"):
        raise RuntimeError(f"result type {source} can't be cast to the desired output type {destination}")
