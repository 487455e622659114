"""Normalising ``dim`` arguments the way PyTorch does: negatives count from the end."""


def normalize_dim(dim, ndim, name="dim"):
    """One dim in range [-ndim, ndim) -> [0, ndim); a 0-d tensor accepts 0 and -1."""
    bound = max(ndim, 1)
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{name} must be an int, got {type(dim).__name__}")
    if not -bound <= dim < bound:
        raise IndexError(f"{name} {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % bound


def normalize_dims(dim, ndim):
    """None (every dim), an int or a sequence of ints -> a sorted tuple of distinct dims.

    An empty sequence also means every dim, as in PyTorch's reductions (NumPy's axis=()
    would mean none).
    """
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, int) and not isinstance(dim, bool):
        dims = (dim,)
    else:
        dims = tuple(dim)
    normalized = tuple(sorted(normalize_dim(d, ndim) for d in dims))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"dim {dim} names the same dimension twice")
    if ndim == 0:
        return ()
    return normalized


def keepdim_shape(shape, dims):
    """The shape of a reduction over ``dims`` with keepdim=True."""
    return tuple(1 if i in dims else n for i, n in enumerate(shape))
