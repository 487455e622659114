"""dtypes: npformer uses NumPy's dtypes directly, with PyTorch's default of float32.

A Python float (or a list of them) becomes the default float dtype, as in ``torch.tensor``;
an ``np.ndarray`` keeps its own dtype. Ops never upcast: float32 in, float32 out.
"""
import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_NAMES = {
    "float16": float16, "half": float16,
    "float32": float32, "float": float32,
    "float64": float64, "double": float64,
    "int8": int8, "int32": int32, "int": int32,
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
