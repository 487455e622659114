"""parameters_to_vector and vector_to_parameters, as torch.nn.utils.

``parameters_to_vector`` concatenates the flattened parameters into one 1-D Tensor, in the
autograd graph (its gradient flows back to the parameters, as torch's ``cat`` of views does).
``vector_to_parameters`` makes each parameter a view of its slice of ``vec``, outside the graph
(torch assigns ``param.data``): afterwards the parameters share ``vec``'s memory.
"""
from ...autograd.tensor import Tensor
from ...ops.shape import cat, reshape

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check(param, index, what):
    if not isinstance(param, Tensor):
        raise TypeError(f"{what}: expected Tensors in parameters, but item {index} is a {type(param).__name__}")
    return param


def parameters_to_vector(parameters):
    """One 1-D Tensor holding every parameter's entries, in order (row-major within each)."""
    pieces = [reshape(_check(p, i, "parameters_to_vector"), (-1,)) for i, p in enumerate(parameters)]
    if not pieces:
        raise ValueError("parameters_to_vector: parameters is empty; expected at least one Tensor")
    return cat(pieces)


def vector_to_parameters(vec, parameters):
    """Set the parameters, in order, to consecutive slices of the 1-D Tensor ``vec`` (each
    reshaped to its parameter's shape). Returns None."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__} (vector_to_parameters: vec)")
    parameters = [_check(p, i, "vector_to_parameters") for i, p in enumerate(parameters)]
    flat = vec._data
    if flat.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec._data.shape}")
    needed = sum(p._data.size for p in parameters)
    if needed > flat.size:
        raise ValueError(f"vector_to_parameters: vec has {flat.size} entries, the parameters need {needed}")
    pointer = 0
    for param in parameters:
        n = param._data.size
        param._data = flat[pointer:pointer + n].reshape(param._data.shape)     # a view of vec
        pointer += n
