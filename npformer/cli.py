"""The ``npformer`` command line.

    npformer train [--model gpt|bert|seq2seq] [--data FILE] [--tokenizer char|bpe] [--config JSON] [options]
    npformer train --resume [CHECKPOINT] [--out DIR] [--steps N] [options]
    npformer generate --checkpoint DIR --prompt TEXT [--data FILE] [sampling options]
    npformer eval --checkpoint DIR [--data FILE]

Every mistake ends in one line on stderr saying what is wrong and what to do, exit code 2 (bad
input) or 1 (a run that had to stop, a full disk, a locked run); a traceback is an npformer bug.
    npformer gradcheck [--op NAME ...] [--fast]   audit every registered op against finite differences
"""
import argparse
import contextlib
import dataclasses
import json
import math
import os
import shutil
import sys
import time
import typing

import numpy as np

from .io.files import SETTINGS_LIMIT, read_regular
from .io.lock import RunLockedError
from .train import ConfigError


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported in one line (argparse prints the whole usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv=None):
    parser = _Parser(prog="npformer", description="Transformers in NumPy alone.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a model (default: a character-level GPT on CPython's docs)")
    _add_train_options(train)
    train.set_defaults(run=run_train)

    sample = commands.add_parser("generate", help="continue a prompt with a trained checkpoint")
    sample.add_argument("--checkpoint", required=True, help="a run directory or one of its step directories")
    sample.add_argument("--data", default=None, help="the run's text, if it has moved (its content must match)")
    sample.add_argument("--prompt", default="", help="the text to continue (seq2seq: symbols such as '3 5 4')")
    sample.add_argument("--max-new-tokens", type=int, default=200)
    sample.add_argument("--greedy", action="store_true", help="argmax instead of sampling")
    sample.add_argument("--temperature", type=float, default=0.8)
    sample.add_argument("--top-k", type=int, default=40, help="0: no top-k filter")
    sample.add_argument("--top-p", type=float, default=1.0)
    sample.add_argument("--repetition-penalty", type=float, default=1.0)
    sample.add_argument("--num-beams", type=int, default=1)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--no-stream", action="store_true", help="print the whole text at the end")
    sample.set_defaults(run=run_generate)

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint on its validation split")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--data", default=None, help="the run's text, if it has moved (its content must match)")
    evaluate.set_defaults(run=run_eval)

    audit = commands.add_parser("gradcheck", help="check the backward of every registered op")
    audit.add_argument("--op", action="append", default=None, metavar="NAME",
                       help="check only this op (repeatable); default: all")
    audit.add_argument("--fast", action="store_true", help="random projections instead of full Jacobians")
    audit.add_argument("--seed", type=int, default=0)
    audit.set_defaults(run=run_gradcheck_audit)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        code = _failure(error)
        if code is None:
            raise                                   # a bug in npformer: its traceback is what to report
        text = (f"out of memory ({error or 'no detail'}): use a smaller configuration or less data"
                if isinstance(error, MemoryError) else str(error) if not isinstance(error, OSError) else
                f"{error.filename}: {error.strerror or error}" if error.filename else error.strerror or str(error))
        text = text.replace("\r", "\\r").replace("\n", "\\n")      # one line, whatever a path holds
        print(f"npformer {args.command}: {text}", file=sys.stderr)
        return code


def _failure(error):
    """The exit code for an error that is the user's to fix (2) or the machine's (1), None for a bug.

    The library's errors about input name what is wrong and what to do (ConfigError,
    CorpusError, CheckpointError, SafetensorsError, FileFormatError); a run that had to stop
    raises TrainingStopped; the machine refuses with OSError (a full disk, a permission, a locked
    run) or MemoryError. Anything else, a plain ValueError included, is a bug: its traceback is
    what to report."""
    from .data import CorpusError
    from .io.checkpoint import CheckpointError
    from .io.lock import RunLockedError
    from .io.safetensors import SafetensorsError
    from .tokenizers import FileFormatError
    from .train import ConfigError, TrainingStopped
    if isinstance(error, (TrainingStopped, RunLockedError, OSError, MemoryError)):
        return 1
    if isinstance(error, (ConfigError, CorpusError, CheckpointError, SafetensorsError, FileFormatError)):
        return 2
    return None


# ---------------------------------------------------------------------------- train
def _add_train_options(parser):
    from .train import TrainConfig
    parser.add_argument("--config", help="a JSON file of training options (flags override it)")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                        help="continue the run in --out (or the run or step directory CHECKPOINT, writing into "
                             "--out, by default CHECKPOINT's run)")
    hints = typing.get_type_hints(TrainConfig)
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        kind = hints[field.name]
        base = [t for t in typing.get_args(kind) if t is not type(None)][0] if typing.get_args(kind) else kind
        if base is bool:
            parser.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None)
        else:
            parser.add_argument(flag, dest=field.name, type=base, default=None, metavar=field.name.upper())
    parser.add_argument("--steps", dest="max_steps", type=int, default=None, help="same as --max-steps")
    parser.add_argument("--out", dest="out_dir", default=None, help="same as --out-dir")


def _options(args):
    """The training options given: the --config file's, then the flags'. Types are checked by
    TrainConfig; a config file that is not a JSON object of options is refused here."""
    from .train import ConfigError, TrainConfig
    options = {}
    if args.config:
        try:
            loaded = json.loads(read_regular(args.config, lambda problem: ConfigError(f"--config {args.config}: "
                                                                                        f"{problem}"), SETTINGS_LIMIT))
        except ConfigError:
            raise
        except OSError as error:
            raise ConfigError(f"--config {args.config}: cannot be read ({error.strerror})") from None
        except (ValueError, RecursionError) as error:
            raise ConfigError(f"--config {args.config}: not JSON ({error})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config {args.config}: expected a JSON object of training options, e.g. "
                              f'{{"max_steps": 500}}, got a JSON {type(loaded).__name__}')
        TrainConfig.from_dict(loaded, source=args.config)     # each value checked, the file named
        options.update(loaded)
    for field in dataclasses.fields(TrainConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            options[field.name] = value
    return options


def run_train(args):
    from .runtime import retain_freed_memory
    from .train import TrainConfig, Trainer, check_new_run_dir, run_dir_of
    options = _options(args)
    if args.resume is not None:
        TrainConfig.from_dict({k: v for k, v in options.items() if k not in TrainConfig.SHAPE})  # each flag checked
        if args.resume is True:
            source = out_dir = options.get("out_dir") or TrainConfig.from_dict(options).out_dir
        else:
            source, out_dir = args.resume, options.get("out_dir") or run_dir_of(args.resume)
        if not os.path.isdir(source):
            raise ConfigError(f"{source}: no run to resume (no such directory)")
        if out_dir is None:
            raise ConfigError(f"{source} is not inside a run directory: name the directory to train into with --out")
        retain_freed_memory()               # a training process: reuse freed memory (npformer/runtime.py)
        lock = _lock_if_possible(out_dir)
        try:
            trainer = Trainer.resume(source, overrides={k: v for k, v in options.items() if k != "out_dir"},
                                     out_dir=out_dir)
            final = _fit(trainer, out_dir)
        finally:
            if lock is not None:
                lock.release()
    else:
        config = TrainConfig.from_dict(options)   # every option checked before any work
        check_new_run_dir(config.out_dir)
        with _run_dir(config.out_dir):
            retain_freed_memory()
            trainer = Trainer(config)
            final = _fit(trainer, config.out_dir)
    if final is STOPPED:
        return 130
    if final is None:                       # the run had already finished
        return 0
    print(f"validation loss {final['val_loss']:.4f}" + "".join(
        f", {k} {v:.4f}" for k, v in final.items() if k not in ("step", "train_loss", "val_loss")))
    samples = trainer.task.samples(trainer.config.samples, trainer.config.sample_tokens,
                                   temperature=trainer.config.temperature, top_k=trainer.config.top_k or None,
                                   seed=trainer.config.seed)
    for index, text in enumerate(samples, 1):
        print(f"--- sample {index} ---\n{text}")
    return 0


STOPPED = object()


def _fit(trainer, out_dir):
    """The final evaluation; None when the run had finished already; STOPPED after Ctrl-C."""
    try:
        return trainer.fit()
    except KeyboardInterrupt:
        print(f"stopped; continue with: npformer train --resume --out {out_dir}", file=sys.stderr)
        return STOPPED


def _lock_if_possible(out_dir):
    """The run's lock, taken before its checkpoint is read (a writer's pruning must not remove it
    under the reader), or None where the directory is new or cannot be written: reading a
    finished run needs no lock, and training takes it anyway (and says why it cannot)."""
    from .io.lock import RunLock
    from .train import run_dir_of
    if not os.path.isdir(out_dir) or run_dir_of(out_dir) != out_dir:
        return None                         # not a run (yet): no lock file is left in it if the resume is refused
    try:
        return RunLock(out_dir).acquire()
    except RunLockedError:
        raise
    except OSError:
        return None


@contextlib.contextmanager
def _run_dir(out_dir):
    """The directory of a new run, locked while the run is built and trained in it. A directory
    this call created is removed again if no run was written into it (a mistake leaves no trace)."""
    from .train import prepare_run_dir, run_files
    created = not os.path.lexists(out_dir)
    lock = prepare_run_dir(out_dir)
    try:
        yield lock
    finally:
        lock.release()
        if created and not run_files(out_dir):
            shutil.rmtree(out_dir, ignore_errors=True)


# ---------------------------------------------------------------------------- generate / eval
def _load(args):
    from .train import Trainer
    return Trainer.load(args.checkpoint, data=args.data, log=_Quiet())


class _Quiet:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _check_sampling(args):
    """Every generate option, before the checkpoint is read."""
    problems = [(1 <= args.max_new_tokens <= 10 ** 7, f"--max-new-tokens must be in [1, 10000000], got "
                                                        f"{args.max_new_tokens}"),
                (args.greedy or (math.isfinite(args.temperature) and args.temperature > 0),
                 f"--temperature must be a positive number (it divides the logits; --greedy takes the argmax), "
                 f"got {args.temperature}"),
                (args.top_k >= 0, f"--top-k must be at least 0 (0: no top-k filter), got {args.top_k}"),
                (0 < args.top_p <= 1, f"--top-p must be in (0, 1], got {args.top_p}"),
                (math.isfinite(args.repetition_penalty) and args.repetition_penalty > 0,
                 f"--repetition-penalty must be a positive number (1: none), got {args.repetition_penalty}"),
                (1 <= args.num_beams <= 1000, f"--num-beams must be in [1, 1000], got {args.num_beams}"),
                (args.seed >= 0, f"--seed must be at least 0, got {args.seed}"),
                (args.data is None or args.data.strip() != "", "--data must name a file, got an empty string")]
    for fine, message in problems:
        if not fine:
            raise ConfigError(message)


def run_generate(args):
    _check_sampling(args)
    if not os.path.isdir(args.checkpoint):
        raise ConfigError(f"--checkpoint {args.checkpoint}: no such run or checkpoint directory")
    trainer = _load(args)
    task, config = trainer.task, trainer.config
    if config.model == "bert":
        raise ConfigError("a BERT checkpoint fills in masked tokens rather than continuing text: use npformer eval")
    sampling = dict(max_new_tokens=args.max_new_tokens, do_sample=not args.greedy, temperature=args.temperature,
                    top_k=args.top_k or None, top_p=args.top_p, repetition_penalty=args.repetition_penalty)
    if config.model == "seq2seq":
        symbols = _symbols(args.prompt, task) or [3, 4, 5]
        print(" ".join(map(str, task.predict([np.asarray(symbols)])[0])))
        return 0
    from . import Generator
    from .generation import generate, generate_in_window, stream_in_window
    try:
        prompt = (task.tokenizer.encode(args.prompt, add_special_tokens=False) if args.prompt
                  else task.train_ids[:1].tolist())
    except ValueError as error:             # e.g. a character the run's character vocabulary lacks
        raise ConfigError(f"--prompt: {error}: use text this run's tokenizer covers") from None
    if not prompt:
        raise ConfigError(f"--prompt {args.prompt!r} gives no tokens with this run's tokenizer: use other text")
    ids = np.asarray([prompt], dtype=np.int64)
    if args.num_beams > 1:
        # beams keep whole hypotheses, so they stay inside the position table
        if len(prompt) + args.max_new_tokens > config.block_size:
            raise ConfigError(f"beam search keeps to the model's context of {config.block_size} tokens: the prompt "
                             f"has {len(prompt)}, so at most {max(config.block_size - len(prompt), 0)} new tokens")
        out = generate(task.model, ids, num_beams=args.num_beams, **{**sampling, "do_sample": False})
        print(task.tokenizer.decode(out[0].tolist()))
        return 0
    # past the context each new token sees the last block_size tokens (nanoGPT's sample.py)
    window = dict(window=config.block_size, generator=Generator(args.seed))
    if args.no_stream:
        out = generate_in_window(task.model, ids, **window, **sampling)
        print(task.tokenizer.decode(out[0].tolist()))
        return 0
    tokens = list(prompt)
    shown = task.tokenizer.decode(tokens)
    sys.stdout.write(shown)
    for step in stream_in_window(task.model, ids, **window, **sampling):
        tokens.append(int(step[0]))
        text = task.tokenizer.decode(tokens)
        if not text.endswith("\ufffd"):                 # wait for a byte-level character to complete
            sys.stdout.write(text[len(shown):])
            sys.stdout.flush()
            shown = text
    sys.stdout.write("\n")
    return 0


def _symbols(prompt, task):
    """A seq2seq prompt: symbol ids separated by spaces, each in the task's symbol range."""
    low, high = task.EOS + 1, task.vocab_size
    try:
        symbols = [int(s) for s in prompt.split()]
    except ValueError:
        raise ConfigError(f"--prompt {prompt!r}: a sequence task takes symbols {low}..{high - 1} separated by "
                         f"spaces, e.g. '3 5 4'") from None
    outside = [s for s in symbols if not low <= s < high]
    if outside or len(symbols) > task.max_length:
        raise ConfigError(f"--prompt {prompt!r}: a sequence task takes at most {task.max_length} symbols "
                         f"{low}..{high - 1} separated by spaces, e.g. '3 5 4'")
    return symbols


def run_eval(args):
    if args.data is not None and not args.data.strip():
        raise ConfigError("--data must name a file, got an empty string")
    if not os.path.isdir(args.checkpoint):
        raise ConfigError(f"--checkpoint {args.checkpoint}: no such run or checkpoint directory")
    trainer = _load(args)
    started = time.perf_counter()
    result = trainer.evaluate()
    print(f"step {trainer.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items())
          + f" ({time.perf_counter() - started:.1f} s; {trainer.config.eval_steps} random batches per split)")
    started = time.perf_counter()
    whole = trainer.task.split_loss("val")          # None: the task has no exact split loss (Task)
    if whole is not None:
        print(f"val_loss over the whole validation split {whole:.4f} ({time.perf_counter() - started:.1f} s)")
    return 0


# ---------------------------------------------------------------------------- gradcheck
def run_gradcheck_audit(args):
    from .autograd.function import Function
    from .autograd.gradcheck import GradcheckError, gradcheck_report
    from .testing.gradcases import cases_for

    names = sorted(Function.registry) if args.op is None else args.op
    unknown = [n for n in names if n not in Function.registry]
    if unknown:
        print(f"unknown op(s): {', '.join(unknown)}; registered: {', '.join(sorted(Function.registry))}",
              file=sys.stderr)
        return 2

    mode = "fast (random projections)" if args.fast else "full Jacobians"
    print(f"gradcheck of {len(names)} ops in float64, {mode}; "
          f"pass when |analytic - numeric| <= 1e-5 + 1e-3 |numeric|")
    width = max(len(n) for n in names) + 1
    header = f"{'op':<{width}} {'cases':>5} {'max rel error':>14}  result"
    print(header)
    print("-" * len(header))
    failures = 0
    started = time.perf_counter()
    for name in names:
        cases = cases_for(name)
        worst, problem = 0.0, None
        for case in cases:
            fn, inputs = case.build(np.random.default_rng(args.seed))
            try:
                reports = gradcheck_report(fn, inputs, fast_mode=args.fast, seed=args.seed)
            except GradcheckError as error:
                problem = f"FAIL in case '{case.name}': {str(error).splitlines()[0]}"
                break
            except Exception as error:  # a crashing op is a failed audit row, not a crashed audit
                problem = f"FAIL in case '{case.name}': {type(error).__name__}: {error}"
                break
            worst = max([worst] + [r.relative_error for r in reports])
        if not cases:
            problem = "FAIL: no gradient case (add one to GRAD_CASES in npformer/testing/gradcases.py)"
        failures += problem is not None
        print(f"{name:<{width}} {len(cases):>5} {worst:>14.2e}  {problem or 'pass'}")
    print("-" * len(header))
    elapsed = time.perf_counter() - started
    print(f"{len(names) - failures} of {len(names)} ops pass ({elapsed:.1f} s); relative error is "
          f"max |analytic - numeric| / max |numeric| over each Jacobian")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
