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
from .tensor import Tensor, as_operand
from .inplace import refresh_view
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
        """
        if _mode.enabled:
            for x in inputs:
                if isinstance(x, Tensor) and x._base is not None and x._base._node is not x._base_node:
                    refresh_view(x)         # its base was written in place since the view was made
        reference_dtype = None
        for x in inputs:
            if isinstance(x, Tensor):
                if x._data.dtype.kind == "f":
                    reference_dtype = x._data.dtype
                    break
                if reference_dtype is None:
                    reference_dtype = x._data.dtype
        tensors = [None if x is None else as_operand(x, reference_dtype) for x in inputs]
        wants = tuple(t is not None and t._requires_grad for t in tensors)
        record = _mode.enabled and any(wants)

        ctx = cls.__new__(cls)
        ctx.needs_input_grad = wants if record else (False,) * len(tensors)
        try:
            out = cls.forward(ctx, *[None if t is None else t._data for t in tensors], **params)
        except (ValueError, IndexError) as error:
            raise _named(error, cls.__name__) from error

        single = not isinstance(out, tuple)
        outputs = (out,) if single else out
        results = []
        for index, array in enumerate(outputs):
            if type(array) is not np.ndarray:
                array = np.asarray(array)
            if (array.ndim == 0 and array.dtype.kind == "f" and array.dtype != reference_dtype
                    and cls.pin_scalar_dtype and _common_float_dtype(tensors) == reference_dtype):
                array = array.astype(reference_dtype)
            differentiable = record and array.dtype.kind == "f"
            results.append(Tensor._make(array, differentiable, ctx if differentiable else None, index))
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
        return results[0] if single else tuple(results)

    def __repr__(self):
        return f"<{type(self).__name__} node>"


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
