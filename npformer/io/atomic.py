"""Atomic file writes: a temporary file in the same directory, flushed to disk, then renamed
over the target, so a reader sees the old file or the new one, never half of either.

The temporary file is named ``.npformer-tmp-*`` (what a crash can leave behind, and what
npformer.io.checkpoint.clean_run_dir removes). The new file gets the mode the file it replaces
had, or else the mode a plain ``open(path, "w")`` would give (0666 less the umask), not the
0600 of ``tempfile.mkstemp``: a run's files stay as readable as the user's other files.
"""
import os
import tempfile

TEMPORARY_PREFIX = ".npformer-tmp-"


def write_atomic(path, content):
    """Write str (UTF-8) or bytes to ``path`` atomically."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    directory = os.path.dirname(os.path.abspath(path))
    mode = _mode_for(path)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):         # POSIX; elsewhere the default mode stays
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def default_mode(base=0o666):
    """``base`` less the process's umask: the mode a new file (0666) or directory (0777) gets."""
    mask = os.umask(0)
    os.umask(mask)
    return base & ~mask


def _mode_for(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return default_mode()


def fsync_directory(path):
    """Make a rename inside ``path`` durable (best effort: not every filesystem allows it)."""
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
