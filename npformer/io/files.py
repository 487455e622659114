"""Opening a file npformer reads, trusting nothing about it: it must be a regular file (a FIFO
would block forever, a link to /dev/zero never ends) and, for the small files npformer writes
or reads beside checkpoints, no larger than a limit, checked before a byte is read.

The check is on the opened file (``fstat``), not the name, so nothing can be swapped in
between; a FIFO is opened without blocking so that it can be refused.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO, Callable, Optional, Type, Union

from .atomic import PathLike

# Limits for files that hold settings, not weights: config.json, trainer.json, run.json, a
# --config file, tokenizer_config.json, an index (the largest real ones are a few MB), and the
# tokenizer's own tables (vocab.json, merges.txt, vocab.txt, tokenizer.json: tens of MB).
SETTINGS_LIMIT = 64 * 2 ** 20
TOKENIZER_LIMIT = 512 * 2 ** 20


def open_regular(path: PathLike, error: Union[Type[Exception], Callable[[str], Exception]],
                 limit: Optional[int] = None, follow_links: bool = True) -> BinaryIO:
    """``path`` opened for binary reading, once it is known to be a regular file of at most
    ``limit`` bytes. Otherwise the problem is raised as ``error``: an exception class (given
    "PATH: problem") or a function of the problem that returns the exception. OSError from
    opening (no such file, permission) propagates unchanged."""
    def refuse(problem):
        return error(f"{path}: {problem}") if isinstance(error, type) else error(problem)

    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as failure:
        if not follow_links and os.path.islink(path):
            raise refuse("a symbolic link, where npformer reads and writes only a regular file: move it "
                         "away") from None
        if os.path.isdir(path):
            raise refuse("a directory, expected a file") from None
        raise failure
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise refuse("a directory, expected a file" if stat.S_ISDIR(info.st_mode)
                         else "a device, pipe or socket, not a regular file")
        if limit is not None and info.st_size > limit:
            raise refuse(f"{info.st_size:,} bytes, more than the {limit:,} such a file may hold")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: PathLike, error: Union[Type[Exception], Callable[[str], Exception]],
                 limit: Optional[int] = None, follow_links: bool = True) -> bytes:
    """The bytes of ``path``, under the checks of :func:`open_regular`."""
    with open_regular(path, error, limit, follow_links) as f:
        return f.read()
