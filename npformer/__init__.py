"""npformer: Transformers in NumPy alone, with a hand-written backprop engine.

Importing npformer imports NumPy and nothing else.
"""
from . import autograd, data, functional, io, nn, ops, optim, tokenizers
from .autograd import (Function, Generator, GradcheckError, Tensor, default_generator, gradcheck_parameters,
                       enable_grad, get_default_dtype, gradcheck, is_grad_enabled,
                       manual_seed, no_grad, set_default_dtype, set_grad_enabled, tensor)
from .autograd.creation import (arange, full, ones, ones_like, rand, randint, randn, randperm,
                                zeros, zeros_like)
from .autograd.dtypes import bool_, float16, float32, float64, int8, int32, int64, uint8
from .ops import (abs, add, amax, amin, argmax, argmin, cat, chunk, clamp, clip, concat, div,
                  erf, exp, expand, flatten, gather, log, masked_fill, matmul, max, maximum, mean,
                  min, minimum, mul, neg, permute, pow, relu, reshape, rsqrt, sigmoid, split,
                  sqrt, squeeze, stack, std, sub, sum, tanh, transpose, unsqueeze, var, where)

__version__ = "0.1.0"
