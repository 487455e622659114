"""clip_grad_norm_ and clip_grad_value_ against NumPy formulas."""
import math
import warnings

import numpy as np
import pytest

import npformer.nn as nn
from npformer import optim


def params_with_grads(dtype=np.float64, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    params = [nn.Parameter(np.zeros(shape, dtype=dtype)) for shape in [(3, 4), (5,), (), (2, 0)]]
    for p in params:
        p.grad = np.array(scale * rng.standard_normal(p.data.shape), dtype=dtype)
    return params


def all_entries(params):
    return np.concatenate([p.grad.ravel() for p in params if p.grad is not None])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_is_the_norm_of_all_gradients_together(norm_type, max_norm):
    params = params_with_grads()
    before = [p.grad.copy() for p in params]
    flat = all_entries(params)
    expected = np.max(np.abs(flat)) if norm_type == math.inf else np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
    total = optim.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    assert isinstance(total, np.float64)
    assert total == pytest.approx(expected, rel=1e-14)
    coefficient = max_norm / (expected + 1e-6)
    for p, g in zip(params, before):
        np.testing.assert_allclose(p.grad, g * min(coefficient, 1.0), rtol=1e-14, atol=0)
    if coefficient < 1:
        clipped = all_entries(params)
        norm_after = np.max(np.abs(clipped)) if norm_type == math.inf else \
            np.sum(np.abs(clipped) ** norm_type) ** (1 / norm_type)
        assert norm_after == pytest.approx(max_norm, rel=1e-5)
    else:
        assert all(np.array_equal(p.grad, g) for p, g in zip(params, before))


def test_clip_grad_norm_edge_cases():
    params = params_with_grads()
    params[1].grad = None                                          # skipped
    grads = all_entries(params)
    assert optim.clip_grad_norm_(params, 1e9) == pytest.approx(np.linalg.norm(grads), rel=1e-14)
    assert optim.clip_grad_norm_(params[1], 1.0) == 0.0           # a single Tensor without grad
    assert optim.clip_grad_norm_([], 1.0) == 0.0
    p = params_with_grads()[0]
    # norm 0 counts non-zero entries; as in torch the total is the 0-norm of the per-gradient
    # norms, i.e. the number of gradients that are not all zero
    assert optim.clip_grad_norm_(p, 1e9, norm_type=0) == 1
    assert optim.clip_grad_norm_(params, 1e9, norm_type=0) == 2       # (2, 0) is empty, params[1] has no grad
    assert optim.clip_grad_norm_(iter(params_with_grads()), 1e9) > 0
    with pytest.raises(TypeError, match="item 0 is a ndarray"):
        optim.clip_grad_norm_([np.zeros(3)], 1.0)
    with pytest.raises(ValueError, match="norm_type"):
        optim.clip_grad_norm_(params, 1.0, norm_type=-2)


def test_clip_grad_norm_float32_stays_float32_and_does_not_overflow():
    params = params_with_grads(np.float32, scale=1e30)             # squares overflow float32
    total = optim.clip_grad_norm_(params, 1.0)
    assert isinstance(total, np.float32) and np.isfinite(total)
    assert all(p.grad.dtype == np.float32 for p in params)
    assert np.sqrt(np.sum(all_entries(params).astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-5)


def test_non_finite_norms():
    params = params_with_grads()
    params[0].grad[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        optim.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = optim.clip_grad_norm_(params, 1.0)                 # as torch: scaled by 1 / inf = 0
    assert total == np.inf
    assert np.isnan(params[0].grad[0, 0]) and np.all(params[1].grad == 0)
    params = params_with_grads()
    params[2].grad[()] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(optim.clip_grad_norm_(params, 1.0))
    assert np.all(np.isnan(params[0].grad))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value(dtype):
    params = params_with_grads(dtype, scale=2.0)
    before = [p.grad.copy() for p in params]
    params[2].grad = None
    before[2] = None
    grads = [p.grad for p in params]
    optim.clip_grad_value_(params, 0.5)
    for p, g, b in zip(params, grads, before):
        if b is None:
            assert p.grad is None
            continue
        assert p.grad is g and p.grad.dtype == dtype                 # in place
        np.testing.assert_array_equal(p.grad, np.clip(b, -0.5, 0.5))
    with pytest.raises(ValueError, match="nan"):
        optim.clip_grad_value_(params, float("nan"))
