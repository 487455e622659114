"""npformer.nn.utils.clip_grad_norm_, get_total_norm and clip_grad_value_ against NumPy
formulas (tests/crosscheck/test_nn_utils_vs_torch.py compares them with torch)."""
import math
import warnings

import numpy as np
import pytest

import npformer as nf
import npformer.nn as nn
from npformer.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm


def params_with_grads(dtype=np.float64, scale=1.0, seed=0, shapes=((3, 4), (5,), (), (2, 0))):
    rng = np.random.default_rng(seed)
    params = [nn.Parameter(np.zeros(shape, dtype=dtype)) for shape in shapes]
    for p in params:
        p.grad = nf.tensor(np.array(scale * rng.standard_normal(p.shape), dtype=dtype))
    return params


def all_entries(params):
    return np.concatenate([p.grad.numpy().ravel() for p in params if p.grad is not None])


def p_norm(x, p):
    return np.max(np.abs(x)) if p == math.inf else np.sum(np.abs(x) ** p) ** (1 / p)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_is_the_norm_of_all_gradients_together(norm_type, max_norm):
    # (an empty gradient has no inf-norm: see test_an_empty_gradient_has_no_max_norm)
    params = params_with_grads(shapes=((3, 4), (5,), ()) if norm_type == math.inf else ((3, 4), (5,), (), (2, 0)))
    before = [p.grad.numpy().copy() for p in params]
    grads = [p.grad for p in params]
    expected = p_norm(all_entries(params), norm_type)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    assert isinstance(total, nf.Tensor) and total.shape == () and total.dtype == np.float64
    assert total.item() == pytest.approx(expected, rel=1e-14)
    coefficient = max_norm / (expected + 1e-6)
    for p, g, b in zip(params, grads, before):
        assert p.grad is g                                          # in place
        np.testing.assert_allclose(p.grad.numpy(), b * min(coefficient, 1.0), rtol=1e-14, atol=0)
    if coefficient < 1:
        assert p_norm(all_entries(params), norm_type) == pytest.approx(max_norm, rel=1e-5)
    else:
        assert all(np.array_equal(p.grad.numpy(), b) for p, b in zip(params, before))
    assert get_total_norm([g for g in grads], norm_type).item() == pytest.approx(min(expected, max_norm), rel=1e-5)


def test_clip_grad_norm_edge_cases():
    params = params_with_grads()
    params[1].grad = None                                          # skipped
    grads = all_entries(params)
    assert clip_grad_norm_(params, 1e9).item() == pytest.approx(np.linalg.norm(grads), rel=1e-14)
    for empty in (clip_grad_norm_(params[1], 1.0), clip_grad_norm_([], 1.0)):   # no gradient at all
        assert empty.item() == 0.0 and empty.dtype == np.float32 and empty.shape == ()
    p = params_with_grads()[0]
    # norm 0 counts non-zero entries; as in torch the total is the 0-norm of the per-gradient
    # norms, i.e. the number of gradients that are not all zero
    assert clip_grad_norm_(p, 1e9, norm_type=0).item() == 1
    assert clip_grad_norm_(params, 1e9, norm_type=0).item() == 2       # (2, 0) is empty, params[1] has no grad
    assert clip_grad_norm_(iter(params_with_grads()), 1e9).item() > 0
    # p < 0, as torch: (sum |x|^p)^(1/p), with a zero entry giving 0
    q = params_with_grads(shapes=((4,),))
    assert clip_grad_norm_(q, 1e9, norm_type=-2).item() == pytest.approx(p_norm(all_entries(q), -2), rel=1e-14)
    with pytest.raises(TypeError, match="item 0 is a ndarray"):
        clip_grad_norm_([np.zeros(3)], 1.0)
    with pytest.raises(ValueError, match="norm_type must be a number, got nan"):
        clip_grad_norm_(params, 1.0, norm_type=float("nan"))


def test_an_empty_gradient_has_no_max_norm():
    for norm_type in (math.inf, -math.inf, -1.0):
        with pytest.raises(RuntimeError, match="norm of an empty tensor"):
            clip_grad_norm_(params_with_grads(), 1.0, norm_type=norm_type)


def test_clip_grad_norm_float32_stays_float32_and_does_not_overflow():
    params = params_with_grads(np.float32, scale=1e30)             # squares overflow float32
    total = clip_grad_norm_(params, 1.0)
    assert total.dtype == np.float32 and np.isfinite(total.item())
    assert all(p.grad.dtype == np.float32 for p in params)
    assert np.sqrt(np.sum(all_entries(params).astype(np.float64) ** 2)) == pytest.approx(1.0, rel=1e-5)


def test_non_finite_norms():
    params = params_with_grads()
    params[0].grad.numpy()[0, 0] = np.inf
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = clip_grad_norm_(params, 1.0)                       # as torch: scaled by 1 / inf = 0
    assert total.item() == np.inf
    assert np.isnan(params[0].grad.numpy()[0, 0]) and np.all(params[1].grad.numpy() == 0)
    params = params_with_grads()
    params[2].grad.numpy()[()] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(clip_grad_norm_(params, 1.0).item())
    assert np.all(np.isnan(params[0].grad.numpy()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value(dtype):
    params = params_with_grads(dtype, scale=2.0)
    before = [p.grad.numpy().copy() for p in params]
    params[2].grad = None
    before[2] = None
    grads = [p.grad for p in params]
    arrays = [None if g is None else g.numpy() for g in grads]
    assert clip_grad_value_(params, 0.5) is None
    for p, g, a, b in zip(params, grads, arrays, before):
        if b is None:
            assert p.grad is None
            continue
        assert p.grad is g and p.grad.numpy() is a and a.dtype == dtype           # in place
        np.testing.assert_array_equal(a, np.clip(b, -0.5, 0.5))
    with pytest.raises(ValueError, match="nan"):
        clip_grad_value_(params, float("nan"))
