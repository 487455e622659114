"""Function: one differentiable op, with its forward and backward side by side.

A subclass writes two static methods on raw ndarrays:

    forward(ctx, *arrays, **params) -> ndarray, or a tuple of ndarrays
    backward(ctx, *grads)           -> one gradient (or None) per array input

``ctx`` is the instance of the subclass that stands in the graph for this call: forward
keeps on it exactly what backward needs (``ctx.mask = ...``), and ``ctx.needs_input_grad``
says which inputs want a gradient, so backward can skip the others. Backward receives one
upstream gradient per output (zeros for an unused output, or None when the class sets
``materialize_grads = False``) and must not modify it in place.

Every subclass registers itself in ``Function.registry`` under its class name. The test suite
and ``npformer gradcheck`` enumerate the registry and fail when an op has no gradient case.
A class defined only to test the engine passes ``register=False``.
"""
import numpy as np

from .grad_mode import _mode
from .inplace import refresh_view
from .tensor import Tensor, as_operand
from .version import note_saved, share_views


class Function:
    registry = {}

    # A multi-output op gets zeros for the gradient of an output nobody used. An op that can
    # skip that work itself (attention's optional weights output) sets this to False and
    # receives None instead.
    materialize_grads = True

    # Whether a 0-d floating output takes the dtype of the floating inputs. NumPy 1.x promotes
    # a 0-d float32 array with a Python float to float64 (2.x does not), and every op with a
    # constant in its formula would otherwise need typed constants. Only Cast opts out.
    pin_scalar_dtype = True

    # Engine bookkeeping lives in slots; what forward saves for backward lives in __dict__,
    # so the engine frees it with one ``__dict__.clear()`` once backward has run.
    __slots__ = ("needs_input_grad", "_parents", "_outputs", "_retained", "_released", "_saved_versions",
                 "__dict__")

    def __init_subclass__(cls, register=True, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in ("_run_without_graph", "_call_forward", "_wrap_outputs"):
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} must not define {name}: Function.apply uses that name")
        for method in ("forward", "backward"):
            if not isinstance(cls.__dict__.get(method), staticmethod):
                raise TypeError(f"{cls.__name__} must define {method} as a staticmethod")
        if register:
            if cls.__name__ in Function.registry:
                raise TypeError(f"a Function named {cls.__name__} is already registered")
            Function.registry[cls.__name__] = cls

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the inputs' arrays and, when grad is on, record the call in the graph.

        Inputs may be Tensors, ndarrays or scalars; scalars take the dtype of the first
        floating tensor operand (``x32 * 2.0`` stays float32). An input may be None (an
        optional operand such as a missing bias): forward receives None and backward returns
        None for it. Keyword arguments are constants.

        Under no_grad nothing of the graph is touched: no view is refreshed, no gradient flag
        is read, nothing saved is noted. Only what PyTorch also keeps there remains: outputs
        that view an input share its version counter.
        """
        if not _mode.enabled:
            return cls._run_without_graph(inputs, params)
        for x in inputs:
            if isinstance(x, Tensor) and x._base is not None and x._base._node is not x._base_node:
                refresh_view(x)             # its base was written in place since the view was made
        tensors, reference_dtype = _operands(inputs)
        wants = tuple(t is not None and t._requires_grad for t in tensors)
        record = any(wants)

        ctx = cls.__new__(cls)
        ctx.needs_input_grad = wants if record else (False,) * len(tensors)
        out = cls._call_forward(ctx, tensors, params)
        results = cls._wrap_outputs(out, tensors, reference_dtype, record, ctx)
        share_views(results, tensors)
        if record:
            # A parent is None (no gradient wanted), the leaf Tensor itself, or the
            # (node, output index) that produced a non-leaf input. Nodes do not hold their
            # input tensors, so activations nobody saved are freed as soon as possible.
            ctx._parents = tuple(
                None if t is None else
                (t._node, t._out_index) if t._node is not None else (t if t._requires_grad else None)
                for t in tensors
            )
            ctx._outputs = tuple((r._data.shape, r._data.dtype) for r in results)
            ctx._retained = None
            ctx._released = False
            ctx._saved_versions = note_saved(ctx, tensors, results)
        return results[0] if type(out) is not tuple else tuple(results)

    @classmethod
    def _run_without_graph(cls, inputs, params):
        """apply's path under no_grad (decoding runs every op through it), written for speed:
        when every input is a Tensor or None and the output one array of at least one dim,
        nothing but the forward and the wrapping runs."""
        arrays = []
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x._data)
            elif x is None:
                arrays.append(None)
            else:
                tensors, reference_dtype = _operands(inputs)           # scalars or arrays to convert
                break
        else:
            tensors, reference_dtype = inputs, None
        if len(arrays) != len(inputs):
            arrays = [None if t is None else t._data for t in tensors]
        ctx = cls.__new__(cls)
        ctx.needs_input_grad = (False,) * len(arrays)
        try:
            out = cls.forward(ctx, *arrays, **params)
        except (ValueError, IndexError) as error:
            raise _named(error, cls.__name__) from error
        if type(out) is np.ndarray and out.ndim:
            results = [Tensor._make(out, False, None, 0)]
        else:
            if reference_dtype is None:
                reference_dtype = _reference_dtype(tensors)
            results = cls._wrap_outputs(out, tensors, reference_dtype, False, None)
        share_views(results, tensors)
        return results[0] if type(out) is not tuple else tuple(results)

    @classmethod
    def _call_forward(cls, ctx, tensors, params):
        try:
            return cls.forward(ctx, *[None if t is None else t._data for t in tensors], **params)
        except (ValueError, IndexError) as error:
            raise _named(error, cls.__name__) from error

    @classmethod
    def _wrap_outputs(cls, out, tensors, reference_dtype, record, ctx):
        """forward's array(s) as Tensors; a 0-d float output takes the inputs' float dtype (see
        pin_scalar_dtype)."""
        results = []
        for index, array in enumerate(out if type(out) is tuple else (out,)):
            if type(array) is not np.ndarray:
                array = np.asarray(array)
            if (array.ndim == 0 and array.dtype.kind == "f" and array.dtype != reference_dtype
                    and cls.pin_scalar_dtype and _common_float_dtype(tensors) == reference_dtype):
                array = array.astype(reference_dtype)
            differentiable = record and array.dtype.kind == "f"
            results.append(Tensor._make(array, differentiable, ctx if differentiable else None, index))
        return results

    def __repr__(self):
        return f"<{type(self).__name__} node>"


def _reference_dtype(tensors):
    """The dtype scalars adopt: the first floating tensor's, else the first tensor's."""
    reference_dtype = None
    for x in tensors:
        if isinstance(x, Tensor):
            if x._data.dtype.kind == "f":
                return x._data.dtype
            if reference_dtype is None:
                reference_dtype = x._data.dtype
    return reference_dtype


def _operands(inputs):
    """The inputs as Tensors (None stays None), scalars taking the reference dtype."""
    reference_dtype = _reference_dtype(inputs)
    return [None if x is None else as_operand(x, reference_dtype) for x in inputs], reference_dtype


def _common_float_dtype(tensors):
    """The one floating dtype shared by all floating inputs, or None when they are mixed."""
    dtypes = {t._data.dtype for t in tensors if t is not None and t._data.dtype.kind == "f"}
    return dtypes.pop() if len(dtypes) == 1 else None


def _named(error, op_name):
    """The same exception with the op's name in front, so a user sees which op refused."""
    try:
        return type(error)(f"{op_name}: {error}")
    except Exception:
        return ValueError(f"{op_name}: {error}")
