"""Training checkpoints, written so that a crash, a kill or a full disk never costs a good one.

A run directory holds checkpoints as step directories, and a small ``latest.json`` naming
the newest complete one:

    run/
      latest.json                 {"checkpoint": "step-0002000"}   (replaced atomically)
      step-0002000/
        model.safetensors         the model's state dict
        optimizer.safetensors     the optimizer's state arrays
        trainer.json              step, config, optimizer hyperparameters, RNG states, ...
        <tokenizer files>

``latest.json`` is the commit point. A save goes:

1. write every file into a staging directory ``.npformer-staging-step-NNNNNNN-*`` (each file
   flushed to disk), and flush the directory;
2. rename the staging directory to ``step-NNNNNNN`` (a step directory that ``latest.json``
   does not name is moved aside to ``.npformer-trash-*`` first: it is a leftover of a save that
   was killed before its commit);
3. replace ``latest.json`` (a temporary file, flushed, renamed over it);
4. prune: the step directories beyond the newest ``keep`` are renamed to ``.npformer-trash-*``,
   then deleted; the one ``latest.json`` names never is.

A run that has started but has no checkpoint yet has ``latest.json`` = {"checkpoint": null}
(:func:`mark_started`), so step directories without a latest.json are damage, not a run to
restart. A process killed at any instant therefore leaves ``latest.json`` naming a complete
checkpoint (the old one or the new one) or none yet, plus at worst some ``.npformer-*``
entries, which :func:`clean_run_dir` removes when the next writer starts. The directory
``latest.json`` names is never replaced: a step is checkpointed once. Non-finite weights are
refused, so a diverged model never replaces a good one.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from typing import Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from .atomic import TEMPORARY_PREFIX, default_mode, fsync_directory, write_atomic
from .files import SETTINGS_LIMIT, read_regular
from .safetensors import load_file, save_file

LATEST = "latest.json"
FILES = ("model.safetensors", "optimizer.safetensors", "trainer.json")
STEP_PATTERN = re.compile(r"step-([0-9]{7,})")
# what a crash can leave behind in a run directory, removed by clean_run_dir: npformer's staging,
# trash and temporary names, and the staging directories of npformer 0.1 (".step-NNNNNNN-" and
# mkdtemp's 8 characters)
LEFTOVER_PATTERN = re.compile(rf"\.npformer-(staging|trash)-.*|{re.escape(TEMPORARY_PREFIX)}.*|"
                              r"\.step-[0-9]{7,}-[a-z0-9_]{8}")
# latest.json holds one short name; anything larger is not one npformer wrote
MAX_LATEST_BYTES = 4096


class CheckpointError(ValueError):
    """The base of every checkpoint error. Raised itself for a checkpoint that cannot be read or
    must not be written: a training checkpoint here, or a Hugging Face folder (npformer.interop):
    missing files, a bad index, unknown names, sizes that disagree, non-finite weights."""


class CheckpointWriteError(OSError, CheckpointError):
    """The disk refused a checkpoint (full, read-only, ...); the previous checkpoint is untouched.
    An OSError first (the machine's problem, not the input's), and a CheckpointError, so one
    ``except CheckpointError`` sees every checkpoint failure."""


def _write_failed(step: int, run_dir: str, error: OSError) -> CheckpointWriteError:
    return CheckpointWriteError(error.errno, f"could not write the checkpoint for step {step} in {run_dir}: "
                                             f"{error.strerror or error}; the previous checkpoint is untouched: "
                                             f"free some space (or make the directory writable), then resume")


def step_name(step: int) -> str:
    """The name of the step directory of ``step``: ``step-0002000``."""
    return f"step-{step:07d}"


def step_of(name: str) -> Optional[int]:
    """The step number of a step directory's name, or None for any other name."""
    match = STEP_PATTERN.fullmatch(name)
    return int(match.group(1)) if match else None


NO_CHECKPOINT = ""        # what read_latest returns for a run that started but has no checkpoint yet


def read_latest(run_dir: str) -> Optional[str]:
    """The step directory name ``latest.json`` commits to; NO_CHECKPOINT when it says there is
    none yet ({"checkpoint": null}, written when a run starts); None when there is no latest.json."""
    latest = os.path.join(run_dir, LATEST)
    if not os.path.lexists(latest):
        return None
    try:
        name = json.loads(read_regular(latest, CheckpointError, MAX_LATEST_BYTES, follow_links=False))["checkpoint"]
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise CheckpointError(f"{latest}: unreadable ({error}); it should be "
                              f'{{"checkpoint": "step-NNNNNNN"}}') from None
    if name is None:
        return NO_CHECKPOINT
    if not isinstance(name, str) or step_of(name) is None:
        raise CheckpointError(f"{latest}: names {name!r}, which is not a step directory (step-NNNNNNN)")
    return name


def mark_started(run_dir: str) -> None:
    """Write ``latest.json`` = {"checkpoint": null} for a run that has none yet, so that a missing
    latest.json beside step directories always means damage, never a run killed early."""
    write_atomic(os.path.join(run_dir, LATEST), json.dumps({"checkpoint": None}))
    fsync_directory(run_dir)


def _non_finite(arrays):
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            return name
    return None


def save_checkpoint(run_dir: str, step: int, model_state: Mapping[str, np.ndarray],
                    optimizer_arrays: Mapping[str, np.ndarray], meta: dict,
                    extra_files: Optional[Mapping[str, Union[str, bytes]]] = None, keep: int = 2) -> str:
    """Write a checkpoint for ``step`` and point latest.json at it. ``extra_files`` maps file
    names to str or bytes (e.g. the tokenizer's files). Returns the step directory."""
    name = step_name(step)
    bad = _non_finite(model_state) or _non_finite(optimizer_arrays)
    if bad is not None:
        raise CheckpointError(f"refusing to write step {step}: {bad} holds non-finite values "
                              f"(the last checkpoint written is kept)")
    for file_name in extra_files or {}:
        if os.path.basename(file_name) != file_name or file_name in FILES or file_name.startswith("."):
            raise CheckpointError(f"extra checkpoint file name {file_name!r} is not allowed")
    if read_latest(run_dir) == name:
        raise CheckpointError(f"{os.path.join(run_dir, name)} is already the run's latest checkpoint; "
                              f"a step is checkpointed once")
    final = os.path.join(run_dir, name)
    try:
        staging = tempfile.mkdtemp(dir=run_dir, prefix=f".npformer-staging-{name}-")
        os.chmod(staging, default_mode(0o777))    # mkdtemp's 0700 would hide the checkpoint from the user's group
    except OSError as error:
        raise _write_failed(step, run_dir, error) from None
    try:
        save_file(dict(model_state), os.path.join(staging, "model.safetensors"))
        save_file(dict(optimizer_arrays), os.path.join(staging, "optimizer.safetensors"))
        write_atomic(os.path.join(staging, "trainer.json"), json.dumps(meta, indent=2, sort_keys=True,
                                                                       allow_nan=False))
        for file_name, content in (extra_files or {}).items():
            write_atomic(os.path.join(staging, file_name), content)
        fsync_directory(staging)
        replaced = None
        if os.path.lexists(final):          # not the committed checkpoint (checked above): set it aside
            replaced = os.path.join(run_dir, f".npformer-trash-{name}-{uuid.uuid4().hex[:8]}")
            os.rename(final, replaced)
        os.rename(staging, final)
        fsync_directory(run_dir)
        write_atomic(os.path.join(run_dir, LATEST), json.dumps({"checkpoint": name}))
        fsync_directory(run_dir)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise _write_failed(step, run_dir, error) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)
    prune(run_dir, keep)
    return final


def prune(run_dir: str, keep: int) -> None:
    """Remove all but the newest ``keep`` step directories (by step number), never the one
    latest.json names. Each is renamed away before it is deleted, so a kill midway leaves a
    ``.trash-*`` directory, never a half-deleted step directory."""
    committed = read_latest(run_dir)
    steps = step_directories(run_dir)
    for old in steps[:max(len(steps) - keep, 0)]:
        if old == committed:
            continue
        trash = os.path.join(run_dir, f".npformer-trash-{old}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(os.path.join(run_dir, old), trash)
        except OSError:
            continue                          # pruning is housekeeping: a failure costs disk, not data
        shutil.rmtree(trash, ignore_errors=True)


def clean_run_dir(run_dir: str) -> List[str]:
    """Remove what a killed writer left behind (staging, trash and temporary entries). Call it
    only while holding the run's lock (npformer.io.lock): a live writer's staging looks the same."""
    removed = []
    for entry in os.listdir(run_dir):
        if LEFTOVER_PATTERN.fullmatch(entry):
            path = os.path.join(run_dir, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.remove(path)
                except OSError:
                    continue
            removed.append(entry)
    return removed


def step_directories(run_dir: str) -> List[str]:
    """The step directories in ``run_dir``, oldest first (by step number)."""
    return [name for _, name in sorted((step_of(d), d) for d in os.listdir(run_dir)
                                       if step_of(d) is not None and os.path.isdir(os.path.join(run_dir, d)))]


def resolve_checkpoint(path: str) -> str:
    """A step directory: ``path`` itself, or the one a run directory's latest.json names."""
    if not os.path.isdir(path):
        raise CheckpointError(f"{path}: no such checkpoint directory")
    name = read_latest(path)
    if name == NO_CHECKPOINT:
        raise CheckpointError(f"{path} has no checkpoint yet (the run stopped before its first one)")
    if name is not None:
        path = os.path.join(path, name)
    elif not os.path.isfile(os.path.join(path, "trainer.json")):
        steps = step_directories(path)
        if not steps:
            raise CheckpointError(f"{path}: no checkpoint here (no latest.json and no step directory)")
        raise CheckpointError(f"{path} has step directories ({', '.join(steps[-3:])}) but no latest.json naming the "
                              f"complete one: name one of them, e.g. {os.path.join(path, steps[-1])}")
    missing = [f for f in FILES if not os.path.isfile(os.path.join(path, f))]
    if missing:
        raise CheckpointError(f"{path}: not a complete checkpoint (missing {', '.join(missing)})")
    return path


def read_json_object(path: str, limit: int = SETTINGS_LIMIT) -> dict:
    """A JSON object from ``path`` (trainer.json, run.json) of at most ``limit`` bytes, or
    CheckpointError naming the file."""
    try:
        value = json.loads(read_regular(path, CheckpointError, limit))
    except CheckpointError:
        raise
    except (OSError, ValueError, RecursionError) as error:
        raise CheckpointError(f"{path}: unreadable ({error})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return value


def read_meta(path: str) -> dict:
    """trainer.json of a step directory, as a dict."""
    return read_json_object(os.path.join(path, "trainer.json"))


def load_checkpoint(path: str) -> Tuple[str, Dict[str, np.ndarray], Dict[str, np.ndarray], dict]:
    """(step directory, model state, optimizer arrays, meta) of a checkpoint or run directory."""
    path = resolve_checkpoint(path)
    meta = read_meta(path)
    model_state = load_file(os.path.join(path, "model.safetensors"), mmap=False)
    optimizer_arrays = load_file(os.path.join(path, "optimizer.safetensors"), mmap=False)
    return path, model_state, optimizer_arrays, meta
