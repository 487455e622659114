"""npformer.optim: optimizers, learning-rate schedules and gradient clipping.

The optimizers follow torch.optim: the same names, arguments, parameter groups, update
formulas and state_dict layout (see :mod:`npformer.optim.optimizer`). They update
``param.data`` in place from ``param.grad`` with in-place NumPy ufuncs; state arrays have the
parameter's dtype, so float32 training stays in float32.

A training step, with weight decay on the Linear weights only, a schedule and clipping::

    from npformer import optim
    optimizer = optim.AdamW(optim.decay_groups(model, 0.1), lr=6e-4, betas=(0.9, 0.95))
    scheduler = optim.LRScheduler(optimizer, optim.WarmupCosine(6e-4, 2000, 600000, 6e-5))
    for it in range(max_iters):
        loss = model(x, labels=y).loss
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()

Gradient accumulation (a batch too large for memory, as k micro-batches). Gradients add up
across ``backward()`` calls, so scale each micro-batch's *mean* loss by 1/k, call backward k
times, then step once::

    for micro_step in range(k):
        loss = loss_fn(model(x[micro_step]), y[micro_step])   # mean over the micro-batch
        (loss / k).backward()                                 # .grad += d(loss / k)/dp
    optim.clip_grad_norm_(model.parameters(), 1.0)            # clip the summed gradient
    optimizer.step()
    optimizer.zero_grad()

With equal micro-batches of size b the accumulated gradient is the gradient of the mean loss
over all k*b examples, so the step equals one step on the full batch (up to floating-point
summation order; tests/optim checks it). Clip after the last micro-batch, never inside the
loop. Dropout draws different masks than a full-batch pass would, and a loss whose mean runs
over a varying number of tokens per micro-batch (padding, ignore_index) weighs micro-batches
equally rather than tokens.
"""
from .adam import Adam, AdamW
from .clip import clip_grad_norm_, clip_grad_value_
from .groups import EMBEDDING_TYPES, decay_groups
from .optimizer import REQUIRED, Optimizer, ParamState, state_dict_from_arrays, state_dict_to_arrays
from .schedules import (Constant, LRScheduler, Noam, Schedule, WarmupCosine, WarmupLinear, constant_lr, noam_lr,
                        warmup_cosine_lr, warmup_linear_lr)
from .sgd import SGD

__all__ = ["Optimizer", "ParamState", "REQUIRED", "SGD", "Adam", "AdamW", "decay_groups", "EMBEDDING_TYPES",
           "clip_grad_norm_", "clip_grad_value_", "state_dict_to_arrays", "state_dict_from_arrays",
           "Schedule", "Constant", "WarmupCosine", "WarmupLinear", "Noam", "LRScheduler",
           "constant_lr", "warmup_cosine_lr", "warmup_linear_lr", "noam_lr"]
