"""Seeded initialisers, as torch.nn.init: each fills a tensor in place and returns it.

Every function takes ``generator=None`` (the default generator, reseeded by
``npformer.manual_seed``). Samples are drawn in float64 and rounded to the tensor's dtype, so
a float32 and a float64 model built from one seed hold the same weights up to rounding.
A placeholder of ``nn.shapes_only()`` is returned untouched: nothing is drawn for it.
"""
import math

import numpy as np

from ..autograd.random import resolve
from .shapes import holds_values


def _fill(tensor, values):
    tensor.data[...] = values.astype(tensor.data.dtype)
    return tensor


def fan_in_and_fan_out(tensor):
    """For a weight (out, in, *kernel): fan_in = in * kernel, fan_out = out * kernel."""
    shape = tensor.data.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need at least 2 dims, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity, param=None):
    gains = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 0.75}
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in gains:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
    return gains[nonlinearity]


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    if not holds_values(tensor.data):
        return tensor
    return _fill(tensor, resolve(generator).numpy.uniform(a, b, tensor.data.shape))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    if not holds_values(tensor.data):
        return tensor
    return _fill(tensor, mean + std * resolve(generator).numpy.standard_normal(tensor.data.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Normal(mean, std) conditioned on [a, b] (absolute bounds, as torch), by resampling."""
    if not holds_values(tensor.data):
        return tensor
    rng = resolve(generator).numpy
    values = mean + std * rng.standard_normal(tensor.data.shape)
    outside = (values < a) | (values > b)
    while np.any(outside):
        values[outside] = mean + std * rng.standard_normal(int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values)


def constant_(tensor, value):
    if holds_values(tensor.data):
        tensor.data[...] = value
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    fan = fan_in_and_fan_out(tensor)[0 if mode == "fan_in" else 1]
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    fan = fan_in_and_fan_out(tensor)[0 if mode == "fan_in" else 1]
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)
