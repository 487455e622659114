"""The training loop: exact resume, checkpoints, logs, Ctrl-C, the tasks, and bad input that
must never cost an existing checkpoint or log."""
import errno
import json
import os

import numpy as np
import pytest

from npformer.cli import main
from npformer.data import CorpusError
from npformer.io.checkpoint import CheckpointError, CheckpointWriteError, load_checkpoint
from npformer.train import TrainConfig, Trainer

TEXT = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, "
        "must be in want of a wife. ") * 40


class Quiet:
    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def tiny(tmp_path, **overrides):
    corpus = tmp_path / "corpus.txt"
    if not corpus.exists():
        tmp_path.mkdir(parents=True, exist_ok=True)
        corpus.write_text(TEXT, encoding="utf-8")
    options = dict(data=str(corpus), n_layers=1, n_heads=2, d_model=16, block_size=16, batch_size=4, max_steps=20,
                   warmup_steps=3, eval_interval=10, eval_steps=2, log_interval=5, checkpoint_interval=10,
                   out_dir=str(tmp_path / "run"), dropout=0.1, samples=1, sample_tokens=8)
    options.update(overrides)
    return TrainConfig(**options)


def parameters(trainer):
    return {name: p.numpy().copy() for name, p in trainer.model.named_parameters()}


@pytest.mark.parametrize("model", ["gpt", "bert", "seq2seq"])
def test_resume_continues_bit_identically(tmp_path, model):
    # dropout is on, so the resumed run must also restore the dropout and batch streams; both
    # runs plan the same 20-step schedule, the first one stopping halfway
    straight = Trainer(tiny(tmp_path / "a", model=model, lr_decay_steps=20), log=Quiet())
    straight.fit()
    first = Trainer(tiny(tmp_path / "b", model=model, max_steps=10, lr_decay_steps=20), log=Quiet())
    first.fit()
    resumed = Trainer.resume(str(tmp_path / "b" / "run"), overrides={"max_steps": 20}, log=Quiet())
    assert resumed.step == 10
    resumed.fit()
    a, b = parameters(straight), parameters(resumed)
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_checkpoint_holds_weights_optimizer_rng_step_and_config(tmp_path):
    trainer = Trainer(tiny(tmp_path, max_steps=10), log=Quiet())
    trainer.fit()
    path, model_state, optimizer_arrays, meta = load_checkpoint(trainer.config.out_dir)
    assert os.path.basename(path) == "step-0000010"
    assert meta["step"] == 10 and meta["config"]["d_model"] == 16
    assert set(meta["rng"]) == {"default", "data"}
    assert any(name.endswith("exp_avg") for name in optimizer_arrays)
    assert set(model_state) == set(trainer.model.state_dict())
    assert os.path.isfile(os.path.join(path, "vocab.json"))              # the tokenizer travels along


def test_log_is_jsonl_and_appended_on_resume(tmp_path):
    Trainer(tiny(tmp_path, max_steps=10), log=Quiet()).fit()
    Trainer.resume(str(tmp_path / "run"), overrides={"max_steps": 20}, log=Quiet()).fit()
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "train_loss" in r and "lr" in r]
    assert steps == [5, 10, 15, 20]
    evaluations = [r for r in records if "val_loss" in r]
    assert [r["step"] for r in evaluations] == [10, 20]


def test_ctrl_c_writes_a_checkpoint_before_exiting(tmp_path):
    class StopAtSeven(Quiet):
        def progress(self, record, eta):
            if record["step"] >= 7:
                raise KeyboardInterrupt

    trainer = Trainer(tiny(tmp_path, log_interval=1, checkpoint_interval=0), log=StopAtSeven())
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert load_checkpoint(trainer.config.out_dir)[3]["step"] == 7


def test_loss_goes_down(tmp_path):
    trainer = Trainer(tiny(tmp_path, max_steps=60, dropout=0.0, lr=3e-3, eval_interval=60), log=Quiet())
    before = trainer.evaluate()["val_loss"]
    after = trainer.fit()["val_loss"]
    assert after < before - 0.5


def test_a_run_shorter_than_its_warmup_warms_up_throughout(tmp_path):
    # nanoGPT's get_lr with lr_decay_iters = max_iters < warmup_iters: lr * (it + 1) / (warmup + 1)
    # at every step of the run, never the full lr
    trainer = Trainer(tiny(tmp_path, max_steps=5, warmup_steps=100, lr=1e-3), log=Quiet())
    used = []
    for _ in range(5):
        used.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.train_step()
    assert used == [1e-3 * (step + 1) / 101 for step in range(5)]


def test_seq2seq_reports_exact_match(tmp_path):
    result = Trainer(tiny(tmp_path, model="seq2seq", max_steps=4, eval_interval=4), log=Quiet()).fit()
    assert 0.0 <= result["exact_match"] <= 1.0


# ---------------------------------------------------------------- bad input
def test_empty_or_unreadable_corpus(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(CorpusError, match="empty"):
        Trainer(tiny(tmp_path, data=str(tmp_path / "empty.txt")), log=Quiet())
    with pytest.raises(CorpusError, match="no such file"):
        Trainer(tiny(tmp_path, data=str(tmp_path / "missing.txt")), log=Quiet())


def test_block_size_larger_than_the_data(tmp_path):
    with pytest.raises(CorpusError, match="too few for block_size 4000"):
        Trainer(tiny(tmp_path, block_size=4000), log=Quiet())


def test_missing_or_partial_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no such run or checkpoint directory"):
        Trainer.resume(str(tmp_path / "nothing"), log=Quiet())
    trainer = Trainer(tiny(tmp_path, max_steps=10), log=Quiet())
    trainer.fit()
    os.remove(os.path.join(trainer.config.out_dir, "step-0000010", "optimizer.safetensors"))
    with pytest.raises(CheckpointError, match="not a complete checkpoint \\(missing optimizer.safetensors\\)"):
        Trainer.resume(trainer.config.out_dir, log=Quiet())


def test_resume_with_a_disagreeing_config(tmp_path):
    Trainer(tiny(tmp_path, max_steps=10), log=Quiet()).fit()
    with pytest.raises(CheckpointError, match="d_model: checkpoint 16, requested 32"):
        Trainer.resume(str(tmp_path / "run"), overrides={"d_model": 32}, log=Quiet())


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint_and_log(tmp_path, monkeypatch):
    trainer = Trainer(tiny(tmp_path, max_steps=10), log=Quiet())
    trainer.fit()
    run = trainer.config.out_dir
    log_before = open(os.path.join(run, "log.jsonl")).read()
    resumed = Trainer.resume(run, overrides={"max_steps": 20}, log=Quiet())
    import npformer.io.checkpoint as checkpoint

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", full_disk)
    untouched = "No space left on device; the previous checkpoint is untouched"
    with pytest.raises(CheckpointWriteError, match=untouched) as raised:
        resumed.fit()
    monkeypatch.undo()
    # the machine's error (cli exits 1 for OSError), and one of the checkpoint errors
    assert isinstance(raised.value, OSError) and isinstance(raised.value, CheckpointError)
    path, _, _, meta = load_checkpoint(run)
    assert meta["step"] == 10 and os.path.basename(path) == "step-0000010"
    assert open(os.path.join(run, "log.jsonl")).read().startswith(log_before)
    assert [d for d in os.listdir(run) if d.startswith(".")] == [".lock"]      # no staging left behind


def test_cli_train_generate_eval_and_no_overwrite(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    out = str(tmp_path / "cli")
    flags = ["--data", str(corpus), "--n-layers", "1", "--d-model", "16", "--n-heads", "2", "--block-size", "16",
             "--batch-size", "4", "--steps", "6", "--eval-interval", "3", "--eval-steps", "1", "--out", out,
             "--sample-tokens", "5"]
    assert main(["train"] + flags) == 0
    printed = capsys.readouterr().out
    assert "validation loss" in printed and "--- sample 1 ---" in printed
    assert main(["train"] + flags) == 2                                     # refuses to overwrite the run
    assert "already holds a training run" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", out, "--prompt", "It is", "--max-new-tokens", "5", "--seed", "3"]) == 0
    assert capsys.readouterr().out.startswith("It is")
    # past the 16-token context: each new token sees the last 16 (streamed and not, same seed)
    assert main(["generate", "--checkpoint", out, "--prompt", "It is", "--max-new-tokens", "40", "--seed", "3"]) == 0
    streamed = capsys.readouterr().out
    assert main(["generate", "--checkpoint", out, "--prompt", "It is", "--max-new-tokens", "40", "--seed", "3",
                 "--no-stream"]) == 0
    assert capsys.readouterr().out == streamed and len(streamed) == len("It is") + 40 + 1     # + the newline
    assert main(["generate", "--checkpoint", out, "--prompt", "It is", "--max-new-tokens", "40",
                 "--num-beams", "2"]) == 2
    assert "beam search keeps to the model's context of 16 tokens" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", out]) == 0
    printed = capsys.readouterr().out
    assert "val_loss" in printed and "over the whole validation split" in printed
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"n_layers": 1, "d_model": 16, "n_heads": 2, "block_size": 16, "batch_size": 4,
                                  "max_steps": 2, "eval_steps": 1, "data": str(corpus), "out_dir": out + "2",
                                  "samples": 0}))
    assert main(["train", "--config", str(config)]) == 0


def test_split_loss_scores_every_window_once_in_eval_mode(tmp_path):
    import npformer.functional as F
    from npformer import no_grad, tensor
    trainer = Trainer(tiny(tmp_path, dropout=0.5), log=Quiet())
    task, block = trainer.task, trainer.config.block_size

    def by_hand(ids):                       # every window at once, in eval mode
        windows = (len(ids) - 1) // block
        x = np.stack([ids[i * block:(i + 1) * block] for i in range(windows)])
        y = np.stack([ids[i * block + 1:(i + 1) * block + 1] for i in range(windows)])
        trainer.model.eval()
        with no_grad():
            logits = trainer.model(x).logits
            loss = F.cross_entropy(logits.reshape(-1, task.vocab_size), tensor(y.reshape(-1))).item()
        trainer.model.train()
        return loss, windows

    expected, windows = by_hand(task.val_ids)
    # dropout 0.5 would make a train-mode pass differ; batching must not change the mean
    for batch_size in (1, 3, windows):
        assert task.split_loss("val", batch_size=batch_size) == pytest.approx(expected, rel=1e-6)
    assert trainer.model.training                                    # the mode is given back
    assert task.split_loss("train") == pytest.approx(by_hand(task.train_ids)[0], rel=1e-6)


@pytest.mark.parametrize("model", ["gpt", "bert", "seq2seq"])
def test_every_task_is_a_task_with_one_samples_signature(tmp_path, model):
    import inspect

    from npformer.tasks import Task
    trainer = Trainer(tiny(tmp_path, model=model), log=Quiet())
    task = trainer.task
    assert isinstance(task, Task)
    signature = inspect.signature(type(task).samples)
    assert signature == inspect.signature(Task.samples)
    assert all(p.kind is not p.VAR_KEYWORD for p in signature.parameters.values())
    texts = task.samples(1, 4, temperature=1.0, top_k=None, seed=0, prompt=None)
    assert len(texts) == 1 and isinstance(texts[0], str)
    whole = task.split_loss("val")
    if model == "gpt":
        assert isinstance(whole, float) and np.isfinite(whole)
    else:
        assert whole is None                # the optional capability's "not available"


@pytest.mark.parametrize("model", ["gpt", "seq2seq"])
def test_eval_reports_the_whole_split_loss_only_where_the_task_has_one(tmp_path, capsys, model):
    trainer = Trainer(tiny(tmp_path, model=model, max_steps=2, eval_interval=2, checkpoint_interval=0), log=Quiet())
    trainer.fit()
    capsys.readouterr()
    assert main(["eval", "--checkpoint", trainer.config.out_dir]) == 0
    out = capsys.readouterr().out
    assert out.startswith("step 2: train_loss ")
    assert ("val_loss over the whole validation split" in out) == (model == "gpt")
