"""One writer per run directory: an advisory lock on ``RUN/.lock``.

The lock is the operating system's (``flock`` on POSIX, ``msvcrt.locking`` on Windows), held on
an open file, so it is released when the process ends in any way, ``kill -9`` included: a
crashed run never leaves its directory locked. The file itself stays; it holds the pid of the
last holder, which only feeds the message a refused second writer prints.

Within one process the lock is re-entrant: the command line takes it before building a run and
the training loop takes it again, sharing one hold. Each RunLock object holds it at most once
(``with lock:`` after ``lock.acquire()`` does not count twice), and releases its own hold.
"""
from __future__ import annotations

import errno
import os

try:
    import fcntl
except ImportError:                           # Windows
    fcntl = None
    import msvcrt

LOCK_FILE = ".lock"


class RunLockedError(RuntimeError):
    """Another process is writing into the run directory."""


_held = {}                                    # real path -> [file, count] of the locks this process holds


class RunLock:
    """``with RunLock(run_dir): ...`` holds the directory's lock, or raises RunLockedError."""

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir
        self.key = os.path.realpath(run_dir)
        self.held = False                     # by this object: acquire() and release() pair up per object

    def acquire(self) -> RunLock:
        if self.held:
            return self
        if self.key in _held:
            _held[self.key][1] += 1
            self.held = True
            return self
        path = os.path.join(self.run_dir, LOCK_FILE)
        try:                                  # never through a link: the pid would be written where it points
            handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666), "r+b")
        except OSError as error:
            if error.errno not in (errno.ELOOP, errno.EISDIR, errno.ENXIO):
                raise                         # the directory itself refuses (read-only, ...): the caller says so
            raise RunLockedError(f"{path} cannot be used as the run's lock file ({error.strerror}): it must be a "
                                 f"regular file; move it away") from None
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read(32).decode("ascii", "replace").strip() or "unknown"
            handle.close()
            raise RunLockedError(f"{self.run_dir} is in use by another npformer process (pid {holder}): wait for it "
                                 f"to finish, or train into another --out directory") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode("ascii"))
        handle.flush()
        _held[self.key] = [handle, 1]
        self.held = True
        return self

    def release(self) -> None:
        entry = _held.get(self.key)
        if not self.held or entry is None:
            return
        self.held = False
        entry[1] -= 1
        if entry[1] == 0:
            del _held[self.key]
            _unlock(entry[0])
            entry[0].close()

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock(handle):
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)


def _unlock(handle):
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    else:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
