"""Gradient accumulation: k micro-batches of size b, each mean loss scaled by 1/k and
back-propagated in turn, then one optimizer step, equal one step on the batch of size k*b
(the pattern documented in npformer/optim/__init__.py)."""
import numpy as np
import pytest

import npformer as nf
import npformer.functional as F
import npformer.nn as nn
from npformer import optim
from npformer.nn.utils import clip_grad_norm_
from tests.helpers import relative_error


def make_mlp(seed=0):
    gen = nf.Generator().manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16, dtype=np.float64, generator=gen), nn.Tanh(),
                         nn.LayerNorm(16, dtype=np.float64),
                         nn.Linear(16, 3, dtype=np.float64, generator=gen))


def full_batch_step(model, optimizer, x, y):
    loss = F.mse_loss(model(nf.tensor(x)), nf.tensor(y))
    loss.backward()
    clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def accumulated_step(model, optimizer, x, y, k):
    b = len(x) // k
    total = 0.0
    for micro in range(k):
        xs, ys = x[micro * b:(micro + 1) * b], y[micro * b:(micro + 1) * b]
        loss = F.mse_loss(model(nf.tensor(xs)), nf.tensor(ys))
        (loss / k).backward()
        total += loss.item() / k
    clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()
    optimizer.zero_grad()
    return total


@pytest.mark.parametrize("k, b", [(4, 3), (2, 8), (1, 6)])
@pytest.mark.parametrize("make_optimizer", [
    lambda m: optim.AdamW(optim.decay_groups(m, 0.1), lr=1e-2),
    lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True),
], ids=["AdamW", "SGD"])
def test_k_micro_batches_equal_one_batch_of_k_times_b(k, b, make_optimizer):
    rng = np.random.default_rng(3)
    full, accumulated = make_mlp(), make_mlp()
    opt_full, opt_acc = make_optimizer(full), make_optimizer(accumulated)
    for step in range(3):
        x, y = rng.standard_normal((k * b, 5)), rng.standard_normal((k * b, 3))
        # the accumulated gradient equals the full-batch one before any step
        loss = F.mse_loss(full(nf.tensor(x)), nf.tensor(y))
        loss.backward()
        reference = [p.grad.numpy().copy() for p in full.parameters()]
        opt_full.zero_grad()
        for micro in range(k):
            part = slice(micro * b, (micro + 1) * b)
            (F.mse_loss(accumulated(nf.tensor(x[part])), nf.tensor(y[part])) / k).backward()
        for g, p in zip(reference, accumulated.parameters()):
            assert relative_error(p.grad, g) <= 1e-14
        opt_acc.zero_grad()
        # and so does the whole step, loss and clipping included
        loss_full = full_batch_step(full, opt_full, x, y)
        loss_acc = accumulated_step(accumulated, opt_acc, x, y, k)
        assert loss_acc == pytest.approx(loss_full, rel=1e-13)
        for (name, p), q in zip(full.named_parameters(), accumulated.parameters()):
            assert relative_error(q.numpy(), p.numpy()) <= 1e-12, (step, name)


def test_without_the_1_over_k_scaling_the_gradient_is_k_times_too_large():
    rng = np.random.default_rng(4)
    model = make_mlp()
    x, y = rng.standard_normal((8, 5)), rng.standard_normal((8, 3))
    F.mse_loss(model(nf.tensor(x)), nf.tensor(y)).backward()
    reference = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    for part in (slice(0, 4), slice(4, 8)):
        F.mse_loss(model(nf.tensor(x[part])), nf.tensor(y[part])).backward()
    for g, p in zip(reference, model.parameters()):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-12, atol=1e-15)
