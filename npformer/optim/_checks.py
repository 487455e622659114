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


def optional_flag(group, key, where):
    """group[key] as None, True or False (torch's ``foreach`` and ``fused``)."""
    value = group[key]
    if value is not None and not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: {key} must be None, True or False, got {value!r}")
    group[key] = None if value is None else bool(value)
    return group[key]


def implementation_flags(group, where):
    """torch's implementation switches, checked as torch 2.13 on the CPU checks them.

    ``foreach`` and ``fused`` choose a kernel in torch; NumPy has one code path, so any value is
    accepted (except both True, as torch). ``differentiable=True`` asks for an update inside the
    autograd graph, which npformer's in-place NumPy updates are not (torch on the CPU fails at
    step() for leaf parameters too). ``capturable=True`` without ``fused`` needs CUDA-graph
    devices: torch on the CPU fails at step(); npformer says so at once.
    """
    foreach = optional_flag(group, "foreach", where) if "foreach" in group else None
    fused = optional_flag(group, "fused", where) if "fused" in group else None
    differentiable = flag(group, "differentiable", where) if "differentiable" in group else False
    capturable = flag(group, "capturable", where) if "capturable" in group else False
    if fused and foreach:
        raise RuntimeError(f"{where}: `fused` and `foreach` cannot be `True` together.")
    if fused and differentiable:
        raise RuntimeError(f"{where}: `fused` does not support `differentiable`")
    if differentiable:
        raise ValueError(f"{where}: differentiable=True is not supported: npformer's optimizers update the "
                         "parameters in place, outside the autograd graph; use differentiable=False")
    if capturable and not fused:
        raise ValueError(f"{where}: capturable=True needs parameters on a CUDA (graph-capturable) device, and "
                         "npformer runs on the CPU; use capturable=False (torch on the CPU fails at step())")
