"""The training loop used by ``npformer train`` and the examples.

One step: forward, loss, backward (with gradient accumulation), clipping, the optimizer
step and the learning-rate schedule. Around it: periodic evaluation on the validation split,
a live progress line (step, loss, lr, tokens/s, ETA), a JSONL log of the curve, and
checkpoints (every N steps, at the end, and on Ctrl-C) from which ``--resume`` continues
exactly: every random stream (batches, dropout) is saved with the weights and the optimizer.

What is trained comes from a task (npformer.tasks): a GPT on a corpus, BERT's masked-LM
pretraining, or an encoder-decoder on a generated sequence task.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from . import optim
from .autograd.grad_mode import no_grad
from .autograd.random import Generator, default_generator
from .io.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


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
    lr_decay_steps: Optional[int] = None    # default: max_steps
    weight_decay: float = 0.1
    decay_embeddings: bool = True           # nanoGPT decays every 2-D weight, embeddings included
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    # bookkeeping
    eval_interval: int = 250
    eval_steps: int = 20
    log_interval: int = 10
    checkpoint_interval: int = 500
    keep_checkpoints: int = 2
    seed: int = 1337
    out_dir: Optional[str] = None           # default: runs/<model>-<tokenizer>
    samples: int = 2
    sample_tokens: int = 200
    temperature: float = 0.8
    top_k: Optional[int] = 40

    def __post_init__(self):
        if self.model not in ("gpt", "bert", "seq2seq"):
            raise ValueError(f"model must be gpt, bert or seq2seq, got {self.model!r}")
        if self.tokenizer not in ("char", "bpe"):
            raise ValueError(f"tokenizer must be char or bpe, got {self.tokenizer!r}")
        for name in ("n_layers", "n_heads", "d_model", "block_size", "batch_size", "grad_accumulation", "max_steps",
                     "eval_steps", "log_interval"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.out_dir is None:
            self.out_dir = os.path.join("runs", f"{self.model}-{self.tokenizer if self.model != 'seq2seq' else self.task}")

    @classmethod
    def from_dict(cls, values):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training option(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)

    # the options that shape the model and the data: a resumed run must agree on these
    SHAPE = ("model", "tokenizer", "bpe_vocab_size", "task", "n_layers", "n_heads", "d_model", "block_size", "bias",
             "activation")


class Trainer:
    def __init__(self, config: TrainConfig, log=None, resume_state=None):
        from .tasks import make_task
        self.config = config
        self.log = log or _Printer()
        default_generator.manual_seed(config.seed)                    # init and dropout
        self.data_generator = Generator(config.seed + 1)              # batch sampling
        self.task = make_task(config, resume_state)
        self.model = self.task.model
        groups = (optim.decay_groups(self.model, config.weight_decay) if not config.decay_embeddings
                  else _decay_two_dimensional(self.model, config.weight_decay))
        self.optimizer = optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))
        decay_steps = config.lr_decay_steps or config.max_steps
        # a run shorter than its warmup warms up for all of it, as nanoGPT's get_lr does
        schedule = optim.WarmupCosine(config.lr, config.warmup_steps, decay_steps, config.min_lr)
        self.scheduler = optim.LRScheduler(self.optimizer, schedule)
        self.step = 0
        self.best_val_loss = None
        if resume_state is not None:
            self._restore(resume_state)

    # ------------------------------------------------------------------ one step
    def train_step(self):
        """Forward, backward over the accumulated micro-batches, clip, step, schedule."""
        config = self.config
        self.model.train()
        total = 0.0
        for _ in range(config.grad_accumulation):
            batch = self.task.batch("train", self.data_generator)
            loss = self.task.loss(batch)
            (loss / config.grad_accumulation if config.grad_accumulation > 1 else loss).backward()
            total += loss.item() / config.grad_accumulation
        if config.grad_clip > 0:
            optim.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.scheduler.step()
        self.step += 1
        return total

    def evaluate(self):
        """Mean loss over eval_steps batches of each split, from a generator seeded by the step
        (so evaluating never moves the training streams, and resumed runs evaluate alike)."""
        self.model.eval()
        results = {}
        with no_grad():
            for split in ("train", "val"):
                generator = Generator(self.config.seed + 7 + self.step)
                losses = [self.task.loss(self.task.batch(split, generator)).item()
                          for _ in range(self.config.eval_steps)]
                results[f"{split}_loss"] = float(np.mean(losses))
            results.update(self.task.metrics())
        self.model.train()
        return results

    # ------------------------------------------------------------------ checkpoints
    def save(self):
        config = self.config
        arrays, optimizer_meta = optim.state_dict_to_arrays(self.optimizer.state_dict(), prefix="")
        meta = {
            "format": "npformer-training-checkpoint",
            "version": 1,
            "step": self.step,
            "config": asdict(config),
            "optimizer": optimizer_meta,
            "scheduler": self.scheduler.state_dict(),
            "rng": {"default": default_generator.get_state(), "data": self.data_generator.get_state()},
            "best_val_loss": self.best_val_loss,
            "task": self.task.state(),
        }
        return save_checkpoint(config.out_dir, self.step, self.model.state_dict(), arrays, meta,
                               extra_files=self.task.files(), keep=config.keep_checkpoints)

    def _restore(self, state):
        _, model_state, optimizer_arrays, meta = state
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(optim.state_dict_from_arrays(optimizer_arrays, meta["optimizer"]))
        self.scheduler.load_state_dict(meta["scheduler"])
        default_generator.set_state(meta["rng"]["default"])
        self.data_generator.set_state(meta["rng"]["data"])
        self.step = int(meta["step"])
        self.best_val_loss = meta.get("best_val_loss")

    @classmethod
    def resume(cls, path, overrides=None, log=None):
        """Continue from a checkpoint (or a run directory's latest one). ``overrides`` may change
        how long to train and how to log, not the model or the data."""
        state = load_checkpoint(path)
        meta = state[3]
        if meta.get("format") != "npformer-training-checkpoint":
            raise CheckpointError(f"{state[0]}: not an npformer training checkpoint")
        saved = TrainConfig.from_dict(meta["config"])
        overrides = dict(overrides or {})
        conflicts = [f"{name}: checkpoint {getattr(saved, name)!r}, requested {overrides[name]!r}"
                     for name in TrainConfig.SHAPE if name in overrides and overrides[name] != getattr(saved, name)]
        if conflicts:
            raise CheckpointError("the requested configuration disagrees with the checkpoint on "
                                  + "; ".join(conflicts))
        config = dataclasses.replace(saved, **overrides)
        return cls(config, log=log, resume_state=state)

    # ------------------------------------------------------------------ the loop
    def fit(self):
        """Train to max_steps; returns the final evaluation. Ctrl-C saves a checkpoint first."""
        config = self.config
        os.makedirs(config.out_dir, exist_ok=True)
        log_path = os.path.join(config.out_dir, "log.jsonl")
        tokens_per_step = self.task.tokens_per_batch * config.grad_accumulation
        self.log.start(self)
        started, window_start, window_tokens = time.perf_counter(), time.perf_counter(), 0
        first_step = self.step
        final = None
        try:
            with open(log_path, "a", encoding="utf-8") as log_file:
                while self.step < config.max_steps:
                    loss = self.train_step()
                    window_tokens += tokens_per_step
                    if self.step % config.log_interval == 0 or self.step == config.max_steps:
                        now = time.perf_counter()
                        rate = window_tokens / max(now - window_start, 1e-9)
                        done = self.step - first_step
                        eta = (now - started) / max(done, 1) * (config.max_steps - self.step)
                        record = {"step": self.step, "train_loss": round(loss, 6), "lr": self.scheduler.get_last_lr()[0],
                                  "tokens_per_s": round(rate, 1), "elapsed_s": round(now - started, 3)}
                        self.log.progress(record, eta)
                        _append(log_file, record)
                        window_start, window_tokens = now, 0
                    if self.step % config.eval_interval == 0 or self.step == config.max_steps:
                        final = dict(self.evaluate(), step=self.step)
                        if self.best_val_loss is None or final["val_loss"] < self.best_val_loss:
                            self.best_val_loss = final["val_loss"]
                        self.log.evaluation(final)
                        _append(log_file, {"step": self.step, **{k: v for k, v in final.items() if k != "step"}})
                    if config.checkpoint_interval and self.step % config.checkpoint_interval == 0:
                        self.save()
        except KeyboardInterrupt:
            path = self.save()
            self.log.interrupted(self.step, path)
            raise
        path = self.save()
        self.log.finished(final, path, time.perf_counter() - started)
        return final


def _decay_two_dimensional(model, weight_decay):
    """nanoGPT's rule: every parameter of 2 or more dims decays (matrices and embeddings),
    biases and norm weights do not."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        (decay if param.ndim >= 2 else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _append(file, record):
    file.write(json.dumps(record) + "\n")
    file.flush()


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

    def progress(self, record, eta):
        self._line(f"step {record['step']:>6} | loss {record['train_loss']:.4f} | lr {record['lr']:.2e} | "
                   f"{record['tokens_per_s']:,.0f} tok/s | ETA {_duration(eta)}", final=False)

    def evaluation(self, result):
        extras = "".join(f" | {k} {v:.4f}" for k, v in result.items() if k not in ("step", "train_loss", "val_loss"))
        self._line(f"step {result['step']:>6} | train loss {result['train_loss']:.4f} | val loss "
                   f"{result['val_loss']:.4f}{extras}")

    def interrupted(self, step, path):
        self._line(f"interrupted at step {step}: checkpoint written to {path}")

    def finished(self, final, path, seconds):
        self._line(f"done in {_duration(seconds)}: val loss {final['val_loss']:.4f}; checkpoint {path}")


def _duration(seconds):
    seconds = int(max(seconds, 0))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
