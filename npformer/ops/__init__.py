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
    cast.py         cast (to, float, double, clone)
    gradcases.py    the gradient-check case of every registered Function
"""
from .arithmetic import add, div, mul, neg, pow, sub
from .cast import cast
from .elementwise import (abs, clamp, erf, exp, log, maximum, minimum, relu, rsqrt, sigmoid,
                          sqrt, tanh, where)
from .indexing import gather, getitem, masked_fill
from .matmul import matmul
from .reduction import (ValuesIndices, amax, amin, argmax, argmin, max, mean, min, std, sum,
                        var)
from .shape import (cat, chunk, concat, expand, flatten, permute, reshape, split, squeeze, stack,
                    transpose, unsqueeze)

clip = clamp
