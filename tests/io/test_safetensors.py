"""safetensors in NumPy alone: round trips, memory maps, the reference's byte layout, atomic
writes, bfloat16 rounding, and hostile files (each with its own error, never another exception).
"""
import json
import math
import mmap
import os
import struct
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npformer.io.safetensors as sf
from npformer.io import SafetensorsError, load_file, load_metadata, read_header, save_file

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "C64": np.complex64,
          "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
          "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_}
SHAPES = [(), (0,), (5,), (2, 3), (3, 0, 2), (1, 1, 4, 1)]


def random_array(rng, dtype, shape):
    """An ndarray (0-d included, never a NumPy scalar) of random values over dtype's range."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        values = rng.random(shape) < 0.5
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    elif dtype.kind == "c":
        values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    else:
        values = rng.standard_normal(shape)
    return np.asarray(values, dtype=dtype)


def assert_same(actual, expected):
    """Same dtype, shape and bytes (so NaN payloads and -0.0 count too)."""
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype.newbyteorder("<") or actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert np.ascontiguousarray(actual).tobytes() == np.ascontiguousarray(
        expected.astype(expected.dtype.newbyteorder("<"))).tobytes()


def raw_file(path, header, buffer=b"", length=None):
    """Writes a file by hand: header is a dict (compact JSON) or the exact header bytes."""
    if not isinstance(header, bytes):
        header = json.dumps(header, separators=(",", ":")).encode()
    n = len(header) if length is None else length
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", n) + header + buffer)
    return path


def entry(dtype, shape, offsets):
    return {"dtype": dtype, "shape": shape, "data_offsets": offsets}


# ------------------------------------------------------------------------------------------
# Round trips
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", sorted(DTYPES))
@pytest.mark.parametrize("use_mmap", [True, False])
def test_round_trip_every_dtype_and_shape(tmp_path, rng, code, use_mmap):
    tensors = {f"t{i}": random_array(rng, DTYPES[code], shape) for i, shape in enumerate(SHAPES)}
    path = tmp_path / "x.safetensors"
    save_file(tensors, path)
    header = read_header(path)
    loaded = load_file(path, mmap=use_mmap)
    assert set(loaded) == set(tensors)
    for name, array in tensors.items():
        assert header[name]["dtype"] == code
        assert header[name]["shape"] == array.shape
        assert_same(loaded[name], array)


def test_non_contiguous_and_big_endian_inputs_are_written_in_c_order(tmp_path, rng):
    base = rng.standard_normal((6, 8)).astype(np.float32)
    tensors = {"transposed": base.T, "strided": base[::2, 1::3], "reversed": base[::-1, ::-2],
               "big_endian": base.astype(">f4"), "fortran": np.asfortranarray(base),
               "zero_stride": np.broadcast_to(np.arange(3), (4, 3))}
    assert not any(a.flags.c_contiguous for k, a in tensors.items() if k != "big_endian")
    save_file(tensors, tmp_path / "x.safetensors")
    loaded = load_file(tmp_path / "x.safetensors")
    for name, array in tensors.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype.byteorder in "=<|"


def test_non_contiguous_arrays_are_written_in_blocks(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(sf, "_WRITE_BLOCK", 64)          # force many blocks
    array = rng.standard_normal((50, 7)).T               # (7, 50), rows of 400 bytes
    wide = rng.standard_normal((3, 40, 2))[:, ::2]
    save_file({"a": array, "b": wide}, tmp_path / "x.safetensors")
    loaded = load_file(tmp_path / "x.safetensors")
    np.testing.assert_array_equal(loaded["a"], array)
    np.testing.assert_array_equal(loaded["b"], wide)


def test_metadata_round_trip(tmp_path):
    meta = {"format": "np", "unicode": "é\u2028 \"quoted\" \\ \n\t\x01", "": ""}
    path = tmp_path / "x.safetensors"
    save_file({"a": np.zeros(2, np.float32)}, path, metadata=meta)
    assert load_metadata(path) == meta
    assert list(load_metadata(path)) == list(meta)       # written in the order given
    save_file({"a": np.zeros(2, np.float32)}, path)
    assert load_metadata(path) == {}
    save_file({}, path, metadata={})
    assert load_metadata(path) == {} and load_file(path) == {}


def test_memory_mapped_arrays_are_read_only_views(tmp_path, rng):
    tensors = {"w": rng.standard_normal((4, 5)).astype(np.float32), "i": np.arange(7)}
    path = tmp_path / "x.safetensors"
    save_file(tensors, path)
    loaded = load_file(path)
    for name, array in loaded.items():
        np.testing.assert_array_equal(array, tensors[name])
        assert not array.flags.writeable and not array.flags.owndata
        assert type(array) is np.ndarray
        with pytest.raises(ValueError):
            array[...] = 0
    # Both views share one buffer: the file's memory map.
    bases = set()
    for array in loaded.values():
        base = array
        while isinstance(base, np.ndarray):
            base = base.base
        if isinstance(base, memoryview):
            base = base.obj
        assert isinstance(base, mmap.mmap)
        bases.add(id(base))
    assert len(bases) == 1
    copied = load_file(path, mmap=False)
    assert all(a.flags.writeable and a.flags.owndata for a in copied.values())
    copied["w"][0, 0] = 42.0                            # writes only the copy
    assert load_file(path)["w"][0, 0] == tensors["w"][0, 0]


def test_mapped_arrays_survive_the_file_being_replaced(tmp_path):
    path = tmp_path / "x.safetensors"
    save_file({"a": np.arange(4.0)}, path)
    old = load_file(path)
    save_file({"a": np.arange(4.0) + 10}, path)
    np.testing.assert_array_equal(old["a"], np.arange(4.0))
    np.testing.assert_array_equal(load_file(path)["a"], np.arange(4.0) + 10)


def test_layout_matches_the_reference_rule(tmp_path):
    names = {"u": np.uint64, "z": np.float64, "b": np.float64, "c": np.complex64, "f": np.float32,
             "w": np.uint32, "i": np.int32, "bf": np.float32, "h": np.float16, "v": np.uint16,
             "s": np.int16, "y": np.int8, "a": np.uint8, "é": np.bool_, "e": np.bool_,
             "l": np.int64}
    tensors = {name: np.ones(3, dtype) for name, dtype in names.items()}
    path = tmp_path / "x.safetensors"
    save_file(tensors, path, metadata={"k": "v"}, dtypes={"bf": "BF16"})
    header = read_header(path)
    # Widest dtype first in the reference's enum order, then by name.
    assert list(header) == ["u", "l", "b", "z", "c", "f", "w", "i", "bf", "h", "v", "s", "y",
                            "a", "e", "é"]
    assert list(load_file(path)) == list(header)       # loaded in header order
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and raw[8 + n - 1:8 + n] in (b"}", b" ")
    text = raw[8:8 + n].decode()
    assert text.startswith('{"__metadata__":{"k":"v"},"u":{"dtype":"U64","shape":[3],'
                           '"data_offsets":[0,24]},')
    for info in header.values():
        begin, _ = info["data_offsets"]
        assert begin % (2 if info["dtype"] == "BF16" else np.dtype(DTYPES[info["dtype"]]).itemsize) == 0


def test_reference_serialization_bytes(tmp_path):
    # The reference crate's own unit tests spell out these files byte for byte.
    data = np.arange(6, dtype=np.float32)
    path = tmp_path / "x.safetensors"
    save_file({"attn.0": data.reshape(1, 2, 3)}, path)
    assert path.read_bytes() == bytes(
        [64, 0, 0, 0, 0, 0, 0, 0]) + b'{"attn.0":{"dtype":"F32","shape":[1,2,3],' \
        b'"data_offsets":[0,24]}}' + data.tobytes()
    save_file({"attn0": data.reshape(1, 1, 2, 3)}, path)
    assert path.read_bytes() == bytes([72, 0, 0, 0, 0, 0, 0, 0]) + \
        b'{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}' + b" " * 7 + \
        data.tobytes()
    save_file({}, path)
    assert path.read_bytes() == bytes([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
    save_file({}, path, metadata={"framework": "pt"})
    assert path.read_bytes() == bytes([40, 0, 0, 0, 0, 0, 0, 0]) + \
        b'{"__metadata__":{"framework":"pt"}}' + b" " * 5


def test_shared_memory_is_written_as_independent_copies(tmp_path):
    weight = np.arange(6.0).reshape(2, 3)
    save_file({"a": weight, "b": weight, "c": weight.T}, tmp_path / "x.safetensors")
    loaded = load_file(tmp_path / "x.safetensors", mmap=False)
    np.testing.assert_array_equal(loaded["b"], weight)
    np.testing.assert_array_equal(loaded["c"], weight.T)
    loaded["a"][0, 0] = 100.0
    assert loaded["b"][0, 0] == 0.0


def test_paths_scalars_and_array_likes(tmp_path):
    class ArrayLike:
        def __array__(self, dtype=None, copy=None):
            return np.array([1, 2], dtype=np.int32)

    save_file({"s": np.float32(2.5), "like": ArrayLike()}, str(tmp_path / "x"))
    loaded = load_file(os.fsencode(str(tmp_path / "x")))
    assert loaded["s"].shape == () and loaded["s"] == np.float32(2.5)
    assert loaded["like"].dtype == np.int32 and loaded["like"].tolist() == [1, 2]


def test_write_through_a_symlink_replaces_the_target(tmp_path):
    target = tmp_path / "real.safetensors"
    save_file({"a": np.zeros(1)}, target)
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    save_file({"a": np.ones(1)}, link)
    assert link.is_symlink()
    np.testing.assert_array_equal(load_file(target)["a"], [1.0])


# ------------------------------------------------------------------------------------------
# Atomic writes
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, error):
    path = tmp_path / "model.safetensors"
    save_file({"a": np.arange(3.0)}, path)
    before = path.read_bytes()
    real_write = sf._write_array
    calls = []

    def write_then_fail(f, array):          # the second tensor fails halfway through
        calls.append(array)
        if len(calls) == 2:
            f.write(b"\x00" * 3)
            raise error
        real_write(f, array)

    monkeypatch.setattr(sf, "_write_array", write_then_fail)
    with pytest.raises(type(error)):
        save_file({"a": np.ones(1000), "b": np.ones(1000)}, path)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]


def test_a_failed_fsync_leaves_no_file_where_there_was_none(tmp_path, monkeypatch):
    def fail(fd):
        raise OSError("I/O error")
    monkeypatch.setattr(sf.os, "fsync", fail)
    with pytest.raises(OSError, match="I/O error"):
        save_file({"a": np.ones(4)}, tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == []


def test_bad_arguments_fail_before_touching_the_disk(tmp_path):
    path = tmp_path / "x.safetensors"
    save_file({"a": np.zeros(1)}, path)
    before = path.read_bytes()
    cases = [
        (TypeError, "tensors must be a dict", ([np.zeros(1)],), {}),
        (TypeError, "tensor names must be strings, got int 3", ({3: np.zeros(1)},), {}),
        (ValueError, "'__metadata__' is reserved", ({"__metadata__": np.zeros(1)},), {}),
        (ValueError, "not valid Unicode", ({"\ud800": np.zeros(1)},), {}),
        (TypeError, "tensor 'a': expected a NumPy array, got str", ({"a": "text"},), {}),
        (TypeError, "tensor 'a': dtype object cannot be stored",
         ({"a": np.array([None])},), {}),
        (TypeError, "tensor 'a': dtype complex128 cannot be stored", ({"a": np.zeros(1, complex)},), {}),
        (TypeError, r"tensor 'a': dtype <U1 cannot be stored", ({"a": np.array(["x"])},), {}),
        (TypeError, "metadata must map str to str", ({},), {"metadata": {"k": 1}}),
        (TypeError, "metadata must be a dict", ({},), {"metadata": [("k", "v")]}),
        (ValueError, "metadata holds", ({},), {"metadata": {"k": "\udcff"}}),
        (ValueError, r"dtypes\['a'\] is 'F8_E4M3'", ({"a": np.zeros(1)},),
         {"dtypes": {"a": "F8_E4M3"}}),
        (ValueError, r"dtypes names \['b'\]", ({"a": np.zeros(1)},), {"dtypes": {"b": "F32"}}),
        (TypeError, "cannot be stored as BF16", ({"a": np.array([None])},), {"dtypes": {"a": "BF16"}}),
    ]
    for error, message, args, kwargs in cases:
        with pytest.raises(error, match=message):
            save_file(*args, path, **kwargs)
        assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["x.safetensors"]


# ------------------------------------------------------------------------------------------
# dtypes= and bfloat16
# ------------------------------------------------------------------------------------------

def bf16_nearest_even(x):
    """Reference rounding in exact float64 arithmetic: the two neighbouring bfloat16 values
    (8 significant bits, exponent at least -126), the nearer one, ties to the even one."""
    out = []
    for value in np.asarray(x, np.float32).reshape(-1):
        value = float(value)
        if math.isnan(value):
            out.append(0x7FC0)
            continue
        magnitude = abs(value)
        if magnitude == 0 or math.isinf(magnitude):
            rounded = magnitude
        else:
            exponent = max(math.frexp(magnitude)[1] - 1, -126)
            ulp = 2.0 ** (exponent - 7)
            steps = math.floor(magnitude / ulp)
            rest = magnitude / ulp - steps
            if rest > 0.5 or (rest == 0.5 and steps % 2 == 1):
                steps += 1
            rounded = steps * ulp
            if rounded >= 2.0 ** 128:
                rounded = math.inf
        rounded = math.copysign(rounded, value)
        out.append(int(np.array(rounded, np.float32).view(np.uint32)) >> 16)
    return np.array(out, np.uint16)


def test_bfloat16_rounding_cases():
    x = np.array([1.0, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -(1 + 2 ** -8 + 2 ** -20),
                  0.0, -0.0, np.inf, -np.inf, np.finfo(np.float32).max, -np.finfo(np.float32).max,
                  np.finfo(np.float32).tiny, 1e-45, 3.0, 1 / 3], np.float32)
    want = np.array([1.0, 1.0, 1 + 2 ** -6, 1 + 2 ** -7, -(1 + 2 ** -7), 0.0, -0.0, np.inf, -np.inf,
                     np.inf, -np.inf, np.finfo(np.float32).tiny, 0.0, 3.0, 0.333984375], np.float32)
    got = sf.bfloat16_bits_to_float32(sf.float32_to_bfloat16_bits(x))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    assert np.signbit(got[6]) and not np.signbit(got[5])
    assert sf.float32_to_bfloat16_bits(np.float32(np.nan)) == 0x7FC0
    assert sf.float32_to_bfloat16_bits(np.array(1.0)).shape == ()
    assert sf.bfloat16_bits_to_float32(np.uint16(0x3F80)).shape == ()


def test_every_bfloat16_survives_widening_and_rounding_back():
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    back = sf.float32_to_bfloat16_bits(sf.bfloat16_bits_to_float32(bits))
    is_nan = ((bits & 0x7F80) == 0x7F80) & ((bits & 0x7F) != 0)
    np.testing.assert_array_equal(back[~is_nan], bits[~is_nan])
    assert (back[is_nan] == 0x7FC0).all()


@given(hnp.arrays(np.float32, st.integers(0, 30),
                  elements=st.floats(width=32, allow_nan=True, allow_infinity=True)))
def test_bfloat16_rounding_is_nearest_even(x):
    np.testing.assert_array_equal(sf.float32_to_bfloat16_bits(x), bf16_nearest_even(x))


def test_save_as_bfloat16_and_other_dtypes(tmp_path, rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    path = tmp_path / "x.safetensors"
    save_file({"x": x, "x64": x.astype(np.float64).T, "h": x, "big": np.array([1e300, -1e300])},
              path, dtypes={"x": "BF16", "x64": "BF16", "h": "F16", "big": "F32"})
    header = read_header(path)
    assert [header[k]["dtype"] for k in ("x", "x64", "h", "big")] == ["BF16", "BF16", "F16", "F32"]
    assert header["x"]["data_offsets"][1] - header["x"]["data_offsets"][0] == 24
    for use_mmap in (True, False):
        loaded = load_file(path, mmap=use_mmap)
        expected = sf.bfloat16_bits_to_float32(sf.float32_to_bfloat16_bits(x))
        assert loaded["x"].dtype == np.float32 and loaded["x"].flags.writeable != use_mmap
        np.testing.assert_array_equal(loaded["x"], expected)
        np.testing.assert_array_equal(loaded["x64"], expected.T)
        assert np.abs(loaded["x"] - x).max() <= np.abs(x).max() * 2 ** -8
        np.testing.assert_array_equal(loaded["h"], x.astype(np.float16))
        np.testing.assert_array_equal(loaded["big"], [np.inf, -np.inf])


# ------------------------------------------------------------------------------------------
# A property over random dicts of arrays
# ------------------------------------------------------------------------------------------

NAMES = st.text(max_size=6).filter(lambda name: name != "__metadata__")
ARRAYS = st.sampled_from(sorted(DTYPES)).flatmap(
    lambda code: hnp.arrays(DTYPES[code], hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                           max_side=3)))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("safetensors")


@settings(max_examples=40)
@given(tensors=st.dictionaries(NAMES, ARRAYS, max_size=5),
       metadata=st.none() | st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
       transpose=st.booleans())
def test_random_dicts_round_trip(scratch, tensors, metadata, transpose):
    if transpose:
        tensors = {name: array.T for name, array in tensors.items()}
    path = scratch / "property.safetensors"
    save_file(tensors, path, metadata=metadata)
    assert load_metadata(path) == (metadata or {})
    for use_mmap in (True, False):
        loaded = load_file(path, mmap=use_mmap)
        assert set(loaded) == set(tensors)
        for name, array in tensors.items():
            assert_same(loaded[name], array)
    raw = path.read_bytes()
    assert (8 + struct.unpack("<Q", raw[:8])[0]) % 8 == 0


# ------------------------------------------------------------------------------------------
# Hostile files: each problem has its own message
# ------------------------------------------------------------------------------------------

F32x1 = entry("F32", [1], [0, 4])
HOSTILE = [
    ("short", None, b"\x01\x02\x03", "is 3 bytes, too short for the 8-byte header length"),
    ("empty", None, b"", "is 0 bytes, too short"),
    ("header over the limit", None, struct.pack("<Q", 100_000_001) + b"{}",
     "header length 100000001 exceeds the limit of 100000000 bytes"),
    ("header length 2**64-1", None, struct.pack("<Q", 2 ** 64 - 1) + b"{}",
     "header length 18446744073709551615 exceeds the limit"),
    ("header past the end", None, struct.pack("<Q", 50) + b"{}",
     r"header length 50 runs past the end of the file \(10 bytes\)"),
    ("not utf-8", b'{"\xff":1}', b"", r"header is not valid UTF-8 \(byte 0xff at 2\)"),
    ("not json", b'{"a":', b"", "header is not valid JSON: Expecting value"),
    ("trailing garbage", b"{}\x00\x00", b"", "header is not valid JSON: Extra data"),
    ("empty header", b"", b"", "header is not valid JSON"),
    ("nan", b'{"__metadata__":{"a":NaN}}', b"", "NaN is not a JSON value"),
    ("deep nesting", b"[" * 100_000, b"", "nested too deeply"),
    ("huge integer", b'{"a":{"dtype":"F32","shape":[' + b"9" * 100_000 + b'],"data_offsets":[0,4]}}',
     b"\0" * 4, "header has an integer of 100000 digits"),
    ("a list", b"[]", b"", "header is a list, expected a JSON object"),
    ("a string", b'"x"', b"", "header is a string, expected a JSON object"),
    ("duplicate key", b'{"a":' + json.dumps(F32x1).encode() + b',"a":'
     + json.dumps(F32x1).encode() + b"}", b"\0" * 4, "header has the key 'a' twice"),
    ("duplicate field", b'{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
     b"\0" * 4, "header has the key 'dtype' twice"),
    ("lone surrogate name", b'{"\\ud800":' + json.dumps(F32x1).encode() + b"}", b"\0" * 4,
     r"tensor name '\\ud800' is not valid Unicode"),
    ("metadata a list", {"__metadata__": ["a"]}, b"", "__metadata__ is a list, expected an object"),
    ("metadata value int", {"__metadata__": {"k": 1}}, b"",
     "__metadata__ value of 'k' is an integer, expected a string"),
    ("metadata value null", {"__metadata__": {"k": None}}, b"",
     "__metadata__ value of 'k' is null, expected a string"),
    ("entry not object", {"a": [1]}, b"",
     "tensor 'a' is a list, expected an object with dtype, shape and data_offsets"),
    ("missing dtype", {"a": {"shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4,
     "tensor 'a' has no 'dtype'"),
    ("missing shape", {"a": {"dtype": "F32", "data_offsets": [0, 4]}}, b"\0" * 4,
     "tensor 'a' has no 'shape'"),
    ("missing offsets", {"a": {"dtype": "F32", "shape": [1]}}, b"\0" * 4,
     "tensor 'a' has no 'data_offsets'"),
    ("dtype not string", {"a": entry(4, [1], [0, 4])}, b"\0" * 4,
     "tensor 'a': dtype is an integer, expected a string"),
    ("dtype float8", {"a": entry("F8_E4M3", [1], [0, 1])}, b"\0",
     "tensor 'a' has dtype 'F8_E4M3', which npformer cannot read \\(it reads BF16, BOOL"),
    ("dtype lowercase", {"a": entry("f32", [1], [0, 4])}, b"\0" * 4,
     "tensor 'a' has dtype 'f32', which npformer cannot read"),
    ("shape not list", {"a": entry("F32", 1, [0, 4])}, b"\0" * 4,
     "tensor 'a': shape is an integer, expected a list of non-negative integers"),
    ("negative dim", {"a": entry("F32", [-1], [0, 4])}, b"\0" * 4,
     r"tensor 'a': shape \[-1\] holds -1, expected non-negative integers"),
    ("float dim", {"a": entry("F32", [1.0], [0, 4])}, b"\0" * 4,
     r"tensor 'a': shape \[1.0\] holds 1.0, expected non-negative integers"),
    ("bool dim", {"a": entry("F32", [True], [0, 4])}, b"\0" * 4,
     r"tensor 'a': shape \[True\] holds True"),
    ("too many dims", {"a": entry("F32", [1] * 65, [0, 4])}, b"\0" * 4,
     "tensor 'a': shape has 65 dimensions, NumPy allows at most"),
    ("offsets three", {"a": entry("F32", [1], [0, 4, 4])}, b"\0" * 4,
     r"tensor 'a': data_offsets is \[0, 4, 4\], expected \[begin, end\], two non-negative integers"),
    ("offsets float", {"a": entry("F32", [1], [0, 4.0])}, b"\0" * 4,
     r"data_offsets is \[0, 4.0\], expected"),
    ("offsets negative", {"a": entry("F32", [1], [-4, 0])}, b"\0" * 4,
     r"data_offsets is \[-4, 0\], expected"),
    ("offsets dict", {"a": entry("F32", [1], {"0": 4})}, b"\0" * 4, r"data_offsets is \{'0': 4\}"),
    ("begin after end", {"a": entry("F32", [0], [4, 0])}, b"\0" * 4,
     "tensor 'a': data_offsets begin 4 is after end 0"),
    ("end beyond buffer", {"a": entry("F32", [2], [0, 8])}, b"\0" * 4,
     r"tensor 'a': data_offsets end 8 is beyond the data buffer \(4 bytes\)"),
    ("size mismatch", {"a": entry("F32", [2], [0, 4])}, b"\0" * 4,
     r"tensor 'a': dtype F32 with shape \[2\] needs 8 bytes, but data_offsets \[0, 4\] hold 4"),
    ("huge shape", {"a": entry("F32", [2 ** 40, 2 ** 40], [0, 4])}, b"\0" * 4,
     r"needs 4835703278458516698824704 bytes, but data_offsets \[0, 4\] hold 4"),
    ("u64 dims", {"a": entry("F64", [2 ** 64 - 1] * 30, [0, 8])}, b"\0" * 8,   # 30 dims: within NumPy 1.x too
     r"shape \[18446744073709551615, .*\.\.\. needs about 10\*\*\d+ bytes"),
    ("empty but huge", {"a": entry("F32", [0, 2 ** 62], [0, 0])}, b"",
     r"tensor 'a': shape \[0, 4611686018427387904\] is too large for NumPy"),
    ("overlap", {"a": entry("F32", [2], [0, 8]), "b": entry("F32", [1], [4, 8])}, b"\0" * 8,
     r"tensors 'a' and 'b' overlap: data_offsets \[0, 8\] and \[4, 8\]"),
    ("same bytes twice", {"a": F32x1, "b": F32x1}, b"\0" * 4,
     r"tensors 'a' and 'b' overlap"),
    ("empty tensor inside another", {"a": entry("F32", [2], [0, 8]), "b": entry("F32", [0], [4, 4])},
     b"\0" * 8, "tensors 'a' and 'b' overlap"),
    ("hole", {"a": F32x1, "b": entry("F32", [1], [8, 12])}, b"\0" * 12,
     r"bytes \[4, 8\) of the data buffer belong to no tensor \(a hole between tensors\)"),
    ("hole at start", {"b": entry("F32", [1], [4, 8])}, b"\0" * 8,
     r"bytes \[0, 4\) of the data buffer belong to no tensor"),
    ("trailing bytes", {"a": F32x1}, b"\0" * 9,
     r"bytes \[4, 9\) at the end of the data buffer belong to no tensor"),
    ("data but no tensors", {}, b"\0" * 3, r"bytes \[0, 3\) at the end"),
    ("long name is shortened", {"x" * 10_000: entry("F32", [2], [0, 4])}, b"\0" * 4,
     r"tensor 'xxxxx+\.\.\.: dtype F32"),
]


@pytest.mark.parametrize("header, buffer, message", [case[1:] for case in HOSTILE],
                         ids=[case[0] for case in HOSTILE])
def test_hostile_files_get_a_clear_error(tmp_path, header, buffer, message):
    path = tmp_path / "bad.safetensors"
    if header is None:
        path.write_bytes(buffer)
    else:
        raw_file(path, header, buffer)
    for read in (load_file, lambda p: load_file(p, mmap=False), read_header, load_metadata):
        with pytest.raises(SafetensorsError, match=message) as info:
            read(path)
        assert str(info.value).startswith(f"{path}: ")
        assert info.value.path == str(path) and len(str(info.value)) < 400
        assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("header, buffer, expected", [
    ({"b": entry("F32", [1], [4, 8]), "a": F32x1}, b"\0" * 4 + b"\0\0\x80\x3f", {"b": [1.0], "a": [0.0]}),
    ({"a": {**F32x1, "extra": [1, 2]}}, b"\0" * 4, {"a": [0.0]}),
    ({"__metadata__": None, "a": F32x1}, b"\0" * 4, {"a": [0.0]}),
    (b'  \n{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}\t ', b"\0" * 4, {"a": [0.0]}),
    ({"a": entry("F32", [0], [0, 0]), "b": entry("F32", [0], [0, 0]), "c": F32x1}, b"\0" * 4,
     {"a": [], "b": [], "c": [0.0]}),
    ({"a": entry("F32", [1], [0, 4]), "b": entry("U8", [0, 3], [4, 4])}, b"\0" * 4,
     {"a": [0.0], "b": np.zeros((0, 3))}),
    ({"a": entry("F16", [1], [0, 2]), "b": entry("F64", [1], [2, 10])}, b"\0" * 10,
     {"a": [0.0], "b": [0.0]}),           # unaligned F64 (not written by the reference) reads
])
def test_unusual_but_valid_files_load(tmp_path, header, buffer, expected):
    path = raw_file(tmp_path / "ok.safetensors", header, buffer)
    for use_mmap in (True, False):
        loaded = load_file(path, mmap=use_mmap)
        assert list(loaded) == list(expected)          # header order, not offset order
        for name, values in expected.items():
            np.testing.assert_array_equal(loaded[name], values)


def test_a_file_that_shrinks_while_read_is_an_error(tmp_path, monkeypatch):
    path = tmp_path / "x.safetensors"
    save_file({"a": np.arange(10.0)}, path)
    raw = path.read_bytes()
    path.write_bytes(raw[:-16])
    real_fstat = os.fstat

    def fstat_before_the_cut(fd):           # the size seen before another process cut the file
        fields = list(real_fstat(fd))[:10]
        fields[6] = len(raw)
        return os.stat_result(fields)

    monkeypatch.setattr(sf.os, "fstat", fstat_before_the_cut)
    with pytest.raises(SafetensorsError, match="file ended while reading tensor 'a'"):
        load_file(path, mmap=False)
    with pytest.raises(SafetensorsError, match="file changed size while being opened"):
        load_file(path)


# ------------------------------------------------------------------------------------------
# Fuzz: damaged files raise SafetensorsError, never anything else
# ------------------------------------------------------------------------------------------

def _valid_file_bytes():
    rng = np.random.default_rng(0)
    tensors = {"w": rng.standard_normal((2, 3)).astype(np.float32), "ids": np.arange(3),
               "m": np.array([True, False]), "h": np.ones(2, np.float16), "e": np.zeros((0, 2))}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.safetensors")
        save_file(tensors, path, metadata={"k": "v"}, dtypes={"h": "BF16"})
        with open(path, "rb") as f:
            return f.read()


VALID = _valid_file_bytes()
HEADER_END = 8 + struct.unpack("<Q", VALID[:8])[0]


# Edits land in the length and the header, where they matter, and are mostly JSON-ish bytes so
# that many damaged headers still parse and reach the later checks (sizes, offsets, coverage).
BYTE = st.sampled_from(list(b'0123456789[]{}",: -.eE')) | st.integers(0, 255)


@settings(max_examples=150)
@given(edits=st.lists(st.tuples(st.integers(0, HEADER_END - 1), BYTE), min_size=1, max_size=3),
       cut=st.sampled_from(["keep"] * 3 + ["cut"]), at=st.integers(0, len(VALID) - 1))
def test_damaged_files_raise_only_safetensors_error(scratch, edits, cut, at):
    raw = bytearray(VALID)
    for position, value in edits:
        raw[position] = value
    if cut == "cut":
        raw = raw[:at]
    path = scratch / "fuzz.safetensors"
    path.write_bytes(bytes(raw))
    for read in (load_file, lambda p: load_file(p, mmap=False), read_header):
        try:
            read(path)
        except SafetensorsError:
            pass


def test_dtype_kind_of_every_code_and_of_numpy_dtypes():
    expected = {"F64": "float", "F32": "float", "F16": "float", "BF16": "float", "C64": "complex", "I64": "int",
                "I32": "int", "I16": "int", "I8": "int", "U64": "int", "U32": "int", "U16": "int", "U8": "int",
                "BOOL": "bool"}
    assert {code: sf.dtype_kind(code) for code in sf._DTYPES} == expected
    for code, dtype in DTYPES.items():
        assert sf.dtype_kind(np.dtype(dtype)) == expected[code]
    for bad in ("F8", "U", object, "str"):
        with pytest.raises(ValueError, match="is neither a safetensors dtype"):
            sf.dtype_kind(bad)
