"""npformer.io.atomic: the one atomic writer every file npformer writes goes through."""
import os
import stat

import numpy as np
import pytest

import npformer.interop
import npformer.io.atomic as atomic
import npformer.io.checkpoint
from npformer.interop import UnsupportedModelError
from npformer.io import load_file, save_file
from npformer.io.atomic import TEMPORARY_PREFIX, atomic_writer, write_atomic


def test_the_new_contents_replace_the_old_only_when_the_block_ends(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with atomic_writer(path) as f:
        f.write(b"new ")
        assert path.read_bytes() == b"old"                 # nothing visible before the rename
        temporaries = [n for n in os.listdir(tmp_path) if n.startswith(TEMPORARY_PREFIX)]
        assert len(temporaries) == 1
        f.write(b"contents")
    assert path.read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["f.bin"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failure_inside_the_block_keeps_the_old_file_and_removes_the_temporary(tmp_path, error):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(type(error)):
        with atomic_writer(path) as f:
            f.write(b"half")
            raise error
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="file modes are POSIX")
def test_a_replaced_file_keeps_its_mode_and_a_new_one_gets_the_umask_default(tmp_path):
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    os.chmod(kept, 0o640)
    write_atomic(kept, "[]")
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o640
    fresh = tmp_path / "fresh.safetensors"
    save_file({"a": np.zeros(1)}, fresh)            # not mkstemp's 0600
    assert stat.S_IMODE(os.stat(fresh).st_mode) == atomic.default_mode()
    os.chmod(fresh, 0o600)
    save_file({"a": np.ones(1)}, fresh)              # safetensors goes through the same writer
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_links_are_followed_only_when_asked(tmp_path):
    target = tmp_path / "target.txt"
    target.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    with atomic_writer(link, follow_symlinks=True) as f:
        f.write(b"through the link")
    assert link.is_symlink() and target.read_text() == "through the link"
    write_atomic(link, "over the link")              # the default: the link itself is replaced
    assert not link.is_symlink() and link.read_text() == "over the link"
    assert target.read_text() == "through the link"


def test_the_directory_is_flushed_only_when_asked(tmp_path, monkeypatch):
    flushed = []
    monkeypatch.setattr(atomic, "fsync_directory", flushed.append)
    write_atomic(tmp_path / "a.txt", "a")
    assert flushed == []
    save_file({"a": np.zeros(2)}, tmp_path / "b.safetensors")      # asks for it
    assert flushed == [str(tmp_path)]
    np.testing.assert_array_equal(load_file(tmp_path / "b.safetensors")["a"], [0.0, 0.0])


def test_bytes_paths_are_accepted(tmp_path):
    path = os.fsencode(str(tmp_path / "b.txt"))
    write_atomic(path, b"bytes")
    assert (tmp_path / "b.txt").read_bytes() == b"bytes"


def test_there_is_one_checkpoint_error_and_it_is_a_value_error():
    assert npformer.interop.CheckpointError is npformer.io.checkpoint.CheckpointError
    assert issubclass(npformer.io.checkpoint.CheckpointError, ValueError)
    assert issubclass(UnsupportedModelError, npformer.io.checkpoint.CheckpointError)
