"""Small helpers shared by the tests."""
import numpy as np

import npformer as nf


def leaf(array, dtype=np.float64):
    return nf.tensor(np.asarray(array, dtype=dtype), requires_grad=True)


def grads_of(fn, arrays, upstream_seed=0):
    """Forward fn on float64 leaves, backward with a random upstream gradient.

    Returns (output array, [input gradients], upstream) so another implementation can be
    fed the same upstream gradient.
    """
    leaves = [leaf(a) for a in arrays]
    out = fn(*leaves)
    upstream = np.random.default_rng(upstream_seed).standard_normal(out.shape)
    out.backward(upstream)
    return out.numpy(), [x.grad.numpy() for x in leaves], upstream


def relative_error(actual, expected):
    """max |actual - expected| / max(max |expected|, 1): relative for large values, absolute
    for values below 1, so results near zero do not inflate the figure."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise AssertionError(f"shapes differ: {actual.shape} vs {expected.shape}")
    if actual.size == 0:
        return 0.0
    both_nan = np.isnan(actual) & np.isnan(expected)
    same_inf = np.isinf(actual) & (actual == expected)
    ok = both_nan | same_inf
    if np.any(np.isnan(actual) != np.isnan(expected)) or np.any(np.isinf(actual) != np.isinf(expected)):
        return float("inf")
    diff = np.where(ok, 0.0, np.abs(np.where(ok, 0.0, actual) - np.where(ok, 0.0, expected)))
    scale = max(float(np.max(np.abs(np.where(ok, 0.0, expected)), initial=0.0)), 1.0)
    return float(diff.max()) / scale
