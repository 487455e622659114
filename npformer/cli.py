"""The ``npformer`` command line.

    npformer train [--model gpt|bert|seq2seq] [--data FILE] [--tokenizer char|bpe] [--config JSON] [options]
    npformer generate --checkpoint DIR --prompt TEXT [sampling options]
    npformer eval --checkpoint DIR
    npformer gradcheck [--op NAME ...] [--fast]   audit every registered op against finite differences
"""
import argparse
import dataclasses
import json
import sys
import time
import typing

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(prog="npformer", description="Transformers in NumPy alone.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model (default: a character-level GPT on CPython's docs)")
    _add_train_options(train)
    train.set_defaults(run=run_train)

    sample = commands.add_parser("generate", help="continue a prompt with a trained checkpoint")
    sample.add_argument("--checkpoint", required=True, help="a run directory or one of its step directories")
    sample.add_argument("--prompt", default="", help="the text to continue (seq2seq: symbols such as '3 5 4')")
    sample.add_argument("--max-new-tokens", type=int, default=200)
    sample.add_argument("--greedy", action="store_true", help="argmax instead of sampling")
    sample.add_argument("--temperature", type=float, default=0.8)
    sample.add_argument("--top-k", type=int, default=40)
    sample.add_argument("--top-p", type=float, default=1.0)
    sample.add_argument("--repetition-penalty", type=float, default=1.0)
    sample.add_argument("--num-beams", type=int, default=1)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--no-stream", action="store_true", help="print the whole text at the end")
    sample.set_defaults(run=run_generate)

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint on its validation split")
    evaluate.add_argument("--checkpoint", required=True)
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
    except (ValueError, OSError) as error:
        from .data import CorpusError
        from .io.checkpoint import CheckpointError
        if isinstance(error, (CorpusError, CheckpointError, ValueError)) and not isinstance(error, OSError):
            print(f"npformer {args.command}: {error}", file=sys.stderr)
            return 2
        raise


# ---------------------------------------------------------------------------- train
def _add_train_options(parser):
    from .train import TrainConfig
    parser.add_argument("--config", help="a JSON file of training options (flags override it)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out-dir")
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


def run_train(args):
    from .runtime import retain_freed_memory
    from .train import TrainConfig, Trainer
    retain_freed_memory()                   # a training process: reuse freed memory (npformer/runtime.py)
    options = {}
    if args.config:
        with open(args.config, encoding="utf-8") as f:
            options.update(json.load(f))
    for field in dataclasses.fields(TrainConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            options[field.name] = value
    if args.resume:
        out_dir = options.get("out_dir") or TrainConfig.from_dict({k: v for k, v in options.items()}).out_dir
        trainer = Trainer.resume(out_dir, overrides={k: v for k, v in options.items() if k != "out_dir"})
    else:
        config = TrainConfig.from_dict(options)
        _refuse_to_overwrite(config.out_dir)
        trainer = Trainer(config)
    try:
        final = trainer.fit()
    except KeyboardInterrupt:
        print("stopped; continue with: npformer train --resume" + (f" --out {trainer.config.out_dir}"), file=sys.stderr)
        return 130
    print(f"validation loss {final['val_loss']:.4f}" + "".join(
        f", {k} {v:.4f}" for k, v in final.items() if k not in ("step", "train_loss", "val_loss")))
    samples = trainer.task.samples(trainer.config.samples, trainer.config.sample_tokens,
                                   temperature=trainer.config.temperature, top_k=trainer.config.top_k,
                                   seed=trainer.config.seed)
    for index, text in enumerate(samples, 1):
        print(f"--- sample {index} ---\n{text}")
    return 0


def _refuse_to_overwrite(out_dir):
    import os
    if os.path.isfile(os.path.join(out_dir, "latest.json")):
        raise ValueError(f"{out_dir} already holds a training run: continue it with --resume, or choose another "
                         f"--out directory (nothing was overwritten)")


# ---------------------------------------------------------------------------- generate / eval
def _load(checkpoint):
    from .train import Trainer
    return Trainer.resume(checkpoint, log=_Quiet())


class _Quiet:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def run_generate(args):
    trainer = _load(args.checkpoint)
    task, config = trainer.task, trainer.config
    if config.model == "bert":
        raise ValueError("a BERT checkpoint fills in masked tokens rather than continuing text: use npformer eval")
    sampling = dict(max_new_tokens=args.max_new_tokens, do_sample=not args.greedy, temperature=args.temperature,
                    top_k=args.top_k or None, top_p=args.top_p, repetition_penalty=args.repetition_penalty)
    if config.model == "seq2seq":
        symbols = [int(s) for s in args.prompt.split()] or [3, 4, 5]
        print(" ".join(map(str, task.predict([np.asarray(symbols)])[0])))
        return 0
    from . import Generator
    from .generation import generate, generate_in_window, stream_in_window
    prompt = task.tokenizer.encode(args.prompt, add_special_tokens=False) if args.prompt else task.train_ids[:1].tolist()
    ids = np.asarray([prompt], dtype=np.int64)
    if args.num_beams > 1:
        # beams keep whole hypotheses, so they stay inside the position table
        if len(prompt) + args.max_new_tokens > config.block_size:
            raise ValueError(f"beam search keeps to the model's context of {config.block_size} tokens: the prompt "
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


def run_eval(args):
    trainer = _load(args.checkpoint)
    started = time.perf_counter()
    result = trainer.evaluate()
    print(f"step {trainer.step}: " + ", ".join(f"{k} {v:.4f}" for k, v in result.items())
          + f" ({time.perf_counter() - started:.1f} s; {trainer.config.eval_steps} random batches per split)")
    if hasattr(trainer.task, "split_loss"):
        started = time.perf_counter()
        print(f"val_loss over the whole validation split {trainer.task.split_loss('val'):.4f} "
              f"({time.perf_counter() - started:.1f} s)")
    return 0


# ---------------------------------------------------------------------------- gradcheck
def run_gradcheck_audit(args):
    from .autograd.function import Function
    from .autograd.gradcheck import GradcheckError, gradcheck_report
    from .ops.gradcases import cases_for

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
            problem = "FAIL: no gradient case (add one to npformer/ops/gradcases.py)"
        failures += problem is not None
        print(f"{name:<{width}} {len(cases):>5} {worst:>14.2e}  {problem or 'pass'}")
    print("-" * len(header))
    elapsed = time.perf_counter() - started
    print(f"{len(names) - failures} of {len(names)} ops pass ({elapsed:.1f} s); relative error is "
          f"max |analytic - numeric| / max |numeric| over each Jacobian")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
