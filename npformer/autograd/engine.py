"""backward: reverse-mode differentiation over the graph of Function nodes.

Each recorded op is a node (the Function instance that ran it). A node knows its parents:
for each input, None (no gradient wanted), the leaf Tensor, or the (node, output index) that
produced it. ``backward`` seeds the roots with their upstream gradient, then visits nodes in
reverse topological order, so a node runs only after every consumer of its outputs has
added its share: for a tensor used twice, dL/dx = sum over uses (the multivariate chain rule).

Backward runs under ``np.errstate(all="ignore")``, so no op's backward needs its own.

The order is computed iteratively: a 100,000-op chain needs no recursion. Unless
``retain_graph`` is set, each node drops its saved arrays and its parents after it runs; a
second backward through it raises instead of silently using freed state.
"""
import numpy as np

from .version import check_saved

SECOND_BACKWARD = (
    "Trying to backward through the graph a second time: its saved arrays were freed by the "
    "first backward. Pass retain_graph=True to the first backward() to keep them.")


def backward(tensors, grad_tensors=None, retain_graph=False):
    """Accumulate the gradients of ``tensors`` (weighted by ``grad_tensors``) into leaf ``.grad``."""
    roots = _seed(tensors, grad_tensors)
    _run(roots, retain_graph, capture=None)


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """Return d(outputs)/d(inputs) as a tuple of new tensors (one per input, even for a single
    input), leaving every ``.grad`` untouched.

    As ``torch.autograd.grad``: ``inputs`` may be leaves or intermediate tensors; an input
    the outputs do not depend on is an error unless ``allow_unused``, when it gets None.
    """
    from .tensor import Tensor

    single_output = isinstance(outputs, Tensor)
    outputs = [outputs] if single_output else list(outputs)
    if grad_outputs is not None and single_output and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    capture = _Capture(inputs)
    _run(_seed(outputs, grad_outputs), retain_graph, capture)
    results = []
    for i, g in enumerate(capture.grads):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} was not used to compute the outputs; pass allow_unused=True "
                "to get None for it")
        results.append(None if g is None else Tensor._make(g, False, None, 0))
    return tuple(results)       # a tuple even for one input, as torch.autograd.grad


def _seed(tensors, grad_tensors):
    """Pair each root with its upstream gradient, checking shapes and the scalar rule."""
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    if len(grad_tensors) != len(tensors):
        raise ValueError(f"backward: {len(tensors)} tensors but {len(grad_tensors)} gradients")
    roots = []
    for t, g in zip(tensors, grad_tensors):
        if not t.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no grad_fn; did you compute "
                "it under no_grad or from tensors without requires_grad=True?")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(
                    f"backward: a gradient can be created implicitly only for a scalar output; this "
                    f"tensor has shape {t._data.shape}, so pass gradient= with that shape")
            g = np.ones(t._data.shape, dtype=t._data.dtype)
        else:
            g = np.asarray(getattr(g, "_data", g), dtype=t._data.dtype)
            if g.shape != t._data.shape:
                raise RuntimeError(
                    f"backward: gradient has shape {g.shape} but the tensor has shape {t._data.shape}")
        roots.append((t, g))
    return roots


class _Capture:
    """Where ``grad()`` collects the gradients it returns instead of writing ``.grad``."""

    def __init__(self, inputs):
        self.grads = [None] * len(inputs)
        self.leaves = {}     # id(leaf tensor) -> positions in inputs
        self.outputs = {}    # (id(node), output index) -> positions in inputs
        for i, t in enumerate(inputs):
            if t._node is None:
                self.leaves.setdefault(id(t), []).append(i)
            else:
                self.outputs.setdefault((id(t._node), t._out_index), []).append(i)

    def add(self, positions, g):
        for i in positions:
            self.grads[i] = np.array(g) if self.grads[i] is None else self.grads[i] + g


def _run(roots, retain_graph, capture):
    # Gradients follow IEEE arithmetic silently, as in PyTorch: an infinite upstream gradient
    # times a zero local derivative is NaN, and NumPy must not warn about it. One errstate for
    # the whole pass (a few microseconds) instead of one per op.
    with np.errstate(all="ignore"):
        _backward_pass(roots, retain_graph, capture)


def _backward_pass(roots, retain_graph, capture):
    pending = {}   # node -> [gradient per output]; a gradient is owned once we allocated it
    owned = {}     # node -> [bool per output]
    root_nodes = []
    for t, g in roots:
        if t._node is None:
            _deliver_to_leaf(t, g, capture)
        else:
            _accumulate(pending, owned, t._node, t._out_index, g)
            root_nodes.append(t._node)

    for node in _reverse_topological_order(root_nodes):
        grads = pending.pop(node, None)
        owned.pop(node, None)
        if grads is None:          # no gradient reached this node (e.g. an unused output)
            continue
        if node._retained:
            for index, t in node._retained.items():
                if grads[index] is not None:
                    _store_grad(t, grads[index])
        if capture is not None and capture.outputs:
            for index, g in enumerate(grads):
                positions = capture.outputs.get((id(node), index))
                if positions and g is not None:
                    capture.add(positions, g)
        if node._saved_versions:
            check_saved(node)
        if len(grads) > 1 and type(node).materialize_grads:
            # A multi-output op gets zeros for the outputs nobody used.
            grads = [np.zeros(shape, dtype) if g is None else g
                     for g, (shape, dtype) in zip(grads, node._outputs)]
        input_grads = type(node).backward(node, *grads)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        parents = node._parents
        if len(input_grads) != len(parents):
            raise RuntimeError(
                f"{type(node).__name__}.backward returned {len(input_grads)} gradients for "
                f"{len(parents)} inputs")
        for position, (parent, g) in enumerate(zip(parents, input_grads)):
            if parent is None or g is None:
                continue
            if type(parent) is tuple:
                parent_node, index = parent
                shape, dtype = parent_node._outputs[index]
                g = _checked(g, shape, dtype, node, position)
                _accumulate(pending, owned, parent_node, index, g)
            else:
                g = _checked(g, parent._data.shape, parent._data.dtype, node, position)
                _deliver_to_leaf(parent, g, capture)
        if not retain_graph:
            node._released = True
            node._parents = None
            node.__dict__.clear()


def _checked(g, shape, dtype, node, position):
    """A gradient must have its input's shape; its dtype follows the input's dtype.

    The cast is the dtype counterpart of ``unbroadcast``: when an op promoted mixed inputs
    (float32 with float64), the gradient returns to each input in that input's dtype.
    """
    if type(g) is not np.ndarray:
        g = np.asarray(g)
    if g.shape != shape:
        raise RuntimeError(
            f"{type(node).__name__}.backward returned a gradient of shape {g.shape} for input "
            f"{position} of shape {shape}")
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def _accumulate(pending, owned, node, index, g):
    grads = pending.get(node)
    if grads is None:
        grads = pending[node] = [None] * len(node._outputs)
        owned[node] = [False] * len(node._outputs)
    current = grads[index]
    if current is None:
        grads[index] = g           # borrowed: it may alias another op's gradient
    elif owned[node][index]:
        np.add(current, g, out=current)
    else:
        grads[index] = current + g
        owned[node][index] = True


def _deliver_to_leaf(leaf, g, capture):
    if capture is not None:
        positions = capture.leaves.get(id(leaf))
        if positions:
            capture.add(positions, g)
        return
    _store_grad(leaf, g)


def _store_grad(t, g):
    """Add ``g`` to ``t.grad``, which is a Tensor as in PyTorch, accumulating in place."""
    from .tensor import Tensor
    if t._grad is None:
        # Copy: g may be a read-only broadcast view or alias another gradient.
        t._grad = Tensor._make(np.array(g, dtype=t._data.dtype), False, None, 0)
    else:
        t._grad._data += g


def _reverse_topological_order(root_nodes):
    """Nodes reachable from the roots, each after all of its consumers (iterative DFS)."""
    order = []
    visited = set()
    for root in root_nodes:
        if root in visited:
            continue
        _check_alive(root)
        visited.add(root)
        stack = [(root, iter(root._parents))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if type(parent) is tuple and parent[0] not in visited:
                    child = parent[0]
                    _check_alive(child)
                    visited.add(child)
                    stack.append((child, iter(child._parents)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _check_alive(node):
    if node._released:
        raise RuntimeError(SECOND_BACKWARD)
