"""Tensor: an ndarray (``.data``) plus what backward needs to know about where it came from.

The operator methods below are thin: each one calls a function of ``npformer.ops`` and the
name says which (``__matmul__`` -> ``ops.matmul``, ``sum`` -> ``ops.sum``). The engine sits
below the ops and imports none of them at load time; ``ops`` here is resolved on first use.
"""
import copy

import numpy as np

from . import engine
from .device import CPU, check_device, is_device
from .dtypes import DTYPE_OF_TYPE_NAME, as_dtype, get_default_dtype, type_name
from .inplace import write
from .legacy import LEGACY_TYPES, legacy_array
from .version import counter_of


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
    # _data: the ndarray. _grad: the gradient Tensor or None. _version_counter, _base (the tensor
    # whose memory this one views) and _base_node (that tensor's grad_fn when the view was made):
    # see autograd/version.py and inplace.py; None until first needed.
    __slots__ = ("_data", "_grad", "_requires_grad", "_node", "_out_index", "_version_counter", "_base",
                 "_base_node", "__weakref__")

    # NumPy defers to our reflected operators: ``ndarray + Tensor`` calls ``Tensor.__radd__``.
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, *args, requires_grad=False, dtype=None, device=None):
        # Tensor(data) copies data as npformer.tensor does (an ndarray keeps its dtype). The
        # legacy forms of torch.Tensor also work: Tensor(2, 3) or Tensor(Size) (zeros of that
        # shape), Tensor() (empty), and a Python list or tuple becomes the default float dtype.
        check_device(device, "Tensor")
        array = legacy_array(args, get_default_dtype() if dtype is None else as_dtype(dtype), "Tensor")
        if array is None:
            data = args[0]
            if dtype is None and isinstance(data, (list, tuple)):
                dtype = get_default_dtype()
            array = to_array(data, dtype)
        self._data = array
        self._grad = None
        self._node = None
        self._out_index = 0
        self._version_counter = None
        self._base = self._base_node = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data, requires_grad, node, out_index):
        """Wrap an op's output without copying or validating (the op made ``data``)."""
        t = cls.__new__(cls)
        t._data = data
        t._grad = None
        t._requires_grad = requires_grad
        t._node = node
        t._out_index = out_index
        t._version_counter = None
        t._base = t._base_node = None
        return t

    # ----------------------------------------------------------------- .data and .grad, as in PyTorch
    @property
    def data(self):
        """The values as a new Tensor outside the graph, sharing this tensor's memory.

        As in PyTorch: writing through ``.data`` changes this tensor, and autograd does not
        notice (``detach()`` is the safe form). ``.numpy()`` or ``np.asarray(t)`` give the ndarray.
        """
        return Tensor._make(self._data, False, None, 0)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be set to a Tensor, not {type(value).__name__}; wrap it with npformer.tensor()")
        self._data = value._data

    @property
    def grad(self):
        """The gradient accumulated by ``backward()``: a Tensor of this tensor's shape, or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"grad must be a Tensor or None, not {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"assigned grad has shape {value._data.shape}; the tensor has shape "
                                   f"{self._data.shape}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(f"assigned grad has dtype {value._data.dtype}; the tensor has dtype "
                                   f"{self._data.dtype}")
        self._grad = value

    @property
    def _version(self):
        """How many in-place writes this tensor's memory has seen (PyTorch's ``t._version``)."""
        return 0 if self._version_counter is None else self._version_counter.value

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
        if value and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients; this tensor is {self._data.dtype}")
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
        """The same data, cut from the graph (shares memory and the version counter, as in PyTorch)."""
        t = Tensor._make(self._data, False, None, 0)
        t._version_counter = counter_of(self)
        return t

    def __deepcopy__(self, memo):
        """copy.deepcopy: a leaf with copied values, requires_grad and gradient, as PyTorch.
        Tensors holding the same ndarray still share one copy; a non-leaf is refused."""
        if self._node is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment; deepcopy a .detach() of it")
        if id(self) in memo:
            return memo[id(self)]
        new = type(self)._make(copy.deepcopy(self._data, memo), self._requires_grad, None, 0)
        memo[id(self)] = new
        if self._grad is not None:
            new._grad = copy.deepcopy(self._grad, memo)
        extra = getattr(self, "__dict__", None)          # attributes of a subclass instance
        if extra:
            new.__dict__.update(copy.deepcopy(extra, memo))
        return new

    # ----------------------------------------------------------------- array facts
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    def size(self, dim=None):
        if dim is None:
            return self._data.shape
        return self._data.shape[dim]

    def numel(self):
        return self._data.size

    def numpy(self):
        """The underlying array, shared, as ``torch.Tensor.numpy`` does."""
        return self._data

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python scalar; shape is "
                             f"{self._data.shape}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self._data.shape} is ambiguous")
        return bool(self._data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, not {self._data.dtype}")
        return int(self.item())

    __hash__ = object.__hash__

    def __format__(self, spec):
        """As torch: a 0-d Tensor formats as its value (f"{loss:.4f}"), others as their repr."""
        if self._data.ndim == 0 and type(self) is Tensor:
            return self._data.item().__format__(spec)
        return object.__format__(self, spec)

    def __repr__(self):
        body = np.array2string(self._data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self._data.dtype not in (get_default_dtype(), np.dtype(np.int64), np.dtype(np.bool_)):
            extras.append(f"dtype={self._data.dtype}")
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
    def add(self, other, *, alpha=1): return ops.add(self, other if alpha == 1 else ops.mul(other, alpha))
    def sub(self, other, *, alpha=1): return ops.sub(self, other if alpha == 1 else ops.mul(other, alpha))
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
    # ~ & | ^ are bitwise, as in torch: logical on bool tensors, bit operations on integers.
    def __invert__(self):
        if self._data.dtype.kind not in "biu":
            raise TypeError(f"~ (bitwise_not) is defined for bool and integer tensors only, not {self._data.dtype}")
        return Tensor._make(~self._data, False, None, 0)
    def __and__(self, other): return _bitwise(np.bitwise_and, self, other)
    def __or__(self, other): return _bitwise(np.bitwise_or, self, other)
    def __xor__(self, other): return _bitwise(np.bitwise_xor, self, other)
    def __rand__(self, other): return _bitwise(np.bitwise_and, other, self)
    def __ror__(self, other): return _bitwise(np.bitwise_or, other, self)
    def __rxor__(self, other): return _bitwise(np.bitwise_xor, other, self)
    def eq(self, other): return self.__eq__(other)
    def ne(self, other): return self.__ne__(other)
    def lt(self, other): return self.__lt__(other)
    def le(self, other): return self.__le__(other)
    def gt(self, other): return self.__gt__(other)
    def ge(self, other): return self.__ge__(other)

    # ----------------------------------------------------------------- reductions (ops/reduction.py)
    def sum(self, dim=None, keepdim=False): return ops.sum(self, dim, keepdim)
    def mean(self, dim=None, keepdim=False): return ops.mean(self, dim, keepdim)
    def var(self, dim=None, *args, keepdim=False, correction=None, unbiased=None):
        return ops.var(self, dim, *args, keepdim=keepdim, correction=correction, unbiased=unbiased)
    def std(self, dim=None, *args, keepdim=False, correction=None, unbiased=None):
        return ops.std(self, dim, *args, keepdim=keepdim, correction=correction, unbiased=unbiased)
    def amax(self, dim=None, keepdim=False): return ops.amax(self, dim, keepdim)
    def amin(self, dim=None, keepdim=False): return ops.amin(self, dim, keepdim)
    def max(self, dim=None, keepdim=False): return ops.max(self, dim, keepdim)
    def min(self, dim=None, keepdim=False): return ops.min(self, dim, keepdim)
    def argmax(self, dim=None, keepdim=False): return ops.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim=False): return ops.argmin(self, dim, keepdim)

    # ----------------------------------------------------------------- shapes (ops/shape.py)
    def reshape(self, *shape): return ops.reshape(self, _shape_args(shape))
    def view(self, *shape):
        shape = _shape_args(shape)
        if self._data.size and not np.may_share_memory(self._data.reshape(shape), self._data):
            # NumPy would copy; a view must share memory, so refuse as torch does
            raise RuntimeError(f"view size is not compatible with input tensor's size and stride (shape "
                               f"{tuple(self._data.shape)}, strides {self._data.strides}): at least one "
                               f"dimension spans across two contiguous subspaces. Use .reshape(...) instead.")
        return ops.reshape(self, shape)
    def flatten(self, start_dim=0, end_dim=-1): return ops.flatten(self, start_dim, end_dim)
    def permute(self, *dims): return ops.permute(self, _shape_args(dims))
    def transpose(self, dim0, dim1): return ops.transpose(self, dim0, dim1)
    @property
    def T(self): return ops.permute(self, tuple(range(self._data.ndim))[::-1])
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

    # ----------------------------------------------------------------- in place (autograd/inplace.py)
    # Each is its out-of-place op written back into this tensor's memory; see inplace.write.
    def __setitem__(self, index, value):
        index = ops.normalize_index(index)
        write(self, lambda s: ops.setitem(s, index, value), (value,),
              direct=lambda a: _assign(a, index, value))
        # (PyTorch allows x_int[i] = 1.5, truncating, so setitem has no casting check.)

    def fill_(self, value):
        if isinstance(value, Tensor) and value._requires_grad:
            return write(self, lambda s: ops.expand(ops.cast(value, s.dtype), s.shape), (value,))
        value = value.item() if isinstance(value, Tensor) else value
        return write(self, lambda s: ops.masked_fill(s, _ALL, value), direct=lambda a: _fill(a, value))
    def zero_(self): return self.fill_(0)
    def copy_(self, src):
        return write(self, lambda s: ops.expand(ops.cast(src, s.dtype), s.shape), (src,),
                     direct=lambda a: _assign(a, Ellipsis, src))
    def add_(self, other, alpha=1): return write(self, lambda s: s.add(other, alpha=alpha), (other,))
    def sub_(self, other, alpha=1): return write(self, lambda s: s.sub(other, alpha=alpha), (other,))
    def mul_(self, other): return write(self, lambda s: ops.mul(s, other), (other,))
    def div_(self, other): return write(self, lambda s: ops.div(s, other), (other,))
    def pow_(self, exponent): return write(self, lambda s: ops.pow(s, exponent), (exponent,))
    def neg_(self): return write(self, ops.neg)
    def abs_(self): return write(self, ops.abs)
    def exp_(self): return write(self, ops.exp)
    def log_(self): return write(self, ops.log)
    def sqrt_(self): return write(self, ops.sqrt)
    def rsqrt_(self): return write(self, ops.rsqrt)
    def tanh_(self): return write(self, ops.tanh)
    def sigmoid_(self): return write(self, ops.sigmoid)
    def relu_(self): return write(self, ops.relu)
    def clamp_(self, min=None, max=None): return write(self, lambda s: ops.clamp(s, min, max), (min, max))
    clip_ = clamp_
    def masked_fill_(self, mask, value): return write(self, lambda s: ops.masked_fill(s, mask, value), (value,))
    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)

    # ----------------------------------------------------------------- dtype (ops/cast.py)
    # As in torch, a conversion to the dtype the tensor already has returns the tensor itself.
    def float(self): return self.to(np.float32)
    def double(self): return self.to(np.float64)
    def half(self): return self.to(np.float16)
    def long(self): return self.to(np.int64)
    def int(self): return self.to(np.int32)
    def short(self): return self.to(np.int16)
    def char(self): return self.to(np.int8)
    def byte(self): return self.to(np.uint8)
    def bool(self): return self.to(np.bool_)
    def clone(self): return ops.cast(self, self._data.dtype)

    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)`` (its dtype) or by
        keyword (``device=``, ``dtype=``, ``non_blocking=``, ``copy=``). Returns this tensor when
        nothing changes and ``copy`` is False, else a differentiable copy (ops.cast). The
        device must be the CPU (see autograd/device.py)."""
        dtype, copy_ = _to_arguments(args, kwargs)
        dtype = self._data.dtype if dtype is None else dtype
        if dtype == self._data.dtype and not copy_:
            return self
        return ops.cast(self, dtype)

    def type(self, dtype=None, non_blocking=False):
        """No argument: torch's type name ("torch.FloatTensor"). With a dtype, a name such as
        "torch.LongTensor" or a legacy type such as LongTensor: the tensor in that dtype."""
        if dtype is None:
            return type_name(self._data.dtype)
        return self.to(_type_dtype(dtype))

    def type_as(self, other): return self.to(other._data.dtype)

    # ----------------------------------------------------------------- C2 plumbing: device, layout, facts
    @property
    def device(self): return CPU
    @property
    def is_cuda(self): return False
    @property
    def is_cpu(self): return True
    def cpu(self, memory_format=None): return self

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        check_device("cuda" if device is None or isinstance(device, int) and not isinstance(device, bool)
                     else device, "cuda()")
        raise RuntimeError("cuda(): npformer runs on the CPU with NumPy; there is no CUDA device")

    def is_floating_point(self): return self._data.dtype.kind == "f"
    def is_complex(self): return self._data.dtype.kind == "c"
    def element_size(self): return self._data.itemsize
    @property
    def itemsize(self): return self._data.itemsize
    @property
    def nbytes(self): return self._data.size * self._data.itemsize
    def nelement(self): return self._data.size
    def ndimension(self): return self._data.ndim

    @property
    def H(self):
        """The conjugate transpose of a matrix: for real tensors, ``T`` of a 0-d or 2-D tensor."""
        if self._data.ndim not in (0, 2):
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {self._data.ndim}-D "
                               "tensor." + (" For batches of matrices, consider using tensor.mH"
                                            if self._data.ndim > 2 else ""))
        return self.T
    @property
    def mH(self):
        """The conjugate transpose of the last two dims: for real tensors, ``mT``."""
        if self._data.ndim == 1:
            raise RuntimeError("tensor.mH is only supported on matrices or batches of matrices. Got 1-D tensor.")
        return self if self._data.ndim == 0 else self.mT

    def is_contiguous(self, memory_format=None): return bool(self._data.flags.c_contiguous)

    def contiguous(self, memory_format=None):
        """This tensor when it is row-major already, else a row-major copy (differentiable)."""
        return self if self._data.flags.c_contiguous else ops.contiguous(self)

    def stride(self, dim=None):
        """Steps in elements between neighbours along each dim (NumPy's strides / itemsize)."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        if dim is None:
            return strides
        if self._data.ndim == 0:
            raise IndexError(f"stride(): dimension specified as {dim} but tensor has no dimensions")
        return strides[_normalize_dim(dim, self._data.ndim)]

    def data_ptr(self):
        """The address of the first element (tensors sharing memory at the same place share it)."""
        return self._data.__array_interface__["data"][0]

    def storage_offset(self):
        """How many elements into the memory it views this tensor starts (0 unless a view)."""
        base = self._data
        while isinstance(base.base, np.ndarray):
            base = base.base
        return (self.data_ptr() - base.__array_interface__["data"][0]) // self._data.itemsize

    # ----------------------------------------------------------------- C2 plumbing: new_* factories
    # A new tensor with this tensor's dtype unless dtype= says otherwise (torch's new_*).
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return _creation().zeros(*size, dtype=self._data.dtype if dtype is None else dtype, device=device,
                                 requires_grad=requires_grad)
    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return _creation().ones(*size, dtype=self._data.dtype if dtype is None else dtype, device=device,
                                requires_grad=requires_grad)
    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return _creation().empty(*size, dtype=self._data.dtype if dtype is None else dtype, device=device,
                                 requires_grad=requires_grad)
    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return _creation().full(size, fill_value, dtype=self._data.dtype if dtype is None else dtype,
                                device=device, requires_grad=requires_grad)
    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        return tensor(data, requires_grad=requires_grad, dtype=self._data.dtype if dtype is None else dtype,
                      device=device)

    # ----------------------------------------------------------------- C2 plumbing: lookups (ops/logic.py)
    def nonzero(self, *, as_tuple=False): return ops.nonzero(self, as_tuple=as_tuple)
    def argwhere(self): return ops.argwhere(self)
    # (axis=/keepdims= aliases too: np.any(t) and np.all(t) call t.any(axis=None, out=None))
    def any(self, dim=None, keepdim=False, **aliases): return ops.any(self, dim, keepdim, **aliases)
    def all(self, dim=None, keepdim=False, **aliases): return ops.all(self, dim, keepdim, **aliases)
    def count_nonzero(self, dim=None): return ops.count_nonzero(self, dim)
    def isnan(self): return ops.isnan(self)
    def isinf(self): return ops.isinf(self)
    def isfinite(self): return ops.isfinite(self)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return ops.isclose(self, other, rtol, atol, equal_nan)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return ops.allclose(self, other, rtol, atol, equal_nan)
    def equal(self, other): return ops.equal(self, other)
    def logical_not(self): return ops.logical_not(self)
    def logical_and(self, other): return ops.logical_and(self, other)
    def logical_or(self, other): return ops.logical_or(self, other)
    def logical_xor(self, other): return ops.logical_xor(self, other)
    def greater(self, other): return ops.gt(self, other)
    def greater_equal(self, other): return ops.ge(self, other)
    def less(self, other): return ops.lt(self, other)
    def less_equal(self, other): return ops.le(self, other)
    def not_equal(self, other): return ops.ne(self, other)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return ops.unique(self, sorted, return_inverse, return_counts, dim)
    def bincount(self, weights=None, minlength=0): return ops.bincount(self, weights, minlength)

    # ----------------------------------------------------------------- C2 plumbing: sampling (ops/sampling.py)
    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return ops.multinomial(self, num_samples, replacement, generator=generator)
    def bernoulli(self, p=None, *, generator=None): return ops.bernoulli(self, p, generator=generator)
    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return _sampling().normal_(self, mean, std, generator=generator)
    def uniform_(self, a=0.0, b=1.0, *, generator=None, **bounds):
        return _sampling().uniform_(self, a, b, generator=generator, **bounds)
    def random_(self, *bounds, generator=None): return _sampling().random_(self, *bounds, generator=generator)
    def exponential_(self, lambd=1.0, *, generator=None):
        return _sampling().exponential_(self, lambd, generator=generator)
    def bernoulli_(self, p=0.5, *, generator=None): return _sampling().bernoulli_(self, p, generator=generator)

    # --- C1 ---------------------------------------------------------- more ops (see ops/__init__.py for files)
    # elementwise, one tensor (ops/unary.py, ops/rounding.py)
    def sin(self): return ops.sin(self)
    def cos(self): return ops.cos(self)
    def tan(self): return ops.tan(self)
    def asin(self): return ops.asin(self)
    def acos(self): return ops.acos(self)
    def atan(self): return ops.atan(self)
    def sinh(self): return ops.sinh(self)
    def cosh(self): return ops.cosh(self)
    def asinh(self): return ops.asinh(self)
    def acosh(self): return ops.acosh(self)
    def atanh(self): return ops.atanh(self)
    arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
    def log1p(self): return ops.log1p(self)
    def expm1(self): return ops.expm1(self)
    def log2(self): return ops.log2(self)
    def log10(self): return ops.log10(self)
    def exp2(self): return ops.exp2(self)
    def square(self): return ops.square(self)
    def reciprocal(self): return ops.reciprocal(self)
    def sign(self): return ops.sign(self)
    def floor(self): return ops.floor(self)
    def ceil(self): return ops.ceil(self)
    def round(self, *, decimals=0): return ops.round(self, decimals=decimals)
    def trunc(self): return ops.trunc(self)
    fix = trunc
    def frac(self): return ops.frac(self)
    # elementwise, two or three tensors (ops/binary.py)
    def atan2(self, other): return ops.atan2(self, other)
    arctan2 = atan2
    def hypot(self, other): return ops.hypot(self, other)
    def lerp(self, end, weight): return ops.lerp(self, end, weight)
    def addcmul(self, tensor1, tensor2, *, value=1): return ops.addcmul(self, tensor1, tensor2, value=value)
    def addcdiv(self, tensor1, tensor2, *, value=1): return ops.addcdiv(self, tensor1, tensor2, value=value)
    # reductions and scans (ops/prod.py, ops/cumulative.py, ops/norm.py, ops/logsumexp.py)
    def prod(self, dim=None, keepdim=False, *, dtype=None): return ops.prod(self, dim, keepdim, dtype=dtype)
    def cumsum(self, dim, *, dtype=None): return ops.cumsum(self, dim, dtype=dtype)
    def cumprod(self, dim, *, dtype=None): return ops.cumprod(self, dim, dtype=dtype)
    def diff(self, n=1, dim=-1, prepend=None, append=None): return ops.diff(self, n, dim, prepend, append)
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None): return ops.norm(self, p, dim, keepdim, dtype=dtype)
    def logsumexp(self, dim, keepdim=False): return ops.logsumexp(self, dim, keepdim)
    def softmax(self, dim, dtype=None): return ops.softmax(self, dim, dtype)
    def log_softmax(self, dim, dtype=None): return ops.log_softmax(self, dim, dtype)
    # products (ops/products.py)
    def mm(self, mat2): return ops.mm(self, mat2)
    def bmm(self, mat2): return ops.bmm(self, mat2)
    def dot(self, tensor): return ops.dot(self, tensor)
    def outer(self, vec2): return ops.outer(self, vec2)
    ger = outer
    def addmm(self, mat1, mat2, *, beta=1, alpha=1): return ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)
    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return ops.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)
    # shapes and order (ops/views.py, ops/tile.py, ops/triangle.py, ops/sorting.py)
    def unbind(self, dim=0): return ops.unbind(self, dim)
    def narrow(self, dim, start, length): return ops.narrow(self, dim, start, length)
    def movedim(self, source, destination): return ops.movedim(self, source, destination)
    moveaxis = movedim
    def swapaxes(self, axis0, axis1): return ops.transpose(self, axis0, axis1)
    def swapdims(self, dim0, dim1): return ops.transpose(self, dim0, dim1)
    def t(self): return ops.t(self)
    def view_as(self, other): return ops.view_as(self, other)
    def reshape_as(self, other): return ops.reshape_as(self, other)
    def unflatten(self, dim, sizes): return ops.unflatten(self, dim, sizes)
    def repeat(self, *sizes): return ops.repeat(self, _shape_args(sizes))
    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        return ops.repeat_interleave(self, repeats, dim, output_size=output_size)
    def flip(self, *dims): return ops.flip(self, _shape_args(dims))
    def roll(self, shifts, dims=None): return ops.roll(self, shifts, dims)
    def tril(self, diagonal=0): return ops.tril(self, diagonal)
    def triu(self, diagonal=0): return ops.triu(self, diagonal)
    def sort(self, dim=-1, descending=False, *, stable=False): return ops.sort(self, dim, descending, stable=stable)
    def argsort(self, dim=-1, descending=False, *, stable=False):
        return ops.argsort(self, dim, descending, stable=stable)
    def topk(self, k, dim=-1, largest=True, sorted=True): return ops.topk(self, k, dim, largest, sorted)
    # indexing with index tensors (ops/scatter.py)
    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return ops.scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return ops.scatter_add(self, dim, index, src)
    def index_fill(self, dim, index, value): return ops.index_fill(self, dim, index, value)
    def index_select(self, dim, index): return ops.index_select(self, dim, index)
    def masked_select(self, mask): return ops.masked_select(self, mask)
    def take_along_dim(self, indices, dim=None): return ops.take_along_dim(self, indices, dim)
    # in place: each is the op above written back with inplace.write
    def sin_(self): return write(self, ops.sin)
    def cos_(self): return write(self, ops.cos)
    def tan_(self): return write(self, ops.tan)
    def asin_(self): return write(self, ops.asin)
    def acos_(self): return write(self, ops.acos)
    def atan_(self): return write(self, ops.atan)
    def sinh_(self): return write(self, ops.sinh)
    def cosh_(self): return write(self, ops.cosh)
    def asinh_(self): return write(self, ops.asinh)
    def acosh_(self): return write(self, ops.acosh)
    def atanh_(self): return write(self, ops.atanh)
    arcsin_, arccos_, arctan_, arcsinh_, arccosh_, arctanh_ = asin_, acos_, atan_, asinh_, acosh_, atanh_
    def log1p_(self): return write(self, ops.log1p)
    def expm1_(self): return write(self, ops.expm1)
    def log2_(self): return write(self, ops.log2)
    def log10_(self): return write(self, ops.log10)
    def exp2_(self): return write(self, ops.exp2)
    def erf_(self): return write(self, ops.erf)
    def square_(self): return write(self, ops.square)
    def reciprocal_(self): return write(self, ops.reciprocal)
    def sign_(self): return write(self, ops.sign)
    def floor_(self): return write(self, ops.floor)
    def ceil_(self): return write(self, ops.ceil)
    def round_(self, *, decimals=0): return write(self, lambda s: ops.round(s, decimals=decimals))
    def trunc_(self): return write(self, ops.trunc)
    fix_ = trunc_
    def frac_(self): return write(self, ops.frac)
    def atan2_(self, other): return write(self, lambda s: ops.atan2(s, other), (other,))
    arctan2_ = atan2_
    def hypot_(self, other): return write(self, lambda s: ops.hypot(s, other), (other,))
    def lerp_(self, end, weight): return write(self, lambda s: ops.lerp(s, end, weight), (end, weight))
    def addcmul_(self, tensor1, tensor2, *, value=1):
        return write(self, lambda s: ops.addcmul(s, tensor1, tensor2, value=value), (tensor1, tensor2))
    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return write(self, lambda s: ops.addcdiv(s, tensor1, tensor2, value=value), (tensor1, tensor2))
    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        return write(self, lambda s: ops.addmm(s, mat1, mat2, beta=beta, alpha=alpha), (mat1, mat2))
    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        return write(self, lambda s: ops.baddbmm(s, batch1, batch2, beta=beta, alpha=alpha), (batch1, batch2))
    def cumsum_(self, dim, *, dtype=None): return write(self, lambda s: ops.cumsum(s, dim, dtype=dtype))
    def cumprod_(self, dim, *, dtype=None): return write(self, lambda s: ops.cumprod(s, dim, dtype=dtype))
    def tril_(self, diagonal=0): return write(self, lambda s: ops.tril(s, diagonal))
    def triu_(self, diagonal=0): return write(self, lambda s: ops.triu(s, diagonal))
    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return write(self, lambda s: ops.scatter(s, dim, index, src, value=value, reduce=reduce), (src,))
    def scatter_add_(self, dim, index, src): return write(self, lambda s: ops.scatter_add(s, dim, index, src), (src,))
    def index_fill_(self, dim, index, value):
        return write(self, lambda s: ops.index_fill(s, dim, index, value), (value,))


_ALL = np.ones((), dtype=np.bool_)      # a mask that selects every element (fill_ is masked_fill with it)


def _fill(array, value):
    array.fill(value)       # a scalar is cast to the tensor's dtype, as torch's fill_ does


def _assign(array, index, value):
    """array[index] = value for the no-graph path of ``__setitem__`` and ``copy_``."""
    array[index] = value._data if isinstance(value, Tensor) else value


def _shape_args(args):
    """Accept both ``x.reshape(2, 3)`` and ``x.reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


# ----------------------------------------------------------------- C2 plumbing helpers
_TO_KEYWORDS = ("device", "dtype", "non_blocking", "copy", "memory_format")


def _to_arguments(args, kwargs):
    """(dtype or None, copy) from the arguments of ``Tensor.to``, in any of torch's forms:
    to(dtype, non_blocking, copy), to(device, dtype, non_blocking, copy), to(other, non_blocking,
    copy), or keywords. A device is checked (CPU only) and otherwise has no effect."""
    unknown = set(kwargs) - set(_TO_KEYWORDS)
    if unknown:
        raise TypeError(f"to() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    args = list(args)
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    if args and isinstance(args[0], Tensor):
        if "dtype" in kwargs or "device" in kwargs:
            raise TypeError("to(other): give either another tensor or device/dtype, not both")
        dtype = args.pop(0)._data.dtype
    elif args and (args[0] is None or is_device(args[0])):
        if "device" in kwargs:
            raise TypeError("to() got multiple values for argument 'device'")
        device = args.pop(0)
        if args and not isinstance(args[0], bool):
            if "dtype" in kwargs:
                raise TypeError("to() got multiple values for argument 'dtype'")
            dtype = args.pop(0)
    elif args:
        if "dtype" in kwargs:
            raise TypeError("to() got multiple values for argument 'dtype'")
        dtype = args.pop(0)
        if "device" in kwargs:
            raise TypeError("to(dtype, ...) takes no device; use to(device, dtype)")
    if len(args) > 2 or not all(isinstance(a, bool) for a in args):
        raise TypeError("to() received an invalid combination of arguments: expected to(dtype), to(device, dtype), "
                        "to(other) or keywords, then non_blocking and copy as bools")
    flags = dict(zip(("non_blocking", "copy"), args))
    for name in flags:
        if name in kwargs:
            raise TypeError(f"to() got multiple values for argument {name!r}")
    copy_ = bool(flags.get("copy", kwargs.get("copy", False)))
    check_device(device, "to()")
    if dtype is not None:
        if is_device(dtype) or isinstance(dtype, Tensor):
            raise TypeError(f"to(): dtype must be a dtype such as npformer.float32, not {dtype!r}")
        dtype = as_dtype(dtype)
    return dtype, copy_


def _type_dtype(value):
    """The dtype named by an argument of ``Tensor.type``: a dtype, a legacy type or its name."""
    if isinstance(value, str):
        if value in DTYPE_OF_TYPE_NAME:
            return DTYPE_OF_TYPE_NAME[value]
        if value.startswith("torch.cuda."):
            check_device("cuda", "type()")
        raise ValueError(f"type(): invalid type: {value!r}; expected a name such as 'torch.FloatTensor'")
    if any(value is legacy for legacy in LEGACY_TYPES):
        return value.dtype
    return as_dtype(value)


def _normalize_dim(dim, ndim):
    from ..ops.dims import normalize_dim
    return normalize_dim(dim, ndim)


def _creation():
    from . import creation
    return creation


def _sampling():
    from ..ops import sampling
    return sampling


def _bitwise(ufunc, a, b):
    """A bit operation of bool/integer operands (a Python bool or int may stand for one)."""
    operands = [x._data if isinstance(x, Tensor) else x for x in (a, b)]
    for value in operands:
        if not isinstance(value, (bool, int, np.ndarray, np.generic)) or np.asarray(value).dtype.kind not in "biu":
            name = value.dtype if isinstance(value, (np.ndarray, np.generic)) else type(value).__name__
            raise RuntimeError(f"{ufunc.__name__} is defined for bool and integer operands only, not {name} "
                               "(torch: not implemented for it)")
    return Tensor._make(np.asarray(ufunc(*operands)), False, None, 0)


def _compare(ufunc, a, b):
    a_data = a._data if isinstance(a, Tensor) else a
    b_data = b._data if isinstance(b, Tensor) else b
    return Tensor._make(np.asarray(ufunc(a_data, b_data)), False, None, 0)


def to_array(data, dtype=None):
    """The ndarray a new tensor holds: a copy, with PyTorch's dtype rules.

    Python floats become the default float dtype (float32), Python ints int64, Python bools
    bool; an ndarray or NumPy scalar keeps its dtype unless ``dtype`` is given.
    """
    if isinstance(data, Tensor):
        data = data._data
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


def tensor(data, requires_grad=False, dtype=None, *, device=None):
    """A new leaf tensor holding a copy of ``data`` (list, scalar, ndarray or Tensor), as
    ``torch.tensor``: Python floats become the default float dtype, ints int64, bools bool."""
    check_device(device, "tensor")
    t = Tensor._make(to_array(data, dtype), False, None, 0)
    t.requires_grad = requires_grad
    return t
