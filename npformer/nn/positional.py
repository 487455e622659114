"""Position schemes: added to the embeddings, rotated into queries and keys, or biased into scores.

    SinusoidalPositionalEmbedding   fixed table added to token embeddings (Vaswani et al. 2017)
    LearnedPositionalEmbedding      trained table added to token embeddings (GPT-2, BERT, BART)
    RotaryEmbedding                 rotates query/key feature pairs by position (RoPE, Su et al.)
    ALiBi                           linear distance penalty on attention scores (Press et al. 2022)
    T5RelativePositionBias          learned bias per bucket of key - query offset (Raffel et al.)

The first two return (..., dim) vectors for integer positions; RotaryEmbedding is given to
attention as ``rotary=``; ALiBi and T5RelativePositionBias return a bias for the scores
(attention's ``position_bias=``), broadcastable to (batch, heads, L, S).

Several tables follow Hugging Face's arithmetic step by step (which dtype each step is
rounded to), so that converted checkpoints give the same numbers; the docstrings say where.
"""
import math

import numpy as np

from ..autograd.dtypes import as_dtype, get_default_dtype
from ..autograd.tensor import Tensor
from ..ops.embedding import embedding
from ..ops.rotary import apply_rotary
from ..ops.shape import cat
from . import init
from .layers import Embedding
from .module import Module, Parameter
from .shapes import computed_array, new_array


def _integer_positions(positions, what):
    """``positions`` (ndarray, list, int or integer Tensor) as an int64 ndarray."""
    array = positions._data if isinstance(positions, Tensor) else np.asarray(positions)
    if array.dtype.kind not in "iu" and not (array.size == 0 and array.dtype.kind == "f"):
        raise TypeError(f"{what}: positions must be integers, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _check_range(positions, num_positions, what):
    if positions.size and (positions.min() < 0 or positions.max() >= num_positions):
        bad = int(positions.min() if positions.min() < 0 else positions.max())
        raise IndexError(f"{what}: position {bad} is out of range for num_positions={num_positions} "
                         f"(positions must lie in [0, {num_positions}))")


def _positive_int(value, name, what):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what}: {name} must be a positive int, got {value!r}")
    return int(value)


def _float_dtype(dtype):
    return get_default_dtype() if dtype is None else as_dtype(dtype)


# ---------------------------------------------------------------- added to the embeddings
def sinusoidal_table(num_positions, dim, base=10000.0, layout="interleaved"):
    """The float64 table of the original Transformer (Vaswani et al. 2017, section 3.5).

    With angle(pos, i) = pos / base^(2i / dim) for frequency i = 0, 1, ...:

        interleaved:  PE[pos, 2i] = sin(angle(pos, i)),  PE[pos, 2i + 1] = cos(angle(pos, i))
        half:         PE[pos, :ceil(dim/2)] = the sines, PE[pos, ceil(dim/2):] = the cosines

    "half" is Hugging Face Marian's layout. For odd dim both keep the interleaved table's
    features: ceil(dim/2) sines and floor(dim/2) cosines.
    """
    if layout not in ("interleaved", "half"):
        raise ValueError(f"layout must be 'interleaved' or 'half', got {layout!r}")
    feature = np.arange(dim)
    # pos / base^(2 (j // 2) / dim), written as Marian writes it, so the float64 values agree
    angle = np.arange(num_positions, dtype=np.float64)[:, None] / np.power(float(base), 2 * (feature // 2) / dim)
    if layout == "half":
        return np.concatenate([np.sin(angle[:, 0::2]), np.cos(angle[:, 1::2])], axis=1)
    return np.where(feature % 2 == 0, np.sin(angle), np.cos(angle))


class SinusoidalPositionalEmbedding(Module):
    """Fixed vectors PE[pos] (see ``sinusoidal_table``), added to token embeddings.

    The table is computed in float64 and rounded once to ``dtype``; with ``table_dtype=float32``
    it is first rounded through float32, which is how Hugging Face's Marian builds it even in a
    float64 model. It is a non-persistent buffer, so not in the state dict.
    ``forward(positions)`` returns positions.shape + (dim,), without gradient.
    """

    def __init__(self, num_positions, dim, base=10000.0, layout="interleaved", dtype=None, table_dtype=np.float64):
        super().__init__()
        what = type(self).__name__
        self.num_positions = _positive_int(num_positions, "num_positions", what)
        self.dim = _positive_int(dim, "dim", what)
        self.base, self.layout = float(base), layout
        dtype = _float_dtype(dtype)
        table = computed_array((self.num_positions, self.dim), dtype, lambda: sinusoidal_table(
            self.num_positions, self.dim, self.base, layout).astype(table_dtype).astype(dtype))
        self.register_buffer("table", Tensor._make(table, False, None, 0), persistent=False)   # not copied

    def forward(self, positions):
        positions = _integer_positions(positions, type(self).__name__)
        _check_range(positions, self.num_positions, type(self).__name__)
        return embedding(positions, self.table)              # the buffer wants no grad: neither does this

    def extra_repr(self):
        return f"{self.num_positions}, {self.dim}, base={self.base}, layout={self.layout!r}"


class LearnedPositionalEmbedding(Module):
    """A trained table: y = W[pos + offset], W of shape (num_positions + offset, dim) ~ N(0, 1).

    ``offset`` rows sit before position 0: BART stores 2 of them (offset=2), a leftover of
    fairseq's padding scheme, so its checkpoints load unchanged. N(0, 1) is nn.Embedding's
    init, which is what Hugging Face's BartLearnedPositionalEmbedding inherits (its models
    re-initialise weights with their own std when built from a config).
    """

    def __init__(self, num_positions, dim, offset=0, dtype=None, generator=None):
        super().__init__()
        what = type(self).__name__
        self.num_positions = _positive_int(num_positions, "num_positions", what)
        self.dim = _positive_int(dim, "dim", what)
        if not isinstance(offset, (int, np.integer)) or offset < 0:
            raise ValueError(f"{what}: offset must be an int >= 0, got {offset!r}")
        self.offset = int(offset)
        self.weight = Parameter(new_array((self.num_positions + self.offset, self.dim), _float_dtype(dtype)))
        init.normal_(self.weight, generator=generator)

    def forward(self, positions):
        positions = _integer_positions(positions, type(self).__name__)
        _check_range(positions, self.num_positions, type(self).__name__)
        return embedding(positions + self.offset, self.weight)

    def extra_repr(self):
        return f"{self.num_positions}, {self.dim}" + (f", offset={self.offset}" if self.offset else "")


# ---------------------------------------------------------------- rotated into queries and keys
def _rounded(function, array):
    """``function`` evaluated in float64 and rounded once to array's dtype. For float32 that is
    the correctly rounded value but for vanishingly rare double-rounding ties; NumPy's own
    float32 kernels are less accurate (up to 2 ulp from torch's, against 1 for this)."""
    return function(array.astype(np.float64)).astype(array.dtype)


class RotaryEmbedding(Module):
    """RoPE (Su et al. 2021): feature pair i of a query or key at position p turns by p * theta_i,

        theta_i = base^(-2i / rotary_dim),  i = 0 .. rotary_dim/2 - 1,

    so q_m . k_n depends on the positions only through m - n. The first ``rotary_dim``
    features (all by default) rotate, the rest pass through (partial rotary, as GPT-J and
    GPT-NeoX). ``interleaved`` pairs features (2i, 2i+1) (GPT-J, the paper) instead of
    (i, i + rotary_dim/2) (GPT-NeoX, Llama).

    The tables are computed in ``table_dtype``, each step rounded to it, in the order Hugging
    Face's LlamaRotaryEmbedding uses:

        inv_freq = 1 / base ** (arange(0, rotary_dim, 2) / rotary_dim)
        angle = position * inv_freq;   cos = cos(angle), sin = sin(angle)

    and only then cast to the input's dtype. HF computes these in float32 even for a float64
    model, so ``table_dtype=np.float32`` reproduces its tables; the default float64 gives the
    exact tables. The pow, cos and sin are correctly rounded here; torch's float32 SIMD kernels
    are not always: about 5% of its cos/sin values differ from ours by 1 ulp, and for some
    (base, rotary_dim) its pow rounds one inv_freq entry differently, which moves that
    frequency's angles by position times the difference. Assign HF's ``inv_freq`` to this
    module's to remove the latter.
    """

    def __init__(self, head_dim, base=10000.0, interleaved=False, rotary_dim=None, table_dtype=np.float64):
        super().__init__()
        what = type(self).__name__
        self.head_dim = _positive_int(head_dim, "head_dim", what)
        self.rotary_dim = self.head_dim if rotary_dim is None else _positive_int(rotary_dim, "rotary_dim", what)
        if self.rotary_dim % 2 or self.rotary_dim > self.head_dim:
            raise ValueError(f"{what}: rotary_dim must be even and at most head_dim={self.head_dim}, "
                             f"got {self.rotary_dim}")
        self.base, self.interleaved = float(base), bool(interleaved)
        self.table_dtype = as_dtype(table_dtype)
        if self.table_dtype.kind != "f":
            raise TypeError(f"{what}: table_dtype must be a floating dtype, got {self.table_dtype}")
        # A plain array, not a buffer: Module.to(dtype) must not change the precision the
        # tables are computed in (they are cast to the input's dtype at use).
        self.inv_freq = computed_array((self.rotary_dim // 2,), self.table_dtype, self._inverse_frequencies)
        self._cache = None

    def _inverse_frequencies(self):
        t = self.table_dtype.type
        exponent = np.arange(0, self.rotary_dim, 2, dtype=t) / t(self.rotary_dim)      # (rotary_dim/2,)
        power = _rounded(lambda e: np.power(np.float64(t(self.base)), e), exponent)
        return t(1) / power

    def cos_sin(self, positions, dtype):
        """(cos, sin), each positions.shape + (rotary_dim,), full width for the convention."""
        positions = _integer_positions(positions, type(self).__name__)
        # One cached entry serves q and k of a layer, and every layer of a forward pass. It is
        # keyed by the inv_freq array too, so assigning a new one (e.g. a reference
        # implementation's) takes effect.
        key = (positions.shape, positions.tobytes(), np.dtype(dtype))
        if self._cache is not None and self._cache[0] == key and self._cache[1] is self.inv_freq:
            return self._cache[2]
        angle = positions[..., None].astype(self.table_dtype) * self.inv_freq          # (..., rotary_dim/2)
        cos, sin = _rounded(np.cos, angle), _rounded(np.sin, angle)
        if self.interleaved:                                        # (c0, c0, c1, c1, ...)
            cos, sin = np.repeat(cos, 2, axis=-1), np.repeat(sin, 2, axis=-1)
        else:                                                       # (c0, c1, ..., c0, c1, ...)
            cos, sin = np.concatenate([cos, cos], axis=-1), np.concatenate([sin, sin], axis=-1)
        tables = (cos.astype(dtype), sin.astype(dtype))
        for table in tables:
            table.flags.writeable = False                           # shared through the cache
        self._cache = (key, self.inv_freq, tables)
        return tables

    def forward(self, x, positions=None, offset=0):
        """Rotate x (..., T, head_dim), e.g. (B, H, T, head_dim), by positions (T,) or (B, T)
        (default: offset .. offset + T - 1). Differentiable with respect to x."""
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim < 2 or x.shape[-1] != self.head_dim:
            raise ValueError(f"{type(self).__name__}: input must be (..., T, head_dim={self.head_dim}), "
                             f"got shape {x.shape}")
        length = x.shape[-2]
        positions = np.arange(offset, offset + length) if positions is None else \
            _integer_positions(positions, type(self).__name__)
        if positions.ndim not in (1, 2) or positions.shape[-1] != length:
            raise ValueError(f"{type(self).__name__}: positions must be (T,) or (B, T) with T={length}, "
                             f"got shape {positions.shape}")
        cos, sin = self.cos_sin(positions, x.dtype)                 # (T, r) or (B, T, r)
        if positions.ndim == 2:
            if x.ndim not in (3, 4) or x.shape[0] != positions.shape[0]:
                raise ValueError(f"{type(self).__name__}: (B, T) positions need x of shape (B, T, D) or "
                                 f"(B, H, T, D) with B={positions.shape[0]}, got {x.shape}")
            if x.ndim == 4:                                         # (B, 1, T, r): the same for every head
                cos, sin = cos[:, None], sin[:, None]
        if self.rotary_dim == self.head_dim:
            return apply_rotary(x, cos, sin, self.interleaved)
        rotated = apply_rotary(x[..., :self.rotary_dim], cos, sin, self.interleaved)
        return cat([rotated, x[..., self.rotary_dim:]], -1)         # the other features pass through

    def extra_repr(self):
        partial = "" if self.rotary_dim == self.head_dim else f", rotary_dim={self.rotary_dim}"
        return (f"head_dim={self.head_dim}{partial}, base={self.base}, interleaved={self.interleaved}, "
                f"table_dtype={self.table_dtype}")


# ---------------------------------------------------------------- biased into the scores
def alibi_slopes(n_heads):
    """ALiBi's per-head slopes (Press et al. 2022), float64.

    For n a power of two: the geometric sequence r^1 .. r^n with r = 2^(-8/n). Otherwise, with
    m = 2^floor(log2 n): the m slopes of m heads, then every other slope ([0::2], i.e. the odd
    powers) of 2m heads, the first n - m of them. Each is 2^(-8 k / m'), a power of two with a
    dyadic exponent, so computing it directly loses nothing to repeated multiplication.
    """
    n_heads = _positive_int(n_heads, "n_heads", "alibi_slopes")
    m = 1 << (n_heads.bit_length() - 1)                             # the power of two <= n_heads
    slopes = 2.0 ** (-8.0 * np.arange(1, m + 1) / m)
    if m == n_heads:
        return slopes
    extra = 2.0 ** (-8.0 * np.arange(1, 2 * (n_heads - m), 2) / (2 * m))  # odd powers of 2m heads' ratio
    return np.concatenate([slopes, extra])


class ALiBi(Module):
    """Attention with Linear Biases: bias[h, i, j] = -slope_h * |(i + offset) - j|.

    Queries sit at absolute positions offset .. offset + L - 1 (offset = the cached length
    when decoding), keys at 0 .. S - 1. Under a causal mask only j <= i + offset is seen,
    where the bias is the paper's -slope (i - j). BLOOM adds slope * j instead: that differs
    from ours by slope * (i + offset), the same for every key of row i, and softmax ignores a
    constant added to a whole row, so the attention weights are the same. Without a causal
    mask, |i - j| penalises both directions symmetrically.
    """

    def __init__(self, n_heads):
        super().__init__()
        self.n_heads = _positive_int(n_heads, "n_heads", type(self).__name__)
        self.slopes = computed_array((self.n_heads,), np.float64, lambda: alibi_slopes(self.n_heads))  # (H,), fixed

    def forward(self, query_length, key_length, offset=0, dtype=np.float32):
        """The bias (n_heads, L, S), without gradient, in ``dtype``."""
        query = np.arange(query_length)[:, None] + offset                             # (L, 1)
        distance = np.abs(query - np.arange(key_length)[None, :])                    # (L, S)
        bias = -self.slopes[:, None, None] * distance                                # (H, L, S)
        return Tensor(bias, dtype=dtype)

    def extra_repr(self):
        return f"n_heads={self.n_heads}"


def relative_position_bucket(relative_position, bidirectional=True, num_buckets=32, max_distance=128):
    """T5's bucket of each relative position (key - query), as Hugging Face's
    ``T5Attention._relative_position_bucket``, value for value.

    With bidirectional, half the buckets are for keys after the query (relative > 0) and half
    for the rest; otherwise later keys all fall in bucket 0. Of the n buckets of a direction,
    distances d < n/2 get one bucket each; larger ones share logarithmically wider buckets,

        bucket = n/2 + floor(log(d / (n/2)) / log(max_distance / (n/2)) * (n - n/2)),

    capped at n - 1, so every distance >= max_distance shares the last one. The logarithm
    term is computed in float32, rounding each step as HF does, because a bucket edge can
    fall exactly on an integer distance.
    """
    relative_position = _integer_positions(relative_position, "relative_position_bucket")
    _check_buckets(bidirectional, num_buckets, max_distance)
    if bidirectional:
        num_buckets //= 2
        direction = (relative_position > 0) * num_buckets              # later keys: the upper half
        distance = np.abs(relative_position)
    else:
        direction = 0
        distance = -np.minimum(relative_position, 0)                 # later keys: distance 0
    max_exact = num_buckets // 2
    bucket = distance.copy()                                         # d < max_exact: its own bucket
    far = distance >= max_exact
    ratio = distance[far].astype(np.float32) / np.float32(max_exact)   # >= 1: log(0) never happens
    log_bucket = (_rounded(np.log, ratio)
                  / np.float32(math.log(max_distance / max_exact))
                  * np.float32(num_buckets - max_exact))              # float32, as HF
    bucket[far] = np.minimum(max_exact + log_bucket.astype(np.int64), num_buckets - 1)
    return direction + bucket


def _check_buckets(bidirectional, num_buckets, max_distance):
    """Each direction needs at least one exact bucket and max_distance beyond the exact ones
    (otherwise HF's formula divides by zero)."""
    max_exact = (num_buckets // 2 if bidirectional else num_buckets) // 2
    if max_exact < 1 or max_distance <= max_exact:
        raise ValueError(f"relative position buckets: need num_buckets >= {4 if bidirectional else 2} and "
                         f"max_distance > num_buckets{' / 2' if bidirectional else ''} / 2 = {max_exact}, "
                         f"got num_buckets={num_buckets}, max_distance={max_distance}")


class T5RelativePositionBias(Module):
    """T5's learned bias per head, a function of the bucket of (key position - query position):

        bias[0, h, i, j] = W[bucket(j - (i + offset)), h],   W (num_buckets, n_heads)

    W is ``relative_attention_bias.weight``, the name in Hugging Face T5 checkpoints. T5 uses
    bidirectional buckets in the encoder and causal ones (bidirectional=False) in the decoder.
    """

    def __init__(self, n_heads, num_buckets=32, max_distance=128, bidirectional=True, dtype=None, generator=None):
        super().__init__()
        what = type(self).__name__
        self.n_heads = _positive_int(n_heads, "n_heads", what)
        self.num_buckets = _positive_int(num_buckets, "num_buckets", what)
        self.max_distance = _positive_int(max_distance, "max_distance", what)
        self.bidirectional = bool(bidirectional)
        _check_buckets(self.bidirectional, self.num_buckets, self.max_distance)
        self.relative_attention_bias = Embedding(self.num_buckets, self.n_heads, dtype=dtype, generator=generator)

    def forward(self, query_length, key_length, offset=0):
        """The bias (1, n_heads, L, S), differentiable with respect to the embedding weight."""
        query = np.arange(query_length)[:, None] + offset                             # (L, 1)
        relative = np.arange(key_length)[None, :] - query                            # (L, S): key - query
        buckets = relative_position_bucket(relative, self.bidirectional, self.num_buckets, self.max_distance)
        values = embedding(buckets, self.relative_attention_bias.weight)             # (L, S, H)
        return values.permute(2, 0, 1).unsqueeze(0)                                  # (1, H, L, S)

    def extra_repr(self):
        return (f"n_heads={self.n_heads}, num_buckets={self.num_buckets}, max_distance={self.max_distance}, "
                f"bidirectional={self.bidirectional}")
