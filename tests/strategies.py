"""Hypothesis strategies shared by the op tests: small shapes, broadcastable pairs, dims."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOAT_DTYPES = st.sampled_from([np.float32, np.float64])


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcast_pairs(max_dims=3, max_side=3):
    """Two shapes that broadcast together."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=max_dims, max_side=max_side).map(
        lambda shapes: shapes.input_shapes)


@st.composite
def values(draw, shape, low=-2.0, high=2.0, away_from=None, distinct=False):
    """A float64 array with elements in [low, high]; at least 0.1 from each point in
    ``away_from``; pairwise at least 0.05 apart when ``distinct`` (no ties)."""
    n = int(np.prod(shape))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    if distinct:
        array = low + (high - low) * (rng.permutation(n) + 0.5) / max(n, 1)
    else:
        array = rng.uniform(low, high, n)
    for point in away_from or ():
        close = np.abs(array - point) < 0.1
        array = np.where(close, point + np.where(array >= point, 0.15, -0.15), array)
    return array.reshape(shape)


@st.composite
def dims_for(draw, ndim):
    """None, an int, or a tuple of distinct ints (negative or not) valid for ``ndim``."""
    if ndim == 0:
        return draw(st.sampled_from([None, 0, -1, ()]))
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(d - ndim if draw(st.booleans()) else d for d in chosen)


def numpy_axes(dim, ndim):
    """The NumPy ``axis`` for a PyTorch ``dim``: () and every dim of a 0-d tensor mean all."""
    if dim is None or dim == () or ndim == 0:
        return None
    if isinstance(dim, int):
        return dim
    return tuple(dim)


@st.composite
def matmul_shapes(draw):
    """Shapes (a, b) that np.matmul accepts: 1-D or batched, with broadcasting batch dims."""
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)).input_shapes
    a = (k,) if draw(st.booleans()) and not batch_a else batch_a + (m, k)
    b = (k,) if draw(st.booleans()) and not batch_b else batch_b + (k, n)
    return a, b
