"""cross_entropy and nll_loss with PyTorch's semantics, each one fused Function.

Classes sit on dim 1 (dim 0 for a single unbatched row), as in PyTorch: logits (C,), (N, C)
or (N, C, d1, ...). Internally every position becomes a row of a (M, C) matrix.

Cross entropy with class-index targets t, class weights w (1 when not given), label
smoothing e and C classes is, per row i (PyTorch's definition):

    loss_i = (1 - e) w_t (-log p_it) + (e / C) sum_c w_c (-log p_ic),   p = softmax(x_i)

rows whose target is ``ignore_index`` give 0; "mean" divides the sum by sum_i w_t over the
rows not ignored. With probability targets q the loss is -sum_c w_c q'_ic log p_ic, where
q' = (1 - e) q + e / C, and "mean" divides by the number of rows M.

Both are -sum_c a_ic log p_ic for coefficients a. Since d(-log p_ic)/dx_ij = p_ij - [i==j],

    dL/dx_ij = s_i (p_ij sum_c a_ic - a_ij),

with s_i the upstream gradient over the reduction's divisor. For index targets a is
alpha_i [c == t_i] + beta_i w_c, alpha_i = (1 - e) w_t, beta_i = e / C, so backward is one
pass over the (M, C) softmax plus a scatter at the targets, never a dense target matrix.
Forward keeps only that softmax, computed in the buffer of the shifted logits. Probability
targets are differentiable too, as in PyTorch: dL/dq_ic = -s_i (1 - e) w_c log p_ic (then
log p is kept as well, only when q requires grad).
"""
import warnings

import numpy as np

from ..autograd.function import Function
from .blas import matmul
from .rows import row_max, row_sums

REDUCTIONS = ("none", "mean", "sum")


def _as_rows(x):
    """(C,) -> (1, C); (N, C, d1, ...) -> (N * d1 * ..., C) with classes last."""
    if x.ndim == 1:
        return x[None, :]
    if x.ndim == 2:
        return x
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _from_rows(rows, shape):
    """Inverse of _as_rows for an array of the logits' shape."""
    if len(shape) == 1:
        return rows[0]
    if len(shape) == 2:
        return rows
    moved = rows.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return np.moveaxis(moved, -1, 1)


def _loss_shape(shape):
    """The shape of reduction='none': the logits' shape without the class dim."""
    return () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])


def _check_index_target(x, target, ignore_index):
    expected = _loss_shape(x.shape)
    if target.dtype.kind not in "iu":
        raise TypeError(f"target must hold class indices (an integer tensor) or probabilities shaped "
                        f"like the input {x.shape}; got {target.dtype} of shape {target.shape}")
    if target.shape != expected:
        raise ValueError(f"target has shape {target.shape}, expected {expected} for input of shape {x.shape}")
    flat = target.reshape(-1)
    valid = flat != ignore_index
    classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    bad = valid & ((flat < 0) | (flat >= classes))
    if np.any(bad):
        raise IndexError(f"target {int(flat[np.argmax(bad)])} is out of bounds for {classes} classes")
    return flat, valid


def _check_options(x, weight, reduction, label_smoothing=0.0):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if x.ndim == 0:
        raise ValueError("input must have a class dim: shape (C,), (N, C) or (N, C, d1, ...)")
    classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    if weight is not None and weight.shape != (classes,):
        raise ValueError(f"weight has shape {weight.shape}, expected ({classes},), one per class")


def _reduce(per_row, reduction, divisor, shape):
    if reduction == "none":
        return per_row.reshape(shape)
    total = np.sum(per_row)
    return np.asarray(total if reduction == "sum" else total / divisor, dtype=per_row.dtype)


def _row_scale(grad, reduction, divisor, rows):
    """s_i: the upstream gradient of each row's loss."""
    if reduction == "none":
        return grad.reshape(rows)
    scale = grad if reduction == "sum" else grad / divisor
    return np.full(rows, scale, dtype=grad.dtype)


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, target, weight, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        # -inf logits (a masked vocabulary) give inf or NaN losses as in PyTorch, silently.
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            return CrossEntropy._forward(ctx, x, target, weight, ignore_index, reduction, label_smoothing)

    @staticmethod
    def _forward(ctx, x, target, weight, ignore_index, reduction, label_smoothing):
        _check_options(x, weight, reduction, label_smoothing)
        logits = _as_rows(x)                                              # (M, C)
        rows, classes = logits.shape
        dtype = x.dtype
        w = None if weight is None else weight.astype(dtype, copy=False)
        probabilities = target.dtype.kind == "f"
        shifted = logits - row_max(logits, 1)         # (M, C), <= 0
        if probabilities:
            if target.shape != x.shape:
                raise ValueError(f"probability target has shape {target.shape}, expected the input's {x.shape}")
            q = _as_rows(target).astype(dtype, copy=False)
            if label_smoothing:
                q = q * (1 - label_smoothing) + label_smoothing / classes
            coefficients = q if w is None else q * w                       # a_ic
            weighted_shift = np.sum(coefficients * shifted, axis=1)
            mass = np.sum(coefficients, axis=1)                            # sum_c a_ic
            divisor = rows
        else:
            flat, valid = _check_index_target(x, target, ignore_index)
            safe = np.where(valid, flat, 0)
            target_weight = (np.ones(rows, dtype) if w is None else w[safe]) * valid   # w_t, 0 if ignored
            alpha = (1 - label_smoothing) * target_weight
            beta = np.where(valid, label_smoothing / classes, 0).astype(dtype)
            weighted_shift = alpha * shifted[np.arange(rows), safe]
            if label_smoothing:
                weighted_shift += beta * (row_sums(shifted)[:, 0] if w is None else matmul(shifted, w))
            mass = alpha + beta * (classes if w is None else np.sum(w))
            divisor = np.sum(target_weight)
        # probability targets that require grad: dL/dq_ic = -s_i (1 - e) w_c log p_ic needs log p
        ctx.log_probs = shifted.copy() if probabilities and ctx.needs_input_grad[1] else None
        np.exp(shifted, out=shifted)
        normalizer = row_sums(shifted)[:, 0]                              # Z_i
        shifted *= (1 / normalizer)[:, None]                               # now the softmax p
        # -sum_c a_ic log p_ic = -sum_c a_ic (shift_ic - log Z_i) = mass_i log Z_i - sum_c a_ic shift_ic
        per_row = mass * np.log(normalizer) - weighted_shift
        if ctx.log_probs is not None:
            ctx.log_probs -= np.log(normalizer)[:, None]                   # log p = shift - log Z
            ctx.target_scale = (1 - label_smoothing) * (1 if w is None else w)
        ctx.softmax, ctx.shape, ctx.reduction, ctx.divisor, ctx.mass = shifted, x.shape, reduction, divisor, mass
        if probabilities:
            ctx.coefficients, ctx.targets = coefficients, None
        else:
            ctx.coefficients, ctx.targets, ctx.alpha, ctx.beta, ctx.weight = None, safe, alpha, beta, w
        return _reduce(per_row, reduction, divisor, _loss_shape(x.shape))     # all ignored: 0/0 = NaN, as torch

    @staticmethod
    def backward(ctx, grad):
        p = ctx.softmax
        rows = p.shape[0]
        scale = _row_scale(grad, ctx.reduction, ctx.divisor, rows)        # s_i
        dx = p * (scale * ctx.mass)[:, None]                               # s_i p_ij sum_c a_ic
        if ctx.coefficients is not None:
            dx -= ctx.coefficients * scale[:, None]
        else:
            if ctx.weight is None:
                dx -= (ctx.beta * scale)[:, None]
            else:
                dx -= (ctx.beta * scale)[:, None] * ctx.weight[None, :]
            dx[np.arange(rows), ctx.targets] -= ctx.alpha * scale
        dq = None
        if ctx.log_probs is not None:                                      # probability targets
            dq = _from_rows(-(ctx.log_probs * ctx.target_scale) * scale[:, None], ctx.shape)
        return _from_rows(dx, ctx.shape), dq, None


class NllLoss(Function):
    """loss_i = -w_t x_it for log-probabilities x; dL/dx_it = -s_i w_t"""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index=-100, reduction="mean"):
        _check_options(x, weight, reduction)
        log_probs = _as_rows(x)
        rows = log_probs.shape[0]
        flat, valid = _check_index_target(x, target, ignore_index)
        safe = np.where(valid, flat, 0)
        target_weight = ((np.ones(rows, x.dtype) if weight is None else weight.astype(x.dtype)[safe]) * valid)
        per_row = -target_weight * log_probs[np.arange(rows), safe]
        divisor = np.sum(target_weight)
        ctx.shape, ctx.targets, ctx.target_weight = x.shape, safe, target_weight
        ctx.reduction, ctx.divisor = reduction, divisor
        with np.errstate(invalid="ignore", divide="ignore"):
            return _reduce(per_row, reduction, divisor, _loss_shape(x.shape))

    @staticmethod
    def backward(ctx, grad):
        rows = ctx.targets.shape[0]
        scale = _row_scale(grad, ctx.reduction, ctx.divisor, rows)
        dx = np.zeros((rows, ctx.shape[0] if len(ctx.shape) == 1 else ctx.shape[1]), dtype=grad.dtype)
        dx[np.arange(rows), ctx.targets] = -scale * ctx.target_weight
        return _from_rows(dx, ctx.shape), None, None


def reduction_of(size_average, reduce, reduction):
    """PyTorch's legacy arguments: size_average and reduce, when either is given, decide the
    reduction (reduce=False: 'none'; else size_average=False: 'sum'; else 'mean')."""
    if size_average is None and reduce is None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='"
                  f"{_legacy(size_average, reduce)}' instead.", stacklevel=3)
    return _legacy(size_average, reduce)


def _legacy(size_average, reduce):
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return ("mean" if size_average else "sum") if reduce else "none"


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """As torch.nn.functional.cross_entropy: logits (C,), (N, C) or (N, C, d1, ...); target class
    indices (the logits' shape without C) or class probabilities (the logits' shape)."""
    reduction = reduction_of(size_average, reduce, reduction)
    return CrossEntropy.apply(input, target, weight, ignore_index=ignore_index, reduction=reduction,
                              label_smoothing=float(label_smoothing))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """As torch.nn.functional.nll_loss: log-probabilities (C,), (N, C) or (N, C, d1, ...)."""
    reduction = reduction_of(size_average, reduce, reduction)
    return NllLoss.apply(input, target, weight, ignore_index=ignore_index, reduction=reduction)
