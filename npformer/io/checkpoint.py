"""Training checkpoints, written so that a crash or a full disk never costs a good one.

A run directory holds checkpoints as step directories, and a small ``latest.json`` naming
the newest complete one:

    run/
      latest.json                 {"checkpoint": "step-0002000"}   (replaced atomically)
      step-0002000/
        model.safetensors         the model's state dict
        optimizer.safetensors     the optimizer's state arrays
        trainer.json              step, config, optimizer hyperparameters, RNG states, ...
        <tokenizer files>

A new checkpoint is written into a temporary directory, flushed, renamed to its step name,
and only then does ``latest.json`` move to it; older step directories beyond ``keep`` are
removed after that. Every file write is itself atomic (temporary file, fsync, rename).
"""
import json
import os
import shutil
import tempfile

from .atomic import fsync_directory, write_atomic
from .safetensors import load_file, save_file

LATEST = "latest.json"
FILES = ("model.safetensors", "optimizer.safetensors", "trainer.json")


class CheckpointError(ValueError):
    """A checkpoint that cannot be written or read: a training checkpoint here, or a Hugging Face
    folder (npformer.interop): missing files, a bad index, unknown names, sizes that disagree."""


def save_checkpoint(run_dir, step, model_state, optimizer_arrays, meta, extra_files=None, keep=2):
    """Write a checkpoint for ``step`` and point latest.json at it. ``extra_files`` maps file
    names to str or bytes (e.g. the tokenizer's files). Returns the step directory."""
    os.makedirs(run_dir, exist_ok=True)
    name = f"step-{step:07d}"
    final = os.path.join(run_dir, name)
    staging = tempfile.mkdtemp(dir=run_dir, prefix=f".{name}-")
    try:
        save_file(dict(model_state), os.path.join(staging, "model.safetensors"))
        save_file(dict(optimizer_arrays), os.path.join(staging, "optimizer.safetensors"))
        write_atomic(os.path.join(staging, "trainer.json"), json.dumps(meta, indent=2, sort_keys=True))
        for file_name, content in (extra_files or {}).items():
            if os.path.basename(file_name) != file_name or file_name in FILES:
                raise CheckpointError(f"extra checkpoint file name {file_name!r} is not allowed")
            write_atomic(os.path.join(staging, file_name), content)
        fsync_directory(staging)
        if os.path.exists(final):                 # the same step again (e.g. a resumed run): replace it
            shutil.rmtree(final)
        os.rename(staging, final)
        write_atomic(os.path.join(run_dir, LATEST), json.dumps({"checkpoint": name}))
        fsync_directory(run_dir)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise CheckpointError(f"could not write the checkpoint for step {step} in {run_dir}: {error.strerror or error}"
                              f"; the previous checkpoint is untouched") from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(run_dir, keep, current=name)
    return final


def resolve_checkpoint(path):
    """A step directory: ``path`` itself, or the one a run directory's latest.json names."""
    if not os.path.isdir(path):
        raise CheckpointError(f"{path}: no such checkpoint directory")
    latest = os.path.join(path, LATEST)
    if os.path.isfile(latest):
        try:
            with open(latest, encoding="utf-8") as f:
                name = json.load(f)["checkpoint"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CheckpointError(f"{latest}: unreadable ({error!r})") from None
        path = os.path.join(path, os.path.basename(name))
    missing = [f for f in FILES if not os.path.isfile(os.path.join(path, f))]
    if missing:
        raise CheckpointError(f"{path}: not a complete checkpoint (missing {', '.join(missing)})")
    return path


def load_checkpoint(path):
    """(step directory, model state, optimizer arrays, meta) of a checkpoint or run directory."""
    path = resolve_checkpoint(path)
    try:
        with open(os.path.join(path, "trainer.json"), encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}/trainer.json: unreadable ({error})") from None
    model_state = load_file(os.path.join(path, "model.safetensors"), mmap=False)
    optimizer_arrays = load_file(os.path.join(path, "optimizer.safetensors"), mmap=False)
    return path, model_state, optimizer_arrays, meta


def _prune(run_dir, keep, current):
    steps = sorted(d for d in os.listdir(run_dir) if d.startswith("step-") and os.path.isdir(os.path.join(run_dir, d)))
    for old in steps[:-keep] if keep else []:
        if old != current:
            shutil.rmtree(os.path.join(run_dir, old), ignore_errors=True)
