"""Atomic file writes: a temporary file in the same directory, flushed to disk, then renamed
over the target, so a reader sees the old file or the new one, never half of either."""
import os
import tempfile


def write_atomic(path, content):
    """Write str (UTF-8) or bytes to ``path`` atomically."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


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
