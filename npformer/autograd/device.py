"""Devices: npformer computes on the CPU with NumPy, so "cpu" is where every tensor lives.

``device`` is ``torch.device``: a type ("cpu", "cuda", ...) and an optional index, written
``device("cuda:1")`` or ``device("cuda", 1)``, with torch's equality, hash, repr and str.
Naming another device is allowed, as in torch, so the usual line

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

runs unchanged (``npformer.cuda.is_available()`` is False). Putting a tensor on a device other
than the CPU (``device=`` of a factory, ``.to(...)``, ``.cuda()``) is refused by
``check_device`` with one error saying why.
"""
import re

# torch's list of device types; any other string is not a device at all.
DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
                "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")
_PATTERN = re.compile(r"([a-z_]+)(?::(0|[1-9][0-9]*))?")

NO_ACCELERATOR = ("Cannot access accelerator device when none is available: npformer runs on the CPU with "
                  "NumPy; use device='cpu' (or leave device out)")


class device:
    """Where a tensor lives: ``type`` ("cpu", ...) and ``index`` (an int, or None)."""

    __slots__ = ("_type", "_index")

    def __init__(self, type=None, index=None):
        if isinstance(type, device) and index is None:
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            raise RuntimeError(NO_ACCELERATOR)
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a device string such as 'cpu' or 'cuda:0', or a device, "
                            f"got {_kind(type)}")
        match = _PATTERN.fullmatch(type)
        if match is None:
            raise RuntimeError(f"Invalid device string: {type!r}")
        kind, parsed = match.group(1), match.group(2)
        if kind not in DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device "
                               f"string: {type}")
        if parsed is not None and index is not None:
            raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {type}")
        if index is not None:
            if not isinstance(index, int) or isinstance(index, bool):
                raise TypeError(f"device(): index must be an int, got {_kind(index)}")
            if index < 0:
                raise RuntimeError("Device index must not be negative")
        self._type = kind
        self._index = int(parsed) if parsed is not None else index

    @property
    def type(self):
        return self._type

    @property
    def index(self):
        return self._index

    def __eq__(self, other):
        if not isinstance(other, device):
            return False
        return self._type == other._type and self._index == other._index

    def __hash__(self):
        return hash((self._type, self._index))

    def __repr__(self):
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __str__(self):
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __reduce__(self):
        return device, (self._type, self._index)


CPU = device("cpu")


def check_device(value, where):
    """Accept None or any spelling of the CPU ("cpu", "cpu:0", device("cpu")); refuse the rest,
    naming ``where`` (the factory or method that was asked)."""
    if value is None or value is CPU:
        return CPU
    if isinstance(value, str) and value == "cpu":
        return CPU
    try:
        parsed = value if isinstance(value, device) else device(value)
    except (RuntimeError, TypeError) as error:
        raise type(error)(f"{where}: {error}") from None
    if parsed.type != "cpu":
        raise RuntimeError(
            f"{where}: device '{parsed}' is not available: npformer runs on the CPU with NumPy. Use "
            f"device='cpu' (or leave device out); npformer.cuda.is_available() is False")
    return CPU


def is_device(value):
    """Whether ``.to(value)`` reads ``value`` as a device (a device, a device string or an index)."""
    return isinstance(value, (device, str)) or (isinstance(value, int) and not isinstance(value, bool))


def _kind(value):
    return type(value).__name__
