"""safetensors files, read and written with NumPy and the standard library alone.

A safetensors file is three parts::

    [8 bytes]  N, the header length: an unsigned 64-bit little-endian integer
    [N bytes]  the header: UTF-8 JSON, one object
                 {"__metadata__": {str: str},                       (optional)
                  "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
                  ...}
    [rest]     the data buffer; tensor bytes are buffer[begin:end], little-endian, row-major

Reading maps the file into memory: every array is a read-only view into one ``mmap`` of the
file, so opening a large checkpoint copies nothing until the values are used. The header is
checked in full before any array is made; a corrupt or hostile file raises
:class:`SafetensorsError` naming the file and the problem, never reads out of bounds and never
allocates in proportion to a number taken from the header (only to the file's real size).

Writing produces the same bytes as the reference writer (the Rust ``safetensors`` crate behind
the ``safetensors`` Python package) for the same tensors:

- tensors are laid out sorted by dtype, widest first in the reference's order (U64, I64, F64,
  C64, F32, U32, I32, BF16, F16, U16, I16, I8, U8, BOOL), then by name (UTF-8 bytes), so every
  tensor starts aligned to its element size;
- the header is compact JSON (``"__metadata__"`` first, then the tensors in that order, each
  with ``dtype``, ``shape``, ``data_offsets``), non-ASCII written as UTF-8, padded with spaces
  so the data buffer starts at a multiple of 8 bytes.

The reference keeps ``__metadata__`` in a hash map and writes its keys in an arbitrary order;
with two or more metadata keys the two writers' headers are equal as JSON but not byte for
byte. npformer writes the keys in the order given.

Differences from the reference, all deliberate:

- arrays need not be contiguous: they are written in C order (the reference's NumPy binding
  writes a non-contiguous array's raw memory);
- arrays that share memory are accepted and written as independent copies (as the reference's
  NumPy binding does; its torch binding refuses them, because torch would untie tied weights
  on load). Dropping a tied duplicate is the caller's job;
- a header with a duplicate key is rejected (the reference keeps one of them silently);
- BF16 tensors read as float32 (NumPy has no bfloat16): each value is the top 16 bits of a
  float32, widened exactly. ``save_file(..., dtypes={"name": "BF16"})`` writes bfloat16,
  rounding float32 to nearest-even as torch does (float64 goes through float32 first, as in
  torch).
"""
from __future__ import annotations

import json
import mmap as _mmap
import os
import struct
import sys
from collections.abc import Mapping
from typing import Dict, Optional, Union

import numpy as np

from .atomic import PathLike, atomic_writer
from .files import open_regular

__all__ = ["SafetensorsError", "load_file", "save_file", "load_metadata", "read_header", "dtype_kind",
           "float32_to_bfloat16_bits", "bfloat16_bits_to_float32", "MAX_HEADER_SIZE"]

#: The largest header accepted, as in the reference implementation.
MAX_HEADER_SIZE = 100_000_000

# NumPy's limit on the number of dimensions (NPY_MAXDIMS).
_MAX_DIMS = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32

# A u64 has at most 20 decimal digits; longer integers in a header are refused before Python
# converts them (converting a 100 MB digit string is quadratic).
_MAX_INT_DIGITS = 20

# safetensors dtype -> how its bytes are viewed in NumPy (always little-endian). BF16 is viewed
# as uint16 bits and widened to float32 after reading.
_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"), "C64": np.dtype("<c8"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}

# NumPy's dtype kinds -> the kinds of value a tensor holds (see dtype_kind)
_KINDS = {"f": "float", "i": "int", "u": "int", "b": "bool", "c": "complex"}

# The reference writer's layout order: its Dtype enum, descending (F8 and F4 kinds, which
# NumPy cannot hold, would sit between I16 and I8 and between U8 and BOOL).
_WRITE_ORDER = {code: rank for rank, code in enumerate(
    ["U64", "I64", "F64", "C64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16", "I8", "U8",
     "BOOL"])}

# NumPy (kind, itemsize) -> safetensors dtype, for arrays written as they are.
_CODE_OF = {("f", 8): "F64", ("f", 4): "F32", ("f", 2): "F16", ("c", 8): "C64",
            ("i", 8): "I64", ("i", 4): "I32", ("i", 2): "I16", ("i", 1): "I8",
            ("u", 8): "U64", ("u", 4): "U32", ("u", 2): "U16", ("u", 1): "U8", ("b", 1): "BOOL"}

# Non-contiguous arrays are written in blocks of about this many bytes.
_WRITE_BLOCK = 1 << 24


class SafetensorsError(ValueError):
    """A safetensors file is malformed. ``path`` is the file, ``problem`` what is wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class _Problem(Exception):
    """Raised inside header parsing; turned into SafetensorsError with the path."""


def dtype_kind(dtype: Union[str, np.dtype, type]) -> str:
    """The kind of value a safetensors dtype code ("F32", "BF16", "I64", ...) or a NumPy dtype
    holds: "float", "int" (signed or unsigned), "bool" or "complex".

    A loader fills a parameter only from a tensor of the same kind: casting an I32 tensor into a
    float parameter would load bit patterns as numbers. ``dtype_kind("BF16") == "float"``,
    though BF16 is read through uint16 bits.
    """
    if isinstance(dtype, str) and dtype in _DTYPES:
        return "float" if dtype == "BF16" else _KINDS[_DTYPES[dtype].kind]
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        kind = None
    if kind not in _KINDS:
        raise ValueError(f"{_show(dtype)} is neither a safetensors dtype ({', '.join(sorted(_DTYPES))}) nor a "
                         f"NumPy dtype of numbers or booleans")
    return _KINDS[kind]


# ---------------------------------------------------------------------------------------------
# bfloat16
# ---------------------------------------------------------------------------------------------

def bfloat16_bits_to_float32(bits: np.ndarray) -> np.ndarray:
    """uint16 bfloat16 bit patterns -> float32 values (exact: bfloat16 is a float32's top half)."""
    wide = np.asarray(bits, dtype=np.uint16).astype(np.uint32)
    wide <<= np.uint32(16)
    return wide.view(np.float32)


def float32_to_bfloat16_bits(x: np.ndarray) -> np.ndarray:
    """Values -> uint16 bfloat16 bit patterns, rounded to nearest, ties to even (as torch).

    Values are taken as float32 first (float64 therefore rounds twice, exactly as torch's
    conversion does). Values beyond bfloat16's range round to +-inf; NaN becomes 0x7FC0, the
    quiet NaN of torch's scalar conversion (its vectorized one writes 0xFFFF, also a NaN).
    """
    x = np.asarray(x)
    with np.errstate(over="ignore"):
        f = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)   # 1-d: array arithmetic
    nan = np.isnan(f)
    u = np.where(nan, np.uint32(0), f.view(np.uint32))
    # Adding 0x7FFF plus the lowest kept bit, then dropping 16 bits, rounds to nearest with
    # ties to even; a carry out of the mantissa correctly bumps the exponent (max -> inf).
    u += np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))
    out = (u >> np.uint32(16)).astype(np.uint16)
    out[nan] = 0x7FC0
    return out.reshape(x.shape)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------

def _show(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _count(number):
    digits = str(number)
    return digits if len(digits) <= 30 else f"about 10**{len(digits) - 1}"


def _json_type(value):
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"),
                       (str, "a string"), (list, "a list"), (dict, "an object")):
        if isinstance(value, kind):
            return name
    return "null"


def _is_count(value):
    return type(value) is int and value >= 0   # not bool, not float


def _check_unicode(text, what):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Problem(f"{what} {_show(text)} is not valid Unicode (a lone surrogate escape)")


def _object_pairs(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise _Problem(f"header has the key {_show(key)} twice")
        obj[key] = value
    return obj


def _parse_int(digits):
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
        raise _Problem(f"header has an integer of {len(digits)} digits")
    return int(digits)


def _parse_constant(name):
    raise _Problem(f"header is not valid JSON: {name} is not a JSON value")


def _parse_header(raw, buffer_len):
    """Header bytes -> ({name: (code, shape, begin, end)} in header order, metadata or None).

    Checks everything a reader relies on; raises _Problem naming the first thing wrong.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _Problem(f"header is not valid UTF-8 (byte 0x{raw[e.start]:02x} at {e.start})")
    try:
        header = json.loads(text, object_pairs_hook=_object_pairs, parse_int=_parse_int,
                            parse_constant=_parse_constant)
    except json.JSONDecodeError as e:
        raise _Problem(f"header is not valid JSON: {e}")
    except RecursionError:
        raise _Problem("header is not valid JSON: nested too deeply")
    if not isinstance(header, dict):
        raise _Problem(f"header is {_json_type(header)}, expected a JSON object")

    metadata = None
    entries = {}
    for name, entry in header.items():
        if name == "__metadata__":
            if entry is None:       # the reference accepts null for "no metadata"
                continue
            if not isinstance(entry, dict):
                raise _Problem(f"__metadata__ is {_json_type(entry)}, expected an object of "
                               "strings")
            for key, value in entry.items():
                _check_unicode(key, "__metadata__ key")
                if not isinstance(value, str):
                    raise _Problem(f"__metadata__ value of {_show(key)} is {_json_type(value)}, "
                                   "expected a string")
                _check_unicode(value, "__metadata__ value")
            metadata = entry
            continue
        _check_unicode(name, "tensor name")
        entries[name] = _parse_entry(f"tensor {_show(name)}", entry, buffer_len)

    # The tensors must tile the buffer exactly: sorted by offsets, each begins where the
    # previous ended, and the last ends at the end of the file (the reference's rule).
    spans = sorted((begin, end, name) for name, (_, _, begin, end) in entries.items())
    position, previous = 0, None
    for begin, end, name in spans:
        if begin < position:
            raise _Problem(f"tensors {_show(previous[2])} and {_show(name)} overlap: data_offsets "
                           f"[{previous[0]}, {previous[1]}] and [{begin}, {end}]")
        if begin > position:
            raise _Problem(f"bytes [{position}, {begin}) of the data buffer belong to no tensor "
                           "(a hole between tensors)")
        position, previous = end, (begin, end, name)
    if position != buffer_len:
        raise _Problem(f"bytes [{position}, {buffer_len}) at the end of the data buffer belong to "
                       "no tensor")
    return entries, metadata


def _parse_entry(what, entry, buffer_len):
    if not isinstance(entry, dict):
        raise _Problem(f"{what} is {_json_type(entry)}, expected an object with dtype, shape "
                       "and data_offsets")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in entry:
            raise _Problem(f"{what} has no {field!r}")
    code, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(code, str):
        raise _Problem(f"{what}: dtype is {_json_type(code)}, expected a string")
    if code not in _DTYPES:
        raise _Problem(f"{what} has dtype {_show(code)}, which npformer cannot read "
                       f"(it reads {', '.join(sorted(_DTYPES))})")
    if not isinstance(shape, list):
        raise _Problem(f"{what}: shape is {_json_type(shape)}, expected a list of non-negative "
                       "integers")
    if len(shape) > _MAX_DIMS:
        raise _Problem(f"{what}: shape has {len(shape)} dimensions, NumPy allows at most "
                       f"{_MAX_DIMS}")
    for size in shape:
        if not _is_count(size):
            raise _Problem(f"{what}: shape {_show(shape)} holds {_show(size)}, expected "
                           "non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        raise _Problem(f"{what}: data_offsets is {_show(offsets)}, expected [begin, end], two "
                       "non-negative integers")
    begin, end = offsets
    if begin > end:
        raise _Problem(f"{what}: data_offsets begin {begin} is after end {end}")
    if end > buffer_len:
        raise _Problem(f"{what}: data_offsets end {end} is beyond the data buffer "
                       f"({buffer_len} bytes)")
    itemsize = _DTYPES[code].itemsize
    count = 1
    for size in shape:          # at most _MAX_DIMS factors below 10**20: Python ints, no overflow
        count *= size
    if count * itemsize != end - begin:
        raise _Problem(f"{what}: dtype {code} with shape {_show(shape)} needs "
                       f"{_count(count * itemsize)} bytes, but data_offsets [{begin}, {end}] "
                       f"hold {end - begin}")
    if count == 0:
        # An empty array can still have a shape NumPy refuses, e.g. [0, 2**62].
        extent = itemsize
        for size in shape:
            extent *= max(size, 1)
        if extent > sys.maxsize:
            raise _Problem(f"{what}: shape {_show(shape)} is too large for NumPy on this "
                           "platform")
    return code, tuple(shape), begin, end


def _read_exactly(f, n, path, what):
    data = f.read(n)
    if len(data) != n:
        raise SafetensorsError(path, f"file ended while reading {what} (it changed while read?)")
    return data


def _open_header(f, path):
    """Reads and checks the header of the open file f: (entries, metadata, data_start, size)."""
    size = os.fstat(f.fileno()).st_size
    if size < 8:
        raise SafetensorsError(path, f"file is {size} bytes, too short for the 8-byte header "
                                     "length")
    (n,) = struct.unpack("<Q", _read_exactly(f, 8, path, "the header length"))
    if n > MAX_HEADER_SIZE:
        raise SafetensorsError(path, f"header length {n} exceeds the limit of {MAX_HEADER_SIZE} "
                                     "bytes")
    if n > size - 8:
        raise SafetensorsError(path, f"header length {n} runs past the end of the file "
                                     f"({size} bytes)")
    raw = _read_exactly(f, n, path, "the header")
    try:
        entries, metadata = _parse_header(raw, size - 8 - n)
    except _Problem as e:
        raise SafetensorsError(path, str(e)) from None
    return entries, metadata, 8 + n, size


def _open(path):
    """The file, once it is known to be a regular one (a FIFO would block, /dev/zero never end)."""
    return open_regular(path, lambda problem: SafetensorsError(path, problem))


def read_header(path: PathLike) -> Dict[str, dict]:
    """The checked header: {name: {"dtype": str, "shape": tuple, "data_offsets": (begin, end)}},
    in header order, without ``__metadata__`` (see :func:`load_metadata`). Reads no tensor data.
    """
    path = os.fspath(path)
    with _open(path) as f:
        entries, _, _, _ = _open_header(f, path)
    return {name: {"dtype": code, "shape": shape, "data_offsets": (begin, end)}
            for name, (code, shape, begin, end) in entries.items()}


def load_metadata(path: PathLike) -> Dict[str, str]:
    """The file's ``__metadata__`` as a dict of strings ({} when it has none)."""
    path = os.fspath(path)
    with _open(path) as f:
        _, metadata, _, _ = _open_header(f, path)
    return dict(metadata or {})


def load_file(path: PathLike, mmap: bool = True) -> Dict[str, np.ndarray]:
    """Loads every tensor of a safetensors file: {name: np.ndarray}, in header order.

    With ``mmap=True`` (default) the arrays are read-only views into one read-only memory map
    of the file: nothing is copied until used (BF16 tensors, widened to float32, are the one
    exception: they are new read-only arrays). The map stays valid after the file is replaced
    (``save_file`` replaces, never overwrites in place), but truncating the file in place while
    mapped crashes the process, as with any memory map. With ``mmap=False`` each tensor is read
    into its own writable array.
    """
    path = os.fspath(path)
    with _open(path) as f:
        entries, _, data_start, size = _open_header(f, path)
        mapped = None
        if mmap and data_start < size:
            mapped = _mmap.mmap(f.fileno(), 0, access=_mmap.ACCESS_READ)
            if len(mapped) != size:
                raise SafetensorsError(path, "file changed size while being opened")
        tensors = {}
        for name, (code, shape, begin, end) in entries.items():
            dtype = _DTYPES[code]
            if begin == end:                              # empty: nothing to map or read
                array = np.empty(shape, dtype)
            elif mapped is not None:
                array = np.frombuffer(mapped, dtype=dtype, count=(end - begin) // dtype.itemsize,
                                      offset=data_start + begin).reshape(shape)
            else:
                array = np.empty(shape, dtype)
                f.seek(data_start + begin)
                view = memoryview(array.reshape(-1).view(np.uint8))
                got = 0
                while got < end - begin:
                    n = f.readinto(view[got:])
                    if not n:
                        raise SafetensorsError(path, "file ended while reading tensor "
                                                     f"{_show(name)} (it changed while read?)")
                    got += n
            if code == "BF16":
                array = bfloat16_bits_to_float32(array)
            if mmap:
                array.flags.writeable = False
            tensors[name] = array
    return tensors


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------

def _as_array(name, value):
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array__"):
        return np.asarray(value)
    raise TypeError(f"tensor {_show(name)}: expected a NumPy array, got {type(value).__name__}")


def _stored(name, array, code):
    """(array to write, with the stored dtype, little-endian; its safetensors dtype)."""
    if code is None:
        code = _CODE_OF.get((array.dtype.kind, array.dtype.itemsize))
        if code is None:
            raise TypeError(f"tensor {_show(name)}: dtype {array.dtype} cannot be stored "
                            f"(safetensors holds {', '.join(sorted(_DTYPES))})")
    elif not isinstance(code, str) or code not in _DTYPES:
        raise ValueError(f"dtypes[{_show(name)}] is {_show(code)}, expected one of "
                         f"{', '.join(sorted(_DTYPES))}")
    if code == "BF16":
        if array.dtype.kind not in "fiub":
            raise TypeError(f"tensor {_show(name)}: dtype {array.dtype} cannot be stored as BF16")
        return float32_to_bfloat16_bits(array), code
    target = _DTYPES[code]
    if array.dtype != target:      # another dtype asked for, or big-endian input
        with np.errstate(over="ignore"):
            array = array.astype(target)
    return array, code


def _write_array(f, array):
    if array.size == 0:
        return
    if array.flags.c_contiguous:
        f.write(memoryview(array.reshape(-1).view(np.uint8)))
        return
    rows = max(1, _WRITE_BLOCK // max(1, array[0].nbytes))   # ndim >= 1: 0-d is contiguous
    for start in range(0, array.shape[0], rows):
        block = np.ascontiguousarray(array[start:start + rows])
        f.write(memoryview(block.reshape(-1).view(np.uint8)))


def _header_bytes(prepared, metadata):
    header = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for code, name, array in prepared:
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return text + b" " * (-len(text) % 8)      # the data buffer starts 8-byte aligned


def save_file(tensors: Mapping[str, np.ndarray], path: PathLike, metadata: Optional[Mapping[str, str]] = None, *,
              dtypes: Optional[Mapping[str, str]] = None) -> None:
    """Writes ``tensors`` ({str: np.ndarray}) to ``path`` as a safetensors file, atomically.

    The file is written to a temporary file in the same directory, flushed to disk, then
    renamed over ``path``: a crash leaves either the old file or the new one, never a half.
    ``metadata`` is an optional {str: str} stored as ``__metadata__``. ``dtypes`` optionally
    maps a tensor name to the safetensors dtype to store it as, e.g. ``{"wte": "BF16"}``
    (bfloat16, rounded to nearest-even) or ``{"wte": "F16"}``.

    Arrays may be non-contiguous or big-endian: they are written in C order, little-endian.
    Arrays sharing memory are written as independent copies. Tensors are laid out as the
    reference writer lays them out, so the bytes equal its output (see the module docstring).
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"tensors must be a dict of name -> array, got {type(tensors).__name__}")
    dtypes = {} if dtypes is None else dtypes
    if not isinstance(dtypes, Mapping):
        raise TypeError(f"dtypes must be a dict of name -> dtype string, got "
                        f"{type(dtypes).__name__}")
    unknown = [name for name in dtypes if name not in tensors]
    if unknown:
        raise ValueError(f"dtypes names {_show(unknown)}, which are not in tensors")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict of str -> str, got {type(metadata).__name__}")
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"metadata must map str to str, got {_show(key)}: {_show(value)}")
            for text in (key, value):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError(f"metadata holds {_show(text)}, which is not valid Unicode")

    prepared = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be strings, got {type(name).__name__} "
                            f"{_show(name)}")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved for the metadata and cannot name a tensor")
        try:
            key = name.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"tensor name {_show(name)} is not valid Unicode") from None
        array, code = _stored(name, _as_array(name, value), dtypes.get(name))
        prepared.append((_WRITE_ORDER[code], key, code, name, array))
    prepared.sort(key=lambda item: (item[0], item[1]))      # widest dtype first, then name
    prepared = [(code, name, array) for _, _, code, name, array in prepared]
    header = _header_bytes(prepared, metadata)

    # the one atomic writer (npformer.io.atomic): a symlink's target is replaced, not the link,
    # and the directory is flushed too, since a safetensors file is usually written alone
    with atomic_writer(path, follow_symlinks=True, sync_directory=True) as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for _, _, array in prepared:
            _write_array(f, array)
