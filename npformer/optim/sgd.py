"""Stochastic gradient descent with momentum, as torch.optim.SGD.

With g the gradient (negated when ``maximize``) and lr, mu, tau, lambda the group's ``lr``,
``momentum``, ``dampening`` and ``weight_decay``::

    g <- g + lambda p                                   (L2 weight decay, when lambda != 0)
    b <- g                                              (first step with momentum)
    b <- mu b + (1 - tau) g                             (later steps)
    g <- g + mu b  if nesterov  else  b                 (when mu != 0)
    p <- p - lr g

The state of a parameter is ``momentum_buffer`` (only when momentum != 0). ``foreach`` and
``fused`` are accepted for torch's signature (one NumPy code path serves all three).
"""
import math

import numpy as np

from . import _checks
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    _array_state = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        self._check_group(dict(defaults), "SGD")
        super().__init__(params, defaults)

    def _check_group(self, group, where):
        _checks.real(group, "lr", where)
        momentum = _checks.real(group, "momentum", where)
        dampening = _checks.real(group, "dampening", where, low=-math.inf)
        _checks.real(group, "weight_decay", where)
        nesterov = _checks.flag(group, "nesterov", where)
        _checks.flag(group, "maximize", where)
        _checks.implementation_flags(group, where)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"{where}: Nesterov momentum requires a momentum and zero dampening")

    def _state_keys(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _update(self, param, grad, group, state):
        p = param._data
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        # g: the (decayed, maximized) gradient. param.grad is never written to; ``fresh`` says
        # whether g is a scratch array of our own that may be overwritten.
        g, fresh = grad, False
        if weight_decay != 0:
            g, fresh = np.multiply(p, weight_decay, out=np.empty_like(p)), True     # lambda p
            if group["maximize"]:
                np.subtract(g, grad, out=g)                     # -grad + lambda p
            else:
                np.add(g, grad, out=g)                          # grad + lambda p
        elif group["maximize"]:
            g, fresh = np.negative(grad, out=np.empty_like(p)), True
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= momentum                                 # mu b
                if group["dampening"] == 0:
                    buf += g                                    # + g
                else:
                    buf += (1 - group["dampening"]) * g         # + (1 - tau) g
            if group["nesterov"]:
                scaled = np.multiply(buf, momentum, out=np.empty_like(p))              # mu b
                if fresh:
                    np.add(g, scaled, out=g)                    # g + mu b
                else:
                    g = np.add(g, scaled, out=scaled)
                    fresh = True
            else:
                g, fresh = buf, False
        if fresh:
            np.multiply(g, lr, out=g)
            np.subtract(p, g, out=p)                            # p - lr g
        else:
            np.subtract(p, np.multiply(g, lr, out=np.empty_like(p)), out=p)
