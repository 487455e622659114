"""Kill a training process at many points of its save sequence, and check every kill leaves a
run that resumes exactly. Run by tests/reliability/test_runs.py as

    python -m tests.reliability.kill_points WORKDIR [--every N]      (N: kill at every N-th line; 1: all)

It trains a reference run straight to the end, and a template run to its first checkpoint.
Then, for kill point k = 1, 2, ...: it copies the template, forks a child that resumes the copy
with a line tracer armed, and the tracer sends the child SIGKILL (as ``kill -9``) at the k-th
line executed in the files that write a run (the training loop, the checkpoint, atomic-write,
safetensors, log and lock modules). The loop's own lines are counted too, so kills land between
steps, inside a step, inside a save and inside every file write. After each kill, in this
process: ``latest.json`` must name a complete checkpoint (or none, for a run killed before its
first), every file of it must load, and resuming to the end must give the reference's weights
bit for bit and the reference's log (each step once, timings aside).

Prints one JSON object: the number of kill points, how many landed in each file, and failures.
"""
import json
import os
import shutil
import signal
import sys

import numpy as np

from npformer.io.checkpoint import load_checkpoint, read_latest
from npformer.io.runlog import read_records
from npformer.tokenizers import load as load_tokenizer
from npformer.train import TrainConfig, Trainer

WRITERS = ("train.py", "checkpoint.py", "atomic.py", "safetensors.py", "runlog.py", "lock.py")
TIMINGS = ("tokens_per_s", "elapsed_s")
TEXT = "The quick brown fox jumps over the lazy dog; the dog sleeps on. " * 30


class Quiet:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def config(workdir, out, **overrides):
    options = dict(data=os.path.join(workdir, "corpus.txt"), n_layers=1, n_heads=2, d_model=16, block_size=8,
                   batch_size=2, max_steps=6, warmup_steps=2, eval_interval=2, eval_steps=1, log_interval=1,
                   checkpoint_interval=2, keep_checkpoints=2, out_dir=os.path.join(workdir, out), samples=0,
                   dropout=0.1)
    options.update(overrides)
    return TrainConfig(**options)


def weights(trainer):
    return {name: p.numpy().copy() for name, p in trainer.model.named_parameters()}


def log_of(run):
    records, dropped = read_records(os.path.join(run, "log.jsonl"))
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in records], dropped


class Tracer:
    """Counts the lines executed in the writer files; at line ``kill_at`` the process dies."""

    def __init__(self, kill_at=None):
        self.kill_at, self.count, self.where = kill_at, 0, {}

    def __call__(self, frame, event, arg):
        path = frame.f_code.co_filename.replace(os.sep, "/")
        if os.path.basename(path) in WRITERS and "/npformer/" in path:
            return self._line
        return None

    def _line(self, frame, event, arg):
        if event == "line":
            self.count += 1
            name = os.path.basename(frame.f_code.co_filename)
            self.where[name] = self.where.get(name, 0) + 1
            if self.count == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return self._line


def child(run, kill_at, report=None):
    """In a forked child: resume ``run`` and train to the end, dying at line ``kill_at``."""
    try:
        trainer = Trainer.resume(run, overrides={"max_steps": 6}, log=Quiet())
        tracer = Tracer(kill_at)
        sys.settrace(tracer)
        trainer.fit()
        sys.settrace(None)
        if report is not None:
            os.write(report, json.dumps({"count": tracer.count, "where": tracer.where}).encode())
        os._exit(0)
    except BaseException as error:                       # the child must never return into the driver
        sys.settrace(None)
        os.write(2, f"child failed: {error!r}\n".encode())
        os._exit(3)


def fork(run, kill_at, report=None):
    pid = os.fork()
    if pid == 0:
        child(run, kill_at, report)
    _, status = os.waitpid(pid, 0)
    return status


def check(run, reference_weights, reference_log):
    """The run a kill left: latest.json names a complete checkpoint (or there is none yet), and
    it resumes to the reference exactly. Returns a problem, or None."""
    latest = read_latest(run)
    if latest:
        step_dir, model_state, optimizer_arrays, meta = load_checkpoint(run)
        load_tokenizer(step_dir)
        if meta["step"] != int(latest[5:]) or not model_state or not optimizer_arrays:
            return f"latest.json names {latest}, which holds step {meta['step']}"
    trainer = Trainer.resume(run, overrides={"max_steps": 6}, log=Quiet())
    trained = trainer.fit() is not None                   # None: finished before the kill, nothing written
    if trainer.step != 6:
        return f"resumed to step {trainer.step}"
    got = weights(trainer) if trained else None
    if got is None:                                       # finished before the kill: load the final checkpoint
        _, model_state, _, _ = load_checkpoint(run)
        got = {name: model_state[name] for name in reference_weights}
    for name, array in reference_weights.items():
        if not np.array_equal(array, got[name]):
            return f"weights differ from the reference in {name}"
    log, dropped = log_of(run)
    if dropped or log != reference_log:
        return f"log differs from the reference ({dropped} damaged lines)"
    leftovers = [e for e in os.listdir(run) if e.startswith(".") and e != ".lock"]
    if leftovers and trained:                             # a writer removes what a kill left behind
        return f"leftovers after the resumed run: {leftovers}"
    return None


def main():
    workdir = sys.argv[1]
    every = int(sys.argv[sys.argv.index("--every") + 1]) if "--every" in sys.argv else 1
    with open(os.path.join(workdir, "corpus.txt"), "w", encoding="utf-8") as f:
        f.write(TEXT)
    reference = Trainer(config(workdir, "reference"), log=Quiet())
    reference.fit()
    reference_weights = weights(reference)
    reference_log, _ = log_of(reference.config.out_dir)
    Trainer(config(workdir, "template", max_steps=2, lr_decay_steps=6), log=Quiet()).fit()
    template = os.path.join(workdir, "template")
    # the template stopped at step 2 of a 6-step plan; resumed, it runs to 6 as the reference did
    dry = os.path.join(workdir, "dry")
    shutil.copytree(template, dry)
    read_end, write_end = os.pipe()
    status = fork(dry, None, report=write_end)
    os.close(write_end)
    counted = json.loads(os.read(read_end, 1 << 16).decode())
    os.close(read_end)
    if status != 0:
        raise SystemExit(f"the uninterrupted child failed (status {status})")
    failures, killed = [], 0
    for kill_at in range(every, counted["count"] + 1, every):
        run = os.path.join(workdir, f"k{kill_at}")
        shutil.copytree(template, run)
        status = fork(run, kill_at)
        if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
            failures.append(f"kill point {kill_at}: the child was not killed (status {status})")
            continue
        killed += 1
        try:
            problem = check(run, reference_weights, reference_log)
        except Exception as error:                       # a run that does not even load is a failure too
            problem = f"{type(error).__name__}: {error}"
        if problem:
            failures.append(f"kill point {kill_at}: {problem}")
        shutil.rmtree(run)
    print(json.dumps({"kill_points": counted["count"], "killed": killed, "lines_by_file": counted["where"],
                      "failures": failures[:20], "failure_count": len(failures)}))


if __name__ == "__main__":
    main()
