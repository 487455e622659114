"""The gradient-check table: at least one case for every registered Function.

Each case builds a function and float64 inputs from a seeded NumPy generator. Inputs stay
away from kinks (relu and abs at 0, clamp at its bounds, ties of max) by at least 0.1, far
more than the finite-difference step, so a mismatch is always a wrong backward, never a
sampling accident. ``npformer gradcheck`` and the test suite both run this table, and both
fail when a registered op has no case here.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import ops
from ..autograd.random import Generator
from ..autograd.tensor import Tensor
from .activation import gelu, silu
from .attention import attention_with_weights, scaled_dot_product_attention
from .dropout import dropout
from .elementwise_loss import binary_cross_entropy
from .embedding import embedding
from .linear import linear
from .loss import cross_entropy, nll_loss
from .normalization import layer_norm, rms_norm
from .padding import pad
from .rotary import apply_rotary
from .softplus import softplus
from .softmax import log_softmax, softmax


@dataclass(frozen=True)
class GradCase:
    op: str                  # the Function's registry name
    name: str                # what this case exercises
    build: Callable          # rng -> (fn, inputs)


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


def _const(array):
    return Tensor(np.asarray(array))


CASES = []


def case(op, name):
    def register(build):
        CASES.append(GradCase(op, name, build))
        return build
    return register


# ---------------------------------------------------------------- arithmetic
@case("Add", "same shape")
def _(rng): return ops.add, (_x(rng, 2, 3), _x(rng, 2, 3))
@case("Add", "broadcast (2,3,4) + (3,1)")
def _(rng): return ops.add, (_x(rng, 2, 3, 4), _x(rng, 3, 1))
@case("Add", "tensor + python scalar")
def _(rng): return (lambda a: a + 2.5), (_x(rng, 3),)
@case("Sub", "broadcast (4,) - (2,4)")
def _(rng): return ops.sub, (_x(rng, 4), _x(rng, 2, 4))
@case("Sub", "python scalar - tensor")
def _(rng): return (lambda a: 1.0 - a), (_x(rng, 2, 2),)
@case("Mul", "broadcast (2,1,3) * (4,1)")
def _(rng): return ops.mul, (_x(rng, 2, 1, 3), _x(rng, 4, 1))
@case("Mul", "a tensor times itself")
def _(rng): return (lambda a: a * a), (_x(rng, 5),)
@case("Div", "broadcast (2,3) / (3,)")
def _(rng): return ops.div, (_x(rng, 2, 3), _away_from_zero(rng, 3))
@case("Div", "python scalar / tensor")
def _(rng): return (lambda a: 2.0 / a), (_away_from_zero(rng, 4),)
@case("Neg", "matrix")
def _(rng): return ops.neg, (_x(rng, 2, 3),)
@case("Pow", "tensor ** tensor, positive base")
def _(rng): return ops.pow, (_x(rng, 2, 3, low=0.5, high=2.0), _x(rng, 2, 3))
@case("Pow", "tensor ** 3, base of any sign")
def _(rng): return (lambda a: a ** 3), (_x(rng, 4),)
@case("Pow", "tensor ** -0.5")
def _(rng): return (lambda a: a ** -0.5), (_x(rng, 4, low=0.5, high=2.0),)
@case("Pow", "2 ** tensor")
def _(rng): return (lambda p: 2.0 ** p), (_x(rng, 3),)

# ---------------------------------------------------------------- matmul
@case("MatMul", "(3,4) @ (4,2)")
def _(rng): return ops.matmul, (_x(rng, 3, 4), _x(rng, 4, 2))
@case("MatMul", "(4,) @ (4,)")
def _(rng): return ops.matmul, (_x(rng, 4), _x(rng, 4))
@case("MatMul", "(3,) @ (2,3,4)")
def _(rng): return ops.matmul, (_x(rng, 3), _x(rng, 2, 3, 4))
@case("MatMul", "(2,3,4) @ (4,)")
def _(rng): return ops.matmul, (_x(rng, 2, 3, 4), _x(rng, 4))
@case("MatMul", "(2,3,4) @ (4,2): batch times matrix")
def _(rng): return ops.matmul, (_x(rng, 2, 3, 4), _x(rng, 4, 2))
@case("MatMul", "(2,1,3,4) @ (3,4,2): broadcast batches")
def _(rng): return ops.matmul, (_x(rng, 2, 1, 3, 4), _x(rng, 3, 4, 2))

# ---------------------------------------------------------------- elementwise
@case("Exp", "matrix")
def _(rng): return ops.exp, (_x(rng, 2, 3),)
@case("Log", "positive")
def _(rng): return ops.log, (_x(rng, 2, 3, low=0.2, high=3.0),)
@case("Erf", "both signs")
def _(rng): return ops.erf, (_x(rng, 2, 3, low=-2.5, high=2.5),)
@case("Sqrt", "positive")
def _(rng): return ops.sqrt, (_x(rng, 2, 3, low=0.2, high=3.0),)
@case("Tanh", "matrix")
def _(rng): return ops.tanh, (_x(rng, 2, 3, low=-3, high=3),)
@case("Sigmoid", "both signs")
def _(rng): return ops.sigmoid, (_x(rng, 2, 3, low=-4, high=4),)
@case("ReLU", "away from 0")
def _(rng): return ops.relu, (_away_from_zero(rng, 3, 4),)
@case("Abs", "away from 0")
def _(rng): return ops.abs, (_away_from_zero(rng, 3, 4),)
@case("Maximum", "broadcast (2,3) vs (3,)")
def _(rng):
    a = _distinct(rng, 2, 3)
    return ops.maximum, (a, Tensor(a._data[0] + 0.05, requires_grad=True))
@case("Maximum", "ties share the gradient")
def _(rng): return (lambda a: ops.maximum(a, a)), (_x(rng, 4),)
@case("Minimum", "broadcast (3,1) vs (1,4)")
def _(rng):
    values = _distinct(rng, 7)._data
    return ops.minimum, (Tensor(values[:3, None], requires_grad=True), Tensor(values[None, 3:], requires_grad=True))
@case("Where", "broadcast condition and operands")
def _(rng): return (lambda a, b: ops.where(_const(rng_mask((2, 3))), a, b)), (_x(rng, 2, 3), _x(rng, 3))
@case("Clamp", "min and max")
def _(rng): return (lambda a: ops.clamp(a, -0.5, 0.5)), (_values_avoiding(rng, (3, 4), (-0.5, 0.5)),)
@case("Clamp", "min only")
def _(rng): return (lambda a: ops.clamp(a, min=0.0)), (_away_from_zero(rng, 5),)

# ---------------------------------------------------------------- reductions
@case("Sum", "all")
def _(rng): return ops.sum, (_x(rng, 2, 3),)
@case("Sum", "dim=(0, 2), keepdim")
def _(rng): return (lambda a: ops.sum(a, (0, 2), keepdim=True)), (_x(rng, 2, 3, 4),)
@case("Mean", "dim=-1")
def _(rng): return (lambda a: ops.mean(a, -1)), (_x(rng, 2, 3, 4),)
@case("Mean", "all")
def _(rng): return ops.mean, (_x(rng, 3, 2),)
@case("Var", "dim=1, unbiased")
def _(rng): return (lambda a: ops.var(a, 1)), (_x(rng, 3, 5),)
@case("Var", "all, correction=0, keepdim")
def _(rng): return (lambda a: ops.var(a, None, keepdim=True, correction=0)), (_x(rng, 2, 3),)
@case("Std", "dim=0, unbiased")
def _(rng): return (lambda a: ops.std(a, 0)), (_x(rng, 4, 3),)
@case("Std", "all, correction=0")
def _(rng): return (lambda a: ops.std(a, correction=0)), (_x(rng, 2, 3),)
@case("Amax", "dim=1")
def _(rng): return (lambda a: ops.amax(a, 1)), (_distinct(rng, 3, 4),)
@case("Amax", "ties share the gradient")
def _(rng): return (lambda a: ops.amax(ops.cat([a, a], 0), 0)), (_x(rng, 1, 4),)
@case("Amin", "all")
def _(rng): return ops.amin, (_distinct(rng, 3, 4),)

# ---------------------------------------------------------------- shapes
@case("Reshape", "(2,3,4) -> (4,-1)")
def _(rng): return (lambda a: ops.reshape(a, (4, -1))), (_x(rng, 2, 3, 4),)
@case("Permute", "(2,3,4) -> (2,0,1)")
def _(rng): return (lambda a: ops.permute(a, (2, 0, 1))), (_x(rng, 2, 3, 4),)
@case("Expand", "(3,1) -> (2,3,4)")
def _(rng): return (lambda a: ops.expand(a, (2, 3, 4))), (_x(rng, 3, 1),)
@case("Cat", "three tensors along dim 1")
def _(rng): return (lambda a, b, c: ops.cat([a, b, c], 1)), (_x(rng, 2, 1), _x(rng, 2, 3), _x(rng, 2, 2))
@case("Stack", "dim -1")
def _(rng): return (lambda a, b: ops.stack([a, b], -1)), (_x(rng, 2, 3), _x(rng, 2, 3))
@case("Split", "uneven pieces, all used")
def _(rng): return (lambda a: ops.split(a, [1, 3, 2], 1)), (_x(rng, 2, 6),)
@case("Split", "only the middle piece used")
def _(rng): return (lambda a: ops.chunk(a, 3, 0)[1] * 2.0), (_x(rng, 6, 2),)

# ---------------------------------------------------------------- indexing
@case("GetItem", "int, slice with step, None, Ellipsis")
def _(rng): return (lambda a: a[1, ::2, None, ...]), (_x(rng, 3, 5, 2),)
@case("GetItem", "integer array with repeats accumulates")
def _(rng): return (lambda a: a[np.array([0, 2, 0, 0]), 1:]), (_x(rng, 3, 3),)
@case("GetItem", "boolean mask")
def _(rng): return (lambda a: a[rng_mask((3, 4))]), (_x(rng, 3, 4),)
@case("SetItem", "slice, value broadcast along a dim")
def _(rng): return (lambda a, v: ops.setitem(a, (slice(None), slice(1, 3)), v) * 2.0), (_x(rng, 3, 4), _x(rng, 1, 2))
@case("SetItem", "boolean mask, one value per selected element")
def _(rng):
    mask = np.array([[True, False, True], [False, True, True]])
    return (lambda a, v: ops.setitem(a, mask, v).exp()), (_x(rng, 2, 3), _x(rng, 4))
@case("SetItem", "integer arrays, value with a leading 1-dim")
def _(rng): return (lambda a, v: ops.setitem(a, (np.array([0, 2]), np.array([1, 0])), v)), (_x(rng, 3, 2), _x(rng, 1, 2))
@case("MaskedFill", "broadcast mask, -inf fill then exp")
def _(rng): return (lambda a: ops.exp(ops.masked_fill(a, _const(rng_mask((1, 4))), float("-inf")))), (_x(rng, 3, 4),)
@case("Gather", "dim 1 with repeats, index smaller than input")
def _(rng): return (lambda a: ops.gather(a, 1, _const(np.array([[0, 0, 2], [1, 3, 1]])))), (_x(rng, 3, 4),)
@case("Gather", "dim 0")
def _(rng): return (lambda a: ops.gather(a, 0, _const(np.array([[2, 0], [2, 2]])))), (_x(rng, 3, 2),)
@case("Cast", "clone in float64")
def _(rng): return (lambda a: ops.cast(a, np.float64) * 3.0), (_x(rng, 3),)
@case("Cast", "contiguous copy of a transpose")
def _(rng): return (lambda a: ops.contiguous(ops.transpose(a, 0, 1)) * _const(np.arange(6.0).reshape(3, 2))), (_x(rng, 2, 3),)


# ---------------------------------------------------------------- fused ops
@case("Softmax", "dim -1 of (2,3,4)")
def _(rng): return (lambda a: softmax(a, -1) * _const(np.arange(24.0).reshape(2, 3, 4))), (_x(rng, 2, 3, 4, low=-3, high=3),)
@case("Softmax", "dim 0 with a -inf entry")
def _(rng): return (lambda a: softmax(ops.masked_fill(a, _const(rng_mask((3, 2))), float("-inf")), 0) * 2.0), (_x(rng, 3, 2),)
@case("LogSoftmax", "dim 1")
def _(rng): return (lambda a: log_softmax(a, 1)), (_x(rng, 3, 4, low=-3, high=3),)
@case("CrossEntropy", "class indices, ignore_index, mean")
def _(rng): return (lambda a: cross_entropy(a, _const(np.array([1, -100, 4, 0])))), (_x(rng, 4, 5, low=-2, high=2),)
@case("CrossEntropy", "label smoothing and class weights, none")
def _(rng): return (lambda a: cross_entropy(a, _const(np.array([1, 3, 3])), _const(np.array([0.5, 1.0, 2.0, 1.5])),
                                            reduction="none", label_smoothing=0.2)), (_x(rng, 3, 4),)
@case("CrossEntropy", "(N, C, d) input, sum")
def _(rng): return (lambda a: cross_entropy(a, _const(np.array([[0, 2], [1, 1]])), reduction="sum")), (_x(rng, 2, 3, 2),)
@case("CrossEntropy", "probability targets with smoothing")
def _(rng):
    target = _const(rng.dirichlet(np.ones(4), size=3))
    return (lambda a: cross_entropy(a, target, label_smoothing=0.1)), (_x(rng, 3, 4),)
@case("CrossEntropy", "differentiable probability targets, class weights, (N, C, d), none")
def _(rng): return (lambda a, q: cross_entropy(a, q, _const(np.array([0.5, 1.0, 2.0])), reduction="none",
                                               label_smoothing=0.2)), (_x(rng, 2, 3, 2), _x(rng, 2, 3, 2, low=0.0))
@case("NllLoss", "weights and ignore_index")
def _(rng): return (lambda a: nll_loss(a, _const(np.array([2, 0, -100])), _const(np.array([1.0, 2.0, 0.5])))), (_x(rng, 3, 3),)
@case("LayerNorm", "affine over the last dim")
def _(rng): return (lambda a, w, b: layer_norm(a, (4,), w, b)), (_x(rng, 2, 3, 4), _x(rng, 4), _x(rng, 4))
@case("LayerNorm", "no affine, over two dims")
def _(rng): return (lambda a: layer_norm(a, (3, 4), eps=1e-3)), (_x(rng, 2, 3, 4),)
@case("LayerNorm", "weight without bias")
def _(rng): return (lambda a, w: layer_norm(a, 5, w)), (_x(rng, 3, 5), _x(rng, 5))
@case("RMSNorm", "with weight")
def _(rng): return (lambda a, w: rms_norm(a, (4,), w, eps=1e-6)), (_x(rng, 2, 3, 4), _x(rng, 4))
@case("RMSNorm", "no weight, default eps")
def _(rng): return (lambda a: rms_norm(a, (5,))), (_x(rng, 3, 5),)
@case("GELU", "exact")
def _(rng): return gelu, (_x(rng, 3, 4, low=-4, high=4),)
@case("GELU", "tanh approximation")
def _(rng): return (lambda a: gelu(a, approximate="tanh")), (_x(rng, 3, 4, low=-4, high=4),)
@case("SiLU", "both signs")
def _(rng): return silu, (_x(rng, 3, 4, low=-5, high=5),)
@case("Embedding", "repeated ids accumulate")
def _(rng): return (lambda w: embedding(_const(np.array([[0, 2], [2, 2]])), w)), (_x(rng, 4, 3),)
@case("BinaryCrossEntropy", "probabilities, targets and weights all differentiable")
def _(rng): return (lambda p, y, w: binary_cross_entropy(p, y, w, reduction="sum")), (
    _x(rng, 3, 4, low=0.1, high=0.9), _x(rng, 3, 4, low=0.0, high=1.0), _x(rng, 4, low=0.5, high=2.0))
@case("Dropout", "fixed generator")
def _(rng): return (lambda a: dropout(a, 0.4, generator=Generator(3))), (_x(rng, 4, 5),)
@case("Linear", "(2,3,4) input with bias")
def _(rng): return linear, (_x(rng, 2, 3, 4), _x(rng, 5, 4), _x(rng, 5))
@case("Linear", "no bias")
def _(rng): return linear, (_x(rng, 3, 4), _x(rng, 2, 4))
@case("ScaledDotProductAttention", "causal with a fully masked row and a key padding mask")
def _(rng):
    mask = _const(np.array([[True, True, False, False], [False, False, False, False], [True, True, True, False]]))
    return (lambda q, k, v: scaled_dot_product_attention(q, k, v, mask)), (_x(rng, 2, 3, 5), _x(rng, 2, 4, 5), _x(rng, 2, 4, 3))
@case("ScaledDotProductAttention", "is_causal, scale")
def _(rng): return (lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7)), (_x(rng, 1, 2, 4, 3), _x(rng, 1, 2, 4, 3), _x(rng, 1, 2, 4, 3))
@case("ScaledDotProductAttention", "learned float mask gets a gradient")
def _(rng): return (lambda q, k, v, bias: scaled_dot_product_attention(q, k, v, bias)), (_x(rng, 2, 3, 4), _x(rng, 2, 5, 4), _x(rng, 2, 5, 2), _x(rng, 1, 3, 5))
@case("ScaledDotProductAttention", "grouped-query heads, weights output used")
def _(rng):
    def fn(q, k, v):
        out, weights = attention_with_weights(q, k, v, enable_gqa=True)
        return out, weights * 2.0
    return fn, (_x(rng, 1, 4, 3, 2), _x(rng, 1, 2, 5, 2), _x(rng, 1, 2, 5, 3))
@case("ScaledDotProductAttention", "attention dropout with a fixed generator")
def _(rng): return (lambda q, k, v: scaled_dot_product_attention(q, k, v, dropout_p=0.3, generator=Generator(1))), (_x(rng, 3, 4), _x(rng, 5, 4), _x(rng, 5, 2))
@case("Rotary", "half-split pairs, (T, D) tables against (B, H, T, D)")
def _(rng):
    angle = np.tile(rng.uniform(-3, 3, (3, 2)), 2)                  # (T, D) = cat(theta, theta)
    return (lambda x: apply_rotary(x, np.cos(angle), np.sin(angle))), (_x(rng, 2, 2, 3, 4),)
@case("Rotary", "interleaved pairs, arbitrary (B, 1, T, D) tables")
def _(rng):
    # arbitrary tables, not rotations: a backward reading sin at the wrong pair slot passes
    # with true rotation tables and is only caught with these
    cos, sin = rng.uniform(-1, 1, (2, 2, 1, 3, 6))
    return (lambda x: apply_rotary(x, cos, sin, interleaved=True)), (_x(rng, 2, 2, 3, 6),)


# ---------------------------------------------------------------- C1: more elementwise (unary.py, rounding.py, binary.py)
@case("Sin", "matrix")
def _(rng): return ops.sin, (_x(rng, 2, 3, low=-3, high=3),)
@case("Cos", "matrix")
def _(rng): return ops.cos, (_x(rng, 2, 3, low=-3, high=3),)
@case("Tan", "inside (-pi/2, pi/2)")
def _(rng): return ops.tan, (_x(rng, 2, 3, low=-1.2, high=1.2),)
@case("Asin", "inside (-1, 1)")
def _(rng): return ops.asin, (_x(rng, 2, 3, low=-0.9, high=0.9),)
@case("Acos", "inside (-1, 1)")
def _(rng): return ops.acos, (_x(rng, 2, 3, low=-0.9, high=0.9),)
@case("Atan", "both signs")
def _(rng): return ops.atan, (_x(rng, 2, 3, low=-3, high=3),)
@case("Sinh", "both signs")
def _(rng): return ops.sinh, (_x(rng, 2, 3, low=-2, high=2),)
@case("Cosh", "both signs")
def _(rng): return ops.cosh, (_x(rng, 2, 3, low=-2, high=2),)
@case("Asinh", "both signs")
def _(rng): return ops.asinh, (_x(rng, 2, 3, low=-3, high=3),)
@case("Acosh", "above 1")
def _(rng): return ops.acosh, (_x(rng, 2, 3, low=1.2, high=3),)
@case("Atanh", "inside (-1, 1)")
def _(rng): return ops.atanh, (_x(rng, 2, 3, low=-0.9, high=0.9),)
@case("Log1p", "above -1")
def _(rng): return ops.log1p, (_x(rng, 2, 3, low=-0.8, high=3),)
@case("Expm1", "both signs")
def _(rng): return ops.expm1, (_x(rng, 2, 3, low=-2, high=2),)
@case("Log2", "positive")
def _(rng): return ops.log2, (_x(rng, 2, 3, low=0.2, high=3),)
@case("Log10", "positive")
def _(rng): return ops.log10, (_x(rng, 2, 3, low=0.2, high=3),)
@case("Exp2", "both signs")
def _(rng): return ops.exp2, (_x(rng, 2, 3, low=-2, high=2),)
@case("Square", "both signs")
def _(rng): return ops.square, (_x(rng, 2, 3, low=-2, high=2),)
@case("Reciprocal", "away from 0")
def _(rng): return ops.reciprocal, (_away_from_zero(rng, 2, 3),)
@case("Sign", "away from 0: zero gradient")
def _(rng): return (lambda a: ops.sign(a) * a), (_away_from_zero(rng, 3, 4),)
@case("Floor", "away from integers")
def _(rng): return (lambda a: ops.floor(a) * a), (_between_steps(rng, (3, 4), 0.1, 0.9),)
@case("Ceil", "away from integers")
def _(rng): return (lambda a: ops.ceil(a) * a), (_between_steps(rng, (3, 4), 0.1, 0.9),)
@case("Trunc", "away from integers; frac = a - trunc(a) has gradient 1")
def _(rng): return (lambda a: ops.trunc(a) * a + ops.frac(a) * 3.0), (_between_steps(rng, (3, 4), 0.1, 0.9),)
@case("Round", "half to even, away from the jumps")
def _(rng): return (lambda a: ops.round(a) * a), (_between_steps(rng, (3, 4), 0.6, 0.9),)
@case("Round", "decimals=1")
def _(rng): return (lambda a: ops.round(a, decimals=1) + a), (_between_steps(rng, (3, 4), 0.1, 0.4, scale=0.1),)
@case("Atan2", "broadcast (2,3) with (3,), away from the origin")
def _(rng): return ops.atan2, (_x(rng, 2, 3), _away_from_zero(rng, 3))
@case("Hypot", "broadcast (2,1) with (3,)")
def _(rng): return ops.hypot, (_away_from_zero(rng, 2, 1), _away_from_zero(rng, 3))
@case("Lerp", "tensor weight on both sides of 1/2, broadcast")
def _(rng): return ops.lerp, (_x(rng, 2, 3), _x(rng, 3), _x(rng, 2, 3, low=-0.5, high=1.5))
@case("Lerp", "number weight")
def _(rng): return (lambda a, b: ops.lerp(a, b, 0.7)), (_x(rng, 4), _x(rng, 4))
@case("Softplus", "beta 2, threshold 4: both branches, away from the switch")
def _(rng):
    x = np.concatenate([rng.uniform(-4, 1.9, 6), rng.uniform(2.1, 4, 2)])   # beta x = 4 at x = 2
    return (lambda a: softplus(a, beta=2.0, threshold=4.0)), (Tensor(x, requires_grad=True),)
@case("Softplus", "defaults")
def _(rng): return softplus, (_x(rng, 3, 4, low=-6, high=6),)

# ---------------------------------------------------------------- C1: triangles, scatter, tiles, scans, norms
@case("Tril", "batch, diagonal -1")
def _(rng): return (lambda a: ops.tril(a, -1)), (_x(rng, 2, 3, 4),)
@case("Triu", "diagonal 1")
def _(rng): return (lambda a: ops.triu(a, 1)), (_x(rng, 4, 3),)
@case("Scatter", "src larger than index, distinct positions")
def _(rng): return (lambda a, s: ops.scatter(a, 1, _const(np.array([[0, 2], [3, 1]])), s)), (_x(rng, 2, 4), _x(rng, 3, 3))
@case("Scatter", "a number, dim 0")
def _(rng): return (lambda a: ops.scatter(a, 0, _const(np.array([[1, 0, 2]])), 0.5) * a), (_x(rng, 3, 3),)
@case("ScatterAdd", "repeated positions add up")
def _(rng): return (lambda a, s: ops.scatter_add(a, 0, _const(np.array([[0, 1], [0, 0], [2, 0]])), s)), (_x(rng, 3, 2), _x(rng, 3, 2))
@case("IndexFill", "tensor value, repeated index")
def _(rng): return (lambda a, v: ops.index_fill(a, 1, _const(np.array([2, 0, 2])), v) * a), (_x(rng, 2, 4), _x(rng))
@case("Repeat", "new leading dim")
def _(rng): return (lambda a: ops.repeat(a, (2, 1, 3))), (_x(rng, 2, 3),)
@case("RepeatInterleave", "tensor repeats with a zero")
def _(rng): return (lambda a: ops.repeat_interleave(a, _const(np.array([2, 0, 3])), dim=0)), (_x(rng, 3, 2),)
@case("RepeatInterleave", "int repeats, flattened")
def _(rng): return (lambda a: ops.repeat_interleave(a, 2)), (_x(rng, 2, 2),)
@case("Flip", "two dims")
def _(rng): return (lambda a: ops.flip(a, (0, 2))), (_x(rng, 2, 3, 2),)
@case("Roll", "two dims")
def _(rng): return (lambda a: ops.roll(a, (1, -2), (0, 1))), (_x(rng, 3, 4),)
@case("Roll", "flattened")
def _(rng): return (lambda a: ops.roll(a, 5)), (_x(rng, 2, 3),)
@case("Cumsum", "dim 1")
def _(rng): return (lambda a: ops.cumsum(a, 1)), (_x(rng, 2, 4),)
@case("Cumprod", "no zeros")
def _(rng): return (lambda a: ops.cumprod(a, -1)), (_away_from_zero(rng, 2, 4),)
@case("Cumprod", "rows with one and two exact zeros")
def _(rng):
    x = rng.uniform(0.5, 1.5, (3, 5))
    x[1, 2] = 0.0
    x[2, 1] = x[2, 3] = 0.0
    return (lambda a: ops.cumprod(a, 1)), (Tensor(x, requires_grad=True),)
@case("Prod", "dim 0, with one and two exact zeros")
def _(rng):
    x = rng.uniform(0.5, 1.5, (3, 4))
    x[1, 1] = 0.0
    x[0, 2] = x[2, 2] = 0.0
    return (lambda a: ops.prod(a, 0)), (Tensor(x, requires_grad=True),)
@case("Prod", "all elements")
def _(rng): return ops.prod, (_away_from_zero(rng, 2, 3),)
@case("Norm", "p=2 over dim 1")
def _(rng): return (lambda a: ops.norm(a, 2, 1)), (_x(rng, 3, 4),)
@case("Norm", "p=1, keepdim")
def _(rng): return (lambda a: ops.norm(a, 1, (0, 1), keepdim=True)), (_away_from_zero(rng, 2, 3),)
@case("Norm", "p=inf and -inf")
def _(rng):
    magnitudes = _distinct(rng, 4, 3)._data + 0.65                 # distinct |a| (no ties), none near 0
    signs = np.where(rng.random((4, 3)) < 0.5, -1.0, 1.0)
    return (lambda a: ops.norm(a, float("inf"), 0) + ops.norm(a, float("-inf"), 0)), (Tensor(signs * magnitudes, requires_grad=True),)
@case("Norm", "p=3 and p=0.5")
def _(rng): return (lambda a: ops.norm(a, 3) + ops.norm(a, 0.5, -1)), (_away_from_zero(rng, 2, 3),)
@case("LogSumExp", "two dims, keepdim")
def _(rng): return (lambda a: ops.logsumexp(a, (0, 2), keepdim=True)), (_x(rng, 2, 3, 4, low=-3, high=3),)
@case("LogSumExp", "a -inf entry")
def _(rng): return (lambda a: ops.logsumexp(ops.masked_fill(a, _const(rng_mask((3, 4))), float("-inf")), 1)), (_x(rng, 3, 4),)
@case("Einsum", "batched matmul bij,bjk->bik")
def _(rng): return (lambda a, b: ops.einsum("bij,bjk->bik", a, b)), (_x(rng, 2, 3, 4), _x(rng, 2, 4, 2))
@case("Einsum", "ellipsis with broadcast batch dims")
def _(rng): return (lambda a, b: ops.einsum("...ij,...jk", a, b)), (_x(rng, 2, 1, 3, 2), _x(rng, 3, 2, 2))
@case("Einsum", "diagonal, a letter of one operand only, three operands")
def _(rng): return (lambda a, b, c: ops.einsum("iij,k,il->il", a, b, c)), (_x(rng, 3, 3, 2), _x(rng, 4), _x(rng, 3, 2))
@case("Einsum", "a size-1 dim broadcast against a letter")
def _(rng): return (lambda a, b: ops.einsum("ij,jk->ik", a, b)), (_x(rng, 2, 1), _x(rng, 3, 4))
@case("Einsum", "trace to a scalar")
def _(rng): return (lambda a: ops.einsum("ii", a)), (_x(rng, 3, 3),)
@case("Pad", "constant, crop one side")
def _(rng): return (lambda a: pad(a, (1, -1, 2, 0), value=0.5)), (_x(rng, 2, 3, 4),)
@case("Pad", "reflect")
def _(rng): return (lambda a: pad(a, (2, 3), mode="reflect")), (_x(rng, 2, 4),)
@case("Pad", "replicate, two dims")
def _(rng): return (lambda a: pad(a, (1, 2, 2, 1), mode="replicate")), (_x(rng, 1, 3, 2),)
@case("Pad", "circular")
def _(rng): return (lambda a: pad(a, (3, 1), mode="circular")), (_x(rng, 2, 1, 3),)


def _between_steps(rng, shape, low, high, scale=1.0):
    """scale * (an integer + a fraction in [low, high]): away from the jumps of floor, round, ..."""
    steps = rng.integers(-3, 3, shape) + rng.uniform(low, high, shape)
    return Tensor(scale * steps, requires_grad=True)


def rng_mask(shape):
    """A fixed boolean pattern with both values present (deterministic across runs)."""
    flat = (np.arange(int(np.prod(shape))) * 7 + 3) % 5 < 2
    return flat.reshape(shape)


def _values_avoiding(rng, shape, points):
    """Uniform values in [-1, 1] at least 0.1 from each of ``points``."""
    values = rng.uniform(-1, 1, shape)
    for p in points:
        close = np.abs(values - p) < 0.1
        values = np.where(close, p + np.sign(values - p + 1e-12) * 0.15, values)
    return Tensor(values, requires_grad=True)


def cases_for(op_name):
    return [c for c in CASES if c.op == op_name]
