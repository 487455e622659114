"""Learning-rate schedules: pure functions of the step, and a scheduler that applies one.

Each schedule is a small object whose ``lr_at(step)`` (also ``schedule(step)``) is a pure
function of the step number ``step = 0, 1, 2, ...`` (the number of optimizer steps already
taken), and each has a plain function of the same math (``warmup_cosine_lr(step, ...)``):

- ``Constant(lr)``: lr at every step.
- ``WarmupCosine(lr, warmup_iters, lr_decay_iters, min_lr)``: nanoGPT's ``get_lr``, exactly::

      step <  warmup_iters:                 lr * (step + 1) / (warmup_iters + 1)
      warmup_iters <= step <= lr_decay_iters:
          r = (step - warmup_iters) / (lr_decay_iters - warmup_iters)
          min_lr + 0.5 * (1 + cos(pi r)) * (lr - min_lr)
      step >  lr_decay_iters:               min_lr

  A run shorter than its warmup (``lr_decay_iters <= warmup_iters``, as a short trial with
  nanoGPT's ``lr_decay_iters = max_iters`` is) warms up and then holds min_lr, as get_lr does;
  where get_lr divides 0 by 0 (step = warmup_iters = lr_decay_iters) it is min_lr here too.

- ``WarmupLinear(lr, warmup_iters, decay_iters, min_lr=0.0)``: the same warmup, then a
  straight line from lr (at step = warmup_iters) to min_lr (at step = decay_iters), min_lr after
  (min_lr straight after the warmup when decay_iters <= warmup_iters).
- ``Noam(d_model, warmup_iters, factor=1.0)``: "Attention Is All You Need", section 5.3::

      factor * d_model^-0.5 * min(s^-0.5, s * warmup_iters^-1.5),   s = max(step, 1)

  (step 0 is taken as step 1, as in The Annotated Transformer, since 0^-0.5 is infinite).

:class:`ScheduleSetter` sets every group's ``"lr"`` to a schedule's value: constructing it sets
the lr of step 0, and each ``setter.step()`` after ``optimizer.step()`` moves to the next step.
That is nanoGPT's loop too, which sets ``lr = get_lr(iter_num)`` before the update of iteration
``iter_num``::

    scheduler = ScheduleSetter(optimizer, WarmupCosine(6e-4, 2000, 600000, 6e-5))
    for it in range(max_iters):
        ...backward...
        optimizer.step(); optimizer.zero_grad(); scheduler.step()

It is not one of torch's schedulers (those are in :mod:`npformer.optim.lr_scheduler`, with
torch's names): torch's ``LambdaLR(optimizer, f)`` sets ``lr = initial_lr * f(epoch)``, a
factor, where a ScheduleSetter sets ``lr = schedule(step)`` itself, and its name says that it
sets values rather than being a torch class of a near name. Its state_dict is
``{"last_step", "last_lr"}``, which training checkpoints store under "scheduler".
"""
import math
import numbers

__all__ = ["constant_lr", "warmup_cosine_lr", "warmup_linear_lr", "noam_lr", "Schedule", "Constant",
           "WarmupCosine", "WarmupLinear", "Noam", "ScheduleSetter"]


# ---------------------------------------------------------------- the math, as plain functions
def constant_lr(step, lr):
    return lr


def warmup_cosine_lr(step, lr, warmup_iters, lr_decay_iters, min_lr):
    """nanoGPT's get_lr(it): linear warmup, cosine decay to min_lr, then min_lr."""
    if step < warmup_iters:
        return lr * (step + 1) / (warmup_iters + 1)
    if step > lr_decay_iters or lr_decay_iters == warmup_iters:
        return min_lr
    decay_ratio = (step - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))           # 1 .. 0
    return min_lr + coeff * (lr - min_lr)


def warmup_linear_lr(step, lr, warmup_iters, decay_iters, min_lr=0.0):
    """nanoGPT's linear warmup, then a linear decay from lr to min_lr, then min_lr."""
    if step < warmup_iters:
        return lr * (step + 1) / (warmup_iters + 1)
    if step > decay_iters or decay_iters == warmup_iters:
        return min_lr
    decay_ratio = (step - warmup_iters) / (decay_iters - warmup_iters)
    return min_lr + (1.0 - decay_ratio) * (lr - min_lr)


def noam_lr(step, d_model, warmup_iters, factor=1.0):
    """factor * d_model^-0.5 * min(step^-0.5, step * warmup_iters^-1.5), step 0 read as 1."""
    step = max(step, 1)
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup_iters ** -1.5)


# ---------------------------------------------------------------- the same, as objects
def _number(value, name, where, low=0.0, positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value < low or (positive and value <= 0):
        raise ValueError(f"{where}: {name} must be a finite number {'>' if positive else '>='} {low}, got {value!r}")
    return value


def _steps(value, name, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{where}: {name} must be an int >= 0, got {value!r}")
    return int(value)


class Schedule:
    """Base class: ``lr_at(step)`` is the learning rate of step ``step`` (an int >= 0)."""

    def lr_at(self, step):
        raise NotImplementedError(f"{type(self).__name__} is a Schedule without lr_at(step): subclasses define it")

    def __call__(self, step):
        return self.lr_at(step)

    def as_dict(self):
        """The schedule's kind and arguments (JSON-ready), e.g. for a checkpoint's metadata."""
        return {"schedule": type(self).__name__, **vars(self)}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Constant(Schedule):
    def __init__(self, lr):
        self.lr = _number(lr, "lr", "Constant")

    def lr_at(self, step):
        return constant_lr(step, self.lr)


class WarmupCosine(Schedule):
    """nanoGPT's schedule (see the module docstring)."""

    def __init__(self, lr, warmup_iters, lr_decay_iters, min_lr=0.0):
        self.lr = _number(lr, "lr", "WarmupCosine")
        self.warmup_iters = _steps(warmup_iters, "warmup_iters", "WarmupCosine")
        self.lr_decay_iters = _steps(lr_decay_iters, "lr_decay_iters", "WarmupCosine")
        self.min_lr = _number(min_lr, "min_lr", "WarmupCosine")

    def lr_at(self, step):
        return warmup_cosine_lr(step, self.lr, self.warmup_iters, self.lr_decay_iters, self.min_lr)


class WarmupLinear(Schedule):
    def __init__(self, lr, warmup_iters, decay_iters, min_lr=0.0):
        self.lr = _number(lr, "lr", "WarmupLinear")
        self.warmup_iters = _steps(warmup_iters, "warmup_iters", "WarmupLinear")
        self.decay_iters = _steps(decay_iters, "decay_iters", "WarmupLinear")
        self.min_lr = _number(min_lr, "min_lr", "WarmupLinear")

    def lr_at(self, step):
        return warmup_linear_lr(step, self.lr, self.warmup_iters, self.decay_iters, self.min_lr)


class Noam(Schedule):
    def __init__(self, d_model, warmup_iters, factor=1.0):
        self.d_model = _steps(d_model, "d_model", "Noam")
        self.warmup_iters = _steps(warmup_iters, "warmup_iters", "Noam")
        self.factor = _number(factor, "factor", "Noam")
        if self.d_model == 0 or self.warmup_iters == 0:
            raise ValueError(f"Noam: d_model and warmup_iters must be > 0, got {d_model} and {warmup_iters}")

    def lr_at(self, step):
        return noam_lr(step, self.d_model, self.warmup_iters, self.factor)


# ---------------------------------------------------------------- the setter
class ScheduleSetter:
    """Sets ``group["lr"] = schedule(step)`` in every parameter group of ``optimizer``.

    ``schedule`` is one callable ``step -> lr`` for all groups, or a list with one per group
    (as torch's LambdaLR, but the callables give the lr itself, not a factor). Construction
    applies step ``last_step + 1`` (0 by default); ``step()`` advances by one.
    ``state_dict()`` holds the step count; ``load_state_dict`` restores it and re-applies the
    schedule, so a resumed run continues with the same learning rates.
    """

    def __init__(self, optimizer, schedule, last_step=-1):
        groups = optimizer.param_groups
        schedules = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule] * len(groups)
        if len(schedules) != len(groups):
            raise ValueError(f"ScheduleSetter: {len(schedules)} schedules for {len(groups)} parameter groups")
        for index, fn in enumerate(schedules):
            if not callable(fn):
                raise TypeError(f"ScheduleSetter: schedule {index} is not callable: {fn!r}")
        if isinstance(last_step, bool) or not isinstance(last_step, numbers.Integral) or last_step < -1:
            raise ValueError(f"ScheduleSetter: last_step must be an int >= -1, got {last_step!r}")
        self.optimizer, self.schedules = optimizer, schedules
        self.last_step = int(last_step)
        self._last_lr = None
        self.step()

    def step(self):
        self.last_step += 1
        self._apply()

    def _apply(self):
        lrs = [float(fn(self.last_step)) for fn in self.schedules]
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def get_last_lr(self):
        """The learning rate of each group, as last set by the scheduler."""
        return list(self._last_lr)

    def state_dict(self):
        return {"last_step": self.last_step, "last_lr": list(self._last_lr)}

    def load_state_dict(self, state_dict):
        if not isinstance(state_dict, dict) or "last_step" not in state_dict:
            raise ValueError("ScheduleSetter.load_state_dict: expected a dict with a 'last_step' entry")
        last_step = state_dict["last_step"]
        if isinstance(last_step, bool) or not isinstance(last_step, numbers.Integral) or last_step < 0:
            raise ValueError(f"ScheduleSetter.load_state_dict: last_step must be an int >= 0, got {last_step!r}")
        if len(self.optimizer.param_groups) != len(self.schedules):
            raise ValueError(f"ScheduleSetter.load_state_dict: the optimizer now has "
                             f"{len(self.optimizer.param_groups)} parameter groups, the scheduler "
                             f"{len(self.schedules)}")
        self.last_step = int(last_step)
        self._apply()
