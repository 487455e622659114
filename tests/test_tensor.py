"""Tensor creation, dtype rules, conversions, comparisons and repr."""
import numpy as np
import pytest

import npformer as nf


def test_tensor_dtype_rules_follow_pytorch():
    assert nf.tensor([1.0, 2.0]).dtype == np.float32            # Python floats: default float32
    assert nf.tensor([1, 2]).dtype == np.int64
    assert nf.tensor([True, False]).dtype == np.bool_
    assert nf.tensor(np.ones(2, dtype=np.float64)).dtype == np.float64   # arrays keep theirs
    assert nf.tensor(np.ones(2, dtype=np.int32)).dtype == np.int32
    assert nf.tensor([1, 2], dtype=nf.float64).dtype == np.float64
    assert nf.tensor(3.5).shape == ()


def test_default_dtype_can_be_float64():
    try:
        nf.set_default_dtype(nf.float64)
        assert nf.tensor([1.0]).dtype == np.float64
        assert nf.zeros(2).dtype == np.float64
    finally:
        nf.set_default_dtype(nf.float32)
    with pytest.raises(TypeError):
        nf.set_default_dtype(nf.int64)


def test_tensor_copies_its_input():
    a = np.ones(3)
    t = nf.tensor(a)
    a[0] = 5.0
    assert t.numpy()[0] == 1.0


def test_numpy_shares_and_item_converts():
    t = nf.tensor([[2.5]])
    assert t.numpy() is t.numpy()
    assert t.item() == 2.5 and float(t) == 2.5
    with pytest.raises(ValueError, match="one-element"):
        nf.tensor([1.0, 2.0]).item()
    assert np.asarray(nf.tensor([1.0, 2.0])).dtype == np.float32


def test_unsupported_data_is_refused():
    with pytest.raises(TypeError, match="cannot make a tensor"):
        nf.tensor(["a", "b"])


def test_factories():
    assert nf.zeros(2, 3).shape == (2, 3) and nf.zeros((2, 3)).dtype == np.float32
    assert nf.ones(4, dtype=nf.float64).dtype == np.float64
    np.testing.assert_array_equal(nf.full((2,), 7).numpy(), [7, 7])
    assert nf.full((2,), 7).dtype == np.int64 and nf.full((1,), 0.5).dtype == np.float32
    np.testing.assert_array_equal(nf.arange(4).numpy(), [0, 1, 2, 3])
    assert nf.arange(0, 1, 0.25).dtype == np.float32
    x = nf.randn(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    assert nf.zeros_like(x).shape == (3,) and nf.ones_like(x).dtype == np.float32
    assert nf.randint(5, size=(10,)).numpy().max() < 5
    assert sorted(nf.randperm(5).tolist()) == [0, 1, 2, 3, 4]


def test_comparisons_return_bool_tensors_without_grad():
    x = nf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in ((x > 1.5, [False, True, True]), (x <= 2.0, [True, True, False]),
                             (x == 2.0, [False, True, False]), (x != 2.0, [True, False, True]),
                             ((x > 1.5) & (x < 2.5), [False, True, False]), (~(x > 1.5), [True, False, False])):
        assert result.dtype == np.bool_ and not result.requires_grad
        np.testing.assert_array_equal(result.numpy(), expected)


def test_tensors_are_hashable_by_identity():
    a, b = nf.tensor([1.0]), nf.tensor([1.0])
    assert len({a, b}) == 2


def test_iteration_len_and_bool():
    t = nf.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert len(t) == 2
    rows = list(t)
    np.testing.assert_array_equal(rows[1].numpy(), [3.0, 4.0])
    assert bool(nf.tensor([1.0]))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)


def test_repr_shows_grad_state():
    assert repr(nf.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(nf.tensor([1.0], requires_grad=True))
    assert "grad_fn=Mul" in repr(nf.tensor([1.0], requires_grad=True) * 2.0)
    assert "dtype=float64" in repr(nf.tensor([1.0], dtype=nf.float64))


def test_methods_accept_pytorch_argument_names():
    x = nf.tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(dim=1, keepdim=True).shape == (2, 1)
    assert x.mean(dim=0).shape == (3,)
    assert x.max(dim=1, keepdim=False).values.shape == (2,)
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((3, 2)).shape == (3, 2)
    assert x.permute(1, 0).shape == (3, 2) and x.transpose(0, 1).shape == (3, 2)
    assert x.size() == (2, 3) and x.size(1) == 3 and x.dim() == 2 and x.numel() == 6


def test_import_pulls_in_numpy_and_nothing_heavier():
    import subprocess
    import sys
    code = ("import sys, npformer; "
            "heavy = [m for m in ('torch', 'transformers', 'tokenizers', 'scipy', 'matplotlib', 'hypothesis', "
            "'pytest') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
