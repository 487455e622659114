"""torch's plumbing surface on npformer, without torch: dtype names, devices, legacy constructors,
factories, Tensor plumbing, logic, sampling (statistics and seeding) and grad modes.
(tests/crosscheck/test_torch_surface_vs_torch.py makes the same calls on torch and compares.)"""
import numpy as np
import pytest

import npformer as nf
import npformer.nn as nn


# ---------------------------------------------------------------------------- dtypes
def test_dtype_names_are_numpy_dtypes():
    assert nf.long == nf.int64 == np.int64 and nf.int == nf.int32 and nf.short == nf.int16 == np.int16
    assert nf.float == nf.float32 and nf.double == nf.float64 and nf.half == nf.float16 and nf.bool == np.bool_
    assert nf.zeros(2, dtype=nf.long).dtype == nf.long
    assert isinstance(nf.float32, nf.dtype)
    assert not hasattr(nf, "bfloat16")           # NumPy has no bfloat16


def test_finfo_iinfo_and_type_queries():
    assert nf.finfo(nf.float32).eps == float(np.finfo(np.float32).eps)
    assert nf.finfo().dtype == "float32" and nf.finfo(nf.float64).tiny == float(np.finfo(np.float64).tiny)
    assert nf.iinfo(nf.int8).min == -128 and nf.iinfo(nf.uint8).max == 255 and nf.iinfo(nf.int64).bits == 64
    with pytest.raises(TypeError, match="iinfo"):
        nf.finfo(nf.int32)
    with pytest.raises(TypeError, match="finfo"):
        nf.iinfo(nf.float32)
    assert nf.is_tensor(nf.zeros(1)) and not nf.is_tensor(np.zeros(1))
    assert nf.is_floating_point(nf.zeros(1)) and not nf.is_floating_point(nf.tensor([1]))
    with pytest.raises(TypeError, match="argument 'input' must be Tensor"):
        nf.is_floating_point(1.0)


# ---------------------------------------------------------------------------- devices
def test_device_parsing_and_equality():
    cpu = nf.device("cpu")
    assert (cpu.type, cpu.index, str(cpu), repr(cpu)) == ("cpu", None, "cpu", "device(type='cpu')")
    assert nf.device("cuda:1") == nf.device("cuda", 1) and nf.device("cpu") != nf.device("cpu:0")
    assert nf.device("cpu") != "cpu" and len({nf.device("cpu"), nf.device("cpu")}) == 1
    assert nf.zeros(2).device == cpu and not nf.zeros(2).is_cuda
    for bad, error in (("gpu", RuntimeError), ("cpu ", RuntimeError), (1.5, TypeError), (0, RuntimeError)):
        with pytest.raises(error):
            nf.device(bad)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", nf.device("cuda", 1), 0])
def test_every_factory_and_to_refuse_a_device_other_than_the_cpu(device):
    calls = [lambda: nf.zeros(2, device=device), lambda: nf.ones(2, device=device),
             lambda: nf.full((2,), 1.0, device=device), lambda: nf.arange(3, device=device),
             lambda: nf.randn(2, device=device), lambda: nf.rand(2, device=device),
             lambda: nf.randint(3, (2,), device=device), lambda: nf.empty(2, device=device),
             lambda: nf.tensor([1.0], device=device), lambda: nf.zeros_like(nf.zeros(1), device=device),
             lambda: nf.linspace(0, 1, 3, device=device), lambda: nf.eye(2, device=device),
             lambda: nf.as_tensor([1], device=device), lambda: nf.Tensor(2, device=device),
             lambda: nf.zeros(2).to(device), lambda: nf.zeros(2).to(device=device, dtype=nf.float64),
             lambda: nf.zeros(2).new_zeros(2, device=device)]
    for call in calls:
        with pytest.raises(RuntimeError, match="npformer runs on the CPU with NumPy|no accelerator|accelerator"):
            call()


def test_cpu_spellings_are_accepted_everywhere():
    for device in ("cpu", "cpu:0", nf.device("cpu"), nf.device("cpu", 3), None):
        assert nf.zeros(2, device=device).device == nf.device("cpu")
        x = nf.ones(2)
        assert x.to(device) is x
    assert nf.zeros(2).cpu().device.type == "cpu"
    with pytest.raises(RuntimeError, match="device 'cuda' is not available: npformer runs on the CPU"):
        nf.zeros(2).cuda()


def test_cuda_and_backends_answer_as_torch_without_a_gpu():
    assert nf.cuda.is_available() is False and nf.cuda.device_count() == 0
    assert nf.cuda.manual_seed_all(3) is None and nf.cuda.manual_seed(3) is None
    assert nf.backends.mps.is_available() is False and nf.backends.cudnn.is_available() is False
    device = nf.device("cuda" if nf.cuda.is_available() else "cpu")
    model = nn.Linear(3, 2).to(device)
    assert model(nf.zeros(1, 3, device=device)).shape == (1, 2)


# ---------------------------------------------------------------------------- legacy constructors and Size
def test_tensor_keeps_data_semantics_and_gains_the_legacy_size_forms():
    # inside npformer, Tensor(ndarray) keeps the array's dtype (a deliberate difference from
    # torch.Tensor, which makes every input float32); a Python list becomes the default float
    assert nf.Tensor(np.arange(3)).dtype == np.int64
    assert nf.Tensor(np.zeros(2, dtype=np.float64), requires_grad=True).requires_grad
    assert nf.Tensor([1, 2]).dtype == np.float32 and nf.Tensor(2.5).shape == ()
    assert nf.Tensor(2, 3).shape == (2, 3) and np.all(nf.Tensor(2, 3).numpy() == 0)
    assert nf.Tensor(nf.Size([4])).shape == (4,) and nf.Tensor().shape == (0,)
    with pytest.raises(RuntimeError, match="negative dimension"):
        nf.Tensor(-1)
    with pytest.raises(TypeError, match="sizes as ints"):
        nf.Tensor([1], [2])
    param = nn.Parameter(nf.Tensor(3, 4))
    with nf.no_grad():
        param.uniform_(-0.1, 0.1)
    assert param.requires_grad and np.abs(param.numpy()).max() <= 0.1


def test_legacy_typed_constructors():
    assert nf.LongTensor([1.7]).tolist() == [1] and nf.LongTensor(2, 3).dtype == np.int64
    assert nf.FloatTensor(np.arange(3)).dtype == np.float32 and nf.BoolTensor([2, 0]).tolist() == [True, False]
    assert nf.ByteTensor(4).dtype == np.uint8 and nf.HalfTensor([1.5]).dtype == np.float16
    assert nf.LongTensor().shape == (0,) and nf.LongTensor((2, 3)).tolist() == [2, 3]
    x = nf.tensor([1, 2])
    assert nf.LongTensor(x) is x and isinstance(x, nf.LongTensor) and not isinstance(x, nf.FloatTensor)
    with pytest.raises(TypeError, match="dtype float32, got int64"):
        nf.FloatTensor(x)
    with pytest.raises(TypeError, match="data must be a sequence"):
        nf.LongTensor("a")
    assert nf.zeros(2).type(nf.LongTensor).dtype == np.int64


def test_size():
    size = nf.Size([2, 3, 4])
    assert size == (2, 3, 4) and size.numel() == 24 and isinstance(size[1:], nf.Size)
    assert repr(size) == "Size([2, 3, 4])" and nf.zeros(size).shape == size
    with pytest.raises(TypeError, match="sequence of ints"):
        nf.Size([2.5])


# ---------------------------------------------------------------------------- factories
def test_factories_take_torch_signatures():
    assert nf.zeros(size=(2, 3)).shape == (2, 3) and nf.ones([2]).dtype == np.float32
    assert nf.empty(2, 2, dtype=nf.int32).dtype == np.int32
    assert nf.full((2,), True).dtype == np.bool_ and nf.full((1,), 3).dtype == np.int64
    assert nf.full_like(nf.zeros(2, dtype=nf.long), 2.7).tolist() == [2, 2]
    assert nf.eye(2, 3).tolist() == [[1, 0, 0], [0, 1, 0]]
    assert nf.randint(10, (3,)).shape == (3,) and nf.randint(2, 5, (40,)).numpy().min() >= 2
    assert nf.randint(5, size=(4,)).numpy().max() < 5 and nf.randint(high=3, size=(2,)).dtype == np.int64
    assert nf.randint_like(nf.zeros(3), 4).dtype == np.float32
    assert nf.randn_like(nf.zeros(2, dtype=nf.double)).dtype == np.float64
    np.testing.assert_array_equal(nf.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(nf.logspace(0, 2, 3).numpy(), [1, 10, 100])
    assert nf.arange(0, 1, 0.1).shape == (10,) and nf.arange(2.5, 5, dtype=nf.long).tolist() == [2, 3, 4]
    with pytest.raises(RuntimeError, match="non-negative"):
        nf.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="size must be ints"):
        nf.zeros(2, 3.0)
    with pytest.raises(TypeError, match="randint"):
        nf.randint(10)
    with pytest.raises(RuntimeError, match="floating-point dtype"):
        nf.rand(2, dtype=nf.long)


def test_linspace_is_symmetric_as_torch_computes_it():
    # the second half is counted back from the end: the last value is exactly `end`, and the
    # values mirror each other around the middle in exact arithmetic
    values = nf.linspace(0.1, 0.7, 7, dtype=nf.float64).numpy()
    assert values[-1] == 0.7 and values[0] == 0.1
    assert values[4] == 0.7 - 2 * ((0.7 - 0.1) / 6)


def test_from_numpy_and_as_tensor_share_memory():
    array = np.arange(4.0)
    x = nf.from_numpy(array)
    x[0] = 9.0
    assert array[0] == 9.0 and nf.as_tensor(array).numpy() is array
    t = nf.tensor([1.0])
    assert nf.as_tensor(t) is t and nf.as_tensor(t, dtype=nf.float64).dtype == np.float64
    with pytest.raises(TypeError, match="expected np.ndarray"):
        nf.from_numpy([1, 2])


# ---------------------------------------------------------------------------- Tensor plumbing
def test_to_forms():
    x = nf.arange(6.0).reshape(2, 3)
    assert x.to(nf.float32) is x and x.to("cpu") is x and x.to(x) is x and x.to() is x
    assert x.to(nf.float32, copy=True) is not x and x.to(nf.device("cpu"), copy=True) is not x
    assert x.to("cpu", nf.long).dtype == np.int64 and x.to(dtype=nf.float64).dtype == np.float64
    assert x.to(nf.zeros(1, dtype=nf.int32)).dtype == np.int32
    with pytest.raises(RuntimeError, match="device string: float"):
        x.to("float")
    with pytest.raises(TypeError, match="non_blocking and copy"):
        x.to(nf.float64, nf.float32)
    with pytest.raises(TypeError, match="unexpected keyword argument 'other'"):
        x.to(other=x)


def test_to_keeps_the_graph_and_returns_self_when_nothing_changes():
    x = nf.tensor([1.0, 2.0], dtype=nf.float64, requires_grad=True)
    assert x.to(nf.float64) is x
    y = x.to(nf.float32)
    assert y.grad_fn is not None
    (y * nf.tensor([3.0, 4.0])).sum().backward()
    assert x.grad.dtype == np.float64 and x.grad.tolist() == [3.0, 4.0]


def test_type_strings():
    assert nf.zeros(1).type() == "torch.FloatTensor" and nf.zeros(1, dtype=nf.long).type() == "torch.LongTensor"
    assert nf.zeros(1).type("torch.DoubleTensor").dtype == np.float64
    with pytest.raises(ValueError, match="invalid type"):
        nf.zeros(1).type("float")
    x = nf.zeros(2)
    assert x.type_as(x) is x and x.type_as(nf.tensor([1])).dtype == np.int64


def test_contiguous_stride_and_memory_facts():
    x = nf.arange(12.0).reshape(3, 4)
    assert x.contiguous() is x and x.is_contiguous() and x.stride() == (4, 1) and x.stride(-2) == 4
    y = x.T
    assert not y.is_contiguous() and y.stride() == (1, 4)
    z = y.contiguous()
    assert z.is_contiguous() and z.stride() == (3, 1) and np.array_equal(z.numpy(), y.numpy())
    assert x[1:].storage_offset() == 4 and x.storage_offset() == 0
    assert x.element_size() == 4 and x.nelement() == 12 and x.nbytes == 48
    assert x.data_ptr() == x.detach().data_ptr()
    with pytest.raises(IndexError):
        x.stride(2)


def test_contiguous_is_differentiable():
    x = nf.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    upstream = np.arange(6.0).reshape(3, 2)
    (x.T.contiguous() * nf.tensor(upstream)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), upstream.T)
    assert nf.gradcheck(lambda t: t.T.contiguous().exp(), (nf.tensor(np.random.default_rng(0).standard_normal(
        (3, 2)), requires_grad=True),))


def test_new_factories_follow_the_tensor_dtype():
    x = nf.zeros(2, dtype=nf.float64)
    assert x.new_zeros(2, 3).dtype == np.float64 and x.new_ones((2,)).shape == (2,)
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_empty(3).dtype == np.float64
    assert x.new_tensor([1, 2]).dtype == np.float64 and nf.tensor([1]).new_tensor([1.7]).tolist() == [1]
    assert x.new_zeros(2, dtype=nf.int32).dtype == np.int32 and x.new_zeros(2, requires_grad=True).requires_grad


def test_bitwise_operators_as_torch():
    a, b = nf.tensor([True, False, True]), nf.tensor([True, True, False])
    assert (a & b).tolist() == [True, False, False] and (a | b).tolist() == [True, True, True]
    assert (a ^ b).tolist() == [False, True, True] and (~a).tolist() == [False, True, False]
    assert (nf.tensor([12]) & 10).tolist() == [8] and (nf.tensor([12]) | 3).tolist() == [15]
    assert (~nf.tensor([0])).tolist() == [-1]
    with pytest.raises(RuntimeError, match="bool and integer"):
        nf.tensor([1.0]) & a


# ---------------------------------------------------------------------------- logic
def test_nonzero_where_and_friends():
    x = nf.tensor([[0.0, 1.5], [2.0, 0.0]])
    assert x.nonzero().tolist() == [[0, 1], [1, 0]] and nf.argwhere(x).tolist() == [[0, 1], [1, 0]]
    rows, cols = nf.where(x > 0)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    assert nf.where(x > 1, x, nf.tensor(-1.0)).tolist() == [[-1.0, 1.5], [2.0, -1.0]]
    with pytest.raises(TypeError, match="where"):
        nf.where(x > 0, x)
    assert nf.any(x > 1.8).item() and not nf.all(x > 0).item() and nf.count_nonzero(x).item() == 2
    assert nf.any(x > 1, dim=1).tolist() == [True, True] and x.all(dim=0, keepdim=True).shape == (1, 2)
    assert np.all(nf.tensor([1, 2]) > 0) and not np.any(nf.tensor([1, 2]) > 5)   # NumPy's any/all still work
    assert nf.isnan(nf.tensor([np.nan, 1.0])).tolist() == [True, False]
    assert nf.allclose(nf.tensor([1.0]), nf.tensor([1.0 + 1e-9])) and nf.equal(x, x.clone())
    values, inverse, counts = nf.unique(nf.tensor([3, 1, 3]), return_inverse=True, return_counts=True)
    assert values.tolist() == [1, 3] and inverse.tolist() == [1, 0, 1] and counts.tolist() == [1, 2]
    assert nf.bincount(nf.tensor([0, 2, 2])).tolist() == [1, 0, 2]
    assert nf.searchsorted(nf.tensor([1, 3, 5]), nf.tensor([3, 6])).tolist() == [1, 3]
    assert nf.bucketize(nf.tensor([3, 6]), nf.tensor([1, 3, 5]), right=True).tolist() == [2, 3]
    with pytest.raises(RuntimeError, match="non-negative integral"):
        nf.bincount(nf.tensor([-1]))
    with pytest.raises(TypeError, match="argument 'other' must be Tensor"):
        nf.logical_and(x, 1)


# ---------------------------------------------------------------------------- sampling
P = np.array([0.1, 0.0, 0.6, 0.3])


def _within(frequencies, probabilities, n, sigmas=5.0):
    """Each observed frequency within `sigmas` binomial standard deviations of its probability."""
    spread = sigmas * np.sqrt(probabilities * (1 - probabilities) / n) + 1e-12
    return np.all(np.abs(frequencies - probabilities) <= spread)


def test_multinomial_with_replacement_matches_the_probabilities():
    nf.manual_seed(11)
    n = 20000
    draws = nf.multinomial(nf.tensor(P * 7.0), n, replacement=True).numpy()     # unnormalised weights
    assert draws.shape == (n,) and draws.dtype == np.int64
    frequencies = np.bincount(draws, minlength=4) / n
    assert frequencies[1] == 0.0 and _within(frequencies, P, n)


def test_multinomial_without_replacement_draws_sequentially():
    nf.manual_seed(12)
    rows = 20000
    draws = nf.multinomial(nf.tensor(np.tile(P, (rows, 1))), 2).numpy()     # (rows, 2)
    assert draws.shape == (rows, 2) and np.all(draws[:, 0] != draws[:, 1])
    assert not np.any(draws == 1)          # a zero-probability category is never drawn while others remain
    first = np.bincount(draws[:, 0], minlength=4) / rows
    assert _within(first, P, rows)
    # the second draw: P(j second) = sum_i p_i p_j / (1 - p_i) over i != j
    second = np.array([sum(P[i] * P[j] / (1 - P[i]) for i in range(4) if i != j) for j in range(4)])
    assert _within(np.bincount(draws[:, 1], minlength=4) / rows, second, rows)
    everything = nf.multinomial(nf.tensor(P), 4).numpy()
    assert sorted(everything.tolist()) == [0, 1, 2, 3] and everything[-1] == 1     # zero weight comes last


def test_multinomial_is_deterministic_under_manual_seed_and_generators():
    probs = nf.tensor(np.tile(P, (3, 1)))
    nf.manual_seed(5)
    a = nf.multinomial(probs, 3).numpy().copy()
    nf.manual_seed(5)
    b = probs.multinomial(3).numpy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = nf.Generator(9), nf.Generator(9)
    np.testing.assert_array_equal(nf.multinomial(probs, 8, True, generator=g1).numpy(),
                                  nf.multinomial(probs, 8, True, generator=g2).numpy())


@pytest.mark.parametrize("call, message", [
    (lambda: nf.multinomial(nf.tensor(P), 0), "n_sample <= 0"),
    (lambda: nf.multinomial(nf.tensor(P), 5), "without replacement"),
    (lambda: nf.multinomial(nf.ones(2, 2, 2), 1), "1 or 2 dim"),
    (lambda: nf.multinomial(nf.tensor([-1.0, 2.0]), 1), "element < 0"),
    (lambda: nf.multinomial(nf.tensor([1.0, np.nan]), 1), "`nan`"),
    (lambda: nf.multinomial(nf.tensor([[1.0, 0.0], [0.0, 0.0]]), 1), "sum of probabilities <= 0"),
    (lambda: nf.multinomial(nf.tensor([1, 2]), 1), "floating-point"),
])
def test_multinomial_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


def test_in_place_fills_have_the_right_distribution():
    nf.manual_seed(21)
    n = 40000
    normal = nf.zeros(n, dtype=nf.float64).normal_(2.0, 0.5).numpy()
    assert abs(normal.mean() - 2.0) < 5 * 0.5 / np.sqrt(n) and abs(normal.std() - 0.5) < 0.01
    uniform = nf.zeros(n, dtype=nf.float64).uniform_(-3, 1).numpy()
    assert uniform.min() >= -3 and uniform.max() < 1 and abs(uniform.mean() + 1) < 5 * (4 / np.sqrt(12)) / np.sqrt(n)
    exponential = nf.zeros(n, dtype=nf.float64).exponential_(4.0).numpy()
    assert exponential.min() >= 0 and abs(exponential.mean() - 0.25) < 5 * 0.25 / np.sqrt(n)
    integers = nf.zeros(n, dtype=nf.long).random_(2, 6).numpy()
    assert set(np.unique(integers)) == {2, 3, 4, 5} and _within(np.bincount(integers)[2:] / n, np.full(4, 0.25), n)
    coins = nf.zeros(n).bernoulli_(0.3).numpy()
    assert set(np.unique(coins)) == {0.0, 1.0} and _within(coins.mean(), 0.3, n)
    drawn = nf.bernoulli(nf.tensor([0.0, 1.0, 0.5]).expand(n, 3)).numpy()
    assert np.all(drawn[:, 0] == 0) and np.all(drawn[:, 1] == 1) and _within(drawn[:, 2].mean(), 0.5, n)
    samples = nf.normal(nf.tensor([0.0, 10.0], dtype=nf.float64), nf.tensor([1.0, 0.0], dtype=nf.float64)
                        .expand(n, 2)).numpy()
    assert np.all(samples[:, 1] == 10.0) and abs(samples[:, 0].std() - 1.0) < 0.02


def test_init_code_patterns():
    layer = nn.Linear(4, 3)
    layer.weight.data.normal_(mean=0.0, std=0.02)
    layer.bias.data.zero_()
    assert layer.weight.requires_grad and np.abs(layer.weight.numpy()).max() < 0.2
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        layer.weight.normal_()
    with nf.no_grad():
        layer.weight.uniform_(-0.1, 0.1)
    assert np.abs(layer.weight.numpy()).max() <= 0.1


def test_sampling_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        nf.zeros(2).normal_(0, -1)
    with pytest.raises(RuntimeError, match=r"\[from, to\)"):
        nf.zeros(2).uniform_(2, 1)
    with pytest.raises(RuntimeError, match="floating-point"):
        nf.zeros(2, dtype=nf.long).normal_()
    with pytest.raises(RuntimeError, match="'from' to be less than 'to'"):
        nf.zeros(2).random_(5, 2)
    with pytest.raises(RuntimeError, match="lambda > 0.0"):
        nf.zeros(2).exponential_(0.0)
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        nf.bernoulli(nf.tensor([1.5]))
    with pytest.raises(TypeError, match="size is required"):
        nf.normal(0.0, 1.0)


# ---------------------------------------------------------------------------- grad modes
def test_no_grad_bare_decorator_and_inference_mode():
    @nf.no_grad
    def bare():
        return nf.is_grad_enabled()

    @nf.inference_mode()
    def inside():
        return nf.is_grad_enabled(), nf.is_inference_mode_enabled()

    assert bare() is False and inside() == (False, True) and nf.is_grad_enabled()
    assert not nf.is_inference_mode_enabled()
    with nf.inference_mode():
        y = nf.ones(2, requires_grad=True) * 2
    assert not y.requires_grad


def test_set_grad_enabled_switches_on_call_and_restores_as_a_context():
    try:
        nf.set_grad_enabled(False)
        assert not nf.is_grad_enabled()
        with nf.set_grad_enabled(True):
            assert nf.is_grad_enabled()
        assert not nf.is_grad_enabled()
    finally:
        nf.set_grad_enabled(True)
    no_grad = nf.no_grad()          # constructing no_grad alone changes nothing
    assert nf.is_grad_enabled()
    with no_grad:
        assert not nf.is_grad_enabled()
    assert nf.is_grad_enabled()


def test_autograd_grad_returns_a_tuple():
    x = nf.tensor([1.0, 2.0], dtype=nf.float64, requires_grad=True)
    (gx,) = nf.autograd.grad((x * x).sum(), x)
    assert gx.tolist() == [2.0, 4.0]
