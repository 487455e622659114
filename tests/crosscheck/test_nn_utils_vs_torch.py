"""npformer.nn.utils against torch.nn.utils (torch 2.13): clip_grad_norm_, get_total_norm,
clip_grads_with_norm_, clip_grad_value_, parameters_to_vector and vector_to_parameters.

The gradients span five orders of magnitude and include exact zeros, a parameter without a
gradient and an empty one. Compared: the returned total norm (a 0-d Tensor of the gradients'
dtype, as torch's) and every clipped gradient, for norm types 2, 1, inf and others, with and
without clipping, with non-finite gradients, in float64 (relative error <= 1e-12; measured
about 1e-16) and float32 (1e-6: npformer accumulates float32 norms in float64, torch in float32).
"""
import math
import types
import warnings

import numpy as np
import pytest

import npformer as nf
import npformer.nn as nn
from npformer.nn import utils
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

TOLERANCE = {np.float64: 1e-12, np.float32: 1e-6}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
SHAPES = [(4, 3), (6,), (2, 3, 2), (), (0, 3)]
NORM_TYPES = [2.0, 1.0, math.inf, 3.0, 0.5, 0.0, -math.inf, -2.0]


def gradients(dtype, seed=0, bad=None):
    rng = np.random.default_rng(seed)
    grads = []
    for shape in SHAPES:
        g = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 2, size=shape)
        grads.append(np.array(np.where(rng.random(shape) < 0.1, 0.0, g), dtype=dtype))
    if bad is not None:
        grads[0][1, 2] = bad
    return grads


def pair(dtype, seed=0, bad=None, without_grad=1):
    """The same parameters and gradients in npformer and torch; parameter ``without_grad`` has none."""
    ours = [nn.Parameter(np.zeros(s, dtype=dtype)) for s in SHAPES]
    theirs = [torch.nn.Parameter(torch.zeros(s, dtype=TORCH_DTYPE[dtype])) for s in SHAPES]
    for i, (p, q, g) in enumerate(zip(ours, theirs, gradients(dtype, seed, bad))):
        if i != without_grad:
            p.grad = nf.tensor(g.copy())
            q.grad = torch.tensor(g.copy())
    return ours, theirs


def compare(ours_total, theirs_total, ours, theirs, dtype):
    assert isinstance(ours_total, nf.Tensor) and ours_total.shape == () and ours_total.dtype == dtype
    assert not ours_total.requires_grad
    error = relative_error(ours_total.numpy(), theirs_total.numpy())
    for p, q in zip(ours, theirs):
        assert (p.grad is None) == (q.grad is None)
        if q.grad is not None:
            assert p.grad.dtype == dtype
            error = max(error, relative_error(p.grad.numpy(), q.grad.numpy()))
    return error


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("norm_type", NORM_TYPES)
@pytest.mark.parametrize("max_norm", [0.1, 1e4])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ours, theirs = pair(dtype)
    if norm_type == math.inf or norm_type < 0:
        # no identity for max/min: an empty gradient is an error in both
        with pytest.raises(RuntimeError, match="norm on an empty tensor"):
            torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
        with pytest.raises(RuntimeError, match="norm of an empty tensor"):
            utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
        ours, theirs = ours[:-1], theirs[:-1]
    total = utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    error = compare(total, expected, ours, theirs, dtype)
    record_torch_error(f"nn.utils.clip_grad_norm_ p={norm_type} max_norm={max_norm} {np.dtype(dtype).name}", error)
    assert error <= TOLERANCE[dtype]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_clip_grad_norm_non_finite_matches_torch(norm_type, bad):
    ours, theirs = (x[:-1] for x in pair(np.float64, bad=bad))       # without the empty gradient
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # no NumPy overflow/invalid warnings
        total = utils.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    np.testing.assert_array_equal(total.numpy(), expected.numpy())
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())     # NaN where torch has NaN
    record_torch_error(f"nn.utils.clip_grad_norm_ non-finite {bad} p={norm_type} float64", 0.0)
    ours, theirs = (x[:-1] for x in pair(np.float64, bad=bad))
    before = [None if p.grad is None else p.grad.numpy().copy() for p in ours]
    with pytest.raises(RuntimeError, match="non-finite"):
        utils.clip_grad_norm_(ours, 1.0, norm_type=norm_type, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type, error_if_nonfinite=True)
    for p, g in zip(ours, before):                            # nothing was scaled
        if g is not None:
            np.testing.assert_array_equal(p.grad.numpy(), g)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_get_total_norm_and_clip_grads_with_norm_match_torch(norm_type, dtype):
    ours, theirs = (x[:-1] for x in pair(dtype, seed=3))              # without the empty gradient
    ours_grads = [p.grad for p in ours if p.grad is not None]
    theirs_grads = [q.grad for q in theirs if q.grad is not None]
    total = utils.get_total_norm(ours_grads, norm_type)
    expected = torch.nn.utils.get_total_norm(theirs_grads, norm_type)
    assert total.dtype == dtype and total.shape == ()
    error = relative_error(total.numpy(), expected.numpy())
    assert utils.clip_grads_with_norm_(ours, 0.05, total) is None
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.05, expected)
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            error = max(error, relative_error(p.grad.numpy(), q.grad.numpy()))
    record_torch_error(f"nn.utils.get_total_norm + clip_grads_with_norm_ p={norm_type} {np.dtype(dtype).name}", error)
    assert error <= TOLERANCE[dtype]
    # one Tensor instead of a list, in both
    one = utils.get_total_norm(ours_grads[0], norm_type)
    assert relative_error(one.numpy(), torch.nn.utils.get_total_norm(theirs_grads[0], norm_type).numpy()) \
        <= TOLERANCE[dtype]


def test_no_gradients_give_a_float32_zero_as_torch():
    no_grad = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    for ours, theirs in [(utils.clip_grad_norm_([], 1.0), torch.nn.utils.clip_grad_norm_([], 1.0)),
                         (utils.get_total_norm([]), torch.nn.utils.get_total_norm([])),
                         (utils.clip_grad_norm_(nn.Parameter(np.zeros(3)), 1.0),
                          torch.nn.utils.clip_grad_norm_(no_grad, 1.0))]:
        assert ours.shape == () and ours.item() == theirs.item() == 0.0
        assert ours.dtype == np.float32 and theirs.dtype == torch.float32
    with pytest.warns(UserWarning, match="empty generator"):
        utils.clip_grad_norm_((p for p in []), 1.0)


def test_a_generator_of_parameters_is_consumed_once_and_clipped():
    ours, theirs = pair(np.float64, seed=5)
    total = utils.clip_grad_norm_((p for p in ours), 0.01)
    expected = torch.nn.utils.clip_grad_norm_((q for q in theirs), 0.01)
    assert compare(total, expected, ours, theirs, np.float64) <= 1e-12


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("clip_value", [0.05, 3.0, -1.0])
def test_clip_grad_value_matches_torch(clip_value, dtype):
    ours, theirs = pair(dtype, seed=2)
    assert utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    record_torch_error(f"nn.utils.clip_grad_value_ {clip_value} {np.dtype(dtype).name}", 0.0)


def test_clipping_bumps_the_gradients_version_as_an_in_place_write():
    ours, _ = pair(np.float64)
    before = ours[0].grad._version
    utils.clip_grad_norm_(ours, 1e-3)
    assert ours[0].grad._version == before + 1
    utils.clip_grad_value_(ours, 1e-4)
    assert ours[0].grad._version == before + 2


def test_parameters_to_vector_forward_and_gradient_match_torch():
    rng = np.random.default_rng(4)
    shapes = [(3, 2), (4,), (), (2, 1, 2)]
    values = [rng.standard_normal(s) for s in shapes]
    ours = [nn.Parameter(v.copy()) for v in values]
    theirs = [torch.nn.Parameter(torch.tensor(v.copy())) for v in values]
    weights = rng.standard_normal(sum(v.size for v in values))
    vec = utils.parameters_to_vector(ours)
    expected = torch.nn.utils.parameters_to_vector(theirs)
    error = relative_error(vec.numpy(), expected.detach().numpy())
    assert vec.requires_grad and vec.shape == (weights.size,)
    (vec * nf.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for p, q in zip(ours, theirs):
        error = max(error, relative_error(p.grad.numpy(), q.grad.numpy()))
    record_torch_error("nn.utils.parameters_to_vector forward+grad float64", error)
    assert error <= 1e-15


def test_vector_to_parameters_matches_torch_and_shares_memory():
    rng = np.random.default_rng(6)
    shapes = [(3, 2), (4,), (), (2, 1, 2)]
    ours = [nn.Parameter(np.zeros(s)) for s in shapes]
    theirs = [torch.nn.Parameter(torch.zeros(s, dtype=torch.float64)) for s in shapes]
    flat = rng.standard_normal(sum(int(np.prod(s)) for s in shapes) + 2)     # longer is allowed, as torch
    vec, tvec = nf.tensor(flat.copy()), torch.tensor(flat.copy())
    assert utils.vector_to_parameters(vec, ours) is None
    torch.nn.utils.vector_to_parameters(tvec, theirs)
    for p, q in zip(ours, theirs):
        assert p.shape == tuple(q.shape) and p.requires_grad
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy())
    vec.numpy()[0] = 42.0                                     # the parameters view vec's memory, as torch's
    tvec[0] = 42.0
    assert ours[0].numpy()[0, 0] == theirs[0].detach().numpy()[0, 0] == 42.0


def test_same_signatures_as_torch():
    import inspect
    for name in ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
                 "parameters_to_vector", "vector_to_parameters"]:
        ours, theirs = inspect.signature(getattr(utils, name)), inspect.signature(getattr(torch.nn.utils, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        assert [p.default for p in ours.parameters.values()] == [p.default for p in theirs.parameters.values()], name
    from npformer import optim
    assert not hasattr(optim, "clip_grad_norm_")                        # torch.optim has none either
    assert isinstance(utils, types.ModuleType) and nn.utils is utils


def test_bad_input_is_a_clear_error():
    ours, _ = pair(np.float64)
    with pytest.raises(TypeError, match="item 0 is a ndarray"):
        utils.clip_grad_norm_([np.zeros(3)], 1.0)
    with pytest.raises(ValueError, match="norm_type must be a number, got nan"):
        utils.clip_grad_norm_(ours, 1.0, norm_type=math.nan)
    with pytest.raises(TypeError, match="max_norm must be a number"):
        utils.clip_grad_norm_(ours, "big")
    with pytest.raises(ValueError, match="clip_value must be a number, got nan"):
        utils.clip_grad_value_(ours, math.nan)
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: ndarray"):
        utils.vector_to_parameters(np.zeros(30), ours)
    with pytest.raises(ValueError, match="vec has 3 entries, the parameters need 31"):
        utils.vector_to_parameters(nf.tensor(np.zeros(3)), ours)
    with pytest.raises(ValueError, match="parameters is empty"):
        utils.parameters_to_vector([])
