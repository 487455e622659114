"""npformer's safetensors against the reference ``safetensors`` package: each reads the other's
files, and for the same tensors and metadata both write the same bytes."""
import json
import os
import struct
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

pytest.importorskip("safetensors", reason="safetensors is not installed: pip install safetensors "
                                          "(it comes with transformers, in the crosscheck extra)")
import safetensors  # noqa: E402
import safetensors.numpy as ref  # noqa: E402

from npformer.io import SafetensorsError, float32_to_bfloat16_bits, load_file, load_metadata, save_file  # noqa: E402
from tests.io.test_safetensors import DTYPES, SHAPES, entry, random_array, raw_file  # noqa: E402

METADATA = {"format": "np", "note": "é\u2028 \"quoted\" \\ \n\t\x01\x7f"}


def every_dtype_and_shape(rng):
    return {f"{code.lower()}.{i}": random_array(rng, dtype, shape)
            for code, dtype in DTYPES.items() for i, shape in enumerate(SHAPES)}


def assert_same_arrays(actual, expected):
    assert set(actual) == set(expected)
    for name in expected:
        a, e = np.asarray(actual[name]), np.asarray(expected[name])
        assert a.dtype == e.dtype and a.shape == e.shape, name
        assert a.tobytes() == np.ascontiguousarray(e).tobytes(), name


def split(raw):
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def test_npformer_files_load_in_the_reference(tmp_path, rng):
    tensors = every_dtype_and_shape(rng)
    tensors["transposed"] = rng.standard_normal((3, 5)).astype(np.float32).T
    tensors["big_endian"] = np.arange(4, dtype=">i4")
    path = tmp_path / "np.safetensors"
    save_file(tensors, path, metadata=METADATA)
    loaded = ref.load_file(path)
    tensors["big_endian"] = tensors["big_endian"].astype("<i4")
    assert_same_arrays(loaded, tensors)
    with safetensors.safe_open(path, framework="np") as f:
        assert f.metadata() == METADATA


def test_reference_files_load_in_npformer(tmp_path, rng):
    tensors = every_dtype_and_shape(rng)
    path = tmp_path / "ref.safetensors"
    ref.save_file(tensors, path, metadata=METADATA)
    for use_mmap in (True, False):
        assert_same_arrays(load_file(path, mmap=use_mmap), tensors)
    assert load_metadata(path) == METADATA


def test_same_bytes_both_ways(tmp_path, rng):
    tensors = every_dtype_and_shape(rng)
    for metadata in (None, {"format": "pt"}, {"unicode": METADATA["note"]}):
        ours = tmp_path / "ours.safetensors"
        save_file(tensors, ours, metadata=metadata)
        assert ours.read_bytes() == ref.save(tensors, metadata=metadata)
        theirs = tmp_path / "theirs.safetensors"
        ref.save_file(tensors, theirs, metadata=metadata)
        again = tmp_path / "again.safetensors"      # read theirs, write it back: same file
        save_file(load_file(theirs), again, metadata=load_metadata(theirs) if metadata else None)
        assert again.read_bytes() == theirs.read_bytes()


def test_several_metadata_keys_give_the_same_header_as_json(rng):
    # The reference keeps metadata in a hash map, so its key order varies from run to run:
    # with two or more keys the files agree as JSON and in data, not byte for byte.
    tensors = {"a": np.ones((2, 2), np.float32), "b": np.arange(3)}
    metadata = {f"key{i}": str(i) for i in range(6)}
    ours = _bytes_of(tensors, metadata)
    theirs = ref.save(tensors, metadata=metadata)
    assert len(ours) == len(theirs)
    (ours_header, ours_data), (their_header, their_data) = split(ours), split(theirs)
    assert ours_header == their_header and list(ours_header) == list(their_header)
    assert ours_data == their_data


def _bytes_of(tensors, metadata=None, dtypes=None):
    """What npformer's save_file writes, as bytes."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.safetensors")
        save_file(tensors, path, metadata=metadata, dtypes=dtypes)
        with open(path, "rb") as f:
            return f.read()


NAMES = st.text(max_size=6).filter(lambda name: name != "__metadata__")
ARRAYS = st.sampled_from(sorted(DTYPES)).flatmap(
    lambda code: hnp.arrays(DTYPES[code], hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                           max_side=3)))


@settings(max_examples=40)
@given(tensors=st.dictionaries(NAMES, ARRAYS, max_size=6),
       metadata=st.none() | st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                            min_size=1, max_size=1))
def test_random_dicts_give_the_same_bytes(tensors, metadata):
    ours = _bytes_of(tensors, metadata)
    assert ours == ref.save(tensors, metadata=metadata)
    assert_same_arrays(ref.load(ours), tensors)


def test_empty_file_with_empty_metadata(tmp_path):
    # The reference writes '{},"__metadata__":{}}' here, which is not JSON and which it cannot
    # read back itself; npformer writes '{"__metadata__":{}}', which both read.
    path = tmp_path / "x.safetensors"
    save_file({}, path, metadata={})
    assert path.read_bytes()[8:].rstrip() == b'{"__metadata__":{}}'
    assert ref.load_file(path) == {}
    assert load_file(path) == {}


@pytest.mark.parametrize("header, buffer", [
    ({"a": entry("F32", [1], [0, 4]), "b": entry("F32", [1], [8, 12])}, b"\0" * 12),   # hole
    ({"a": entry("F32", [1], [0, 4])}, b"\0" * 8),                                       # trailing
    ({"a": entry("F32", [2], [0, 8]), "b": entry("F32", [1], [4, 8])}, b"\0" * 8),       # overlap
    ({"a": entry("F32", [1], [0, 4]), "b": entry("F32", [1], [0, 4])}, b"\0" * 4),       # aliasing
    ({"a": entry("F32", [2], [0, 4])}, b"\0" * 4),                                       # size
    ({"a": entry("F32", [0], [4, 0])}, b"\0" * 4),                                       # begin > end
    ({"a": entry("F32", [-1], [0, 4])}, b"\0" * 4),                                      # negative
    ({"a": entry("F32", [2 ** 40, 2 ** 40], [0, 4])}, b"\0" * 4),                        # overflow
    ({"__metadata__": {"k": 1}}, b""),                                                   # metadata
    (b"{}\0", b""),                                                                      # not JSON
])
def test_files_the_reference_rejects_npformer_rejects(tmp_path, header, buffer):
    path = raw_file(tmp_path / "bad.safetensors", header, buffer)
    with pytest.raises(Exception):
        ref.load_file(path)
    with pytest.raises(SafetensorsError):
        load_file(path)


@pytest.mark.parametrize("header, buffer", [
    ({"b": entry("F32", [1], [4, 8]), "a": entry("F32", [1], [0, 4])}, b"\0" * 8),     # unsorted
    ({"a": {**entry("F32", [1], [0, 4]), "extra": 1}}, b"\0" * 4),                     # extra field
    ({"__metadata__": None, "a": entry("F32", [1], [0, 4])}, b"\0" * 4),                # null metadata
    ({"a": entry("F32", [0], [0, 0]), "b": entry("F32", [0], [0, 0])}, b""),            # empty twice
])
def test_files_the_reference_accepts_npformer_accepts(tmp_path, header, buffer):
    path = raw_file(tmp_path / "ok.safetensors", header, buffer)
    assert_same_arrays(load_file(path), ref.load_file(path))


# ------------------------------------------------------------------------------------------
# bfloat16, through torch
# ------------------------------------------------------------------------------------------

def special_float32s(rng):
    tiny, big = np.finfo(np.float32).tiny, np.finfo(np.float32).max
    ties = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 2 ** -130 * 1.5], np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, tiny, -tiny, big, -big, 1e-45, 3e38], np.float32)
    noise = rng.standard_normal(200).astype(np.float32) * np.float32(10.0) ** rng.integers(-40, 38, 200)
    bits = rng.integers(0, 2 ** 32, 200, dtype=np.uint64).astype(np.uint32).view(np.float32)
    values = np.concatenate([ties, special, noise.astype(np.float32), bits])
    return values[~np.isnan(values)]       # NaN payloads differ (torch writes 0xFFFF here)


def test_torch_bfloat16_file_reads_as_float32(tmp_path, rng):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    import safetensors.torch
    values = special_float32s(rng)
    x = torch.from_numpy(values[:len(values) // 8 * 8].reshape(-1, 8)).to(torch.bfloat16)
    path = tmp_path / "bf16.safetensors"
    safetensors.torch.save_file({"x": x, "nan": torch.tensor([float("nan")], dtype=torch.bfloat16),
                                 "scalar": torch.tensor(1.5, dtype=torch.bfloat16)}, path)
    for use_mmap in (True, False):
        loaded = load_file(path, mmap=use_mmap)
        assert loaded["x"].dtype == np.float32 and loaded["x"].shape == tuple(x.shape)
        assert loaded["x"].tobytes() == x.float().numpy().tobytes()    # exact, including -0.0
        assert np.isnan(loaded["nan"]).all()
        assert loaded["scalar"].shape == () and loaded["scalar"] == 1.5


def test_npformer_bfloat16_bytes_equal_torch(tmp_path, rng):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    import safetensors.torch
    x32 = special_float32s(rng)
    x64 = rng.standard_normal(300) * 10.0 ** rng.integers(-30, 30, 300)
    x64[:3] = [1 + 2 ** -8 + 2 ** -30, 1e300, -1e-300]      # double rounding through float32
    ours = _bytes_of({"x32": x32, "x64": x64, "s": np.float32(1.5)},
                     dtypes={"x32": "BF16", "x64": "BF16", "s": "BF16"})
    theirs = safetensors.torch.save({"x32": torch.from_numpy(x32).to(torch.bfloat16),
                                     "x64": torch.from_numpy(x64).to(torch.bfloat16),
                                     "s": torch.tensor(1.5).to(torch.bfloat16)})
    assert ours == theirs
    np.testing.assert_array_equal(float32_to_bfloat16_bits(x32),
                                  torch.from_numpy(x32).to(torch.bfloat16).view(torch.int16)
                                  .numpy().view(np.uint16))
