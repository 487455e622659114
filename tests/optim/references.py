"""Textbook NumPy formulas of the optimizers, written out of place and independently of
npformer.optim's in-place code (and of torch's operation order), for a sequence of gradients.

Each takes the initial parameter, a list of gradients (one per step) and the hyperparameters,
and returns the parameter after each step. ``lrs`` (optional) gives the lr of each step.
"""
import numpy as np


def sgd(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False, lrs=None):
    p, buf, out = p.copy(), None, []
    for t, grad in enumerate(grads):
        g = -grad if maximize else grad
        g = g + weight_decay * p
        if momentum != 0:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - (lr if lrs is None else lrs[t]) * g
        out.append(p)
    return out


def adam(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False,
         decoupled=False, lrs=None):
    beta1, beta2 = betas
    p, m, v, v_max, out = p.copy(), 0.0, 0.0, 0.0, []
    for t, grad in enumerate(grads, start=1):
        step_lr = lr if lrs is None else lrs[t - 1]
        g = -grad if maximize else grad
        if decoupled:
            p = p - step_lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2 ** t)
        p = p - step_lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def adamw(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False, lrs=None):
    return adam(p, grads, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled=True, lrs=lrs)


def adagrad(p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, maximize=False,
            lrs=None):
    p, out = p.copy(), []
    s = np.full_like(p, initial_accumulator_value)
    for t, grad in enumerate(grads, start=1):
        g = -grad if maximize else grad
        g = g + weight_decay * p
        s = s + g * g
        step_lr = (lr if lrs is None else lrs[t - 1]) / (1 + (t - 1) * lr_decay)
        p = p - step_lr * g / (np.sqrt(s) + eps)
        out.append(p)
    return out
