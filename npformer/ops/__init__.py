"""Primitive ops: one Function class per op, forward and backward side by side.

    arithmetic.py   add sub mul div neg pow
    matmul.py       matmul (NumPy's 1-D and batch-broadcast rules)
    elementwise.py  exp log sqrt erf tanh sigmoid relu abs maximum minimum where clamp
    softmax.py      softmax log_softmax                                  } fused ops: one Function
    loss.py         cross_entropy nll_loss                               } each, with a hand-derived
    normalization.py layer_norm rms_norm                                 } backward; the public API
    activation.py   gelu silu                                            } is npformer.functional
    embedding.py    embedding       linear.py  linear      dropout.py  dropout
    attention.py    scaled_dot_product_attention
    rotary.py       apply_rotary (RoPE, half-split and interleaved)
    special.py      erf and erfc of ndarrays, accurate to float64 rounding
    reduction.py    sum mean var std amax amin (max/min/argmax/argmin on top)
    shape.py        reshape permute expand cat stack split (view/transpose/squeeze/... on top)
    indexing.py     getitem masked_fill gather
    cast.py         cast (to, float, double, clone, contiguous)
    logic.py        no gradient: eq ne lt le gt ge equal isclose allclose isnan isinf isfinite
                    logical_* any all count_nonzero nonzero argwhere where(cond) unique
                    bincount searchsorted bucketize
    sampling.py     no gradient: multinomial bernoulli normal and the in-place normal_
                    uniform_ random_ exponential_ bernoulli_
    unary.py        sin cos tan asin acos atan sinh cosh asinh acosh atanh log1p expm1 log2
                    log10 exp2 square reciprocal
    rounding.py     sign floor ceil round trunc (zero gradient) and frac
    binary.py       atan2 hypot lerp (addcmul addcdiv on top)
    softplus.py     softplus            logsumexp.py  logsumexp (and torch-level softmax/log_softmax)
    triangle.py     tril triu           padding.py    pad (constant reflect replicate circular)
    scatter.py      scatter scatter_add index_fill (index_select masked_select take_along_dim
                    one_hot on top)
    tile.py         repeat repeat_interleave flip roll
    prod.py         prod cumprod        cumulative.py cumsum (diff on top)
    norm.py         norm / vector_norm (normalize cosine_similarity on top)
    products.py     mm bmm dot outer addmm baddbmm, over matmul
    einsum.py       einsum, with ellipsis and broadcasting
    sorting.py      sort argsort topk, over gather
    views.py        unbind narrow movedim swapaxes swapdims t view_as reshape_as unflatten
    elementwise_loss.py  mse_loss l1_loss smooth_l1_loss huber_loss kl_div binary_cross_entropy
                    binary_cross_entropy_with_logits (the public API is npformer.functional)
    piecewise.py    leaky_relu elu hardtanh relu6 logsigmoid mish glu, composed from primitives

Helpers the ops share, with no Function of their own: blas.py (matrix products without BLAS's
false alarms), rows.py (row reductions through BLAS), dims.py (PyTorch's dim arguments),
promotion.py (PyTorch's type promotion), layouts.py (the weight copies a decoding run
prepares for its few-row products).
"""
# ruff: noqa: F401 -- this module's imports are its public names (npformer re-exports them in turn)
from .arithmetic import add, div, mul, neg, pow, sub
from .binary import addcdiv, addcmul, arctan2, atan2, hypot, lerp
from .cast import cast, contiguous
from .cumulative import cumsum, diff
from .einsum import einsum
from .elementwise import abs, clamp, erf, exp, log, maximum, minimum, relu, rsqrt, sigmoid, sqrt, tanh
from .indexing import gather, getitem, masked_fill, normalize_index, setitem
from .logic import (
    all,
    allclose,
    any,
    argwhere,
    bincount,
    bucketize,
    count_nonzero,
    eq,
    equal,
    ge,
    greater,
    greater_equal,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    ne,
    nonzero,
    not_equal,
    searchsorted,
    unique,
    where,
)
from .logsumexp import log_softmax, logsumexp, softmax
from .matmul import matmul
from .norm import cosine_similarity, norm, normalize, vector_norm
from .padding import pad
from .prod import cumprod, prod
from .products import addmm, baddbmm, bmm, dot, ger, mm, outer
from .reduction import ValuesIndices, amax, amin, argmax, argmin, max, mean, min, std, sum, var
from .rounding import ceil, fix, floor, frac, round, sign, trunc
from .sampling import bernoulli, multinomial, normal
from .scatter import index_fill, index_select, masked_select, one_hot, scatter, scatter_add, take_along_dim
from .shape import cat, chunk, concat, expand, flatten, permute, reshape, split, squeeze, stack, transpose, unsqueeze
from .softplus import softplus
from .sorting import argsort, sort, topk
from .tile import flip, repeat, repeat_interleave, roll
from .triangle import tril, triu
from .unary import (
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctanh,
    asin,
    asinh,
    atan,
    atanh,
    cos,
    cosh,
    exp2,
    expm1,
    log1p,
    log2,
    log10,
    reciprocal,
    sin,
    sinh,
    square,
    tan,
)
from .views import moveaxis, movedim, narrow, reshape_as, swapaxes, swapdims, t, unbind, unflatten, view_as

clip = clamp
