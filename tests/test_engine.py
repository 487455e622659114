"""The engine: graph building, backward order, accumulation, freeing, grad mode, dtypes."""
import gc
import weakref

import numpy as np
import pytest

import npformer as nf
from npformer.autograd import grad


def test_dag_reusing_a_tensor_accumulates_every_use():
    # y = x*x + 3x + x  ->  dy/dx = 2x + 4: three paths back to x.
    x = nf.tensor([1.5, -2.0, 0.5], requires_grad=True)
    y = (x * x + 3.0 * x + x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * x.numpy() + 4, rtol=1e-6)


def test_diamond_through_a_shared_intermediate():
    # h = 2x used by two branches: y = h^2 + sin-free h^3  ->  dy/dx = 2(2h + 3h^2)
    x = nf.tensor([0.3, -1.1], requires_grad=True, dtype=np.float64)
    h = x * 2.0
    y = (h * h + h * h * h).sum()
    y.backward()
    hv = 2 * x.numpy()
    np.testing.assert_allclose(x.grad, 2 * (2 * hv + 3 * hv ** 2), rtol=1e-12)


def test_backward_twice_accumulates_into_grad():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_only_leaves_keep_grad_unless_retained():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    k = x * 5.0
    k.retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(k.grad, h.numpy())
    np.testing.assert_array_equal(x.grad, 2 * k.numpy() + 5 * h.numpy())


def test_no_grad_records_nothing_and_restores():
    x = nf.tensor([1.0], requires_grad=True)
    with nf.no_grad():
        y = x * 2.0
        assert not nf.is_grad_enabled()
        with nf.enable_grad():
            z = x * 2.0
    assert nf.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_no_grad_as_decorator():
    @nf.no_grad()
    def double(t):
        return t * 2.0

    x = nf.tensor([1.0], requires_grad=True)
    assert not double(x).requires_grad
    assert nf.is_grad_enabled()


def test_second_backward_without_retain_graph_raises_clearly():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_backward_frees_saved_arrays():
    x = nf.tensor(np.ones((4, 4)), requires_grad=True)
    y = x.exp()
    node = y.grad_fn
    assert vars(node), "exp saves its output for backward"
    y.sum().backward()
    assert not vars(node)


def test_intermediate_activations_are_not_held_by_the_graph():
    # Add saves nothing; once the user drops h, its array must be collectable even though
    # the graph (held by y) still exists.
    x = nf.tensor(np.ones(3), requires_grad=True)
    h = x + 1.0
    ref = weakref.ref(h.numpy())
    y = h + 2.0
    del h
    gc.collect()
    assert ref() is None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(3))


def test_chain_of_100000_ops_backpropagates():
    x = nf.tensor([1.0], requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0          # 200,000 nodes in one chain
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0])


def test_non_scalar_backward_needs_a_gradient():
    x = nf.tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"scalar output.*\(2, 3\)"):
        y.backward()
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(x.grad, np.ones((2, 3)))


def test_gradient_of_wrong_shape_is_rejected():
    x = nf.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2, 3\)"):
        (x * 2.0).backward(np.ones(3))


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        nf.tensor([1.0]).sum().backward()


def test_requires_grad_on_integer_tensor_is_refused():
    with pytest.raises(RuntimeError, match="floating-point.*int64"):
        nf.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating-point"):
        nf.tensor([1, 2]).requires_grad_()


def test_requires_grad_cannot_change_on_non_leaf():
    x = nf.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2.0).requires_grad = False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_gradient_has_its_datas_shape_and_dtype(dtype):
    a = nf.tensor(np.linspace(0.5, 1.5, 12).reshape(3, 4), requires_grad=True, dtype=dtype)
    b = nf.tensor(np.linspace(-1, 1, 4), requires_grad=True, dtype=dtype)
    c = nf.tensor([[0.5]], requires_grad=True, dtype=dtype)
    y = ((a * b + c) @ b).exp().log().sum() + (a / c).amax() + a[1:, ::2].sqrt().mean()
    y.backward()
    for t in (a, b, c):
        assert t.grad.numpy().shape == t.shape
        assert t.grad.numpy().dtype == np.dtype(dtype)


def test_float32_stays_float32_forward_and_backward():
    x = nf.randn(3, 4, requires_grad=True)
    w = nf.randn(4, 5, requires_grad=True)
    assert x.dtype == np.float32
    h = (x @ w) * 0.5 + 1.0
    h = h.tanh().sigmoid().relu() ** 2
    h = nf.where(h > 0.1, h, 0.0) / 3.0
    out = (h - h.mean(-1, keepdim=True)).var(0).sum() + h.amax() + (1.0 - h).abs().sum()
    assert out.dtype == np.float32
    for t in (h, out):
        assert t.dtype == np.float32
    out.backward()
    assert x.grad.numpy().dtype == np.float32 and w.grad.numpy().dtype == np.float32


def test_mixed_precision_gradients_return_in_each_inputs_dtype():
    a = nf.tensor([1.0, 2.0], requires_grad=True, dtype=np.float32)
    b = nf.tensor([3.0, 4.0], requires_grad=True, dtype=np.float64)
    y = a * b
    assert y.dtype == np.float64        # NumPy promotion between two tensors
    y.sum().backward()
    assert a.grad.numpy().dtype == np.float32 and b.grad.numpy().dtype == np.float64
    np.testing.assert_array_equal(a.grad, [3.0, 4.0])


def test_python_and_numpy_scalars_do_not_upcast_float32():
    x = nf.tensor([1.0, 2.0])
    for y in (x * 2.0, 2.0 * x, x + np.float64(1.5), x ** 2, 2 ** x, x / 3, 1 - x):
        assert y.dtype == np.float32


def test_reflected_operators_with_ndarrays_return_tensors():
    x = nf.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    arr = np.array([10.0, 20.0])
    results = [arr + x, arr - x, arr * x, arr / x, arr ** x, np.eye(2) @ x]
    for r in results:
        assert isinstance(r, nf.Tensor) and r.requires_grad
    sum(r.sum() for r in results).backward()
    expected = 1 - 1 + arr - arr / x.numpy() ** 2 + arr ** x.numpy() * np.log(arr) + np.eye(2).sum(0)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_grad_function_leaves_dot_grad_alone():
    x = nf.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    h = x * x
    y = (h * 3.0).sum()
    gx, gh = grad(y, [x, h], retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), 6 * x.numpy())
    np.testing.assert_allclose(gh.numpy(), [3.0, 3.0])
    assert x.grad is None


def test_grad_function_reports_unused_inputs():
    x = nf.tensor([1.0], requires_grad=True)
    z = nf.tensor([1.0], requires_grad=True)
    y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="not used"):
        grad(y, [x, z], retain_graph=True)
    gx, gz = grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.numpy()[0] == 2.0


def test_multi_output_op_with_an_unused_output_gets_zeros():
    x = nf.tensor(np.arange(6.0), requires_grad=True)
    first, second = x.split(3)
    (second * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 0, 2, 2, 2])


def test_detach_cuts_the_graph_and_shares_memory():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_gradient_seeded_by_the_user_is_not_aliased_into_grad():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    seed = np.array([1.0, 1.0], dtype=np.float32)
    (x + 0.0).backward(seed)
    x.grad *= 10
    np.testing.assert_array_equal(seed, [1.0, 1.0])


def test_a_leaf_used_as_output_gets_its_gradient():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    x.backward(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_backward_returning_a_wrong_shape_names_the_op():
    class BadShape(nf.Function, register=False):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad[:1]

    x = nf.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadShape.backward returned a gradient of shape \(1,\)"):
        BadShape.apply(x).sum().backward()


def test_function_must_define_static_forward_and_backward():
    with pytest.raises(TypeError, match="backward"):
        class Incomplete(nf.Function, register=False):
            @staticmethod
            def forward(ctx, a):
                return a


def test_registered_names_are_unique():
    with pytest.raises(TypeError, match="already registered"):
        class Add(nf.Function):
            @staticmethod
            def forward(ctx, a):
                return a

            @staticmethod
            def backward(ctx, grad):
                return grad
