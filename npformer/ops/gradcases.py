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
from ..autograd.tensor import Tensor


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
    return ops.maximum, (a, Tensor(a.data[0] + 0.05, requires_grad=True))
@case("Maximum", "ties share the gradient")
def _(rng): return (lambda a: ops.maximum(a, a)), (_x(rng, 4),)
@case("Minimum", "broadcast (3,1) vs (1,4)")
def _(rng):
    values = _distinct(rng, 7).data
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
@case("MaskedFill", "broadcast mask, -inf fill then exp")
def _(rng): return (lambda a: ops.exp(ops.masked_fill(a, _const(rng_mask((1, 4))), float("-inf")))), (_x(rng, 3, 4),)
@case("Gather", "dim 1 with repeats, index smaller than input")
def _(rng): return (lambda a: ops.gather(a, 1, _const(np.array([[0, 0, 2], [1, 3, 1]])))), (_x(rng, 3, 4),)
@case("Gather", "dim 0")
def _(rng): return (lambda a: ops.gather(a, 0, _const(np.array([[2, 0], [2, 2]])))), (_x(rng, 3, 2),)
@case("Cast", "clone in float64")
def _(rng): return (lambda a: ops.cast(a, np.float64) * 3.0), (_x(rng, 3),)


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
