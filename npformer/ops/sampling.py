"""Random sampling with PyTorch's names: multinomial, bernoulli, normal, and the in-place fills
init code uses (``p.data.normal_(0, 0.02)``, ``uniform_``, ``random_``, ``exponential_``,
``bernoulli_``).

Every draw comes from a ``Generator`` (npformer/autograd/random.py; None means the default
one that ``manual_seed`` reseeds), in float64, then rounded to the tensor's dtype. The
streams are npformer's own: a seed gives the same numbers on every run, but not torch's.

Samples carry no gradient. As in torch, a sample drawn from a tensor that requires grad
(``normal(mean, std)``, or ``y.normal_()`` on a non-leaf y) joins the graph with a zero
gradient: it is written as ``where(True, sample, input)``, whose backward is zero for input.
"""
import numpy as np

from ..autograd.grad_mode import _mode
from ..autograd.inplace import write
from ..autograd.random import resolve
from ..autograd.tensor import Tensor
from .elementwise import where

_TRUE = np.ones((), dtype=np.bool_)


def _out(array):
    return Tensor._make(array, False, None, 0)


def _zero_grad_through(sample, *sources):
    """``sample`` (an ndarray) as a tensor; in the graph with gradient 0 when a source requires grad."""
    graph = [s for s in sources if isinstance(s, Tensor) and s._requires_grad]
    out = _out(sample)
    if graph and _mode.enabled:
        for source in graph:
            out = where(Tensor._make(_TRUE, False, None, 0), out, source)
    return out


def _number(value, where_, name):
    if isinstance(value, Tensor):
        if value._data.size != 1:
            raise RuntimeError(f"{where_}: {name} must be a number, got a tensor of shape {tuple(value._data.shape)}")
        return value._data.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{where_}: {name} must be a number, got {type(value).__name__}")
    return float(value) if isinstance(value, (float, np.floating)) else int(value)


def _float_tensor(t, where_):
    if t._data.dtype.kind != "f":
        raise RuntimeError(f"{where_}: not implemented for {t._data.dtype} tensors; it needs a floating-point "
                           "tensor")


# ---------------------------------------------------------------------------- multinomial
def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices per row of ``input`` (1-D, or 2-D with one distribution
    per row), drawn with probability proportional to the row's non-negative weights; without
    ``replacement`` each index appears at most once per row. Returns int64, (k,) or (rows, k).

    With replacement: inverse CDF, u ~ U[0, 1) mapped through the row's normalised cumulative sum.
    Without: sequential draws without replacement, done at once by sorting the keys
    log(p_i) - log(E_i) with E_i ~ Exp(1) (the exponential-race form of the same distribution,
    which is what torch computes too).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' must be Tensor, not {type(input).__name__}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise TypeError(f"multinomial(): argument 'num_samples' must be int, not {type(num_samples).__name__}")
    probs = input._data
    if probs.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {probs.ndim} dims")
    if probs.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: {probs.dtype}")
    if num_samples <= 0:
        raise RuntimeError("multinomial: cannot sample n_sample <= 0 samples")
    categories = probs.shape[-1]
    if not replacement and num_samples > categories:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    rows = probs.reshape(-1, categories).astype(np.float64)
    if rows.size and (not np.all(np.isfinite(rows)) or np.any(rows < 0)):
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    rng = resolve(generator).numpy
    if replacement:
        cdf = np.cumsum(rows, axis=1) / totals[:, None]            # (R, C), last column exactly 1
        u = rng.random((rows.shape[0], num_samples))                 # (R, k) in [0, 1)
        picks = np.stack([np.searchsorted(c, v, side="right") for c, v in zip(cdf, u)]) if rows.shape[0] else \
            np.zeros((0, num_samples), dtype=np.int64)
    else:
        with np.errstate(divide="ignore"):
            keys = np.log(rows) - np.log(rng.standard_exponential(rows.shape))   # (R, C); -inf where p = 0
        picks = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    picks = picks.astype(np.int64).reshape(probs.shape[:-1] + (num_samples,))
    return _out(picks)


# ---------------------------------------------------------------------------- bernoulli and normal
def bernoulli(input, p=None, *, generator=None):
    """1 with probability ``input`` (or with the number ``p``, in input's shape), else 0, in
    input's floating dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' must be Tensor, not {type(input).__name__}")
    _float_tensor(input, "bernoulli")
    probs = input._data if p is None else _probability(p, "bernoulli")
    if p is None and probs.size and not (np.all(probs >= 0) and np.all(probs <= 1)):
        raise RuntimeError("bernoulli: expected every probability to be in [0, 1]")
    draw = resolve(generator).numpy.random(input._data.shape) < probs
    return _zero_grad_through(draw.astype(input._data.dtype), input)


def _probability(p, where_):
    p = _number(p, where_, "p")
    if not 0 <= p <= 1:
        raise RuntimeError(f"{where_}: p must be in [0, 1], got {p}")
    return p


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Normal samples, as ``torch.normal``: ``normal(mean_tensor, std_tensor_or_number)`` or
    ``normal(mean_number, std_tensor)`` broadcast mean and std; ``normal(mean, std, size)`` with
    two numbers makes a tensor of that size (default float dtype unless ``dtype``)."""
    from ..autograd.creation import _float_dtype, _leaf, _shape
    from ..autograd.device import check_device
    check_device(device, "normal")
    rng = resolve(generator).numpy
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal(): with a number mean and std, size is required (normal(0.0, 1.0, size=(2, 3)))")
        mean, std = _number(mean, "normal", "mean"), _number(std, "normal", "std")
        _check_std(std)
        out_dtype = _float_dtype(dtype)
        sample = mean + std * rng.standard_normal(_shape((size,), None, "normal"))
        return _leaf(sample.astype(out_dtype), requires_grad)
    if size is not None:
        raise TypeError("normal(): size is only for number mean and std; a tensor mean or std gives the shape")
    arrays = []
    for value, name in ((mean, "mean"), (std, "std")):
        if isinstance(value, Tensor):
            _float_tensor(value, "normal")
            arrays.append(value._data)
        else:
            arrays.append(_number(value, "normal", name))
    m, s = arrays
    if np.any(np.asarray(s) < 0):
        raise RuntimeError(f"normal expects std >= 0.0, but found std {np.min(s):g}")
    try:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    except ValueError:
        raise RuntimeError(f"normal: the shapes of mean {tuple(np.shape(m))} and std {tuple(np.shape(s))} do not "
                           "broadcast") from None
    out_dtype = (mean if isinstance(mean, Tensor) else std)._data.dtype
    sample = (m + s * rng.standard_normal(shape)).astype(out_dtype)
    return _zero_grad_through(sample, mean, std)


def _check_std(std):
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")


# ---------------------------------------------------------------------------- in-place fills
def _fill_in_place(target, sample):
    """Write ``sample`` (target's shape and dtype) into target: ``write`` refuses a leaf that
    requires grad (outside no_grad), and keeps a non-leaf in the graph with gradient 0."""
    value = Tensor._make(sample, False, None, 0)
    return write(target, lambda s: where(Tensor._make(_TRUE, False, None, 0), value, s),
                 direct=lambda a: np.copyto(a, sample, casting="unsafe"))


def normal_(target, mean=0.0, std=1.0, *, generator=None):
    _float_tensor(target, "normal_")
    mean, std = _number(mean, "normal_", "mean"), _number(std, "normal_", "std")
    _check_std(std)
    data = target._data
    sample = (mean + std * resolve(generator).numpy.standard_normal(data.shape)).astype(data.dtype)
    return _fill_in_place(target, sample)


def uniform_(target, a=0.0, b=1.0, *, generator=None, **bounds):
    """Uniform on [a, b); torch's keyword names ``from``/``to`` are accepted too."""
    a, b = bounds.pop("from", a), bounds.pop("to", b)
    if bounds:
        raise TypeError(f"uniform_(): unexpected keyword arguments {sorted(bounds)}")
    _float_tensor(target, "uniform_")
    low, high = _number(a, "uniform_", "from"), _number(b, "uniform_", "to")
    if low > high:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={low} > to={high}")
    data = target._data
    sample = (low + (high - low) * resolve(generator).numpy.random(data.shape)).astype(data.dtype)
    return _fill_in_place(target, sample)


def random_(target, *bounds, generator=None):
    """Integers on [from, to): ``random_(to)``, ``random_(from, to)``, or with no bound on [0, the
    largest integer the dtype holds exactly] (2^mantissa for floats, the maximum for ints)."""
    if len(bounds) > 2:
        raise TypeError(f"random_(): expected at most 2 bounds (from, to), got {len(bounds)}")
    data = target._data
    numbers = [int(_number(b, "random_", "bound")) for b in bounds]
    low, high = ([0, _full_range(data.dtype)] if not numbers else [0, numbers[0]] if len(numbers) == 1 else numbers)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    sample = resolve(generator).numpy.integers(low, high, size=data.shape, dtype=np.int64).astype(data.dtype)
    return _fill_in_place(target, sample)


def _full_range(dtype):
    """One past the largest value ``random_()`` draws for ``dtype``."""
    if dtype == np.bool_:
        return 2
    if dtype.kind == "f":
        return 2 ** (np.finfo(dtype).nmant + 1) + 1
    return int(np.iinfo(dtype).max) + 1


def exponential_(target, lambd=1.0, *, generator=None):
    _float_tensor(target, "exponential_")
    lambd = _number(lambd, "exponential_", "lambd")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    data = target._data
    sample = (resolve(generator).numpy.standard_exponential(data.shape) / lambd).astype(data.dtype)
    return _fill_in_place(target, sample)


def bernoulli_(target, p=0.5, *, generator=None):
    """Each element becomes 1 with probability ``p`` (a number, or a tensor broadcast to target's shape)."""
    data = target._data
    if isinstance(p, Tensor):
        probs = np.broadcast_to(p._data, data.shape)
        if probs.size and not (np.all(probs >= 0) and np.all(probs <= 1)):
            raise RuntimeError("bernoulli_: expected every probability to be in [0, 1]")
    else:
        probs = _probability(p, "bernoulli_")
    sample = (resolve(generator).numpy.random(data.shape) < probs).astype(data.dtype)
    return _fill_in_place(target, sample)
