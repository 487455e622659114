"""dtypes: npformer uses NumPy's dtypes directly, with PyTorch's default of float32.

A Python float (or a list of them) becomes the default float dtype, as in ``torch.tensor``;
an ``np.ndarray`` keeps its own dtype. Ops never upcast: float32 in, float32 out.
"""
import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_NAMES = {
    "float16": float16, "half": float16,
    "float32": float32, "float": float32,
    "float64": float64, "double": float64,
    "int8": int8, "int16": int16, "short": int16, "int32": int32, "int": int32,
    "int64": int64, "long": int64,
    "uint8": uint8, "bool": bool_,
}

_default_float = float32


def get_default_dtype():
    """The dtype given to Python floats: float32 unless changed."""
    return _default_float


def set_default_dtype(dtype):
    """Set the dtype given to Python floats; only float32 and float64 make sense."""
    global _default_float
    dtype = as_dtype(dtype)
    if dtype not in (float32, float64):
        raise TypeError(f"set_default_dtype: expected float32 or float64, got {dtype}")
    _default_float = dtype


def as_dtype(dtype):
    """Accept an np.dtype, a NumPy scalar type or a PyTorch-style name such as "float"."""
    if isinstance(dtype, str) and dtype in _NAMES:
        return _NAMES[dtype]
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None


def is_floating(dtype):
    return dtype.kind == "f"


# ---------------------------------------------------------------------------- PyTorch's dtype facts
# The legacy tensor-type name of each dtype, as ``torch.Tensor.type()`` reports it.
TYPE_NAMES = {
    float16: "torch.HalfTensor", float32: "torch.FloatTensor", float64: "torch.DoubleTensor",
    uint8: "torch.ByteTensor", int8: "torch.CharTensor", int16: "torch.ShortTensor",
    int32: "torch.IntTensor", int64: "torch.LongTensor", bool_: "torch.BoolTensor",
}
DTYPE_OF_TYPE_NAME = {name: dtype for dtype, name in TYPE_NAMES.items()}


def type_name(dtype):
    """``"torch.FloatTensor"`` for float32, and so on (PyTorch's names, which code compares with)."""
    try:
        return TYPE_NAMES[dtype]
    except KeyError:
        raise TypeError(f"type(): dtype {dtype} has no PyTorch tensor-type name") from None


class finfo:
    """Machine limits of a floating dtype, as ``torch.finfo``: bits, eps, max, min, tiny
    (= smallest_normal), resolution and dtype (its name), read from ``np.finfo``.
    ``finfo()`` describes the default dtype."""

    def __init__(self, type=None):
        dtype = get_default_dtype() if type is None else as_dtype(type)
        if dtype.kind != "f":
            raise TypeError(f"finfo() requires a floating point input type, got {dtype}; use iinfo for integer types")
        info = np.finfo(dtype)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)     # exact, as torch (NumPy's is rounded to dtype)
        self.dtype = dtype.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype, as ``torch.iinfo``: bits, min, max (Python ints) and dtype (its name)."""

    def __init__(self, type):
        dtype = as_dtype(type)
        if dtype == bool_:
            raise TypeError("iinfo(): bool is not supported")
        if dtype.kind not in "iu":
            raise TypeError(f"iinfo() requires an integer input type, got {dtype}; use finfo for floating types")
        info = np.iinfo(dtype)
        self.bits = int(info.bits)
        self.min = int(info.min)
        self.max = int(info.max)
        self.dtype = dtype.name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


def is_tensor(obj):
    """Whether obj is an npformer Tensor (``torch.is_tensor``)."""
    from .tensor import Tensor
    return isinstance(obj, Tensor)


def is_floating_point(input):
    """Whether the tensor's dtype is a floating-point one (``torch.is_floating_point``)."""
    if not is_tensor(input):
        raise TypeError(f"is_floating_point(): argument 'input' must be Tensor, not {type(input).__name__}")
    return input._data.dtype.kind == "f"
