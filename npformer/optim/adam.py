"""Adam and AdamW, as torch.optim.Adam and torch.optim.AdamW.

With g the gradient (negated when ``maximize``), t the parameter's step count after this step,
and lr, beta1, beta2, eps, lambda the group's hyperparameters::

    g <- g + lambda p                    Adam: L2 weight decay, part of the gradient
    p <- p (1 - lr lambda)               AdamW: decoupled weight decay, before the update
    m <- m + (1 - beta1) (g - m)         exp_avg      (torch's lerp; = beta1 m + (1 - beta1) g)
    v <- beta2 v + (1 - beta2) g^2       exp_avg_sq
    v_max <- max(v_max, v)               max_exp_avg_sq (amsgrad only; then v_max replaces v below)
    p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

The bias corrections are Python floats (float64) and the state arrays have the parameter's
dtype, so a float32 parameter is updated in float32. State per parameter: ``step`` (an int),
``exp_avg``, ``exp_avg_sq`` and, with amsgrad, ``max_exp_avg_sq``. Each group says which weight
decay it uses in ``decoupled_weight_decay`` (True for AdamW), read at every step, as torch.
"""
import numpy as np

from . import _checks
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam; with ``decoupled_weight_decay=True`` it is AdamW (as in torch 2.13)."""
    _array_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _scalar_state = ("step",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        self._check_group(dict(defaults), type(self).__name__)
        super().__init__(params, defaults)

    def _check_group(self, group, where):
        _checks.real(group, "lr", where)
        _checks.real(group, "eps", where)
        _checks.real(group, "weight_decay", where)
        _checks.flag(group, "amsgrad", where)
        _checks.flag(group, "maximize", where)
        _checks.flag(group, "decoupled_weight_decay", where)
        _checks.implementation_flags(group, where)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas!r}")
        pair = {"beta1": betas[0], "beta2": betas[1]}
        group["betas"] = (_checks.real(pair, "beta1", where, high=1.0, high_open=True),
                          _checks.real(pair, "beta2", where, high=1.0, high_open=True))

    def _state_keys(self, group):
        keys = ("step", "exp_avg", "exp_avg_sq")
        return keys + ("max_exp_avg_sq",) if group["amsgrad"] else keys

    def _update(self, param, grad, group, state):
        p = param._data
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        decoupled = group["decoupled_weight_decay"]
        if "step" not in state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(p)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = state["step"]

        # g: the maximized, L2-decayed gradient (param.grad itself is never written to)
        g = grad
        if weight_decay != 0 and not decoupled:
            g = np.multiply(p, weight_decay, out=np.empty_like(p))  # lambda p
            if group["maximize"]:
                np.subtract(g, grad, out=g)                         # -grad + lambda p
            else:
                np.add(g, grad, out=g)                              # grad + lambda p
        elif group["maximize"]:
            g = np.negative(grad, out=np.empty_like(p))
        if weight_decay != 0 and decoupled:
            p *= 1 - lr * weight_decay                              # p (1 - lr lambda)

        work = np.empty_like(p)
        # m <- lerp(m, g, 1 - beta1), in torch's two-branch form of lerp
        weight = 1 - beta1
        np.subtract(g, exp_avg, out=work)                           # g - m
        if weight < 0.5:
            work *= weight
            exp_avg += work                                         # m + w (g - m)
        else:
            work *= 1 - weight
            np.subtract(g, work, out=exp_avg)                       # g - (g - m)(1 - w)
        # v <- beta2 v + (1 - beta2) g^2
        exp_avg_sq *= beta2
        np.multiply(g, g, out=work)
        work *= 1 - beta2
        exp_avg_sq += work

        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        step_size = lr / bias_correction1
        second = exp_avg_sq
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"]
            np.maximum(second, exp_avg_sq, out=second)
        denom = np.sqrt(second, out=work)                           # sqrt(v)
        denom /= bias_correction2_sqrt
        denom += eps                                                # sqrt(v) / sqrt(1 - beta2^t) + eps
        update = np.multiply(exp_avg, -step_size, out=np.empty_like(p))
        update /= denom                                             # -step_size m / denom
        p += update


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): p <- p (1 - lr lambda) before
    the Adam update, and lambda never enters the moments. The default weight_decay is 1e-2;
    the groups hold ``decoupled_weight_decay=True``, as torch 2.13's AdamW does."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable, differentiable=differentiable,
                         fused=fused, decoupled_weight_decay=True)
