"""PyTorch's legacy constructors: ``torch.LongTensor([1, 2])``, ``torch.FloatTensor(3, 4)``,
``torch.Tensor(2, 3)``, and ``torch.Size``.

A legacy constructor called with data makes a tensor of its dtype from it; called with
integers (or a ``Size``) it makes a tensor of that shape. torch leaves that memory
uninitialised; npformer fills it with zeros, which is one of the values torch may return and
keeps runs reproducible. With no argument it makes an empty 1-D tensor.

``isinstance(x, LongTensor)`` is True for an int64 tensor, and ``x.type(LongTensor)`` casts,
as in torch; calling ``LongTensor(...)`` returns a plain ``Tensor``.
"""
import numpy as np

from .device import check_device
from .dtypes import bool_, float16, float32, float64, int8, int16, int32, int64, uint8


class Size(tuple):
    """A shape: a tuple of ints, as ``torch.Size`` (``Tensor.shape`` and ``size()`` return plain
    tuples, which compare equal to it)."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        sizes = tuple(sizes)
        for n in sizes:
            if not _is_int(n):
                raise TypeError(f"Size: expected a sequence of ints, got an element of type {type(n).__name__}")
        return super().__new__(cls, (int(n) for n in sizes))

    def numel(self):
        """The number of elements of a tensor of this shape."""
        return int(np.prod(self, dtype=np.int64))

    def __getitem__(self, index):
        item = super().__getitem__(index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __repr__(self):
        return f"Size({list(self)})"


def legacy_array(args, dtype, where):
    """The ndarray a legacy constructor makes from its positional arguments, or None when the
    arguments are one piece of data (then the caller converts it).

    ``()`` -> empty 1-D; ints or one ``Size`` -> zeros of that shape; anything else with more
    than one argument is refused.
    """
    if not args:
        return np.zeros((0,), dtype=dtype)
    if len(args) == 1 and isinstance(args[0], Size):
        return _zeros(tuple(args[0]), dtype, where)
    if all(_is_int(a) for a in args):
        return _zeros(tuple(int(a) for a in args), dtype, where)
    if len(args) > 1:
        kinds = ", ".join(type(a).__name__ for a in args)
        raise TypeError(f"{where}: expected one piece of data (a list, an array or a tensor) or sizes as ints, "
                        f"got ({kinds})")
    return None


def _zeros(shape, dtype, where):
    for n in shape:
        if n < 0:
            raise RuntimeError(f"{where}: Trying to create tensor with negative dimension {n}: {list(shape)}")
    return np.zeros(shape, dtype=dtype)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class _LegacyType(type):
    """The metaclass of ``LongTensor`` and friends: instance checks look at the dtype."""

    def __instancecheck__(cls, instance):
        from .tensor import Tensor
        return isinstance(instance, Tensor) and instance._data.dtype == cls.dtype

    def __repr__(cls):
        return f"<class 'npformer.{cls.__name__}'>"


class _LegacyTensor(metaclass=_LegacyType):
    dtype = None

    def __new__(cls, *args, device=None):
        from .tensor import Tensor, to_array
        where = cls.__name__
        check_device(device, where)
        array = legacy_array(args, cls.dtype, where)
        if array is None:
            data = args[0]
            if isinstance(data, Tensor):
                if data._data.dtype != cls.dtype:
                    raise TypeError(f"{where}: expected a tensor of dtype {cls.dtype}, got {data._data.dtype}; "
                                    f"use .to({cls.dtype.name}) to convert it")
                return data
            if isinstance(data, (str, bytes)) or not _is_sequence(data):
                raise TypeError(f"{where}: data must be a sequence (a list, a tuple or an array), got "
                                f"{type(data).__name__}")
            array = to_array(data, cls.dtype)
        return Tensor._make(array, False, None, 0)


def _is_sequence(data):
    return isinstance(data, np.ndarray) or (hasattr(data, "__len__") and hasattr(data, "__getitem__"))


def _legacy(name, dtype):
    return _LegacyType(name, (_LegacyTensor,), {"dtype": dtype, "__doc__": f"Legacy constructor of {dtype} "
                                                 f"tensors: {name}(data) or {name}(*sizes)."})


FloatTensor = _legacy("FloatTensor", float32)
DoubleTensor = _legacy("DoubleTensor", float64)
HalfTensor = _legacy("HalfTensor", float16)
LongTensor = _legacy("LongTensor", int64)
IntTensor = _legacy("IntTensor", int32)
ShortTensor = _legacy("ShortTensor", int16)
CharTensor = _legacy("CharTensor", int8)
ByteTensor = _legacy("ByteTensor", uint8)
BoolTensor = _legacy("BoolTensor", bool_)

LEGACY_TYPES = (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor,
                BoolTensor)
