"""A plain PyTorch training loop (CrossEntropyLoss, clip_grad_norm_, LambdaLR, zero_grad /
backward / step), run by torch and by npformer with only its imports changed, from the same
weights and batches: the loss, the gradient norm and the learning rate of every step, and every
parameter after the last step, agree in float64 (relative error <= 1e-10)."""
import numpy as np
import pytest

from tests.compat.harness import assert_close, assert_params_close, copy_state, load_pair

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

VOCAB, D_MODEL, CLASSES, LENGTH = 12, 8, 3, 6
STEPS = 12


@pytest.fixture
def programs(float64):
    return load_pair("training_loop")


def _data(rng, rows=24):
    """Token rows whose class is the most frequent token's residue mod CLASSES: learnable."""
    tokens = rng.integers(0, VOCAB, size=(rows, LENGTH))
    labels = np.array([np.bincount(row, minlength=VOCAB).argmax() % CLASSES for row in tokens])
    return tokens.tolist(), labels.tolist()


@pytest.mark.parametrize("kind, label_smoothing", [("adamw", 0.0), ("adam", 0.1), ("sgd", 0.0)])
def test_training_steps_match_torch(programs, kind, label_smoothing):
    theirs_mod, ours_mod = programs
    theirs = theirs_mod.TokenClassifier(VOCAB, D_MODEL, CLASSES)
    ours = ours_mod.TokenClassifier(VOCAB, D_MODEL, CLASSES)
    copy_state(theirs, ours)
    rows, labels = _data(np.random.default_rng(0))
    lr = 0.05 if kind == "sgd" else 1e-2
    results = []
    for module, model in ((theirs_mod, theirs), (ours_mod, ours)):
        batches = module.make_batches(rows, labels, batch_size=8)
        results.append(module.train(model, batches, STEPS, kind=kind, lr=lr, warmup=4, max_norm=0.5,
                                    label_smoothing=label_smoothing))
    (loss_t, norm_t, lr_t), (loss_o, norm_o, lr_o) = results
    what = f"training_loop {kind} label_smoothing={label_smoothing}"
    assert len(loss_o) == len(norm_o) == len(lr_o) == STEPS
    assert all(isinstance(value, float) for value in loss_o + norm_o + lr_o)
    assert_close(f"{what} losses", np.array(loss_o), np.array(loss_t))
    assert_close(f"{what} grad norms", np.array(norm_o), np.array(norm_t))
    assert_close(f"{what} learning rates", np.array(lr_o), np.array(lr_t))
    assert max(norm_t) > 0.5, "clipping never happened: the test would not check it"
    assert lr_t[0] < lr_t[-1] == lr  # the warmup is visible
    assert_params_close(f"{what} parameters after {STEPS} steps", ours, theirs)


def test_accuracy_after_training(programs):
    theirs_mod, ours_mod = programs
    theirs = theirs_mod.TokenClassifier(VOCAB, D_MODEL, CLASSES)
    ours = ours_mod.TokenClassifier(VOCAB, D_MODEL, CLASSES)
    copy_state(theirs, ours)
    rows, labels = _data(np.random.default_rng(1))
    accuracies = []
    for module, model in ((theirs_mod, theirs), (ours_mod, ours)):
        batches = module.make_batches(rows, labels, batch_size=8)
        module.train(model, batches, 30, kind="adamw", lr=2e-2, warmup=2, max_norm=1.0)
        accuracies.append(module.accuracy(model, batches))
    assert accuracies[1] == accuracies[0]
    assert not ours.training
