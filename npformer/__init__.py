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
# --- C1: more of torch's differentiable tensor ops (npformer/ops/__init__.py says where each lives)
from . import linalg
from .ops import (acos, acosh, addcdiv, addcmul, addmm, arccos, arccosh, arcsin, arcsinh, arctan,
                  arctan2, arctanh, argsort, asin, asinh, atan, atan2, atanh, baddbmm, bmm, ceil, cos,
                  cosh, cosine_similarity, cumprod, cumsum, diff, dot, einsum, exp2, expm1, fix, flip,
                  floor, frac, ger, hypot, index_fill, index_select, lerp, log1p, log2, log10,
                  log_softmax, logsumexp, masked_select, mm, moveaxis, movedim, narrow, norm, outer,
                  prod, reciprocal, repeat_interleave, roll, round, scatter, scatter_add, sign, sin,
                  sinh, softmax, sort, square, swapaxes, swapdims, t, take_along_dim, tan, topk, tril,
                  triu, trunc, unbind, unflatten)

# --- C2: torch's plumbing: dtypes, devices, legacy constructors, factories, lookups, sampling
from numpy import dtype  # torch.dtype: every dtype here is a NumPy dtype
from . import backends, cuda
from .autograd.creation import (as_tensor, empty, empty_like, eye, from_numpy, full_like,
                                linspace, logspace, rand_like, randint_like, randn_like)
from .autograd.device import device
from .autograd.dtypes import (finfo, iinfo, int16, is_floating_point, is_tensor,
                              bool_ as bool, float16 as half, float32 as float, float64 as double,
                              int16 as short, int32 as int, int64 as long)
from .autograd.grad_mode import inference_mode, is_inference_mode_enabled
from .autograd.legacy import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,
                              HalfTensor, IntTensor, LongTensor, ShortTensor, Size)
from .ops import (all, allclose, any, argwhere, bernoulli, bincount, bucketize,
                  count_nonzero, eq, equal, ge, greater, greater_equal, gt, isclose, isfinite, isinf,
                  isnan, le, less, less_equal, logical_and, logical_not, logical_or, logical_xor, lt,
                  multinomial, ne, nonzero, normal, not_equal, searchsorted, unique)

__version__ = "0.1.0"
