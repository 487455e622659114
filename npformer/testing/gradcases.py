"""The gradient-check table: at least one case for every registered Function.

``GRAD_CASES`` maps a Function's registry name to its cases. A case is a pair (what it
exercises, build): ``build(rng)`` returns ``(fn, inputs)``, float64 inputs drawn from the seeded
NumPy generator ``rng``. Inputs stay away from kinks (relu and abs at 0, clamp at its bounds,
ties of max) by at least 0.1, far more than the finite-difference step, so a mismatch is always
a wrong backward, never a sampling accident. ``npformer gradcheck`` and the test suite both run
this table, and both fail when a registered op has no case here.
"""
from typing import Callable, NamedTuple

import numpy as np

from .. import ops
from ..autograd.random import Generator
from ..autograd.tensor import Tensor
from ..ops.activation import gelu, silu
from ..ops.attention import attention_with_weights, scaled_dot_product_attention
from ..ops.dropout import dropout
from ..ops.elementwise_loss import binary_cross_entropy
from ..ops.embedding import embedding
from ..ops.linear import linear
from ..ops.loss import cross_entropy, nll_loss
from ..ops.normalization import layer_norm, rms_norm
from ..ops.padding import pad
from ..ops.rotary import apply_rotary
from ..ops.softmax import log_softmax, softmax
from ..ops.softplus import softplus


def _x(rng, *shape, low=-1.0, high=1.0):
    return Tensor(rng.uniform(low, high, shape), requires_grad=True)


def _away_from_zero(rng, *shape):
    """Values in +-[0.1, 1]: no element near a kink at 0."""
    magnitude = rng.uniform(0.1, 1.0, shape)
    return Tensor(np.where(rng.random(shape) < 0.5, -magnitude, magnitude), requires_grad=True)


def _distinct(rng, *shape):
    """Values spaced at least 0.1 apart, in random order: no ties."""
    n = int(np.prod(shape))
    return Tensor((rng.permutation(n) * 0.1 - n * 0.05).reshape(shape), requires_grad=True)


def _between_steps(rng, shape, low, high, scale=1.0):
    """scale * (an integer + a fraction in [low, high]): away from the jumps of floor, round, ..."""
    steps = rng.integers(-3, 3, shape) + rng.uniform(low, high, shape)
    return Tensor(scale * steps, requires_grad=True)


def _values_avoiding(rng, shape, points):
    """Uniform values in [-1, 1] at least 0.1 from each of ``points``."""
    values = rng.uniform(-1, 1, shape)
    for p in points:
        close = np.abs(values - p) < 0.1
        values = np.where(close, p + np.sign(values - p + 1e-12) * 0.15, values)
    return Tensor(values, requires_grad=True)


def _const(array):
    return Tensor(np.asarray(array))


def rng_mask(shape):
    """A fixed boolean pattern with both values present (deterministic across runs)."""
    flat = (np.arange(int(np.prod(shape))) * 7 + 3) % 5 < 2
    return flat.reshape(shape)


# ---------------------------------------------------------------- cases that take more than one expression
def _maximum_against_a_nearby_row(rng):
    a = _distinct(rng, 2, 3)
    return ops.maximum, (a, Tensor(a._data[0] + 0.05, requires_grad=True))


def _minimum_of_distinct_column_and_row(rng):
    values = _distinct(rng, 7)._data
    return ops.minimum, (Tensor(values[:3, None], requires_grad=True), Tensor(values[None, 3:], requires_grad=True))


def _setitem_boolean_mask(rng):
    mask = np.array([[True, False, True], [False, True, True]])
    return (lambda a, v: ops.setitem(a, mask, v).exp()), (_x(rng, 2, 3), _x(rng, 4))


def _cross_entropy_probability_targets(rng):
    target = _const(rng.dirichlet(np.ones(4), size=3))
    return (lambda a: cross_entropy(a, target, label_smoothing=0.1)), (_x(rng, 3, 4),)


def _attention_with_a_fully_masked_row(rng):
    mask = _const(np.array([[True, True, False, False], [False, False, False, False], [True, True, True, False]]))
    return (lambda q, k, v: scaled_dot_product_attention(q, k, v, mask)), (_x(rng, 2, 3, 5), _x(rng, 2, 4, 5),
                                                                          _x(rng, 2, 4, 3))


def _attention_grouped_query_with_weights(rng):
    def fn(q, k, v):
        out, weights = attention_with_weights(q, k, v, enable_gqa=True)
        return out, weights * 2.0
    return fn, (_x(rng, 1, 4, 3, 2), _x(rng, 1, 2, 5, 2), _x(rng, 1, 2, 5, 3))


def _rotary_half_split(rng):
    angle = np.tile(rng.uniform(-3, 3, (3, 2)), 2)                  # (T, D) = cat(theta, theta)
    return (lambda x: apply_rotary(x, np.cos(angle), np.sin(angle))), (_x(rng, 2, 2, 3, 4),)


def _rotary_interleaved_arbitrary_tables(rng):
    # arbitrary tables, not rotations: a backward reading sin at the wrong pair slot passes
    # with true rotation tables and is only caught with these
    cos, sin = rng.uniform(-1, 1, (2, 2, 1, 3, 6))
    return (lambda x: apply_rotary(x, cos, sin, interleaved=True)), (_x(rng, 2, 2, 3, 6),)


def _softplus_both_branches(rng):
    x = np.concatenate([rng.uniform(-4, 1.9, 6), rng.uniform(2.1, 4, 2)])   # beta x = 4 at x = 2
    return (lambda a: softplus(a, beta=2.0, threshold=4.0)), (Tensor(x, requires_grad=True),)


def _cumprod_with_zeros(rng):
    x = rng.uniform(0.5, 1.5, (3, 5))
    x[1, 2] = 0.0
    x[2, 1] = x[2, 3] = 0.0
    return (lambda a: ops.cumprod(a, 1)), (Tensor(x, requires_grad=True),)


def _prod_with_zeros(rng):
    x = rng.uniform(0.5, 1.5, (3, 4))
    x[1, 1] = 0.0
    x[0, 2] = x[2, 2] = 0.0
    return (lambda a: ops.prod(a, 0)), (Tensor(x, requires_grad=True),)


def _norm_inf_and_minus_inf(rng):
    magnitudes = _distinct(rng, 4, 3)._data + 0.65                 # distinct |a| (no ties), none near 0
    signs = np.where(rng.random((4, 3)) < 0.5, -1.0, 1.0)
    return ((lambda a: ops.norm(a, float("inf"), 0) + ops.norm(a, float("-inf"), 0)),
            (Tensor(signs * magnitudes, requires_grad=True),))


GRAD_CASES = {
    # ---------------------------------------- arithmetic
    "Add": [
        ("same shape", lambda rng: (ops.add, (_x(rng, 2, 3), _x(rng, 2, 3)))),
        ("broadcast (2,3,4) + (3,1)", lambda rng: (ops.add, (_x(rng, 2, 3, 4), _x(rng, 3, 1)))),
        ("tensor + python scalar", lambda rng: ((lambda a: a + 2.5), (_x(rng, 3),))),
    ],
    "Sub": [
        ("broadcast (4,) - (2,4)", lambda rng: (ops.sub, (_x(rng, 4), _x(rng, 2, 4)))),
        ("python scalar - tensor", lambda rng: ((lambda a: 1.0 - a), (_x(rng, 2, 2),))),
    ],
    "Mul": [
        ("broadcast (2,1,3) * (4,1)", lambda rng: (ops.mul, (_x(rng, 2, 1, 3), _x(rng, 4, 1)))),
        ("a tensor times itself", lambda rng: ((lambda a: a * a), (_x(rng, 5),))),
    ],
    "Div": [
        ("broadcast (2,3) / (3,)", lambda rng: (ops.div, (_x(rng, 2, 3), _away_from_zero(rng, 3)))),
        ("python scalar / tensor", lambda rng: ((lambda a: 2.0 / a), (_away_from_zero(rng, 4),))),
    ],
    "Neg": [
        ("matrix", lambda rng: (ops.neg, (_x(rng, 2, 3),))),
    ],
    "Pow": [
        ("tensor ** tensor, positive base", lambda rng: (ops.pow, (_x(rng, 2, 3, low=0.5, high=2.0), _x(rng, 2, 3)))),
        ("tensor ** 3, base of any sign", lambda rng: ((lambda a: a ** 3), (_x(rng, 4),))),
        ("tensor ** -0.5", lambda rng: ((lambda a: a ** -0.5), (_x(rng, 4, low=0.5, high=2.0),))),
        ("2 ** tensor", lambda rng: ((lambda p: 2.0 ** p), (_x(rng, 3),))),
    ],
    # ---------------------------------------- matmul
    "MatMul": [
        ("(3,4) @ (4,2)", lambda rng: (ops.matmul, (_x(rng, 3, 4), _x(rng, 4, 2)))),
        ("(4,) @ (4,)", lambda rng: (ops.matmul, (_x(rng, 4), _x(rng, 4)))),
        ("(3,) @ (2,3,4)", lambda rng: (ops.matmul, (_x(rng, 3), _x(rng, 2, 3, 4)))),
        ("(2,3,4) @ (4,)", lambda rng: (ops.matmul, (_x(rng, 2, 3, 4), _x(rng, 4)))),
        ("(2,3,4) @ (4,2): batch times matrix", lambda rng: (ops.matmul, (_x(rng, 2, 3, 4), _x(rng, 4, 2)))),
        ("(2,1,3,4) @ (3,4,2): broadcast batches", lambda rng: (ops.matmul, (_x(rng, 2, 1, 3, 4), _x(rng, 3, 4, 2)))),
    ],
    # ---------------------------------------- elementwise
    "Exp": [
        ("matrix", lambda rng: (ops.exp, (_x(rng, 2, 3),))),
    ],
    "Log": [
        ("positive", lambda rng: (ops.log, (_x(rng, 2, 3, low=0.2, high=3.0),))),
    ],
    "Erf": [
        ("both signs", lambda rng: (ops.erf, (_x(rng, 2, 3, low=-2.5, high=2.5),))),
    ],
    "Sqrt": [
        ("positive", lambda rng: (ops.sqrt, (_x(rng, 2, 3, low=0.2, high=3.0),))),
    ],
    "Tanh": [
        ("matrix", lambda rng: (ops.tanh, (_x(rng, 2, 3, low=-3, high=3),))),
    ],
    "Sigmoid": [
        ("both signs", lambda rng: (ops.sigmoid, (_x(rng, 2, 3, low=-4, high=4),))),
    ],
    "ReLU": [
        ("away from 0", lambda rng: (ops.relu, (_away_from_zero(rng, 3, 4),))),
    ],
    "Abs": [
        ("away from 0", lambda rng: (ops.abs, (_away_from_zero(rng, 3, 4),))),
    ],
    "Maximum": [
        ("broadcast (2,3) vs (3,)", _maximum_against_a_nearby_row),
        ("ties share the gradient", lambda rng: ((lambda a: ops.maximum(a, a)), (_x(rng, 4),))),
    ],
    "Minimum": [
        ("broadcast (3,1) vs (1,4)", _minimum_of_distinct_column_and_row),
    ],
    "Where": [
        ("broadcast condition and operands",
         lambda rng: ((lambda a, b: ops.where(_const(rng_mask((2, 3))), a, b)), (_x(rng, 2, 3), _x(rng, 3)))),
    ],
    "Clamp": [
        ("min and max",
         lambda rng: ((lambda a: ops.clamp(a, -0.5, 0.5)), (_values_avoiding(rng, (3, 4), (-0.5, 0.5)),))),
        ("min only", lambda rng: ((lambda a: ops.clamp(a, min=0.0)), (_away_from_zero(rng, 5),))),
    ],
    # ---------------------------------------- reductions
    "Sum": [
        ("all", lambda rng: (ops.sum, (_x(rng, 2, 3),))),
        ("dim=(0, 2), keepdim", lambda rng: ((lambda a: ops.sum(a, (0, 2), keepdim=True)), (_x(rng, 2, 3, 4),))),
    ],
    "Mean": [
        ("dim=-1", lambda rng: ((lambda a: ops.mean(a, -1)), (_x(rng, 2, 3, 4),))),
        ("all", lambda rng: (ops.mean, (_x(rng, 3, 2),))),
    ],
    "Var": [
        ("dim=1, unbiased", lambda rng: ((lambda a: ops.var(a, 1)), (_x(rng, 3, 5),))),
        ("all, correction=0, keepdim",
         lambda rng: ((lambda a: ops.var(a, None, keepdim=True, correction=0)), (_x(rng, 2, 3),))),
    ],
    "Std": [
        ("dim=0, unbiased", lambda rng: ((lambda a: ops.std(a, 0)), (_x(rng, 4, 3),))),
        ("all, correction=0", lambda rng: ((lambda a: ops.std(a, correction=0)), (_x(rng, 2, 3),))),
    ],
    "Amax": [
        ("dim=1", lambda rng: ((lambda a: ops.amax(a, 1)), (_distinct(rng, 3, 4),))),
        ("ties share the gradient", lambda rng: ((lambda a: ops.amax(ops.cat([a, a], 0), 0)), (_x(rng, 1, 4),))),
    ],
    "Amin": [
        ("all", lambda rng: (ops.amin, (_distinct(rng, 3, 4),))),
    ],
    # ---------------------------------------- shapes
    "Reshape": [
        ("(2,3,4) -> (4,-1)", lambda rng: ((lambda a: ops.reshape(a, (4, -1))), (_x(rng, 2, 3, 4),))),
    ],
    "Permute": [
        ("(2,3,4) -> (2,0,1)", lambda rng: ((lambda a: ops.permute(a, (2, 0, 1))), (_x(rng, 2, 3, 4),))),
    ],
    "Expand": [
        ("(3,1) -> (2,3,4)", lambda rng: ((lambda a: ops.expand(a, (2, 3, 4))), (_x(rng, 3, 1),))),
    ],
    "Cat": [
        ("three tensors along dim 1",
         lambda rng: ((lambda a, b, c: ops.cat([a, b, c], 1)), (_x(rng, 2, 1), _x(rng, 2, 3), _x(rng, 2, 2)))),
    ],
    "Stack": [
        ("dim -1", lambda rng: ((lambda a, b: ops.stack([a, b], -1)), (_x(rng, 2, 3), _x(rng, 2, 3)))),
    ],
    "Split": [
        ("uneven pieces, all used", lambda rng: ((lambda a: ops.split(a, [1, 3, 2], 1)), (_x(rng, 2, 6),))),
        ("only the middle piece used", lambda rng: ((lambda a: ops.chunk(a, 3, 0)[1] * 2.0), (_x(rng, 6, 2),))),
    ],
    # ---------------------------------------- indexing and casts
    "GetItem": [
        ("int, slice with step, None, Ellipsis", lambda rng: ((lambda a: a[1, ::2, None, ...]), (_x(rng, 3, 5, 2),))),
        ("integer array with repeats accumulates",
         lambda rng: ((lambda a: a[np.array([0, 2, 0, 0]), 1:]), (_x(rng, 3, 3),))),
        ("boolean mask", lambda rng: ((lambda a: a[rng_mask((3, 4))]), (_x(rng, 3, 4),))),
    ],
    "SetItem": [
        ("slice, value broadcast along a dim",
         lambda rng: ((lambda a, v: ops.setitem(a, (slice(None), slice(1, 3)), v) * 2.0),
                      (_x(rng, 3, 4), _x(rng, 1, 2)))),
        ("boolean mask, one value per selected element", _setitem_boolean_mask),
        ("integer arrays, value with a leading 1-dim",
         lambda rng: ((lambda a, v: ops.setitem(a, (np.array([0, 2]), np.array([1, 0])), v)),
                      (_x(rng, 3, 2), _x(rng, 1, 2)))),
    ],
    "MaskedFill": [
        ("broadcast mask, -inf fill then exp",
         lambda rng: ((lambda a: ops.exp(ops.masked_fill(a, _const(rng_mask((1, 4))), float("-inf")))),
                      (_x(rng, 3, 4),))),
    ],
    "Gather": [
        ("dim 1 with repeats, index smaller than input",
         lambda rng: ((lambda a: ops.gather(a, 1, _const(np.array([[0, 0, 2], [1, 3, 1]])))), (_x(rng, 3, 4),))),
        ("dim 0", lambda rng: ((lambda a: ops.gather(a, 0, _const(np.array([[2, 0], [2, 2]])))), (_x(rng, 3, 2),))),
    ],
    "Cast": [
        ("clone in float64", lambda rng: ((lambda a: ops.cast(a, np.float64) * 3.0), (_x(rng, 3),))),
        ("contiguous copy of a transpose",
         lambda rng: ((lambda a: ops.contiguous(ops.transpose(a, 0, 1)) * _const(np.arange(6.0).reshape(3, 2))),
                      (_x(rng, 2, 3),))),
    ],
    # ---------------------------------------- fused ops
    "Softmax": [
        ("dim -1 of (2,3,4)",
         lambda rng: ((lambda a: softmax(a, -1) * _const(np.arange(24.0).reshape(2, 3, 4))),
                      (_x(rng, 2, 3, 4, low=-3, high=3),))),
        ("dim 0 with a -inf entry",
         lambda rng: ((lambda a: softmax(ops.masked_fill(a, _const(rng_mask((3, 2))), float("-inf")), 0) * 2.0),
                      (_x(rng, 3, 2),))),
    ],
    "LogSoftmax": [
        ("dim 1", lambda rng: ((lambda a: log_softmax(a, 1)), (_x(rng, 3, 4, low=-3, high=3),))),
    ],
    "CrossEntropy": [
        ("class indices, ignore_index, mean",
         lambda rng: ((lambda a: cross_entropy(a, _const(np.array([1, -100, 4, 0])))),
                      (_x(rng, 4, 5, low=-2, high=2),))),
        ("label smoothing and class weights, none",
         lambda rng: ((lambda a: cross_entropy(a, _const(np.array([1, 3, 3])), _const(np.array([0.5, 1.0, 2.0, 1.5])),
                                               reduction="none", label_smoothing=0.2)),
                      (_x(rng, 3, 4),))),
        ("(N, C, d) input, sum",
         lambda rng: ((lambda a: cross_entropy(a, _const(np.array([[0, 2], [1, 1]])), reduction="sum")),
                      (_x(rng, 2, 3, 2),))),
        ("probability targets with smoothing", _cross_entropy_probability_targets),
        ("differentiable probability targets, class weights, (N, C, d), none",
         lambda rng: ((lambda a, q: cross_entropy(a, q, _const(np.array([0.5, 1.0, 2.0])), reduction="none",
                                                  label_smoothing=0.2)),
                      (_x(rng, 2, 3, 2), _x(rng, 2, 3, 2, low=0.0)))),
    ],
    "NllLoss": [
        ("weights and ignore_index",
         lambda rng: ((lambda a: nll_loss(a, _const(np.array([2, 0, -100])), _const(np.array([1.0, 2.0, 0.5])))),
                      (_x(rng, 3, 3),))),
    ],
    "LayerNorm": [
        ("affine over the last dim",
         lambda rng: ((lambda a, w, b: layer_norm(a, (4,), w, b)), (_x(rng, 2, 3, 4), _x(rng, 4), _x(rng, 4)))),
        ("no affine, over two dims", lambda rng: ((lambda a: layer_norm(a, (3, 4), eps=1e-3)), (_x(rng, 2, 3, 4),))),
        ("weight without bias", lambda rng: ((lambda a, w: layer_norm(a, 5, w)), (_x(rng, 3, 5), _x(rng, 5)))),
    ],
    "RMSNorm": [
        ("with weight", lambda rng: ((lambda a, w: rms_norm(a, (4,), w, eps=1e-6)), (_x(rng, 2, 3, 4), _x(rng, 4)))),
        ("no weight, default eps", lambda rng: ((lambda a: rms_norm(a, (5,))), (_x(rng, 3, 5),))),
    ],
    "GELU": [
        ("exact", lambda rng: (gelu, (_x(rng, 3, 4, low=-4, high=4),))),
        ("tanh approximation", lambda rng: ((lambda a: gelu(a, approximate="tanh")), (_x(rng, 3, 4, low=-4, high=4),))),
    ],
    "SiLU": [
        ("both signs", lambda rng: (silu, (_x(rng, 3, 4, low=-5, high=5),))),
    ],
    "Embedding": [
        ("repeated ids accumulate",
         lambda rng: ((lambda w: embedding(_const(np.array([[0, 2], [2, 2]])), w)), (_x(rng, 4, 3),))),
    ],
    "BinaryCrossEntropy": [
        ("probabilities, targets and weights all differentiable",
         lambda rng: ((lambda p, y, w: binary_cross_entropy(p, y, w, reduction="sum")),
                      (_x(rng, 3, 4, low=0.1, high=0.9), _x(rng, 3, 4, low=0.0, high=1.0),
                       _x(rng, 4, low=0.5, high=2.0)))),
    ],
    "Dropout": [
        ("fixed generator", lambda rng: ((lambda a: dropout(a, 0.4, generator=Generator(3))), (_x(rng, 4, 5),))),
    ],
    "Linear": [
        ("(2,3,4) input with bias", lambda rng: (linear, (_x(rng, 2, 3, 4), _x(rng, 5, 4), _x(rng, 5)))),
        ("no bias", lambda rng: (linear, (_x(rng, 3, 4), _x(rng, 2, 4)))),
    ],
    "ScaledDotProductAttention": [
        ("causal with a fully masked row and a key padding mask", _attention_with_a_fully_masked_row),
        ("is_causal, scale",
         lambda rng: ((lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7)),
                      (_x(rng, 1, 2, 4, 3), _x(rng, 1, 2, 4, 3), _x(rng, 1, 2, 4, 3)))),
        ("learned float mask gets a gradient",
         lambda rng: ((lambda q, k, v, bias: scaled_dot_product_attention(q, k, v, bias)),
                      (_x(rng, 2, 3, 4), _x(rng, 2, 5, 4), _x(rng, 2, 5, 2), _x(rng, 1, 3, 5)))),
        ("grouped-query heads, weights output used", _attention_grouped_query_with_weights),
        ("attention dropout with a fixed generator",
         lambda rng: ((lambda q, k, v: scaled_dot_product_attention(q, k, v, dropout_p=0.3, generator=Generator(1))),
                      (_x(rng, 3, 4), _x(rng, 5, 4), _x(rng, 5, 2)))),
    ],
    "Rotary": [
        ("half-split pairs, (T, D) tables against (B, H, T, D)", _rotary_half_split),
        ("interleaved pairs, arbitrary (B, 1, T, D) tables", _rotary_interleaved_arbitrary_tables),
    ],
    # ---------------------------------------- more elementwise (unary.py, rounding.py, binary.py, softplus.py)
    "Sin": [
        ("matrix", lambda rng: (ops.sin, (_x(rng, 2, 3, low=-3, high=3),))),
    ],
    "Cos": [
        ("matrix", lambda rng: (ops.cos, (_x(rng, 2, 3, low=-3, high=3),))),
    ],
    "Tan": [
        ("inside (-pi/2, pi/2)", lambda rng: (ops.tan, (_x(rng, 2, 3, low=-1.2, high=1.2),))),
    ],
    "Asin": [
        ("inside (-1, 1)", lambda rng: (ops.asin, (_x(rng, 2, 3, low=-0.9, high=0.9),))),
    ],
    "Acos": [
        ("inside (-1, 1)", lambda rng: (ops.acos, (_x(rng, 2, 3, low=-0.9, high=0.9),))),
    ],
    "Atan": [
        ("both signs", lambda rng: (ops.atan, (_x(rng, 2, 3, low=-3, high=3),))),
    ],
    "Sinh": [
        ("both signs", lambda rng: (ops.sinh, (_x(rng, 2, 3, low=-2, high=2),))),
    ],
    "Cosh": [
        ("both signs", lambda rng: (ops.cosh, (_x(rng, 2, 3, low=-2, high=2),))),
    ],
    "Asinh": [
        ("both signs", lambda rng: (ops.asinh, (_x(rng, 2, 3, low=-3, high=3),))),
    ],
    "Acosh": [
        ("above 1", lambda rng: (ops.acosh, (_x(rng, 2, 3, low=1.2, high=3),))),
    ],
    "Atanh": [
        ("inside (-1, 1)", lambda rng: (ops.atanh, (_x(rng, 2, 3, low=-0.9, high=0.9),))),
    ],
    "Log1p": [
        ("above -1", lambda rng: (ops.log1p, (_x(rng, 2, 3, low=-0.8, high=3),))),
    ],
    "Expm1": [
        ("both signs", lambda rng: (ops.expm1, (_x(rng, 2, 3, low=-2, high=2),))),
    ],
    "Log2": [
        ("positive", lambda rng: (ops.log2, (_x(rng, 2, 3, low=0.2, high=3),))),
    ],
    "Log10": [
        ("positive", lambda rng: (ops.log10, (_x(rng, 2, 3, low=0.2, high=3),))),
    ],
    "Exp2": [
        ("both signs", lambda rng: (ops.exp2, (_x(rng, 2, 3, low=-2, high=2),))),
    ],
    "Square": [
        ("both signs", lambda rng: (ops.square, (_x(rng, 2, 3, low=-2, high=2),))),
    ],
    "Reciprocal": [
        ("away from 0", lambda rng: (ops.reciprocal, (_away_from_zero(rng, 2, 3),))),
    ],
    "Sign": [
        ("away from 0: zero gradient", lambda rng: ((lambda a: ops.sign(a) * a), (_away_from_zero(rng, 3, 4),))),
    ],
    "Floor": [
        ("away from integers", lambda rng: ((lambda a: ops.floor(a) * a), (_between_steps(rng, (3, 4), 0.1, 0.9),))),
    ],
    "Ceil": [
        ("away from integers", lambda rng: ((lambda a: ops.ceil(a) * a), (_between_steps(rng, (3, 4), 0.1, 0.9),))),
    ],
    "Trunc": [
        ("away from integers; frac = a - trunc(a) has gradient 1",
         lambda rng: ((lambda a: ops.trunc(a) * a + ops.frac(a) * 3.0), (_between_steps(rng, (3, 4), 0.1, 0.9),))),
    ],
    "Round": [
        ("half to even, away from the jumps",
         lambda rng: ((lambda a: ops.round(a) * a), (_between_steps(rng, (3, 4), 0.6, 0.9),))),
        ("decimals=1",
         lambda rng: ((lambda a: ops.round(a, decimals=1) + a), (_between_steps(rng, (3, 4), 0.1, 0.4, scale=0.1),))),
    ],
    "Atan2": [
        ("broadcast (2,3) with (3,), away from the origin",
         lambda rng: (ops.atan2, (_x(rng, 2, 3), _away_from_zero(rng, 3)))),
    ],
    "Hypot": [
        ("broadcast (2,1) with (3,)", lambda rng: (ops.hypot, (_away_from_zero(rng, 2, 1), _away_from_zero(rng, 3)))),
    ],
    "Lerp": [
        ("tensor weight on both sides of 1/2, broadcast",
         lambda rng: (ops.lerp, (_x(rng, 2, 3), _x(rng, 3), _x(rng, 2, 3, low=-0.5, high=1.5)))),
        ("number weight", lambda rng: ((lambda a, b: ops.lerp(a, b, 0.7)), (_x(rng, 4), _x(rng, 4)))),
    ],
    "Softplus": [
        ("beta 2, threshold 4: both branches, away from the switch", _softplus_both_branches),
        ("defaults", lambda rng: (softplus, (_x(rng, 3, 4, low=-6, high=6),))),
    ],
    # ---------------------------------------- triangles, scatter, tiles, scans, products, norms, einsum, padding
    "Tril": [
        ("batch, diagonal -1", lambda rng: ((lambda a: ops.tril(a, -1)), (_x(rng, 2, 3, 4),))),
    ],
    "Triu": [
        ("diagonal 1", lambda rng: ((lambda a: ops.triu(a, 1)), (_x(rng, 4, 3),))),
    ],
    "Scatter": [
        ("src larger than index, distinct positions",
         lambda rng: ((lambda a, s: ops.scatter(a, 1, _const(np.array([[0, 2], [3, 1]])), s)),
                      (_x(rng, 2, 4), _x(rng, 3, 3)))),
        ("a number, dim 0",
         lambda rng: ((lambda a: ops.scatter(a, 0, _const(np.array([[1, 0, 2]])), 0.5) * a), (_x(rng, 3, 3),))),
    ],
    "ScatterAdd": [
        ("repeated positions add up",
         lambda rng: ((lambda a, s: ops.scatter_add(a, 0, _const(np.array([[0, 1], [0, 0], [2, 0]])), s)),
                      (_x(rng, 3, 2), _x(rng, 3, 2)))),
    ],
    "IndexFill": [
        ("tensor value, repeated index",
         lambda rng: ((lambda a, v: ops.index_fill(a, 1, _const(np.array([2, 0, 2])), v) * a),
                      (_x(rng, 2, 4), _x(rng)))),
    ],
    "Repeat": [
        ("new leading dim", lambda rng: ((lambda a: ops.repeat(a, (2, 1, 3))), (_x(rng, 2, 3),))),
    ],
    "RepeatInterleave": [
        ("tensor repeats with a zero",
         lambda rng: ((lambda a: ops.repeat_interleave(a, _const(np.array([2, 0, 3])), dim=0)), (_x(rng, 3, 2),))),
        ("int repeats, flattened", lambda rng: ((lambda a: ops.repeat_interleave(a, 2)), (_x(rng, 2, 2),))),
    ],
    "Flip": [
        ("two dims", lambda rng: ((lambda a: ops.flip(a, (0, 2))), (_x(rng, 2, 3, 2),))),
    ],
    "Roll": [
        ("two dims", lambda rng: ((lambda a: ops.roll(a, (1, -2), (0, 1))), (_x(rng, 3, 4),))),
        ("flattened", lambda rng: ((lambda a: ops.roll(a, 5)), (_x(rng, 2, 3),))),
    ],
    "Cumsum": [
        ("dim 1", lambda rng: ((lambda a: ops.cumsum(a, 1)), (_x(rng, 2, 4),))),
    ],
    "Cumprod": [
        ("no zeros", lambda rng: ((lambda a: ops.cumprod(a, -1)), (_away_from_zero(rng, 2, 4),))),
        ("rows with one and two exact zeros", _cumprod_with_zeros),
    ],
    "Prod": [
        ("dim 0, with one and two exact zeros", _prod_with_zeros),
        ("all elements", lambda rng: (ops.prod, (_away_from_zero(rng, 2, 3),))),
    ],
    "Norm": [
        ("p=2 over dim 1", lambda rng: ((lambda a: ops.norm(a, 2, 1)), (_x(rng, 3, 4),))),
        ("p=1, keepdim", lambda rng: ((lambda a: ops.norm(a, 1, (0, 1), keepdim=True)), (_away_from_zero(rng, 2, 3),))),
        ("p=inf and -inf", _norm_inf_and_minus_inf),
        ("p=3 and p=0.5",
         lambda rng: ((lambda a: ops.norm(a, 3) + ops.norm(a, 0.5, -1)), (_away_from_zero(rng, 2, 3),))),
    ],
    "LogSumExp": [
        ("two dims, keepdim",
         lambda rng: ((lambda a: ops.logsumexp(a, (0, 2), keepdim=True)), (_x(rng, 2, 3, 4, low=-3, high=3),))),
        ("a -inf entry",
         lambda rng: ((lambda a: ops.logsumexp(ops.masked_fill(a, _const(rng_mask((3, 4))), float("-inf")), 1)),
                      (_x(rng, 3, 4),))),
    ],
    "Einsum": [
        ("batched matmul bij,bjk->bik",
         lambda rng: ((lambda a, b: ops.einsum("bij,bjk->bik", a, b)), (_x(rng, 2, 3, 4), _x(rng, 2, 4, 2)))),
        ("ellipsis with broadcast batch dims",
         lambda rng: ((lambda a, b: ops.einsum("...ij,...jk", a, b)), (_x(rng, 2, 1, 3, 2), _x(rng, 3, 2, 2)))),
        ("diagonal, a letter of one operand only, three operands",
         lambda rng: ((lambda a, b, c: ops.einsum("iij,k,il->il", a, b, c)),
                      (_x(rng, 3, 3, 2), _x(rng, 4), _x(rng, 3, 2)))),
        ("a size-1 dim broadcast against a letter",
         lambda rng: ((lambda a, b: ops.einsum("ij,jk->ik", a, b)), (_x(rng, 2, 1), _x(rng, 3, 4)))),
        ("trace to a scalar", lambda rng: ((lambda a: ops.einsum("ii", a)), (_x(rng, 3, 3),))),
    ],
    "Pad": [
        ("constant, crop one side", lambda rng: ((lambda a: pad(a, (1, -1, 2, 0), value=0.5)), (_x(rng, 2, 3, 4),))),
        ("reflect", lambda rng: ((lambda a: pad(a, (2, 3), mode="reflect")), (_x(rng, 2, 4),))),
        ("replicate, two dims", lambda rng: ((lambda a: pad(a, (1, 2, 2, 1), mode="replicate")), (_x(rng, 1, 3, 2),))),
        ("circular", lambda rng: ((lambda a: pad(a, (3, 1), mode="circular")), (_x(rng, 2, 1, 3),))),
    ],
}


class Case(NamedTuple):
    name: str                # what the case exercises
    build: Callable          # rng -> (fn, inputs)


def cases_for(op_name):
    """The cases of one op, as ``Case``s; [] for an op the table misses."""
    return [Case(*case) for case in GRAD_CASES.get(op_name, [])]
