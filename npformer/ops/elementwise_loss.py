"""Losses computed element by element, then reduced, with torch.nn.functional's signatures:
mse_loss, l1_loss, smooth_l1_loss, huber_loss, kl_div, binary_cross_entropy and
binary_cross_entropy_with_logits.

Each but binary_cross_entropy is composed from differentiable primitives, so its gradients
are those of the formula. binary_cross_entropy is one Function: PyTorch clamps its logs at -100
and its gradient's denominator x (1 - x) at 1e-12, so a probability of exactly 0 or 1 (a
saturated float32 sigmoid) gives a finite loss and gradient, which no composition reproduces.

With d = input - target (broadcast, as PyTorch, which warns when the shapes differ), per element:

    mse           d^2
    l1            |d|
    smooth_l1     d^2 / (2 beta)            if |d| < beta,   else |d| - beta / 2     (beta = 0: l1)
    huber         d^2 / 2                   if |d| <= delta, else delta (|d| - delta / 2)
    kl_div        t (log t - x)   (0 where t = 0),  or e^t (t - x) with log_target
    bce           -w [y log x + (1 - y) log(1 - x)],  each log clamped to >= -100 (PyTorch's)
    bce_logits    -w [p y log s(x) + (1 - y) log(1 - s(x))],  s the sigmoid, p = pos_weight:
                  = w [(1 - y) x + (1 + (p - 1) y) (log(1 + e^-|x|) + max(-x, 0))], which never overflows

then reduced by "none" (the elements), "sum" or "mean" (the sum over the element count).
mse_loss and l1_loss with ``weight`` divide the weighted sum by sum(weight) for "mean";
huber_loss with ``weight`` takes the plain mean of the weighted elements (both as PyTorch 2.13).
kl_div's "batchmean" divides the sum by the batch size (input.shape[0]); its "mean" divides by
every element, as PyTorch (which warns that this is not the KL divergence's definition).
"""
import warnings

import numpy as np

from ..autograd.broadcast import unbroadcast
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from .elementwise import abs, exp, log, relu, where
from .loss import REDUCTIONS, reduction_of
from .reduction import mean, sum
from .unary import log1p


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return sum(loss) if reduction == "sum" else mean(loss)


def _difference(input, target, name):
    if tuple(np.shape(target)) != tuple(np.shape(input)):
        warnings.warn(f"Using a target size ({tuple(np.shape(target))}) that is different to the input size "
                      f"({tuple(np.shape(input))}). This will likely lead to incorrect results due to broadcasting. "
                      f"Please ensure they have the same size.", stacklevel=3)
        try:
            np.broadcast_shapes(tuple(np.shape(input)), tuple(np.shape(target)))
        except ValueError:
            raise ValueError(f"{name}: target of shape {tuple(np.shape(target))} does not broadcast with input of "
                             f"shape {tuple(np.shape(input))}") from None
    return input - target


def _weighted(loss, weight, reduction, input, divide_by_weight):
    if tuple(np.shape(weight)) != tuple(np.shape(input)):
        raise ValueError(f"Weights and input must have the same size: weight {tuple(np.shape(weight))}, input "
                         f"{tuple(np.shape(input))}")
    loss = loss * weight
    if reduction == "mean" and divide_by_weight:
        return sum(loss) / sum(weight)
    return _reduce(loss, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = reduction_of(size_average, reduce, reduction)
    d = _difference(input, target, "mse_loss")
    loss = d * d
    return _reduce(loss, reduction) if weight is None else _weighted(loss, weight, reduction, input, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = reduction_of(size_average, reduce, reduction)
    loss = abs(_difference(input, target, "l1_loss"))
    return _reduce(loss, reduction) if weight is None else _weighted(loss, weight, reduction, input, True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = reduction_of(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    absolute = abs(_difference(input, target, "smooth_l1_loss"))
    if beta == 0.0:
        return _reduce(absolute, reduction)
    loss = where(absolute < beta, absolute * absolute * (0.5 / beta), absolute - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    reduction = reduction_of(None, None, reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
    absolute = abs(_difference(input, target, "huber_loss"))
    loss = where(absolute <= delta, absolute * absolute * 0.5, (absolute - 0.5 * delta) * delta)
    return _reduce(loss, reduction) if weight is None else _weighted(loss, weight, reduction, input, False)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """sum over elements of target (log target - input): ``input`` holds log-probabilities;
    ``target`` probabilities (or log-probabilities with ``log_target``)."""
    if size_average is not None or reduce is not None:
        reduction = reduction_of(size_average, reduce, "mean")
    elif reduction not in REDUCTIONS + ("batchmean",):
        raise ValueError(f"reduction must be one of {REDUCTIONS + ('batchmean',)}, got {reduction!r}")
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size. "
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition. "
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      stacklevel=2)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        t = target if isinstance(target, Tensor) else Tensor._make(np.asarray(target), False, None, 0)
        # xlogy(t, t) - t x: t log t is 0 where t == 0 (log of 1 there, so no 0 * -inf anywhere)
        loss = t * log(where(t == 0, 1.0, t)) - t * input
    if reduction == "batchmean":
        total = sum(loss)
        return total / input.shape[0] if input.ndim else total
    return _reduce(loss, reduction)


def _check_same_shape(input, target, name):
    if tuple(np.shape(target)) != tuple(np.shape(input)):
        raise ValueError(f"{name}: target size {tuple(np.shape(target))} must be the same as input size "
                         f"{tuple(np.shape(input))}")


# PyTorch's clamp of x (1 - x) is the float32 constant 1e-12, exactly 9.9999999600419720e-13.
_EPSILON = float(np.float32(1e-12))


class BinaryCrossEntropy(Function):
    """l = -w [y log x + (1 - y) log(1 - x)], each log clamped to >= -100 (elementwise; w broadcast)

    dl/dx = w (x - y) / max(x (1 - x), 1e-12)      (PyTorch's clamp of the denominator)
    dl/dy = w (log(1 - x) - log x)                 (the clamped logs)
    dl/dw = -[y log x + (1 - y) log(1 - x)]
    """

    @staticmethod
    def forward(ctx, x, y, w):
        y = y.astype(x.dtype, copy=False)
        w = None if w is None else w.astype(x.dtype, copy=False)
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(x), -100)
            log_q = np.maximum(np.log1p(-x), -100)
        unweighted = -(y * log_p + (1 - y) * log_q)                    # x's shape
        ctx.x, ctx.y, ctx.w, ctx.log_p, ctx.log_q = x, y, w, log_p, log_q
        ctx.unweighted = unweighted
        return unweighted if w is None else unweighted * w

    @staticmethod
    def backward(ctx, grad):
        x, y, w = ctx.x, ctx.y, ctx.w
        need_x, need_y, need_w = ctx.needs_input_grad
        scale = grad if w is None else grad * w
        dx = scale * (x - y) / np.maximum(x * (1 - x), _EPSILON) if need_x else None
        dy = unbroadcast(scale * (ctx.log_q - ctx.log_p), y.shape) if need_y else None
        dw = unbroadcast(grad * ctx.unweighted, w.shape) if need_w and w is not None else None
        return dx, dy, dw


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """``input`` holds probabilities in [0, 1]; each log is clamped at -100, as PyTorch."""
    reduction = reduction_of(size_average, reduce, reduction)
    _check_same_shape(input, target, "binary_cross_entropy")
    values = input._data if isinstance(input, Tensor) else np.asarray(input)
    if np.any((values < 0) | (values > 1)):
        raise RuntimeError("all elements of input should be between 0 and 1")
    if weight is not None:
        try:
            fits = np.broadcast_shapes(tuple(np.shape(weight)), tuple(np.shape(target))) == tuple(np.shape(target))
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"binary_cross_entropy: weight of shape {tuple(np.shape(weight))} does not broadcast "
                             f"with target of shape {tuple(np.shape(target))}") from None
    return _reduce(BinaryCrossEntropy.apply(input, target, weight), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """The sigmoid and the binary cross entropy in one stable formula; ``pos_weight`` (broadcast
    against the last dim, one per class) weighs the positive term, ``weight`` every element."""
    reduction = reduction_of(size_average, reduce, reduction)
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    softplus_neg = log1p(exp(-abs(input))) + relu(-input)          # log(1 + e^-x) = -log s(x)
    if pos_weight is None:
        loss = (1.0 - target) * input + softplus_neg
    else:
        loss = (1.0 - target) * input + (1.0 + (pos_weight - 1.0) * target) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "binary_cross_entropy",
           "binary_cross_entropy_with_logits"]
