"""A run never loses work, and a mistake never ends in a traceback (issue 11).

Most tests drive ``python -m npformer`` in a subprocess, as a user would, and then look at the
run directory: which checkpoint latest.json names, whether each file still loads, whether the
bytes the user had are still there, what stderr said and with which exit code."""
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from npformer.io.checkpoint import LATEST, CheckpointError, load_checkpoint, prune, read_latest, save_checkpoint
from npformer.io.runlog import RunLog, read_records
from npformer.optim import warmup_cosine_lr
from npformer.train import TrainConfig, Trainer, TrainingStopped, run_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEXT = "It is a truth universally acknowledged, that a single man in possession of a good fortune. " * 30
TINY = ["--n-layers", "1", "--n-heads", "2", "--d-model", "16", "--block-size", "8", "--batch-size", "2",
        "--eval-interval", "2", "--eval-steps", "1", "--log-interval", "1", "--checkpoint-interval", "2",
        "--warmup-steps", "2", "--samples", "0", "--lr", "0.01", "--min-lr", "0.001"]


class Quiet:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def npformer(*args, cwd=None, env=None):
    """``python -m npformer ARGS``: (exit code, stdout, stderr)."""
    environment = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1", **(env or {}))
    done = subprocess.run([sys.executable, "-m", "npformer", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=environment, timeout=300)
    return done.returncode, done.stdout, done.stderr


def one_line(stderr):
    """A mistake's report: one line, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def train(tmp_path, corpus, out="run", steps=4, *extra):
    code, out_text, err = npformer("train", "--data", corpus, "--out", tmp_path / out, "--steps", steps, *TINY, *extra)
    assert code == 0, err
    return tmp_path / out


def snapshot(directory):
    """Every file under ``directory`` with its bytes' hash (the lock file aside)."""
    found = {}
    for base, _, files in os.walk(directory):
        for name in files:
            if name != ".lock":
                path = os.path.join(base, name)
                with open(path, "rb") as f:
                    found[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
    return found


def strict_records(path):
    """log.jsonl, each line parsed as strict JSON (NaN and Infinity literals refused)."""
    def refuse(name):
        raise AssertionError(f"{path}: {name} is not JSON")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line, parse_constant=refuse) for line in f.read().splitlines()]


def tiny_config(tmp_path, corpus, **overrides):
    options = dict(data=str(corpus), n_layers=1, n_heads=2, d_model=16, block_size=8, batch_size=2, max_steps=4,
                   warmup_steps=2, eval_interval=2, eval_steps=1, log_interval=1, checkpoint_interval=2,
                   out_dir=str(tmp_path / "run"), samples=0)
    options.update(overrides)
    return TrainConfig(**options)


# ---------------------------------------------------------------- 1. the run directory is the one named
def test_a_copied_run_resumes_into_the_copy_and_leaves_the_original_alone(tmp_path, corpus):
    run = train(tmp_path, corpus)
    shutil.copytree(run, tmp_path / "copy")
    before = snapshot(run)
    code, _, err = npformer("train", "--resume", "--out", tmp_path / "copy", "--steps", 6)
    assert code == 0, err
    assert read_latest(tmp_path / "copy") == "step-0000006"
    assert snapshot(run) == before and read_latest(run) == "step-0000004"


def test_resuming_from_an_earlier_step_never_replaces_later_checkpoints(tmp_path, corpus):
    run = train(tmp_path, corpus, "run", 4, "--keep-checkpoints", "3")
    before = snapshot(run)
    code, _, err = npformer("train", "--resume", run / "step-0000002", "--steps", 6)
    assert code == 2 and "already has a later checkpoint (step-0000004)" in one_line(err)
    assert snapshot(run) == before
    # branching off into a new directory is the way
    code, _, err = npformer("train", "--resume", run / "step-0000002", "--out", tmp_path / "branch", "--steps", 4)
    assert code == 0, err
    assert snapshot(run) == before and read_latest(tmp_path / "branch") == "step-0000004"
    # the branch retrained steps 3 and 4 from the same state: the same weights
    assert load_checkpoint(tmp_path / "branch")[1].keys() == load_checkpoint(run)[1].keys()
    for name, array in load_checkpoint(run)[1].items():
        np.testing.assert_array_equal(load_checkpoint(tmp_path / "branch")[1][name], array)


# ---------------------------------------------------------------- 2. written once, latest.json always complete
def test_each_step_is_checkpointed_once(tmp_path, corpus, monkeypatch):
    import npformer.train as train_module
    saved = []
    real = train_module.save_checkpoint
    monkeypatch.setattr(train_module, "save_checkpoint", lambda run_dir, step, *a, **k: saved.append(step) or
                        real(run_dir, step, *a, **k))
    Trainer(tiny_config(tmp_path, corpus, max_steps=4, checkpoint_interval=2), log=Quiet()).fit()
    assert saved == [2, 4]                     # the final step divides the interval: one save, not two
    # a resumed run that is interrupted before its first step has nothing new to save
    resumed = Trainer.resume(str(tmp_path / "run"), overrides={"max_steps": 6}, log=Quiet())

    class StopAtOnce(Quiet):
        def start(self, trainer):
            raise KeyboardInterrupt

    resumed.log = StopAtOnce()
    with pytest.raises(KeyboardInterrupt):
        resumed.fit()
    assert saved == [2, 4] and read_latest(tmp_path / "run") == "step-0000004"


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="the kill-point driver forks")
def test_a_kill_at_any_point_leaves_a_run_that_resumes_exactly(tmp_path):
    # the driver kills a resumed training process at every N-th line executed in the files that
    # write a run (train.py, the checkpoint, atomic-write, safetensors, log and lock modules),
    # then checks that latest.json names a complete checkpoint and that resuming gives the
    # uninterrupted run's weights bit for bit and its log line for line. N = 11 here keeps the
    # test near 40 s; NPFORMER_KILL_EVERY=1 kills at every one of the ~3,300 lines.
    every = os.environ.get("NPFORMER_KILL_EVERY", "11")
    done = subprocess.run([sys.executable, "-m", "tests.reliability.kill_points", str(tmp_path), "--every", every],
                          capture_output=True, text=True, cwd=ROOT, timeout=1800,
                          env=dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["failure_count"] == 0, report["failures"]
    assert report["killed"] == report["kill_points"] // int(every) >= 250
    for name in ("train.py", "checkpoint.py", "atomic.py", "safetensors.py", "runlog.py", "lock.py"):
        assert report["lines_by_file"][name] > 0, name


def test_leftovers_of_a_crash_are_removed_when_the_run_starts_again(tmp_path, corpus):
    run = train(tmp_path, corpus)
    crash = (".npformer-staging-step-0000006-abc", ".npformer-trash-step-0000002-def", ".step-0000006-k2j_x9a0")
    users = (".trash-photos", ".staging-notes", ".step-2-draft")      # the user's own: alike, not ours
    for name in crash + users:
        (run / name).mkdir()
        (run / name / "model.safetensors").write_bytes(b"half")
    (run / ".npformer-tmp-1234").write_bytes(b"half a latest.json")
    (run / ".tmp-notes.txt").write_text("the user's own file")
    code, _, err = npformer("train", "--resume", "--out", run, "--steps", 6)
    assert code == 0, err
    assert sorted(e for e in os.listdir(run) if e.startswith(".")) == sorted((".lock", ".tmp-notes.txt") + users)
    assert (run / ".tmp-notes.txt").read_text() == "the user's own file"


def test_a_new_run_cleans_nothing_in_a_directory_that_holds_no_run(tmp_path, corpus):
    place = tmp_path / "place"
    place.mkdir()
    (place / ".npformer-tmp-mine").write_text("mine")                 # even a name like ours
    code, _, err = npformer("train", "--data", corpus, "--out", place, "--steps", 2, *TINY)
    assert code == 0, err
    assert (place / ".npformer-tmp-mine").read_text() == "mine"


def test_pruning_orders_steps_by_number_and_never_removes_the_committed_one(tmp_path):
    for step in (9, 10, 10_000_000):                    # "step-10000000" sorts before "step-0000010" as text
        (tmp_path / f"step-{step:07d}").mkdir()
    (tmp_path / "step-notes").mkdir()                   # not a step directory: never touched
    (tmp_path / LATEST).write_text(json.dumps({"checkpoint": "step-0000009"}))
    prune(str(tmp_path), keep=1)
    assert sorted(os.listdir(tmp_path)) == [LATEST, "step-0000009", "step-10000000", "step-notes"]


# ---------------------------------------------------------------- 3. non-finite training stops
def test_a_diverging_run_stops_naming_the_step_and_keeps_the_good_checkpoint(tmp_path, corpus):
    run = train(tmp_path, corpus)
    before = snapshot(run)
    code, out, err = npformer("train", "--resume", "--out", run, "--steps", 12, "--lr", "1e30", "--min-lr", "1e30",
                              "--grad-clip", "0")
    line = one_line(err)
    assert code == 1 and "training stopped before updating the weights" in line
    assert line.startswith("npformer train: step ") and "the last checkpoint (step-0000004) is kept" in line
    assert read_latest(run) == "step-0000004"
    assert {k: v for k, v in snapshot(run).items() if k.startswith("step-")} == \
        {k: v for k, v in before.items() if k.startswith("step-")}
    for name, array in load_checkpoint(run)[1].items():
        assert np.isfinite(array).all(), name
    records = strict_records(run / "log.jsonl")
    assert line.startswith(f"npformer train: step {records[-1]['step']}: {records[-1]['stopped']}, so training")


def test_weights_that_overflow_in_the_update_are_never_written(tmp_path, corpus):
    # decoupled weight decay multiplies each weight by 1 - lr * wd, about -3e27 in the first
    # warmup step: the weights are huge but finite after step 1 and beyond float32 after step 2,
    # with finite gradients at both (the loss is computed before each update)
    code, _, err = npformer("train", "--data", corpus, "--out", tmp_path / "run", *TINY, "--steps", 4,
                            "--weight-decay", "1e30", "--eval-interval", "100", "--checkpoint-interval", "1")
    line = one_line(err)
    assert code == 1 and line.startswith("npformer train: step 2: ") and "--weight-decay" in line
    assert "is no longer finite after the optimizer step" in line
    assert read_latest(tmp_path / "run") == "step-0000001"
    assert [d for d in os.listdir(tmp_path / "run") if d.startswith("step-")] == ["step-0000001"]
    for name, array in load_checkpoint(tmp_path / "run")[1].items():
        assert np.isfinite(array).all(), name


def test_a_nan_gradient_stops_before_the_optimizer_step(tmp_path, corpus, monkeypatch):
    from npformer.nn import utils as nn_utils
    trainer = Trainer(tiny_config(tmp_path, corpus, max_steps=6, checkpoint_interval=2), log=Quiet())
    real_clip = nn_utils.clip_grad_norm_

    def poisoned(parameters, max_norm):                 # from step 3 on, one gradient entry is NaN
        parameters = list(parameters)
        if trainer.step >= 2:
            parameters[0].grad.numpy()[(0,) * parameters[0].grad.numpy().ndim] = np.nan
        return real_clip(parameters, max_norm)
    monkeypatch.setattr(nn_utils, "clip_grad_norm_", poisoned)
    with pytest.raises(TrainingStopped, match=r"^step 3: the gradient norm is nan"):
        trainer.fit()
    assert trainer.step == 2 and read_latest(tmp_path / "run") == "step-0000002"
    saved = load_checkpoint(tmp_path / "run")[1]
    for name, param in trainer.model.named_parameters():
        np.testing.assert_array_equal(param.numpy(), saved[name])     # the weights did not move
    assert all(param.grad is None for param in trainer.model.parameters())


def test_masked_lm_on_a_two_token_block_is_refused_before_training(tmp_path, corpus):
    code, _, err = npformer("train", "--model", "bert", "--data", corpus, "--out", tmp_path / "bert",
                            "--block-size", 2)
    assert code == 2 and "needs block_size >= 3" in one_line(err)
    assert not (tmp_path / "bert").exists()


def test_masked_lm_batches_always_hold_a_masked_token(tmp_path, corpus):
    # 15% of one maskable token per row, two rows: 72% of batches would mask nothing (a 0/0 loss)
    trainer = Trainer(tiny_config(tmp_path, corpus, model="bert", block_size=3, batch_size=2), log=Quiet())
    from npformer.autograd.random import Generator
    generator = Generator(0)
    for _ in range(50):
        _, labels = trainer.task.batch("train", generator)
        assert (labels != -100).sum() >= 1
    assert np.isfinite(trainer.fit()["val_loss"])


# ---------------------------------------------------------------- 4. the log stays JSON lines
def test_a_torn_log_is_repaired_and_steps_after_the_checkpoint_are_dropped(tmp_path, corpus):
    run = train(tmp_path, corpus, "run", 5)             # checkpoints at 2 and 4, the final one at 5
    shutil.rmtree(run / "step-0000005")                 # as if killed before step 5's commit...
    (run / LATEST).write_text(json.dumps({"checkpoint": "step-0000004"}))
    with open(run / "log.jsonl", "a", encoding="utf-8") as log:
        log.write('{"step": 6, "train_loss": 1.5}\n{"step": 7, "train_lo')     # ...after a later write tore
    code, _, err = npformer("train", "--resume", "--out", run, "--steps", 6)
    assert code == 0, err
    records = strict_records(run / "log.jsonl")
    progress = [r["step"] for r in records if "lr" in r]
    assert progress == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in records if "val_loss" in r] == [2, 4, 6]


def test_log_values_are_strict_json(tmp_path):
    with RunLog(str(tmp_path / "log.jsonl")) as log:
        log.open(0)
        log.append({"step": 1, "train_loss": float("nan"), "lr": float("inf"), "nested": [float("-inf"), 1.0]})
    assert strict_records(tmp_path / "log.jsonl") == [{"step": 1, "train_loss": None, "lr": None,
                                                       "nested": [None, 1.0]}]


def _tmpfs_available():
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || "
                            "mount -t tmpfs -o size=64k tmpfs /tmp"], capture_output=True)
    return probe.returncode == 0


def _full_disk_run(tmp_path, corpus, size_kb, out):
    """Train on a tmpfs of ``size_kb`` (in a private mount namespace), then copy what the run left
    onto the real disk: (exit code, stderr)."""
    mount = tmp_path / f"mnt{size_kb}"
    mount.mkdir()
    command = [sys.executable, "-m", "npformer", "train", "--data", str(corpus), "--out", str(mount / "run"),
               "--steps", "8", *TINY]
    script = (f"mount -t tmpfs -o size={size_kb}k tmpfs {mount} && "
              f"{' '.join(map(_quote, command))}; code=$?; cp -a {mount}/run {out} 2>/dev/null; exit $code")
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1"), timeout=300)
    return done.returncode, done.stderr


def _quote(text):
    return "'" + str(text).replace("'", "'\\''") + "'"


@pytest.mark.slow
def test_a_full_disk_stops_the_run_and_it_resumes_exactly_elsewhere(tmp_path, corpus):
    reference = train(tmp_path, corpus, "reference", 8)
    expected = load_checkpoint(reference)[1]
    expected_log = [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")}
                    for r in strict_records(reference / "log.jsonl")]
    outcomes = set()
    # measured here: 4 KB fills at run.json, 8 KB at the log, 24 KB at step 2's checkpoint, 96 KB at
    # step 4's, 200 KB at step 6's (tmpfs counts whole pages, so other kernels may shift these)
    sizes = (4, 8, 24, 96, 200) if _tmpfs_available() else ()
    if not sizes:
        pytest.skip("no private tmpfs here (unshare -rm): test_a_faked_full_disk_* covers the same faults")
    for size in sizes:
        out = tmp_path / f"left{size}"
        code, err = _full_disk_run(tmp_path, corpus, size, out)
        if code == 0:
            continue                                    # the run fitted: nothing to check for this size
        line = one_line(err)
        assert code in (1, 2) and "No space left on device" in line, line
        outcomes.add(next((what for what in ("checkpoint", "log.jsonl", "run.json") if what in line), line))
        if not (out / "run.json").exists():             # full before run.json: nothing was trained
            continue
        _resume_to_reference(out, expected, expected_log)
    assert len(outcomes) >= 2, outcomes                 # the disk filled at different writes


def _resume_to_reference(run, expected, expected_log):
    code, _, err = npformer("train", "--resume", "--out", run, "--steps", 8)
    assert code == 0, err
    got = load_checkpoint(run)[1]
    for name, array in expected.items():
        np.testing.assert_array_equal(got[name], array, err_msg=name)
    log = [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")}
           for r in strict_records(run / "log.jsonl")]
    assert log == expected_log


class _FullDisk:
    """A file whose writes fail with ENOSPC once ``budget`` bytes (shared by all files) are spent,
    after writing what fitted: what a full disk does to write(2)."""

    def __init__(self, file, budget):
        self._file, self._budget = file, budget

    def write(self, data):
        room = self._budget[0]
        if len(data) > room:
            if room:
                self._file.write(data[:room])
                self._file.flush()
            self._budget[0] = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._budget[0] -= len(data)
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


@pytest.mark.parametrize("budget", [1_000, 20_000, 60_000, 90_000, 140_000])
def test_a_faked_full_disk_stops_the_run_and_it_resumes_exactly(tmp_path, corpus, monkeypatch, budget):
    reference = Trainer(tiny_config(tmp_path / "ref", corpus, max_steps=8), log=Quiet())
    reference.fit()
    expected = {name: p.numpy().copy() for name, p in reference.model.named_parameters()}
    expected_log = [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")}
                    for r in strict_records(tmp_path / "ref" / "run" / "log.jsonl")]
    left = [budget]
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        file = real_fdopen(fd, mode, *args, **kwargs)
        return _FullDisk(file, left) if "w" in mode or "a" in mode else file

    monkeypatch.setattr(os, "fdopen", fdopen)            # every file npformer writes is opened through it
    trainer = Trainer(tiny_config(tmp_path, corpus, max_steps=8), log=Quiet())
    with pytest.raises((OSError, ValueError), match="No space left on device"):
        trainer.fit()
    monkeypatch.undo()
    run = tmp_path / "run"
    if read_latest(run):
        load_checkpoint(run)                            # latest.json names a complete checkpoint
    if run_files(run):
        resumed = Trainer.resume(str(run), log=Quiet())
    else:                                               # the disk filled before run.json: start again
        resumed = Trainer(tiny_config(tmp_path, corpus, max_steps=8), log=Quiet())
    resumed.fit()
    for name, param in resumed.model.named_parameters():
        np.testing.assert_array_equal(param.numpy(), expected[name], err_msg=name)
    log = [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")}
           for r in strict_records(run / "log.jsonl")]
    assert log == expected_log


# ---------------------------------------------------------------- 5. a run knows its data
def test_eval_and_resume_refuse_another_text_and_say_how_to_point_at_the_right_one(tmp_path, corpus):
    run = train(tmp_path, corpus)
    shutil.copy(corpus, tmp_path / "original.txt")
    corpus.write_text(TEXT.replace("fortune", "FORTUNE"), encoding="utf-8")
    for command in (["eval", "--checkpoint", run], ["train", "--resume", "--out", run, "--steps", 6],
                    ["generate", "--checkpoint", run, "--max-new-tokens", 3]):
        code, _, err = npformer(*command)
        line = one_line(err)
        assert code == 2 and "is not the text this run was trained on" in line and "pass --data" in line, line
    code, out, err = npformer("eval", "--checkpoint", run, "--data", tmp_path / "original.txt")
    assert code == 0 and "val_loss" in out, err
    os.remove(corpus)
    code, _, err = npformer("eval", "--checkpoint", run)
    assert code == 2 and "no such file" in one_line(err) and "pass --data" in one_line(err)


def test_a_relative_data_path_does_not_depend_on_the_working_directory(tmp_path, corpus):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(corpus, tmp_path / "a" / "text.txt")
    (tmp_path / "b" / "text.txt").write_text(TEXT.upper(), encoding="utf-8")       # same name, other text
    code, _, err = npformer("train", "--data", "text.txt", "--out", tmp_path / "run", "--steps", 2, *TINY,
                            cwd=tmp_path / "a")
    assert code == 0, err
    recorded = json.loads((tmp_path / "run" / "run.json").read_text())
    assert recorded["config"]["data"] == str(tmp_path / "a" / "text.txt")
    code, out, err = npformer("eval", "--checkpoint", tmp_path / "run", cwd=tmp_path / "b")
    assert code == 0 and "val_loss" in out, err


# ---------------------------------------------------------------- 6. sizes trusted only after checking
def test_a_hostile_trainer_json_fails_before_allocating(tmp_path, corpus):
    run = train(tmp_path, corpus)
    meta_path = run / "step-0000004" / "trainer.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["d_model"] = 2 ** 20                  # a (vocab, 2^20) embedding and 2^42-element matrices
    meta["config"]["n_heads"] = 2
    meta_path.write_text(json.dumps(meta))
    code, _, err = npformer("eval", "--checkpoint", run)
    assert code == 2 and "does not fit the model its trainer.json describes" in one_line(err)
    # in this process, measured 2.6 MB: the refusal allocates about what the run's small files hold (the
    # corpus, its token ids, the header), nowhere near the 2^20-wide model's terabytes
    import tracemalloc
    tracemalloc.start()
    with pytest.raises(CheckpointError, match="does not fit"):
        Trainer.load(str(run), log=Quiet())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 * 2 ** 20, peak


def test_a_checkpoint_with_another_models_weights_is_refused_in_one_line(tmp_path, corpus):
    run = train(tmp_path, corpus)
    other = train(tmp_path, corpus, "other", 2, "--d-model", "32")
    shutil.copy(other / "step-0000002" / "model.safetensors", run / "step-0000004" / "model.safetensors")
    for command in (["eval", "--checkpoint", run], ["train", "--resume", "--out", run, "--steps", 6]):
        code, _, err = npformer(*command)
        assert code == 2 and "is (" in one_line(err) and "by the config" in one_line(err)


def test_a_checkpoint_without_its_tokenizer_is_refused_in_one_line(tmp_path, corpus):
    run = train(tmp_path, corpus)
    os.remove(run / "step-0000004" / "vocab.json")
    code, _, err = npformer("eval", "--checkpoint", run)
    assert code == 2 and "its tokenizer cannot be read" in one_line(err)


def test_a_model_too_large_for_this_machine_is_refused_before_allocating(tmp_path, corpus):
    code, _, err = npformer("train", "--data", corpus, "--out", tmp_path / "huge", *TINY, "--d-model", 65536,
                            "--n-heads", 1, "--n-layers", 4)
    line = one_line(err)
    assert code == 2 and "GiB to train" in line and "more than this machine's" in line, line
    assert not (tmp_path / "huge").exists()


def test_an_int_tensor_in_place_of_weights_is_refused(tmp_path, corpus):
    from npformer.io.safetensors import load_file, save_file
    run = train(tmp_path, corpus)
    weights = run / "step-0000004" / "model.safetensors"
    tensors = load_file(weights, mmap=False)
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].view(np.int32)        # the same bytes, read as I32
    save_file(tensors, weights)
    code, _, err = npformer("eval", "--checkpoint", run)
    assert code == 2 and f"{name} is stored as I32, not as float" in one_line(err)


# ---------------------------------------------------------------- 7. every input validated before work starts
def _bad_train_inputs(tmp_path, corpus):
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "typed.json").write_text('{"n_layers": "4"}')
    (tmp_path / "broken.json").write_text('{"n_layers": 4,')
    (tmp_path / "a_file").write_text("not a directory")
    return [
        (["--config", tmp_path / "list.json"], "expected a JSON object of training options"),
        (["--config", tmp_path / "typed.json"], "typed.json: n_layers must be an integer, got '4'"),
        (["--config", tmp_path / "broken.json"], "not JSON"),
        (["--config", tmp_path / "missing.json"], "cannot be read"),
        (["--eval-interval", "0"], "eval_interval must be at least 1"),
        (["--keep-checkpoints", "0"], "keep_checkpoints must be at least 1"),
        (["--checkpoint-interval", "-1"], "checkpoint_interval must be at least 0"),
        (["--log-interval", "0"], "log_interval must be at least 1"),
        (["--temperature", "0"], "temperature must be positive"),
        (["--top-k", "-5"], "top_k must be at least 0"),
        (["--d-model", "30", "--n-heads", "4"], "d_model (30) must be a multiple of n_heads (4)"),
        (["--dropout", "1.5"], "dropout must be in [0, 1)"),
        (["--lr", "nan"], "lr must be a finite number"),
        (["--lr", "0"], "lr must be positive"),
        (["--beta2", "1"], "beta2 must be in [0, 1)"),
        (["--model", "gpt2"], "model must be one of gpt, bert, seq2seq"),
        (["--activation", "tanh"], "activation must be one of"),
        (["--tokenizer", "bpe", "--bpe-vocab-size", "10"], "bpe_vocab_size must be at least 261"),
        (["--out", tmp_path / "a_file"], "is a file, not a directory"),
        (["--out", tmp_path / "a_file" / "run"], "cannot use"),
        (["--data", tmp_path / "missing.txt"], "no such file"),
        (["--data", tmp_path], "is a directory"),
        (["--block-size", "100000"], "too few for block_size 100000"),
    ]


def test_every_bad_training_option_gets_one_line_before_any_work(tmp_path, corpus):
    for flags, message in _bad_train_inputs(tmp_path, corpus):
        out = tmp_path / "never"
        args = ["train", "--data", corpus, "--out", out, "--steps", 2, *TINY, *flags]
        code, _, err = npformer(*args)
        line = one_line(err)
        assert code == 2 and message in line, (flags, line)
        assert not out.exists() or not os.listdir(out), flags       # nothing written


def test_a_read_only_place_for_the_run_gets_one_line(tmp_path, corpus):
    place = tmp_path / "read-only"
    place.mkdir()
    command = [sys.executable, "-m", "npformer", "train", "--data", str(corpus), "--out", str(place / "run"), *TINY]
    if os.geteuid() != 0:
        place.chmod(0o555)
        expected = "cannot write into"
    elif _tmpfs_available():                            # root writes anywhere: mount the place read-only
        command = ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {_quote(place)} && "
                   + " ".join(map(_quote, command))]
        expected = "cannot use"
    else:
        pytest.skip("running as root without a private mount namespace: no place is read-only")
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT),
                          timeout=120)
    line = one_line(done.stderr)
    assert done.returncode == 2 and expected in line and "choose another --out" in line, line


@pytest.mark.parametrize("flags, message", [
    (["--temperature", "0"], "--temperature must be a positive number"),
    (["--top-k", "-5"], "--top-k must be at least 0"),
    (["--top-p", "0"], "--top-p must be in (0, 1]"),
    (["--top-p", "1.5"], "--top-p must be in (0, 1]"),
    (["--num-beams", "0"], "--num-beams must be in [1, 1000]"),
    (["--num-beams", str(10 ** 21)], "--num-beams must be in [1, 1000]"),
    (["--max-new-tokens", "0"], "--max-new-tokens must be in [1, 10000000]"),
    (["--data", ""], "--data must name a file, got an empty string"),
    (["--repetition-penalty", "0"], "--repetition-penalty must be a positive number"),
])
def test_bad_sampling_options_are_refused_before_the_checkpoint_is_read(tmp_path, flags, message):
    code, _, err = npformer("generate", "--checkpoint", tmp_path / "no-such-run", *flags)
    assert code == 2 and message in one_line(err)


def test_bad_checkpoint_arguments_get_one_line(tmp_path, corpus):
    (tmp_path / "empty").mkdir()
    for command, message in [(["eval", "--checkpoint", tmp_path / "missing"], "no such run or checkpoint"),
                             (["eval", "--checkpoint", tmp_path / "empty"], "no checkpoint here"),
                             (["train", "--resume", "--out", tmp_path / "missing"], "no run to resume"),
                             (["train", "--resume", "--out", tmp_path / "empty"], "no checkpoint here")]:
        code, _, err = npformer(*command)
        assert code == 2 and message in one_line(err), (command, err)


def test_seq2seq_prompts_are_checked(tmp_path):
    code, _, err = npformer("train", "--model", "seq2seq", "--out", tmp_path / "s2s", "--steps", 2, *TINY)
    assert code == 0, err
    for prompt in ("3 x 5", "3 99", "1 2"):
        code, _, err = npformer("generate", "--checkpoint", tmp_path / "s2s", "--prompt", prompt)
        assert code == 2 and "a sequence task takes" in one_line(err)


# ---------------------------------------------------------------- 8. resume says what it does
def test_resuming_a_finished_run_says_so_and_writes_nothing(tmp_path, corpus):
    run = train(tmp_path, corpus)
    before = snapshot(run)
    listing = sorted(os.listdir(run))
    for steps in ([], ["--steps", 4], ["--steps", 2]):
        code, out, err = npformer("train", "--resume", "--out", run, *steps)
        assert code == 0, err
        assert "finished at step 4" in out and "nothing to do" in out
        assert snapshot(run) == before and sorted(os.listdir(run)) == listing


def test_extending_a_run_keeps_its_schedule_unless_asked(tmp_path, corpus):
    run = train(tmp_path, corpus)                       # cosine from step 2 to step 4 (= max_steps), then min_lr
    shutil.copytree(run, tmp_path / "stretched")
    code, out, err = npformer("train", "--resume", "--out", run, "--steps", 8)
    assert code == 0 and "learning-rate schedule kept" in out, err
    lrs = {r["step"]: r["lr"] for r in strict_records(run / "log.jsonl") if "lr" in r}
    assert [lrs[s] for s in range(5, 9)] == [warmup_cosine_lr(s, 0.01, 2, 4, 0.001) for s in range(5, 9)]
    assert set(lrs[s] for s in range(5, 9)) == {0.001}
    code, out, err = npformer("train", "--resume", "--out", tmp_path / "stretched", "--steps", 8,
                              "--lr-decay-steps", 8)
    assert code == 0 and "learning-rate schedule changed: lr_decay_steps 4 -> 8" in out, err
    lrs = {r["step"]: r["lr"] for r in strict_records(tmp_path / "stretched" / "log.jsonl") if "lr" in r}
    assert [lrs[s] for s in range(5, 9)] == [warmup_cosine_lr(s, 0.01, 2, 8, 0.001) for s in range(5, 9)]


# ---------------------------------------------------------------- 9. one writer per run
def test_a_second_writer_is_refused_and_a_killed_one_leaves_no_stale_lock(tmp_path, corpus):
    run = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "npformer", "train", "--data", str(corpus), "--out", str(run),
                              "--steps", "100000", *TINY], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1"))
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (run.exists() and read_latest(run)):
            time.sleep(0.05)
        assert read_latest(run)
        code, _, err = npformer("train", "--resume", "--out", run, "--steps", 100000)
        line = one_line(err)
        assert code == 1 and f"in use by another npformer process (pid {first.pid})" in line
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    step = int(read_latest(run)[5:])
    code, _, err = npformer("train", "--resume", "--out", run, "--steps", step + 2)
    assert code == 0, err
    assert read_latest(run) == f"step-{step + 2:07d}"


def test_ctrl_c_finishes_the_step_and_checkpoints(tmp_path, corpus):
    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "npformer", "train", "--data", str(corpus), "--out", str(run),
                                "--steps", "100000", *TINY, "--checkpoint-interval", "1000"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1"))
    deadline = time.time() + 60
    while time.time() < deadline and len(read_records(str(run / "log.jsonl"))[0]) < 5:
        time.sleep(0.05)
    logged = max(r["step"] for r in read_records(str(run / "log.jsonl"))[0])
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "stopping after this step" in err and "continue with: npformer train --resume" in err
    step = int(read_latest(run)[5:])
    assert step >= logged                               # the step under way was finished, then saved
    code, _, err = npformer("train", "--resume", "--out", run, "--steps", step + 1)
    assert code == 0, err


def test_save_checkpoint_refuses_non_finite_weights(tmp_path):
    state = {"w": np.array([1.0, np.nan], dtype=np.float32)}
    with pytest.raises(ValueError, match="refusing to write step 3: w holds non-finite values"):
        save_checkpoint(str(tmp_path), 3, state, {}, {"step": 3})
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- found by the second red-team pass
def test_a_branch_prepared_before_another_writer_finished_there_writes_nothing(tmp_path, corpus):
    run = train(tmp_path, corpus)
    prepared = Trainer.resume(str(run), overrides={"max_steps": 6}, out_dir=str(tmp_path / "z"), log=Quiet())
    code, _, err = npformer("train", "--resume", run, "--out", tmp_path / "z", "--steps", 8)
    assert code == 0, err
    before = snapshot(tmp_path / "z")
    with pytest.raises(ValueError, match="already holds a training run"):
        prepared.fit()                                  # the lock is taken only now: the check is repeated
    assert snapshot(tmp_path / "z") == before and read_latest(tmp_path / "z") == "step-0000008"


def test_a_resume_prepared_before_another_writer_moved_on_writes_nothing(tmp_path, corpus):
    run = train(tmp_path, corpus)
    prepared = Trainer.resume(str(run), overrides={"max_steps": 6}, log=Quiet())
    code, _, err = npformer("train", "--resume", "--out", run, "--steps", 8)
    assert code == 0, err
    before = snapshot(run)
    with pytest.raises(CheckpointError, match="changed while this run was being prepared"):
        prepared.fit()
    assert snapshot(run) == before and read_latest(run) == "step-0000008"


def test_a_log_that_is_a_link_is_never_written_through(tmp_path, corpus):
    run = train(tmp_path, corpus)
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"step": 1, "mine": true}\n')
    (run / "log.jsonl").unlink()
    (run / "log.jsonl").symlink_to(mine)
    code, _, err = npformer("train", "--resume", "--out", run, "--steps", 6)
    assert code == 1 and "a symbolic link" in one_line(err)
    assert mine.read_text() == '{"step": 1, "mine": true}\n'


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_pipes_and_devices_in_place_of_run_files_are_refused_without_reading(tmp_path, corpus):
    run = train(tmp_path, corpus)
    cases = [(run / "log.jsonl", ["train", "--resume", "--out", run, "--steps", 6]),
             (run / "step-0000004" / "vocab.json", ["eval", "--checkpoint", run]),
             (run / "step-0000004" / "trainer.json", ["eval", "--checkpoint", run]),
             (tmp_path / "options.json", ["train", "--config", tmp_path / "options.json", "--out", tmp_path / "x"])]
    for path, command in cases:
        saved = path.read_bytes() if path.exists() else None
        for make in (os.mkfifo, lambda p: os.symlink("/dev/zero", p)):
            if path.exists() or path.is_symlink():
                path.unlink()
            make(path)
            code, _, err = npformer(*command)
            line = one_line(err)
            refusals = ("not a regular file", "symbolic link", "not a complete checkpoint (missing trainer.json)")
            assert code in (1, 2) and any(refusal in line for refusal in refusals), (path, line)
        path.unlink()
        if saved is not None:
            path.write_bytes(saved)


def test_a_checkpoint_holding_a_nan_is_refused_as_damaged(tmp_path, corpus):
    from npformer.io.safetensors import load_file, save_file
    run = train(tmp_path, corpus)
    for file in ("model.safetensors", "optimizer.safetensors"):
        copy = tmp_path / f"copy-{file}"
        shutil.copytree(run, copy)
        path = copy / "step-0000004" / file
        tensors = load_file(path, mmap=False)
        name = sorted(tensors)[0]
        tensors[name].reshape(-1)[0] = np.nan
        save_file(tensors, path)
        for command in (["eval", "--checkpoint", copy], ["train", "--resume", "--out", copy, "--steps", 6]):
            code, _, err = npformer(*command)
            line = one_line(err)
            assert code == 2 and f"{name} holds non-finite values" in line and "damaged" in line, line


def test_the_out_dir_of_the_overrides_is_the_one_written(tmp_path, corpus):
    run = train(tmp_path, corpus)
    before = snapshot(run)
    Trainer.resume(str(run), overrides={"out_dir": str(tmp_path / "new"), "max_steps": 6}, log=Quiet()).fit()
    assert snapshot(run) == before and read_latest(tmp_path / "new") == "step-0000006"


def test_a_refused_resume_leaves_no_lock_file_behind(tmp_path, corpus):
    run = train(tmp_path, corpus)
    (tmp_path / "empty").mkdir()
    for command in (["train", "--resume", "--out", tmp_path / "empty"],
                    ["train", "--resume", run, "--out", run / "step-0000002", "--steps", 6]):
        code, _, err = npformer(*command)
        assert code == 2, err
    assert os.listdir(tmp_path / "empty") == [] and ".lock" not in os.listdir(run / "step-0000002")


def test_a_path_with_a_newline_still_gets_one_line(tmp_path):
    code, _, err = npformer("eval", "--checkpoint", tmp_path / "no\nsuch")
    assert code == 2 and "no\\nsuch" in one_line(err)
