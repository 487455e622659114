"""Tensor: an ndarray (``.data``) plus what backward needs to know about where it came from.

The operator methods below are thin: each one calls a function of ``npformer.ops`` and the
name says which (``__matmul__`` -> ``ops.matmul``, ``sum`` -> ``ops.sum``). The engine sits
below the ops and imports none of them at load time; ``ops`` here is resolved on first use.
"""
import numpy as np

from . import engine
from .dtypes import as_dtype, get_default_dtype


class _OpsOnFirstUse:
    """Stands in for ``npformer.ops`` until the first operator call, then replaces itself.

    autograd/ must import without the ops (they import autograd). After the first call the
    module-level name ``ops`` is the real module, so later calls pay nothing extra.
    """

    def __getattr__(self, name):
        global ops
        from .. import ops as ops_module
        ops = ops_module
        return getattr(ops_module, name)


ops = _OpsOnFirstUse()


class Tensor:
    __slots__ = ("data", "grad", "_requires_grad", "_node", "_out_index", "__weakref__")

    # NumPy defers to our reflected operators: ``ndarray + Tensor`` calls ``Tensor.__radd__``.
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = to_array(data, dtype)
        self.grad = None
        self._node = None
        self._out_index = 0
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data, requires_grad, node, out_index):
        """Wrap an op's output without copying or validating (the op made ``data``)."""
        t = cls.__new__(cls)
        t.data = data
        t.grad = None
        t._requires_grad = requires_grad
        t._node = node
        t._out_index = out_index
        return t

    # ----------------------------------------------------------------- autograd state
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if self._node is not None:
            raise RuntimeError(
                "requires_grad can only be changed on a leaf tensor; use .detach() for a "
                "non-leaf one")
        if value and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients; this tensor is {self.data.dtype}")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        """The Function node that produced this tensor, or None for a leaf."""
        return self._node

    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        A non-scalar tensor needs ``gradient``, the vector of the vector-Jacobian product.
        """
        engine.backward([self], None if gradient is None else [gradient], retain_graph=retain_graph)

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor too (leaves always keep theirs)."""
        if self._node is None:
            return
        if not self._requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        if self._node._retained is None:
            self._node._retained = {}
        self._node._retained[self._out_index] = self

    def detach(self):
        """The same data, cut from the graph (shares memory, as in PyTorch)."""
        return Tensor._make(self.data, False, None, 0)

    def zero_grad(self):
        self.grad = None

    # ----------------------------------------------------------------- array facts
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        if dim is None:
            return self.data.shape
        return self.data.shape[dim]

    def numel(self):
        return self.data.size

    def numpy(self):
        """The underlying array, shared, as ``torch.Tensor.numpy`` does."""
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python scalar; shape is {self.data.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.data.shape} is ambiguous")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, not {self.data.dtype}")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.data.dtype not in (get_default_dtype(), np.dtype(np.int64), np.dtype(np.bool_)):
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn={type(self._node).__name__}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ----------------------------------------------------------------- arithmetic (ops/arithmetic.py)
    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.sub(self, other)
    def __rsub__(self, other): return ops.sub(other, self)
    def __mul__(self, other): return ops.mul(self, other)
    def __rmul__(self, other): return ops.mul(other, self)
    def __truediv__(self, other): return ops.div(self, other)
    def __rtruediv__(self, other): return ops.div(other, self)
    def __neg__(self): return ops.neg(self)
    def __pos__(self): return self
    def __pow__(self, exponent): return ops.pow(self, exponent)
    def __rpow__(self, base): return ops.pow(base, self)
    def add(self, other): return ops.add(self, other)
    def sub(self, other): return ops.sub(self, other)
    def mul(self, other): return ops.mul(self, other)
    def div(self, other): return ops.div(self, other)
    def neg(self): return ops.neg(self)
    def pow(self, exponent): return ops.pow(self, exponent)

    # ----------------------------------------------------------------- matmul (ops/matmul.py)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def matmul(self, other): return ops.matmul(self, other)

    # ----------------------------------------------------------------- elementwise (ops/elementwise.py)
    def exp(self): return ops.exp(self)
    def log(self): return ops.log(self)
    def sqrt(self): return ops.sqrt(self)
    def erf(self): return ops.erf(self)
    def rsqrt(self): return ops.rsqrt(self)
    def tanh(self): return ops.tanh(self)
    def sigmoid(self): return ops.sigmoid(self)
    def relu(self): return ops.relu(self)
    def abs(self): return ops.abs(self)
    def __abs__(self): return ops.abs(self)
    def maximum(self, other): return ops.maximum(self, other)
    def minimum(self, other): return ops.minimum(self, other)
    def clamp(self, min=None, max=None): return ops.clamp(self, min, max)
    clip = clamp
    def where(self, condition, other): return ops.where(condition, self, other)

    # ----------------------------------------------------------------- comparisons: no gradient
    def __eq__(self, other): return _compare(np.equal, self, other)
    def __ne__(self, other): return _compare(np.not_equal, self, other)
    def __lt__(self, other): return _compare(np.less, self, other)
    def __le__(self, other): return _compare(np.less_equal, self, other)
    def __gt__(self, other): return _compare(np.greater, self, other)
    def __ge__(self, other): return _compare(np.greater_equal, self, other)
    def __invert__(self):
        if self.data.dtype != np.bool_:
            raise TypeError(f"~ is defined for bool tensors only, not {self.data.dtype}")
        return Tensor._make(~self.data, False, None, 0)
    def __and__(self, other): return _compare(np.logical_and, self, other)
    def __or__(self, other): return _compare(np.logical_or, self, other)
    def eq(self, other): return self.__eq__(other)
    def ne(self, other): return self.__ne__(other)
    def lt(self, other): return self.__lt__(other)
    def le(self, other): return self.__le__(other)
    def gt(self, other): return self.__gt__(other)
    def ge(self, other): return self.__ge__(other)

    # ----------------------------------------------------------------- reductions (ops/reduction.py)
    def sum(self, dim=None, keepdim=False): return ops.sum(self, dim, keepdim)
    def mean(self, dim=None, keepdim=False): return ops.mean(self, dim, keepdim)
    def var(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return ops.var(self, dim, keepdim, correction=correction, unbiased=unbiased)
    def std(self, dim=None, keepdim=False, *, correction=1, unbiased=None):
        return ops.std(self, dim, keepdim, correction=correction, unbiased=unbiased)
    def amax(self, dim=None, keepdim=False): return ops.amax(self, dim, keepdim)
    def amin(self, dim=None, keepdim=False): return ops.amin(self, dim, keepdim)
    def max(self, dim=None, keepdim=False): return ops.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return ops.min(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return ops.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return ops.argmin(self, dim, keepdim)

    # ----------------------------------------------------------------- shapes (ops/shape.py)
    def reshape(self, *shape): return ops.reshape(self, _shape_args(shape))
    def view(self, *shape): return ops.reshape(self, _shape_args(shape))
    def flatten(self, start_dim=0, end_dim=-1): return ops.flatten(self, start_dim, end_dim)
    def permute(self, *dims): return ops.permute(self, _shape_args(dims))
    def transpose(self, dim0, dim1): return ops.transpose(self, dim0, dim1)
    @property
    def T(self): return ops.permute(self, tuple(range(self.data.ndim))[::-1])
    @property
    def mT(self): return ops.transpose(self, -2, -1)
    def expand(self, *shape): return ops.expand(self, _shape_args(shape))
    def expand_as(self, other): return ops.expand(self, other.shape)
    def squeeze(self, dim=None): return ops.squeeze(self, dim)
    def unsqueeze(self, dim): return ops.unsqueeze(self, dim)
    def split(self, split_size_or_sections, dim=0): return ops.split(self, split_size_or_sections, dim)
    def chunk(self, chunks, dim=0): return ops.chunk(self, chunks, dim)

    # ----------------------------------------------------------------- indexing (ops/indexing.py)
    def __getitem__(self, index): return ops.getitem(self, index)
    def masked_fill(self, mask, value): return ops.masked_fill(self, mask, value)
    def gather(self, dim, index): return ops.gather(self, dim, index)

    # ----------------------------------------------------------------- dtype (ops/cast.py)
    def to(self, dtype): return ops.cast(self, dtype)
    def type(self, dtype): return ops.cast(self, dtype)
    def float(self): return ops.cast(self, np.float32)
    def double(self): return ops.cast(self, np.float64)
    def half(self): return ops.cast(self, np.float16)
    def long(self): return ops.cast(self, np.int64)
    def int(self): return ops.cast(self, np.int32)
    def bool(self): return ops.cast(self, np.bool_)
    def clone(self): return ops.cast(self, self.data.dtype)


def _shape_args(args):
    """Accept both ``x.reshape(2, 3)`` and ``x.reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _compare(ufunc, a, b):
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    return Tensor._make(np.asarray(ufunc(a_data, b_data)), False, None, 0)


def to_array(data, dtype=None):
    """The ndarray a new tensor holds: a copy, with PyTorch's dtype rules.

    Python floats become the default float dtype (float32), Python ints int64, Python bools
    bool; an ndarray or NumPy scalar keeps its dtype unless ``dtype`` is given.
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=as_dtype(dtype))
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data)
    array = np.array(data)
    if array.dtype.kind == "f":
        return array.astype(get_default_dtype(), copy=False)
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind not in "b":
        raise TypeError(f"cannot make a tensor from {type(data).__name__} (NumPy dtype {array.dtype})")
    return array


def as_operand(value, reference_dtype):
    """An op's input as a Tensor. Python scalars adopt the dtype of the tensor operands.

    NumPy's own promotion differs between 1.x and 2.x for NumPy scalars (``x32 * np.float64(2)``
    is float64 under NEP 50); tying scalars to the tensor's dtype, as PyTorch does, keeps
    float32 float32 under both. Arrays keep their dtype and promote as NumPy says.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return Tensor._make(np.asarray(value, dtype=_scalar_dtype(value, reference_dtype)), False, None, 0)
    if isinstance(value, np.ndarray):
        return Tensor._make(np.asarray(value), False, None, 0)
    return Tensor._make(to_array(value), False, None, 0)


def _scalar_dtype(value, reference_dtype):
    """A scalar (Python or NumPy) next to a tensor takes the tensor's dtype when that is wide
    enough for its kind: float tensors absorb any number, int tensors absorb ints."""
    if reference_dtype is None:
        return to_array(value).dtype
    kind = np.asarray(value).dtype.kind
    if reference_dtype.kind == "f":
        return reference_dtype
    if kind == "f":
        return get_default_dtype()
    if kind == "b" and reference_dtype.kind == "b":
        return reference_dtype
    return reference_dtype if reference_dtype.kind in "iu" else np.dtype(np.int64)


def tensor(data, requires_grad=False, dtype=None):
    """A new leaf tensor holding a copy of ``data`` (list, scalar, ndarray or Tensor)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
