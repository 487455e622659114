"""npformer/ops/layouts.py: the prepared (in, out) copies of weights that decoding's few-row
products use inside prepared_layouts(). MIN_ELEMENTS is lowered so that small weights count as
large; each test gets its own weights."""
import gc
import threading
import weakref

import numpy as np
import pytest

import npformer
import npformer.nn.functional as F
from npformer.ops import layouts
from npformer.ops.layouts import prepared_layouts, transposed


@pytest.fixture(autouse=True)
def small_weights_count(monkeypatch):
    monkeypatch.setattr(layouts, "MIN_ELEMENTS", 12)


def weight(shape=(5, 7), dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def first_copy(array):
    """Calls transposed() until it gives a copy (it notes a weight before copying it), at most twice."""
    for _ in range(2):
        copy = transposed(array)
        if copy is not None:
            return copy
    raise AssertionError("transposed() gave no copy on the second call within the scope")


def test_outside_a_scope_there_is_no_copy():
    w = weight()
    for _ in range(3):
        assert transposed(w) is None


def test_below_min_elements_there_is_no_copy():
    small = weight((3, 3))                                  # 9 elements < 12
    with prepared_layouts():
        assert all(transposed(small) is None for _ in range(3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_first_sight_notes_the_second_copies_the_third_reuses(dtype):
    w = weight((130, 20), dtype)                            # past layouts' block of rows transposed at once
    with prepared_layouts():
        assert transposed(w) is None                        # a single forward pass never pays for a copy
        copy = transposed(w)
        assert copy is not None and copy.flags.c_contiguous and copy.dtype == dtype
        np.testing.assert_array_equal(copy, w.T)
        assert copy is not w and not np.shares_memory(copy, w)
        assert transposed(w) is copy


def test_an_in_place_write_to_any_tensor_remakes_the_copy():
    w = weight()
    other = npformer.tensor(np.zeros(3))
    with prepared_layouts():
        stale = first_copy(w)
        with npformer.no_grad():
            other.add_(1)                                   # the engine counts every in-place write
        w += 1.0              # raw NumPy, which nothing counts: the copy must be remade because of other.add_
        fresh = first_copy(w)
        assert fresh is not stale
        np.testing.assert_array_equal(fresh, w.T)
        assert transposed(w) is fresh


def test_an_in_place_write_to_the_weight_tensor_remakes_the_copy():
    parameter = npformer.nn.Parameter(npformer.tensor(weight()))
    with prepared_layouts():
        stale = first_copy(parameter.numpy())
        with npformer.no_grad():
            parameter.mul_(2.0)
        fresh = first_copy(parameter.numpy())
        assert fresh is not stale
        np.testing.assert_array_equal(fresh, parameter.numpy().T)


def test_a_replaced_weight_array_gets_its_own_copy():
    old, new = weight(seed=1), weight(seed=2)
    with prepared_layouts():
        stale = first_copy(old)
        fresh = first_copy(new)
        assert fresh is not stale
        np.testing.assert_array_equal(fresh, new.T)
        assert transposed(old) is stale                     # each array keeps its own copy


def test_nothing_is_kept_after_the_scope():
    w = weight()
    with prepared_layouts():
        copy = first_copy(w)
    copy_ref, weight_ref = weakref.ref(copy), weakref.ref(w)
    del copy, w
    gc.collect()
    assert copy_ref() is None and weight_ref() is None       # the scope held neither
    w = weight()
    assert transposed(w) is None
    with prepared_layouts():                                # a new scope starts from nothing
        assert transposed(w) is None


def test_a_weight_written_between_scopes_gets_a_fresh_copy():
    """Between runs a weight may be written through raw NumPy, which no counter sees."""
    w = weight()
    with prepared_layouts():
        first_copy(w)
    w[...] = 3.0
    with prepared_layouts():
        np.testing.assert_array_equal(first_copy(w), w.T)


def test_nested_scopes_share_the_outer_scopes_copies():
    w = weight()
    with prepared_layouts():
        assert transposed(w) is None
        with prepared_layouts():
            copy = transposed(w)                            # seen in the outer scope: copied now
            assert copy is not None
        assert transposed(w) is copy                        # the inner scope's end dropped nothing
    assert transposed(w) is None


def test_a_scope_belongs_to_its_thread():
    w = weight()
    seen = []
    with prepared_layouts():
        first_copy(w)
        thread = threading.Thread(target=lambda: seen.extend(transposed(w) for _ in range(2)))
        thread.start()
        thread.join()
    assert seen == [None, None]


@pytest.mark.parametrize("dtype, tolerance", [(np.float32, 1e-6), (np.float64, 1e-14)])
@pytest.mark.parametrize("rows", [1, 3, 16])
def test_few_row_linear_in_a_scope_equals_the_product_outside(dtype, tolerance, rows):
    """The prepared copy changes only the order of the sums: with in = 48 terms the float32
    products agree to a few units of 2^-24 ~ 6e-8 times sqrt(48) ~ 7 (relative to the output's
    largest value), far inside 1e-6; float64 likewise to 1e-14."""
    rng = np.random.default_rng(rows)
    x = npformer.tensor(rng.standard_normal((rows, 48)).astype(dtype))
    w = npformer.tensor(rng.standard_normal((200, 48)).astype(dtype))
    b = npformer.tensor(rng.standard_normal(200).astype(dtype))
    outside = F.linear(x, w, b).numpy()
    exact = x.numpy().astype(np.float64) @ w.numpy().astype(np.float64).T + b.numpy()
    with prepared_layouts():
        inside = [F.linear(x, w, b).numpy() for _ in range(3)]
        assert transposed(w.numpy()) is not None                # the products went through the copy
    for result in [outside] + inside:
        assert result.dtype == dtype and result.shape == (rows, 200)
        assert np.max(np.abs(result - exact)) <= tolerance * np.max(np.abs(exact))
    for result in inside:
        assert np.max(np.abs(result - outside)) <= tolerance * np.max(np.abs(outside))


def test_batched_few_row_linear_in_a_scope():
    """A (B, 1, in) step input: the rows are B, the output keeps the leading dims."""
    rng = np.random.default_rng(5)
    x = npformer.tensor(rng.standard_normal((4, 1, 24)).astype(np.float32))
    w = npformer.tensor(rng.standard_normal((30, 24)).astype(np.float32))
    outside = F.linear(x, w).numpy()
    with prepared_layouts():
        inside = [F.linear(x, w).numpy() for _ in range(2)]
    for result in inside:
        assert result.shape == (4, 1, 30)
        assert np.max(np.abs(result - outside)) <= 1e-6 * np.max(np.abs(outside))
