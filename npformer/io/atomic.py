"""Atomic file writes: a temporary file in the same directory, flushed to disk, then renamed
over the target, so a reader sees the old file or the new one, never half of either.

Every file npformer writes goes through :func:`atomic_writer` (safetensors files stream into
it; :func:`write_atomic` is its one-call form for text and small bytes).

The temporary file is named ``.npformer-tmp-*`` (what a crash can leave behind, and what
npformer.io.checkpoint.clean_run_dir removes). The new file gets the mode the file it replaces
had, or else the mode a plain ``open(path, "w")`` would give (0666 less the umask), not the
0600 of ``tempfile.mkstemp``: a run's files stay as readable as the user's other files.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import BinaryIO, Iterator, Union

TEMPORARY_PREFIX = ".npformer-tmp-"

PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


@contextlib.contextmanager
def atomic_writer(path: PathLike, *, follow_symlinks: bool = False,
                  sync_directory: bool = False) -> Iterator[BinaryIO]:
    """A binary file to write the new contents of ``path`` into, replacing it atomically.

    The file object writes to a temporary file beside ``path``. When the ``with`` block ends
    normally, the file is flushed, given its mode, fsynced and renamed over ``path``. When the
    block raises (an error, KeyboardInterrupt), the temporary file is removed and ``path`` is
    untouched.

    ``follow_symlinks``: when ``path`` is a symbolic link, replace the file it points to (the
    link stays) rather than the link itself. ``sync_directory``: also flush the directory, so
    the rename itself survives a power cut (a caller renaming several files there flushes it
    once itself, with :func:`fsync_directory`).
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    target = os.path.realpath(path) if follow_symlinks else os.path.abspath(path)
    directory = os.path.dirname(target)
    mode = _mode_for(target)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX)
    try:
        with os.fdopen(handle, "wb") as f:
            yield f
            f.flush()
            if hasattr(os, "fchmod"):         # POSIX; elsewhere the default mode stays
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise
    if sync_directory:
        fsync_directory(directory)


def write_atomic(path: PathLike, content: Union[str, bytes]) -> None:
    """Write str (UTF-8) or bytes to ``path`` atomically (see :func:`atomic_writer`)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    with atomic_writer(path) as f:
        f.write(data)


def default_mode(base: int = 0o666) -> int:
    """``base`` less the process's umask: the mode a new file (0666) or directory (0777) gets."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def _mode_for(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return default_mode()


def fsync_directory(path: PathLike) -> None:
    """Make a rename inside ``path`` durable (best effort: not every filesystem allows it, and
    Windows cannot open a directory)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
