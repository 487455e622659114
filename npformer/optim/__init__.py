"""npformer.optim: optimizers and learning-rate schedules.

The optimizers (SGD, Adam, AdamW, Adagrad) follow torch.optim: the same names, arguments,
parameter groups, update formulas and state_dict layout (see :mod:`npformer.optim.optimizer`).
They update the parameters' arrays in place from their gradients with in-place NumPy ufuncs;
state arrays have the parameter's dtype, so float32 training stays in float32.
:mod:`npformer.optim.lr_scheduler` holds torch's schedulers (StepLR, CosineAnnealingLR,
OneCycleLR, ...). npformer's own schedules (``WarmupCosine``, nanoGPT's) are pure functions of
the step; a ``ScheduleSetter`` writes one into the optimizer's groups. Gradient clipping is
``npformer.nn.utils.clip_grad_norm_``, as in torch.

A training step, with weight decay on the Linear weights only, a schedule and clipping::

    from npformer import optim
    from npformer.nn.utils import clip_grad_norm_
    optimizer = optim.AdamW(optim.decay_groups(model, 0.1), lr=6e-4, betas=(0.9, 0.95))
    scheduler = optim.ScheduleSetter(optimizer, optim.WarmupCosine(6e-4, 2000, 600000, 6e-5))
    for it in range(max_iters):
        loss = model(x, labels=y).loss
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()

Gradient accumulation (a batch too large for memory, as k micro-batches). Gradients add up
across ``backward()`` calls, so scale each micro-batch's *mean* loss by 1/k, call backward k
times, then step once::

    for micro_step in range(k):
        loss = loss_fn(model(x[micro_step]), y[micro_step])   # mean over the micro-batch
        (loss / k).backward()                                 # .grad += d(loss / k)/dp
    clip_grad_norm_(model.parameters(), 1.0)                  # clip the summed gradient
    optimizer.step()
    optimizer.zero_grad()

With equal micro-batches of size b the accumulated gradient is the gradient of the mean loss
over all k*b examples, so the step equals one step on the full batch (up to floating-point
summation order; tests/optim checks it). Clip after the last micro-batch, never inside the
loop. Dropout draws different masks than a full-batch pass would, and a loss whose mean runs
over a varying number of tokens per micro-batch (padding, ignore_index) weighs micro-batches
equally rather than tokens.
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .groups import EMBEDDING_TYPES, decay_groups
from .optimizer import REQUIRED, Optimizer, ParamState, state_dict_from_arrays, state_dict_to_arrays
from .schedules import (
    Constant,
    Noam,
    Schedule,
    ScheduleSetter,
    WarmupCosine,
    WarmupLinear,
    constant_lr,
    noam_lr,
    warmup_cosine_lr,
    warmup_linear_lr,
)
from .sgd import SGD

__all__ = ["Optimizer", "ParamState", "REQUIRED", "SGD", "Adam", "AdamW", "Adagrad", "lr_scheduler", "decay_groups",
           "EMBEDDING_TYPES", "state_dict_to_arrays", "state_dict_from_arrays",
           "Schedule", "Constant", "WarmupCosine", "WarmupLinear", "Noam", "ScheduleSetter",
           "constant_lr", "warmup_cosine_lr", "warmup_linear_lr", "noam_lr"]

_MOVED = {
    "LRScheduler": "torch.optim has no LRScheduler: torch's schedulers, their base class LRScheduler included, "
                   "are in npformer.optim.lr_scheduler; npformer's old optim.LRScheduler (lr = schedule(step)) "
                   "is now optim.ScheduleSetter",
    "clip_grad_norm_": "clip_grad_norm_ is in npformer.nn.utils, as in torch (it returns the total norm as a "
                       "0-d Tensor)",
    "clip_grad_value_": "clip_grad_value_ is in npformer.nn.utils, as in torch",
}


def __getattr__(name):
    if name in _MOVED:
        raise AttributeError(f"module 'npformer.optim' has no attribute {name!r}: {_MOVED[name]}")
    raise AttributeError(f"module 'npformer.optim' has no attribute {name!r}")
