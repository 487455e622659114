"""A run's ``log.jsonl``: one strict JSON object per line, each with its ``step``.

Three things keep it JSON lines whatever happens to the process:

- values are strict JSON: a NaN or an infinity is written as ``null`` (Python's json module
  would write the bare literals ``NaN`` and ``Infinity``, which no JSON reader accepts);
- a record is one unbuffered ``write`` of a whole line; a full disk or a kill can still tear
  the last line, so
- :meth:`RunLog.open` repairs the file when a run starts or resumes: it keeps the complete,
  parseable lines whose step is at most the step the run continues from, and drops the rest
  (a torn tail, and records of steps that will be trained again), so each step appears once.
  The repaired file replaces the old one atomically.
"""
from __future__ import annotations

import errno
import json
import math
import os
from typing import Any, List, Tuple

from .atomic import write_atomic
from .files import read_regular


class RunLogError(OSError):
    """The log could not be written (a full disk, a read-only place)."""


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, so json.dumps(allow_nan=False) holds."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(item) for item in value]
    return value


def read_records(path: str) -> Tuple[List[dict], int]:
    """(records, dropped_lines): the log's complete JSON-object lines, and how many lines were
    not (a torn tail or damage). A missing file has no records."""
    try:
        raw = read_regular(path, lambda problem: RunLogError(0, f"{path}: {problem}; then resume the run"),
                           follow_links=False)
    except FileNotFoundError:
        return [], 0
    lines = raw.split(b"\n")
    tail = lines.pop()                        # after the last newline: empty, or a torn line
    records, dropped = [], int(bool(tail))
    for line in lines:
        try:
            record = json.loads(line.decode("utf-8"), parse_constant=_refuse)
        except (UnicodeDecodeError, ValueError, RecursionError):
            dropped += 1
            continue
        if isinstance(record, dict) and type(record.get("step")) is int:
            records.append(record)
        else:
            dropped += 1
    return records, dropped


def _refuse(name):
    raise ValueError(f"{name} is not JSON")


class RunLog:
    """Appends records to ``path``; :meth:`open` first repairs the file for a run at ``step``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = None

    def open(self, step: int) -> int:
        """Keep the records of steps <= ``step`` (0 for a fresh run: none), drop the rest and any
        damaged line, then open for appending. Returns the number of lines dropped."""
        records, dropped = read_records(self.path)
        kept = [r for r in records if r["step"] <= step]
        dropped += len(records) - len(kept)
        if dropped:
            try:
                write_atomic(self.path, "".join(_line(r) for r in kept))
            except OSError as error:
                raise RunLogError(error.errno, f"could not repair {self.path}: {error.strerror or error}; "
                                               f"{_advice(error)}") from None
        try:                                  # each record one write(2), no buffer, never through a link
            self._file = os.fdopen(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                                           | getattr(os, "O_NOFOLLOW", 0), 0o666), "ab", buffering=0)
        except OSError as error:
            raise RunLogError(error.errno, f"could not open {self.path}: {error.strerror or error}; "
                                           f"{_advice(error)}") from None
        return dropped

    def append(self, record: dict) -> None:
        data = _line(record).encode("utf-8")
        try:
            written = self._file.write(data)
            if written != len(data):
                raise OSError(0, f"wrote {written} of {len(data)} bytes")
        except OSError as error:
            raise RunLogError(error.errno, f"could not append to {self.path}: {error.strerror or error}; "
                                           f"{_advice(error)} (a torn last line is repaired then)") from None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _advice(error):
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space, then resume the run"
    return "make log.jsonl a writable file again (or move it away), then resume the run"


def _line(record):
    return json.dumps(strict(record), allow_nan=False) + "\n"
