"""Cast (to, float, double, half, clone): a copy in the new dtype; gradients return in the input's dtype."""
import numpy as np
import pytest

import npformer as nf


@pytest.mark.parametrize("method, dtype", [("float", np.float32), ("double", np.float64), ("half", np.float16),
                                           ("long", np.int64), ("int", np.int32), ("bool", np.bool_)])
def test_cast_methods(method, dtype):
    x = nf.tensor([0.0, 1.5, -2.0])
    y = getattr(x, method)()
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.numpy(), x.numpy().astype(dtype))


def test_cast_is_a_copy_and_clone_too():
    x = nf.tensor([1.0, 2.0])
    for y in (x.to(np.float64), x.to(np.float32, copy=True), x.clone()):
        y.numpy()[0] = 9.0
        assert x.numpy()[0] == 1.0
    # as torch: converting to the dtype a tensor already has returns the tensor itself
    assert x.to(np.float32) is x and x.float() is x and x.type(np.float32) is x


def test_gradient_returns_in_the_inputs_dtype():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * nf.tensor([3.0, 4.0], dtype=np.float64)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.numpy().dtype == np.float32
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_casting_to_integer_cuts_the_graph():
    x = nf.tensor([1.0, 2.0], requires_grad=True)
    assert not x.long().requires_grad


def test_to_accepts_pytorch_style_names():
    assert nf.tensor([1.0]).to(nf.double).dtype == np.float64
    assert nf.tensor([1.0]).to(nf.float16).dtype == np.float16
    # as in torch, a string given to .to() names a device, never a dtype
    with pytest.raises(RuntimeError, match="device type at start of device string: double"):
        nf.tensor([1.0]).to("double")
    with pytest.raises(TypeError, match="dtype must be a dtype"):
        nf.tensor([1.0]).to(dtype="complex-ish")
    with pytest.raises(TypeError, match="not a dtype"):
        nf.tensor([1.0]).to(object())


def test_gradcheck_through_a_cast():
    x = nf.tensor([0.5, -0.25], requires_grad=True, dtype=np.float64)
    assert nf.gradcheck(lambda t: t.to(np.float64).exp(), (x,))
