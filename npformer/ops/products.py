"""PyTorch's fixed-rank products, thin over matmul: mm (2-D @ 2-D), bmm (3-D @ 3-D, equal
batches), dot (1-D . 1-D), outer (1-D x 1-D), and the fused-add forms addmm and baddbmm
(beta * input + alpha * product). Unlike matmul they do not broadcast or promote ranks; each
checks its operands first and says what it expected. Gradients are those of matmul, mul and add.
"""
import numpy as np

from .arithmetic import add, mul
from .elementwise import where
from .matmul import matmul
from .shape import reshape


def _rank(x, rank, op, name):
    if x.ndim != rank:
        what = {1: "a 1-D tensor (a vector)", 2: "a 2-D tensor (a matrix)", 3: "a 3-D tensor (a batch of matrices)"}
        raise ValueError(f"{op}: expected {name} to be {what[rank]}, got shape {tuple(x.shape)}")


def mm(input, mat2):
    _rank(input, 2, "mm", "input")
    _rank(mat2, 2, "mm", "mat2")
    if input.shape[1] != mat2.shape[0]:
        raise ValueError(f"mm: mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x{input.shape[1]} and "
                         f"{mat2.shape[0]}x{mat2.shape[1]})")
    return matmul(input, mat2)


def bmm(input, mat2):
    _rank(input, 3, "bmm", "input")
    _rank(mat2, 3, "bmm", "mat2")
    if mat2.shape[:2] != (input.shape[0], input.shape[2]):
        raise ValueError(f"bmm: expected size for first two dimensions of mat2 to be "
                         f"{[input.shape[0], input.shape[2]]} but got {list(mat2.shape[:2])}")
    return matmul(input, mat2)


def dot(input, tensor):
    _rank(input, 1, "dot", "input")
    _rank(tensor, 1, "dot", "tensor")
    if input.shape != tensor.shape:
        raise ValueError(f"dot: expected both vectors to have the same number of elements, got {input.shape[0]} "
                         f"and {tensor.shape[0]}")
    return matmul(input, tensor)


def outer(input, vec2):
    """z[i, j] = input[i] vec2[j]"""
    _rank(input, 1, "outer", "input")
    _rank(vec2, 1, "outer", "vec2")
    return mul(reshape(input, (-1, 1)), reshape(vec2, (1, -1)))


ger = outer


def _fused(input, product, beta, alpha, op):
    """beta * input + alpha * product. With beta = 0, input is ignored (NaN in it included) and
    gets a zero gradient, as in PyTorch."""
    try:
        fits = np.broadcast_shapes(input.shape, product.shape) == product.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} does not broadcast to the product's shape "
                         f"{tuple(product.shape)}")
    scaled = product if alpha == 1 else mul(product, alpha)
    if beta == 0:
        return add(scaled, where(np.zeros((), dtype=bool), input, 0.0))
    return add(input if beta == 1 else mul(input, beta), scaled)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2); input broadcasts to the product's shape."""
    return _fused(input, mm(mat1, mat2), beta, alpha, "addmm")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2) for 3-D batches; input broadcasts."""
    return _fused(input, bmm(batch1, batch2), beta, alpha, "baddbmm")
