"""In-place writes, views, version counters, and PyTorch's ``.data`` / ``.grad`` (engine level;
tests/crosscheck/test_inplace_vs_torch.py runs the same kind of programs against torch)."""
import numpy as np
import pytest

import npformer as nf
from npformer.autograd.version import view_positions


def _leaf(shape, seed=0):
    return nf.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_a_write_lands_in_every_view_of_the_memory():
    base = nf.zeros(3, 4)
    base.T[1].fill_(2.0)                       # column 1, through a transposed view
    base[2, ::2] = nf.tensor([5.0, 6.0])
    np.testing.assert_array_equal(base.numpy(), [[0, 2, 0, 0], [0, 2, 0, 0], [5, 2, 6, 0]])


def test_setitem_is_differentiable_in_the_target_and_the_value():
    x, w = _leaf((3, 4)), _leaf((4,), seed=1)
    y = x * 1.0
    y[1] = w
    y[:, 0] = 0.0
    (y * y).sum().backward()
    expected_x = 2 * x.numpy()
    expected_x[1] = 0
    expected_x[:, 0] = 0
    expected_w = 2 * w.numpy()
    expected_w[0] = 0                          # overwritten by y[:, 0] = 0 afterwards
    np.testing.assert_allclose(x.grad.numpy(), expected_x, rtol=1e-15)
    np.testing.assert_allclose(w.grad.numpy(), expected_w, rtol=1e-15)


def test_augmented_assignment_through_a_view_reaches_the_value():
    x, w = _leaf((2, 3)), _leaf((3,), seed=1)
    y = x * 2.0
    y[0] += w                                  # runs t = y[0]; t += w; y[0] = t
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(3))


def test_a_view_made_before_a_write_to_its_base_follows_the_write():
    x, w = _leaf((2, 3)), _leaf((3,), seed=1)
    y = x * 1.0
    row = y[1]                                 # made before the write below
    y[1] = w                                   # row now shows w's values...
    (row * 3.0).sum().backward()               # ...and its gradient goes to w, not to x
    np.testing.assert_array_equal(row.numpy(), w.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(w.grad.numpy(), np.full(3, 3.0))


def test_modifying_a_saved_array_fails_at_backward_not_silently():
    x = _leaf((3,))
    y = x.exp()                                # exp's backward reads its output
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*saved by Exp is at version 1; "
                                           "expected version 0"):
        y.sum().backward()


def test_a_write_nothing_saved_is_allowed():
    x = _leaf((3,))
    y = x * 3.0                                # mul saved x and 3, not y
    y.add_(1.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 3.0))


def test_leaves_that_require_grad_are_written_only_without_grad():
    w = _leaf((2, 2))
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[0].zero_()
    with nf.no_grad():
        w[0].zero_()
        w.mul_(2.0)
    assert w.requires_grad and w.is_leaf and not w.numpy()[0].any()


def test_memory_shared_by_several_elements_is_not_written():
    e = nf.zeros(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match="more than one element"):
        e.add_(1.0)


def test_an_int_tensor_refuses_a_float_result():
    counts = nf.zeros(3, dtype=nf.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        counts += 0.5
    counts += 2
    assert counts.tolist() == [2, 2, 2]


def test_versions_count_writes_and_views_share_them():
    t = nf.zeros(4)
    view, detached, data = t[1:], t.detach(), t.data
    view.add_(1.0)
    detached.mul_(2.0)
    assert t._version == view._version == detached._version == 2
    data.add_(1.0)                             # .data: unseen by the version check, as in PyTorch
    assert t._version == 2 and data._version == 1
    np.testing.assert_array_equal(t.numpy(), [1.0, 3.0, 3.0, 3.0])


def test_data_is_a_tensor_outside_the_graph_sharing_memory():
    w = _leaf((2,))
    d = w.data
    assert isinstance(d, nf.Tensor) and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), w.numpy())
    w.data = nf.tensor([7.0, 8.0], dtype=nf.float64)
    assert w.tolist() == [7.0, 8.0] and w.requires_grad
    with pytest.raises(TypeError, match="data must be set to a Tensor"):
        w.data = np.zeros(2)


def test_grad_is_a_tensor_that_backward_accumulates_in_place():
    w = _leaf((3,))
    (w * 2.0).sum().backward()
    first = w.grad
    assert isinstance(first, nf.Tensor) and not first.requires_grad
    (w * 3.0).sum().backward()
    assert w.grad is first
    np.testing.assert_array_equal(first.numpy(), np.full(3, 5.0))
    with pytest.raises(RuntimeError, match="shape"):
        w.grad = nf.zeros(4, dtype=nf.float64)
    with pytest.raises(TypeError, match="grad must be a Tensor or None"):
        w.grad = np.zeros(3)
    w.grad = None
    assert w.grad is None


@pytest.mark.parametrize("make_view", [
    lambda a: a[1:, ::2],
    lambda a: a.T[::-1],
    lambda a: a.reshape(6, 4)[2:5],
    lambda a: a[:, 1],
], ids=["strided", "transposed-reversed", "reshaped", "column"])
def test_view_positions_name_each_element_of_the_base(make_view):
    base = np.arange(24.0).reshape(4, 6)
    view = make_view(base)
    positions = view_positions(base, view)
    np.testing.assert_array_equal(base.reshape(-1)[positions], view)


def test_view_positions_refuse_memory_outside_the_base():
    whole = np.arange(12.0)
    assert view_positions(whole[:6], whole[4:8]) is None
