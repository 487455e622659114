"""Adagrad, as torch.optim.Adagrad (dense gradients).

With g the gradient (negated when ``maximize``), t the parameter's step count after this step,
and lr, eta, lambda, eps the group's ``lr``, ``lr_decay``, ``weight_decay`` and ``eps``::

    g <- g + lambda p                       (L2 weight decay, when lambda != 0)
    lr_t = lr / (1 + (t - 1) eta)
    s <- s + g^2                            sum (starts at initial_accumulator_value)
    p <- p - lr_t g / (sqrt(s) + eps)

State per parameter: ``step`` (an int) and ``sum``, made for every parameter when the optimizer
is constructed (as torch, so a state_dict taken before the first step already holds them), with
the constructor's ``initial_accumulator_value`` (torch ignores a group's own value there).
"""
import numpy as np

from . import _checks
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    _array_state = ("sum",)
    _scalar_state = ("step",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        self._check_group(dict(defaults), "Adagrad")
        self._constructed = False
        super().__init__(params, defaults)
        self._constructed = True

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        # torch fills the sums of the groups given to the constructor with the constructor's
        # initial_accumulator_value, even where a group names its own; a group added later
        # (which torch cannot step) starts from its own value
        initial = (group if self._constructed else self.defaults)["initial_accumulator_value"]
        for param in group["params"]:
            self._init_state(param, initial, self.state[param])

    def _check_group(self, group, where):
        _checks.real(group, "lr", where)
        _checks.real(group, "lr_decay", where)
        _checks.real(group, "eps", where)
        _checks.real(group, "weight_decay", where)
        _checks.real(group, "initial_accumulator_value", where)
        _checks.flag(group, "maximize", where)
        _checks.implementation_flags(group, where)

    def _state_keys(self, group):
        return ("step", "sum")

    @staticmethod
    def _init_state(param, initial, state):
        if "sum" not in state:
            state["step"] = 0
            state["sum"] = np.full_like(param._data, initial)

    def _update(self, param, grad, group, state):
        p = param._data
        self._init_state(param, group["initial_accumulator_value"], state)     # (a state dict without it)
        state["step"] += 1
        step, weight_decay = state["step"], group["weight_decay"]
        g = np.negative(grad) if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * p                                # g + lambda p (a new array)
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g                                                  # s + g^2
        std = np.sqrt(s, out=np.empty_like(s))                      # (an array also for 0-d parameters)
        std += group["eps"]                                         # sqrt(s) + eps
        update = np.divide(g, std, out=std)
        update *= -clr
        p += update                                                 # p - lr_t g / (sqrt(s) + eps)
