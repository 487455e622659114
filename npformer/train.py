"""The training loop used by ``npformer train`` and the examples.

One step: forward, loss, backward (with gradient accumulation), clipping, the optimizer
step and the learning-rate schedule. Around it: periodic evaluation on the validation split,
a live progress line (step, loss, lr, tokens/s, ETA), a JSONL log of the curve, and
checkpoints (every N steps, at the end, and on Ctrl-C) from which ``--resume`` continues
exactly: every random stream (batches, dropout) is saved with the weights and the optimizer.

What is trained comes from a task (npformer.tasks): a GPT on a corpus, BERT's masked-LM
pretraining, or an encoder-decoder on a generated sequence task.

A run directory is the user's: the one named when the run is started or resumed, whatever a
checkpoint recorded. It holds

    run.json       the configuration and the corpus's fingerprint, written when the run starts
    log.jsonl      the curve (npformer.io.runlog)
    latest.json    the newest complete checkpoint, and step-NNNNNNN/ directories (npformer.io.checkpoint)
    .lock          one writer at a time (npformer.io.lock)

and the loop keeps it safe: a non-finite loss or gradient stops the run before the weights
change (nothing is written, the last checkpoint stays); a checkpoint is written once per step;
Ctrl-C finishes the current step, checkpoints and stops (twice: stops at once, without a
checkpoint); resuming a finished run changes nothing; extending a run keeps its learning-rate
schedule, which only an explicit ``lr``, ``min_lr``, ``warmup_steps`` or ``lr_decay_steps``
changes.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import signal
import sys
import threading
import time
import typing
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy as np

from . import optim
from .autograd.grad_mode import no_grad
from .autograd.random import Generator, default_generator
from .io.atomic import write_atomic
from .io.checkpoint import (
    NO_CHECKPOINT,
    CheckpointError,
    clean_run_dir,
    mark_started,
    read_json_object,
    read_latest,
    read_meta,
    resolve_checkpoint,
    save_checkpoint,
    step_directories,
    step_name,
    step_of,
)
from .io.lock import RunLock
from .io.runlog import RunLog
from .io.safetensors import SafetensorsError, dtype_kind, load_file, read_header
from .nn import shapes_only
from .nn import utils as nn_utils
from .nn.module import state_arrays

RUN_FILE = "run.json"
ACTIVATIONS = ("gelu", "gelu_tanh", "relu", "silu", "swiglu", "geglu", "geglu_tanh")
SEQ2SEQ_TASKS = ("reverse", "sort")


# a file or directory argument: a str or an os.PathLike
PathArg = Union[str, "os.PathLike[str]"]


class ConfigError(ValueError):
    """A training option with a wrong type or value."""


class TrainingStopped(RuntimeError):
    """The run stopped at ``step`` before max_steps; the message says why and what was kept."""

    def __init__(self, message: str, step: Optional[int] = None, why: Optional[str] = None) -> None:
        super().__init__(message)
        self.step, self.why = step, why


@dataclass
class TrainConfig:
    model: str = "gpt"                      # gpt | bert | seq2seq
    data: Optional[str] = None              # a UTF-8 text file; None: the built-in corpus
    tokenizer: str = "char"                 # char | bpe
    bpe_vocab_size: int = 512
    task: str = "reverse"                   # seq2seq: reverse | sort
    # the model
    n_layers: int = 4
    n_heads: int = 4
    d_model: int = 128
    block_size: int = 64
    dropout: float = 0.0
    bias: bool = False
    activation: str = "gelu"                # nanoGPT's MLP uses the exact GELU
    # the optimization (nanoGPT's CPU "baby GPT" settings by default)
    batch_size: int = 12
    grad_accumulation: int = 1
    max_steps: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    lr_decay_steps: Optional[int] = None    # default: max_steps when the run starts (kept when it is extended)
    weight_decay: float = 0.1
    decay_embeddings: bool = True           # nanoGPT decays every 2-D weight, embeddings included
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    # bookkeeping
    eval_interval: int = 250
    eval_steps: int = 20
    log_interval: int = 10
    checkpoint_interval: int = 500          # 0: only at the end (and on Ctrl-C)
    keep_checkpoints: int = 2
    seed: int = 1337
    out_dir: Optional[str] = None           # default: runs/<model>-<tokenizer>
    samples: int = 2
    sample_tokens: int = 200
    temperature: float = 0.8
    top_k: Optional[int] = 40               # 0 or None: no top-k filter

    # the options that shape the model and the data: a resumed run must agree on these (and on
    # decay_embeddings, which shapes the optimizer's parameter groups)
    SHAPE = ("model", "tokenizer", "bpe_vocab_size", "task", "n_layers", "n_heads", "d_model", "block_size", "bias",
             "activation")
    FIXED = SHAPE + ("decay_embeddings",)
    # the options that define the learning-rate schedule: a resumed run keeps them unless one is given
    SCHEDULE = ("lr", "min_lr", "warmup_steps", "lr_decay_steps")

    def __post_init__(self):
        _check_types(self)
        _check_values(self)
        if self.out_dir is None:
            kind = self.tokenizer if self.model != "seq2seq" else self.task
            self.out_dir = os.path.join("runs", f"{self.model}-{kind}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: Optional[str] = None) -> TrainConfig:
        """A config from a dict of options (e.g. a JSON file's object); errors name ``source``."""
        where = f"{source}: " if source else ""
        if not isinstance(values, dict):
            raise ConfigError(f"{where}expected a JSON object of training options, got {_kind(values)}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{where}unknown training option(s): {', '.join(map(str, unknown))}; known: "
                              f"{', '.join(sorted(known))}")
        try:
            return cls(**values)
        except ConfigError as error:
            raise ConfigError(f"{where}{error}") from None


def _kind(value):
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def _check_types(config):
    """Each option of the type its annotation names. NumPy scalars count as the Python numbers
    they stand for and are stored as those (so the config stays JSON)."""
    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value, hint = getattr(config, field.name), hints[field.name]
        optional = type(None) in typing.get_args(hint)
        base = next((t for t in typing.get_args(hint) if t is not type(None)), hint)
        if value is None and optional:
            continue
        number = not isinstance(value, (bool, np.bool_))
        fits = (isinstance(value, (bool, np.bool_)) if base is bool else
                number and isinstance(value, numbers.Integral) if base is int else
                number and isinstance(value, numbers.Real) if base is float else
                isinstance(value, base))
        if not fits:
            wanted = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[base]
            raise ConfigError(f"{field.name} must be {wanted}{' or null' if optional else ''}, got {_show(value)} "
                              f"({_kind(value)})")
        if base is float:
            try:
                value = float(value)
            except OverflowError:
                raise ConfigError(f"{field.name} must be a finite number, got an integer of "
                                  f"{len(str(value))} digits") from None
            if not math.isfinite(value):
                raise ConfigError(f"{field.name} must be a finite number, got {value!r}")
        object.__setattr__(config, field.name, base(value))
        if base is str and "\0" in value:
            raise ConfigError(f"{field.name} must not hold a NUL character, got {_show(value)}")


def _show(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _check_values(c):
    def need(condition, message):
        if not condition:
            raise ConfigError(message)

    choices = {"model": ("gpt", "bert", "seq2seq"), "tokenizer": ("char", "bpe"), "task": SEQ2SEQ_TASKS,
               "activation": ACTIVATIONS}
    for name, allowed in choices.items():
        need(getattr(c, name) in allowed, f"{name} must be one of {', '.join(allowed)}, got {getattr(c, name)!r}")
    for name in ("n_layers", "n_heads", "d_model", "block_size", "batch_size", "grad_accumulation", "max_steps",
                 "eval_interval", "eval_steps", "log_interval", "keep_checkpoints"):
        need(getattr(c, name) >= 1, f"{name} must be at least 1, got {getattr(c, name)}")
    for name in ("warmup_steps", "checkpoint_interval", "seed", "samples", "min_lr", "weight_decay", "grad_clip"):
        need(getattr(c, name) >= 0, f"{name} must be at least 0, got {getattr(c, name)}")
    # samples are printed after training: a bound keeps a typo from ending a finished run in an error
    need(c.samples <= 1000, f"samples must be at most 1000 (texts printed after training), got {c.samples}")
    need(1 <= c.sample_tokens <= 1_000_000, f"sample_tokens must be in [1, 1000000], got {c.sample_tokens}")
    need(c.d_model % c.n_heads == 0, f"d_model ({c.d_model}) must be a multiple of n_heads ({c.n_heads})")
    need(c.lr > 0, f"lr must be positive, got {c.lr}")
    need(c.lr_decay_steps is None or c.lr_decay_steps >= 0,
         f"lr_decay_steps must be at least 0, got {c.lr_decay_steps}")
    need(0 <= c.dropout < 1, f"dropout must be in [0, 1), got {c.dropout}")
    for name in ("beta1", "beta2"):
        need(0 <= getattr(c, name) < 1, f"{name} must be in [0, 1), got {getattr(c, name)}")
    need(c.temperature > 0, f"temperature must be positive (it divides the logits), got {c.temperature}")
    need(c.top_k is None or c.top_k >= 0, f"top_k must be at least 0 (0: no top-k filter), got {c.top_k}")
    need(c.bpe_vocab_size >= 256 + 5, f"bpe_vocab_size must be at least 261 (the 256 bytes of byte-level BPE and "
                                      f"up to 5 special tokens), got {c.bpe_vocab_size}")
    need(c.out_dir is None or c.out_dir.strip() != "", "out_dir must name a directory, got an empty string")
    need(c.data is None or c.data.strip() != "", "data must name a file, got an empty string")
    # a masked LM needs a token between [CLS] and [SEP], or every loss is 0/0
    need(c.model != "bert" or c.block_size >= 3, f"masked-LM pretraining needs block_size >= 3 ([CLS], at least one "
                                                 f"token to mask, [SEP]), got {c.block_size}")


# ---------------------------------------------------------------------------- run directories
def run_files(out_dir: str) -> List[str]:
    """The names in ``out_dir`` that belong to a training run (empty: no run there)."""
    if not os.path.isdir(out_dir):
        return []
    return sorted(n for n in os.listdir(out_dir)
                  if n in (RUN_FILE, "latest.json", "log.jsonl") or step_of(n) is not None)


def check_new_run_dir(out_dir: str) -> None:
    """Refuse to start a new run where a run already is, inside another run, or where no
    directory can be."""
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"--out {out_dir} is a file, not a directory: choose another --out")
    check_outside_runs(out_dir)
    if os.path.isfile(os.path.join(out_dir, "trainer.json")):
        raise ConfigError(f"--out {out_dir} is a checkpoint directory: choose another --out")
    held = run_files(out_dir)
    if held:
        raise ConfigError(f"{out_dir} already holds a training run ({', '.join(held[:4])}): continue it with "
                          f"--resume, or choose another --out directory (nothing was overwritten)")


def check_outside_runs(out_dir: str) -> None:
    """Refuse a run directory inside another run's (its pruning would delete a nested run)."""
    path = os.path.realpath(out_dir)
    parent = os.path.dirname(path)
    while parent != path:
        if _is_run_dir(parent):
            raise ConfigError(f"--out {out_dir} is inside the run directory {parent}: choose a directory outside it")
        path, parent = parent, os.path.dirname(parent)


def prepare_run_dir(out_dir: str) -> RunLock:
    """Create ``out_dir`` if needed and take its lock; a read-only place gets a clear error."""
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise ConfigError(f"--out {out_dir} is a file, not a directory: choose another --out")
    try:
        os.makedirs(out_dir, exist_ok=True)
        return RunLock(out_dir).acquire()
    except PermissionError as error:
        raise ConfigError(f"cannot write into {out_dir} ({error.strerror}): choose another --out") from None
    except OSError as error:
        raise ConfigError(f"cannot use {out_dir} as the run directory ({error.strerror or error}): "
                          f"choose another --out") from None
    except RecursionError:                    # os.makedirs recurses once a missing level
        raise ConfigError(f"cannot use {out_dir[:80]}... as the run directory (thousands of levels deep): choose "
                          f"another --out") from None


@dataclass
class _Saved:
    """What a run directory or checkpoint holds about a run, read and checked before any model exists."""
    config: TrainConfig
    data: Optional[dict]
    step_dir: Optional[str] = None          # None: the run has no checkpoint yet (it restarts from step 0)
    meta: Optional[dict] = None
    step: int = 0


def _read_saved(path):
    if not os.path.isdir(path):
        raise CheckpointError(f"{path}: no such run or checkpoint directory")
    run_file = os.path.join(path, RUN_FILE)
    latest = read_latest(path)
    if latest == NO_CHECKPOINT or (latest is None and os.path.isfile(run_file) and not step_directories(path)
                                   and not os.path.isfile(os.path.join(path, "trainer.json"))):
        # a run stopped before its first checkpoint: it starts again from step 0, exactly
        record = read_json_object(run_file)
        if record.get("format") != "npformer-run":
            raise CheckpointError(f"{run_file}: not an npformer run file")
        config = TrainConfig.from_dict(record.get("config"), source=run_file)
        return _Saved(config, _data_record(record.get("data"), config, run_file))
    step_dir = resolve_checkpoint(path)
    meta = read_meta(step_dir)
    source = os.path.join(step_dir, "trainer.json")
    if meta.get("format") != "npformer-training-checkpoint":
        raise CheckpointError(f"{source}: not an npformer training checkpoint")
    step = meta.get("step")
    if type(step) is not int or step < 0 or step_of(os.path.basename(step_dir)) not in (None, step):
        raise CheckpointError(f"{source}: step {step!r} does not match its directory {os.path.basename(step_dir)}")
    config = TrainConfig.from_dict(meta.get("config"), source=source)
    data = _data_record(meta.get("data"), config, source, required=meta.get("version") != 1)
    if config.lr_decay_steps is None:           # npformer 0.1: the schedule ended at the planned max_steps
        config.lr_decay_steps = config.max_steps
    return _Saved(config, data, step_dir, meta, step)


def _data_record(data, config, source, required=True):
    """The corpus fingerprint a run recorded (None for a generated task, or npformer 0.1's runs)."""
    if data is None and (not required or config.model == "seq2seq"):
        return None
    if not (isinstance(data, dict) and type(data.get("bytes")) is int and isinstance(data.get("sha256"), str)):
        raise CheckpointError(f"{source}: 'data' must record the corpus as {{\"bytes\": int, \"sha256\": str, ...}}, "
                              f"got {str(data)[:60]}")
    return data


def _path(value, name):
    """A path argument as a str, or ConfigError naming it."""
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value) or "\0" in os.fspath(value):
        raise ConfigError(f"{name} must name a file or directory, got {_show(value)}")
    return os.fspath(value)


def _data_path(saved, given):
    """Where a resumed or loaded run reads its text: ``given`` (made absolute), else the path it
    recorded, which must then be absolute (npformer 0.1 recorded relative paths)."""
    if given is not None:
        return os.path.abspath(given)
    if saved.config.data is not None and not os.path.isabs(saved.config.data):
        raise CheckpointError(f"the run recorded its data as the relative path {saved.config.data!r}, which "
                              f"depends on the working directory: pass --data with the file")
    return saved.config.data


# ---------------------------------------------------------------------------- the trainer
class Trainer:
    def __init__(self, config: TrainConfig, log: Optional[Any] = None, _saved: Optional[_Saved] = None) -> None:
        from .tasks import make_task
        self.config = config
        self.log = log or _Printer()
        self.step = 0 if _saved is None else _saved.step
        self.best_val_loss = None
        self.schedule_note = None
        if config.lr_decay_steps is None:     # fixed when the run starts, so extending it keeps the schedule
            config.lr_decay_steps = config.max_steps
        if _saved is None and config.data is not None:
            config.data = os.path.abspath(config.data)   # recorded independently of the working directory
        default_generator.manual_seed(config.seed)                    # init and dropout
        self.data_generator = Generator(config.seed + 1)              # batch sampling
        checkpoint = None if _saved is None else _saved.step_dir
        self.task = make_task(config, checkpoint=checkpoint, data_record=None if _saved is None else _saved.data)
        self.data_record = self.task.data_record
        # sizes first, checked before anything is allocated: the memory the config needs, then
        # (resuming) the weights file's header against the model's shapes
        weights = os.path.join(checkpoint, "model.safetensors") if checkpoint else None
        header = read_header(weights) if checkpoint else None
        _check_size(self.task, config, weights, header)
        state = None
        if checkpoint:
            with shapes_only():
                skeleton = self.task.build_model()
            state = _check_model_fits(skeleton, weights, header)
        self.model = self.task.model = self.task.build_model()
        groups = (optim.decay_groups(self.model, config.weight_decay) if not config.decay_embeddings
                  else _decay_two_dimensional(self.model, config.weight_decay))
        self.optimizer = optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))
        # a run shorter than its warmup warms up for all of it, as nanoGPT's get_lr does
        schedule = optim.WarmupCosine(config.lr, config.warmup_steps, config.lr_decay_steps, config.min_lr)
        self.scheduler = optim.ScheduleSetter(self.optimizer, schedule)
        self._saved_step = None
        self._destination = (None, None)      # a new run: its directory must hold no run (resume() sets it)
        if checkpoint:
            self._restore(checkpoint, state, _saved.meta)
            self._saved_step = self.step

    @property
    def finished(self) -> bool:
        return self.step >= self.config.max_steps

    # ------------------------------------------------------------------ one step
    def train_step(self) -> float:
        """Forward, backward over the accumulated micro-batches, clip, step, schedule. A
        non-finite loss or gradient raises TrainingStopped before the weights change (so NumPy's
        overflow warnings, which would only precede that message, are silenced here)."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._train_step()

    def _train_step(self):
        config = self.config
        self.model.train()
        total = 0.0
        for _ in range(config.grad_accumulation):
            batch = self.task.batch("train", self.data_generator)
            loss = self.task.loss(batch)
            value = loss.item()
            if not math.isfinite(value):
                raise self._diverged(f"the loss is {value}")
            (loss / config.grad_accumulation if config.grad_accumulation > 1 else loss).backward()
            total += value / config.grad_accumulation
        norm = nn_utils.clip_grad_norm_(self.model.parameters(), config.grad_clip if config.grad_clip > 0
                                        else math.inf).item()
        if not math.isfinite(norm):
            raise self._diverged(f"the gradient norm is {norm}")
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.scheduler.step()
        self.step += 1
        return total

    def _diverged(self, what, step=None, before_update=True):
        self.optimizer.zero_grad()
        c = self.config
        when = "before updating the weights" if before_update else "(nothing of it is written)"
        step = step or self.step + 1
        return TrainingStopped(f"step {step}: {what}, so training stopped {when}; {_kept(c.out_dir)}. Lower --lr "
                               f"(now {c.lr:g}) or --weight-decay (now {c.weight_decay:g}), or raise --warmup-steps "
                               f"(now {c.warmup_steps}), then resume", step, what)

    def evaluate(self) -> Dict[str, float]:
        """Mean loss over eval_steps batches of each split, from a generator seeded by the step
        (so evaluating never moves the training streams, and resumed runs evaluate alike)."""
        self.model.eval()
        results = {}
        # a diverged model's overflow warnings would only precede the loop's own message
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for split in ("train", "val"):
                generator = Generator(self.config.seed + 7 + self.step)
                losses = [self.task.loss(self.task.batch(split, generator)).item()
                          for _ in range(self.config.eval_steps)]
                results[f"{split}_loss"] = float(sum(losses) / len(losses))
            results.update(self.task.metrics())
        self.model.train()
        return results

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> str:
        """Checkpoint the current step into the run directory (once: a step already saved is
        not written again). Returns the step directory."""
        config = self.config
        if self._saved_step == self.step:
            return os.path.join(config.out_dir, step_name(self.step))
        broken = next((name for name, p in self.model.named_parameters() if not np.isfinite(p._data).all()), None)
        if broken is not None:                # a finite gradient can still overflow a weight in the update
            raise self._diverged(f"{broken} is no longer finite after the optimizer step", self.step, False)
        arrays, optimizer_meta = optim.state_dict_to_arrays(self.optimizer.state_dict(), prefix="")
        meta = {
            "format": "npformer-training-checkpoint",
            "version": 2,
            "step": self.step,
            "config": asdict(config),
            "data": self.data_record,
            "optimizer": optimizer_meta,
            "scheduler": self.scheduler.state_dict(),
            "rng": {"default": default_generator.get_state(), "data": self.data_generator.get_state()},
            "best_val_loss": self.best_val_loss,
            "task": self.task.state(),
        }
        path = save_checkpoint(config.out_dir, self.step, state_arrays(self.model), arrays, meta,
                               extra_files=self.task.files(), keep=config.keep_checkpoints)
        self._saved_step = self.step
        return path

    def _restore(self, step_dir, model_state, meta):
        source = os.path.join(step_dir, "trainer.json")
        optimizer_file = os.path.join(step_dir, "optimizer.safetensors")
        not_float = [name for name, entry in read_header(optimizer_file).items()
                     if dtype_kind(entry["dtype"]) != "float"]
        if not_float:
            raise CheckpointError(f"{optimizer_file}: {not_float[0]} is stored as "
                                  f"{read_header(optimizer_file)[not_float[0]]['dtype']}, not as floating point")
        # the configuration's hyperparameters win over the saved ones: a resumed run may change them
        chosen = [{"weight_decay": group["weight_decay"], "betas": group["betas"]}
                  for group in self.optimizer.param_groups]
        try:
            self.model.load_state_dict(model_state)
            arrays = _finite(load_file(optimizer_file, mmap=False), optimizer_file)
            self.optimizer.load_state_dict(optim.state_dict_from_arrays(arrays, meta["optimizer"]))
            self.scheduler.load_state_dict(meta["scheduler"])
            default_generator.set_state(meta["rng"]["default"])
            self.data_generator.set_state(meta["rng"]["data"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as error:
            if isinstance(error, CheckpointError):
                raise
            detail = str(error).replace("\n", " ") if not isinstance(error, KeyError) else f"no entry {error}"
            raise CheckpointError(f"{source}: the checkpoint does not restore ({detail}); resume from an "
                                  f"earlier checkpoint") from None
        for group, values in zip(self.optimizer.param_groups, chosen):
            group.update(values)
        best = meta.get("best_val_loss")
        self.best_val_loss = (float(best) if isinstance(best, (int, float)) and not isinstance(best, bool)
                              and math.isfinite(best) else None)

    @classmethod
    def resume(cls, path: PathArg, overrides: Optional[Mapping[str, Any]] = None, log: Optional[Any] = None,
               out_dir: Optional[PathArg] = None) -> Trainer:
        """Continue the run at ``path`` (a run directory, or one of its step directories).

        It writes into ``out_dir`` (or ``overrides["out_dir"]``), by default the run directory
        ``path`` names or holds, never into a directory a checkpoint recorded. ``overrides`` may
        change how long to train, how to log and where the data is, not the model or the data's
        content; schedule options (``SCHEDULE``) change the learning-rate schedule only when given."""
        path = _path(path, "path")
        if not isinstance(overrides or {}, dict):
            raise ConfigError(f"overrides must be a dict of training options, got {type(overrides).__name__}")
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(TrainConfig)})
        if unknown:
            raise ConfigError(f"unknown training option(s): {', '.join(map(str, unknown))}")
        out_dir = out_dir if out_dir is not None else overrides.pop("out_dir", None)
        overrides.pop("out_dir", None)
        out_dir = None if out_dir is None else _path(out_dir, "out_dir")
        if overrides.get("data") is not None:
            overrides["data"] = _path(overrides["data"], "data")
        return _read_consistently(path, lambda saved: cls._resumed(path, saved, overrides, log, out_dir))

    @classmethod
    def _resumed(cls, path, saved, overrides, log, out_dir):
        source_run = run_dir_of(path)
        if out_dir is None:
            if source_run is None:
                raise CheckpointError(f"{path} is a step directory outside any run directory: name the directory "
                                      f"to train into (--out)")
            out_dir = source_run
        conflicts = [f"{name}: checkpoint {getattr(saved.config, name)!r}, requested {overrides[name]!r}"
                     for name in TrainConfig.FIXED
                     if name in overrides and overrides[name] != getattr(saved.config, name)]
        if conflicts:
            raise CheckpointError("the requested configuration disagrees with the checkpoint on "
                                  + "; ".join(conflicts)
                                  + " (these are fixed for a run: start a new run to change them)")
        destination = _check_destination(saved, source_run, out_dir)
        overrides = dict(overrides, data=_data_path(saved, overrides.get("data")))
        changed = {name: (getattr(saved.config, name), overrides[name]) for name in TrainConfig.SCHEDULE
                   if name in overrides and overrides[name] != getattr(saved.config, name)}
        config = dataclasses.replace(saved.config, **overrides, out_dir=out_dir)
        if saved.step >= config.max_steps:               # finished: read nothing more, write nothing
            trainer = cls.__new__(cls)
            trainer.config, trainer.step, trainer.log = config, saved.step, log or _Printer()
            trainer.schedule_note, trainer.source = None, path
            return trainer
        trainer = cls(config, log=log, _saved=saved)
        trainer._destination = destination
        if changed:
            trainer.schedule_note = "learning-rate schedule changed: " + ", ".join(
                f"{name} {old} -> {new}" for name, (old, new) in changed.items())
        elif saved.step:
            trainer.schedule_note = (f"learning-rate schedule kept (cosine from step {config.warmup_steps} to "
                                     f"{config.lr_decay_steps}, then {config.min_lr:g}; --lr-decay-steps changes it)")
        return trainer

    @classmethod
    def load(cls, path: PathArg, data: Optional[PathArg] = None, log: Optional[Any] = None) -> Trainer:
        """The run at ``path`` (a run or step directory) as its latest checkpoint left it, to
        evaluate or sample from; nothing is written. ``data`` points at the run's text when it
        has moved (its content must be the same)."""
        path, data = _path(path, "path"), None if data is None else _path(data, "data")

        def build(saved):
            if saved.step_dir is None:
                raise CheckpointError(f"{path} has no checkpoint yet (the run stopped before its first one): "
                                      f"resume it with npformer train --resume --out {path}")
            config = dataclasses.replace(saved.config, data=_data_path(saved, data),
                                         out_dir=os.path.dirname(os.path.normpath(saved.step_dir)))
            return cls(config, log=log, _saved=saved)
        return _read_consistently(path, build)

    # ------------------------------------------------------------------ the loop
    def fit(self) -> Optional[Dict[str, float]]:
        """Train to max_steps; returns the final evaluation, or None when the run had already
        finished (nothing is written then). Ctrl-C finishes the step, checkpoints and re-raises
        KeyboardInterrupt; a second Ctrl-C stops at once, without a checkpoint."""
        config = self.config
        if self.finished:                     # nothing to train, and nothing is written (or locked)
            self.log.already_finished(self)
            return None
        with prepare_run_dir(config.out_dir):
            return self._fit_locked()

    def _fit_locked(self):
        config = self.config
        _check_destination_unchanged(config.out_dir, self._destination)
        if self._destination[0]:              # only a directory that holds a run can hold a crash's leftovers
            clean_run_dir(config.out_dir)
        run_file = os.path.join(config.out_dir, RUN_FILE)
        if not os.path.isfile(run_file):
            record = {"format": "npformer-run", "version": 1, "config": asdict(config), "data": self.data_record}
            try:
                write_atomic(run_file, json.dumps(record, indent=2, sort_keys=True, allow_nan=False))
            except OSError as error:
                raise OSError(error.errno, f"could not write {run_file}: {error.strerror or error}; nothing "
                                           f"was trained yet: free some space (or make the directory writable), "
                                           f"then start again") from None
        if read_latest(config.out_dir) is None:
            try:
                mark_started(config.out_dir)
            except OSError as error:
                raise OSError(error.errno, f"could not write {os.path.join(config.out_dir, 'latest.json')}: "
                                           f"{error.strerror or error}; nothing was trained yet: free some space "
                                           f"(or make the directory writable), then resume") from None
        tokens_per_step = self.task.tokens_per_batch * config.grad_accumulation
        self.log.start(self)
        started, window_start, window_tokens = time.perf_counter(), time.perf_counter(), 0
        first_step = self.step
        final = None
        interrupt = _DeferredInterrupt()
        with RunLog(os.path.join(config.out_dir, "log.jsonl")) as run_log, interrupt:
            run_log.open(self.step)
            try:
                while self.step < config.max_steps:
                    interrupt.in_step = True
                    loss = self.train_step()
                    interrupt.in_step = False
                    window_tokens += tokens_per_step
                    if self.step % config.log_interval == 0 or self.step == config.max_steps:
                        now = time.perf_counter()
                        rate = window_tokens / max(now - window_start, 1e-9)
                        done = self.step - first_step
                        eta = (now - started) / max(done, 1) * (config.max_steps - self.step)
                        record = {"step": self.step, "train_loss": round(loss, 6),
                                  "lr": self.scheduler.get_last_lr()[0],
                                  "tokens_per_s": round(rate, 1), "elapsed_s": round(now - started, 3)}
                        self.log.progress(record, eta)
                        run_log.append(record)
                        window_start, window_tokens = now, 0
                    if self.step % config.eval_interval == 0 or self.step == config.max_steps:
                        final = dict(self.evaluate(), step=self.step)
                        if not all(math.isfinite(v) for k, v in final.items() if k.endswith("_loss")):
                            raise self._diverged(f"the evaluation loss is {final['val_loss']}", self.step, False)
                        if self.best_val_loss is None or final["val_loss"] < self.best_val_loss:
                            self.best_val_loss = final["val_loss"]
                        self.log.evaluation(final)
                        run_log.append({"step": self.step, **{k: v for k, v in final.items() if k != "step"}})
                    if config.checkpoint_interval and self.step % config.checkpoint_interval == 0:
                        self.save()
                    if interrupt.requested:
                        raise KeyboardInterrupt
            except TrainingStopped as stop:
                run_log.append({"step": stop.step, "stopped": stop.why})
                raise
            except KeyboardInterrupt:
                if interrupt.in_step or interrupt.forced:     # inside a step its state is half-updated
                    self.log.interrupted(self.step, None, _kept(config.out_dir))
                else:
                    self.log.interrupted(self.step, self.save(), None)
                raise
        path = self.save()
        self.log.finished(final, path, time.perf_counter() - started)
        return final


def _kept(out_dir):
    last = read_latest(out_dir) if os.path.isdir(out_dir) else None
    return f"the last checkpoint ({last}) is kept" if last else "no checkpoint had been written yet"


def _is_run_dir(path):
    return os.path.isfile(os.path.join(path, "latest.json")) or os.path.isfile(os.path.join(path, RUN_FILE))


def run_dir_of(path: str) -> Optional[str]:
    """The run directory ``path`` names: itself, or the run holding the step directory ``path``;
    None for a directory outside any run (a step directory copied elsewhere)."""
    if _is_run_dir(path):
        return path
    parent = os.path.dirname(os.path.normpath(path))
    return parent if step_of(os.path.basename(os.path.normpath(path))) is not None and _is_run_dir(parent) else None


def _check_destination(saved, source_run, out_dir):
    """Refuse to write into another run, or to replace a run's later checkpoints. Returns what
    training must find again once it holds the lock: (None, None) for a new directory, or (True,
    the latest.json name) for the run itself."""
    same = source_run is not None and os.path.realpath(source_run) == os.path.realpath(out_dir)
    if not same:
        check_new_run_dir(out_dir)
        return None, None
    check_outside_runs(out_dir)
    latest = read_latest(out_dir)
    if latest and step_of(latest) > saved.step:
        raise CheckpointError(f"{saved.step_dir} is step {saved.step}, but {out_dir} already has a later checkpoint "
                              f"({latest}); continuing there would replace it: train into another --out directory")
    return True, latest


def _check_destination_unchanged(out_dir, destination):
    """Under the lock: the directory is as it was when the run was read (another process may
    have trained into it meanwhile; then this one must not write)."""
    same_run, latest = destination
    if same_run is None:
        check_new_run_dir(out_dir)
    elif read_latest(out_dir) != latest:
        raise CheckpointError(f"{out_dir} changed while this run was being prepared (latest.json now names "
                              f"{read_latest(out_dir) or 'no checkpoint'}): another process trained into it; "
                              f"nothing was written")


def _read_consistently(path, build, attempts=10):
    """``build(saved)`` for the run at ``path``. A run being trained may commit a newer checkpoint
    and prune the one being read while it is read: then read again, from the newer one."""
    for attempt in range(attempts):
        latest = read_latest(path) if _is_run_dir(path) else None
        try:
            return build(_read_saved(path))
        except (CheckpointError, SafetensorsError, OSError):
            if not latest or attempt == attempts - 1 or read_latest(path) == latest:
                raise


def _check_model_fits(skeleton, weights, header):
    """The checkpoint's model state, once the config's model (``skeleton``, built under
    nn.shapes_only) is known to have the shapes and kinds of the weights file's tensors."""
    expected = state_arrays(skeleton)
    problems = [f"{name} is missing" for name in expected if name not in header]
    problems += [f"unexpected tensor {name}" for name in header if name not in expected]
    for name, tensor in expected.items():
        if name in header:
            entry = header[name]
            if tuple(entry["shape"]) != tuple(tensor.shape):
                problems.append(f"{name} is {tuple(entry['shape'])} in the file, {tuple(tensor.shape)} by the config")
            elif dtype_kind(entry["dtype"]) != dtype_kind(tensor.dtype):
                problems.append(f"{name} is stored as {entry['dtype']}, not as {dtype_kind(tensor.dtype)}")
    if problems:
        raise _misfit(weights, "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else ""))
    return _finite(load_file(weights, mmap=False), weights)


def _finite(arrays, path):
    """``arrays``, once every float value in them is finite: npformer never writes a NaN, so
    one here means the file was damaged, and a model or optimizer state made of it would be too."""
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise CheckpointError(f"{path}: {name} holds non-finite values, which npformer never writes: the file "
                                  f"is damaged; resume from an earlier checkpoint")
    return arrays


def _misfit(weights, problem):
    return CheckpointError(f"{weights} does not fit the model its trainer.json describes: {problem}")


# Python objects of one layer (modules, dicts, placeholders), measured at 18-45 KB for a GPT block
# and an encoder-decoder pair; counted against memory so that a layer count alone cannot exhaust it
LAYER_OVERHEAD = 64 * 1024


def _check_size(task, config, weights=None, header=None):
    """Refuse a configuration that cannot fit in this machine's memory, or that needs more
    tensors than the weights file ``weights`` (whose ``header`` is given) holds, before building
    its layers.

    The parameter count is exact without building every layer: skeletons (nn.shapes_only) of one
    and of two layers differ by one layer's parameters. Before those, a lower bound that needs no
    skeleton at all (4 d_model^2 a layer for the attention, a vocabulary and a position table)
    refuses sizes whose skeleton NumPy could not even describe. The memory estimate: float32
    weights, gradients and AdamW's two moments (16 bytes a parameter), plus one micro-batch's
    saved activations, about 20 d_model + 2 n_heads block_size values a token a layer (the norms'
    inputs, q/k/v, the attention weights, the MLP's 4 d_model hidden values twice, residuals) and
    three vocabulary-sized rows a token (logits, softmax, their gradient). It is a lower bound,
    so only configurations certain not to fit are refused."""
    layers = config.n_layers * (2 if config.model == "seq2seq" else 1)
    least = layers * 4 * config.d_model ** 2 + (task.vocab_size + config.block_size) * config.d_model
    if header is not None:
        stored = sum(math.prod(entry["shape"]) for entry in header.values())
        if least > stored:
            raise _misfit(weights, f"its sizes need at least {least:,} parameters, the file holds {stored:,}")
    _check_memory(least, config, task)
    with shapes_only():
        one, two = (task.build_model(dataclasses.replace(config, n_layers=n)) for n in (1, 2))
    parameters = _count(one) + (_count(two) - _count(one)) * (config.n_layers - 1)
    _check_memory(parameters, config, task)
    if weights is not None:
        tensors = len(one.state_dict()) + (len(two.state_dict()) - len(one.state_dict())) * (config.n_layers - 1)
        if tensors > len(header):
            raise _misfit(weights, f"n_layers {config.n_layers} needs {tensors:,} tensors, "
                                   f"the file holds {len(header)}")


def _count(model):
    return sum(p._data.size for p in model.parameters())       # tied weights counted once


def _check_memory(parameters, config, task):
    total = _physical_memory()
    if total is None:
        return
    per_token = config.n_layers * (20 * config.d_model + 2 * config.n_heads * config.block_size) + 3 * task.vocab_size
    needed = 16 * parameters + 4 * task.tokens_per_batch * per_token + config.n_layers * LAYER_OVERHEAD
    if needed > total:
        raise ConfigError(f"this configuration needs at least {needed / 2 ** 30:,.1f} GiB to train ({parameters:,} "
                          f"parameters with their gradients and AdamW's moments, and one batch's activations), more "
                          f"than this machine's {total / 2 ** 30:,.1f} GiB: use a smaller --d-model, --n-layers, "
                          f"--batch-size or --block-size")


def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None                           # not POSIX: no estimate, MemoryError reports it


def _decay_two_dimensional(model, weight_decay):
    """nanoGPT's rule: every parameter of 2 or more dims decays (matrices and embeddings),
    biases and norm weights do not."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        (decay if param.ndim >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _DeferredInterrupt:
    """Ctrl-C at a safe point: the first SIGINT asks the loop to stop once the current step (and
    its logging, evaluation and checkpoint) is done, then it checkpoints; a second one raises
    KeyboardInterrupt at once, and nothing is written. Only the main thread can install signal
    handlers; elsewhere Ctrl-C behaves as usual."""

    def __init__(self):
        self.requested = False
        self.forced = False
        self.in_step = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            self.forced = True
            raise KeyboardInterrupt
        self.requested = True
        sys.stderr.write("\nstopping after this step, then checkpointing (Ctrl-C again stops at once, "
                         "without a checkpoint)\n")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _Printer:
    """The live progress line: rewritten in place on a terminal, one line each otherwise."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.live = getattr(self.stream, "isatty", lambda: False)()

    def _line(self, text, final=True):
        if self.live:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def start(self, trainer):
        c = trainer.config
        self._line(f"training {trainer.task.description} | {trainer.model.num_parameters():,} parameters | "
                   f"{c.max_steps} steps of {trainer.task.tokens_per_batch * c.grad_accumulation:,} tokens | "
                   f"checkpoints in {c.out_dir}" + (f" | resuming at step {trainer.step}" if trainer.step else ""))
        if trainer.schedule_note:
            self._line(trainer.schedule_note)

    def progress(self, record, eta):
        self._line(f"step {record['step']:>6} | loss {record['train_loss']:.4f} | lr {record['lr']:.2e} | "
                   f"{record['tokens_per_s']:,.0f} tok/s | ETA {_duration(eta)}", final=False)

    def evaluation(self, result):
        extras = "".join(f" | {k} {v:.4f}" for k, v in result.items() if k not in ("step", "train_loss", "val_loss"))
        self._line(f"step {result['step']:>6} | train loss {result['train_loss']:.4f} | val loss "
                   f"{result['val_loss']:.4f}{extras}")

    def interrupted(self, step, path, kept):
        if path:
            self._line(f"interrupted at step {step}: checkpoint written to {path}")
        else:
            self._line(f"interrupted during step {step + 1}: no checkpoint written; {kept}")

    def already_finished(self, trainer):
        self._line(f"{trainer.source} finished at step {trainer.step} (max_steps {trainer.config.max_steps}): "
                   f"nothing to do, nothing written; extend it with --steps N (N > {trainer.step})")

    def finished(self, final, path, seconds):
        self._line(f"done in {_duration(seconds)}: val loss {final['val_loss']:.4f}; checkpoint {path}")


def _duration(seconds):
    seconds = int(max(seconds, 0))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


__all__ = ["TrainConfig", "Trainer", "ConfigError", "TrainingStopped", "check_new_run_dir", "prepare_run_dir",
           "run_files", "run_dir_of"]
