"""Checks of hyperparameter values, shared by the optimizers (one message format everywhere)."""
import math
import numbers

import numpy as np


def real(group, key, where, low=0.0, high=None, high_open=False):
    """group[key] as a Python float in [low, high] (or [low, high) with ``high_open``)."""
    value = group[key]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise ValueError(f"{where}: {key} must be a real number, got {value!r}")
    value = float(value)
    too_high = high is not None and (value >= high if high_open else value > high)
    bad = not math.isfinite(value) or value < low or too_high
    if bad:
        upper = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        raise ValueError(f"{where}: invalid {key} value {group[key]!r}: must be finite, >= {low}{upper}")
    group[key] = value
    return value


def flag(group, key, where):
    value = group[key]
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: {key} must be True or False, got {value!r}")
    group[key] = bool(value)
    return group[key]
