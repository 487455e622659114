"""einsum: a sum of products named by subscripts, as torch.einsum("bhqd,bhkd->bhqk", q, k).

The equation is made explicit first: each "..." becomes letters of its own (the ellipsis dims
of all operands right-aligned and broadcast together, as in PyTorch), and an equation without
"->" gets PyTorch's implicit output (the ellipsis dims, then the letters used exactly once, in
alphabetical order, upper case first). Dims with the same letter must be equal or 1 (1 broadcasts).

For z = einsum(s_1, ..., s_n -> o) and upstream gradient g (subscripts o), the gradient of an
operand is the same kind of sum with that operand left out:

    dL/dA_i = einsum(o, s_j for j != i  ->  s_i)

with three repairs that einsum itself cannot express: a letter of s_i found nowhere else was
summed away, so its gradient is copied back along it (broadcast); a letter repeated within s_i
(the diagonal of "ii->i") receives the gradient on that diagonal only, zeros elsewhere; and a
dim where A_i had size 1 against a larger size is summed back to 1 (unbroadcast).
"""
import string

import numpy as np

from ..autograd.function import Function

LETTERS = string.ascii_uppercase + string.ascii_lowercase     # PyTorch's order for the implicit output


def parse(equation, shapes):
    """The equation made explicit: (subscripts of each operand, output subscripts, letter sizes)."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a string, got {type(equation).__name__}")
    equation = equation.replace(" ", "")
    left, arrow, right = equation.partition("->")
    terms = left.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum(): the equation names {len(terms)} operand(s) but {len(shapes)} were given")
    for text in terms + ([right] if arrow else []):
        body = text.replace("...", "")
        if "." in body or any(c not in LETTERS for c in body):
            raise ValueError(f"einsum(): invalid subscript in {text!r}: subscripts must be letters in [a-zA-Z], "
                             "with at most one ellipsis '...' per term")
    spare = [c for c in LETTERS if c not in equation]
    ellipsis_dims = 0
    for k, (text, shape) in enumerate(zip(terms, shapes)):
        named = len(text.replace("...", ""))
        if "..." in text:
            if len(shape) < named:
                raise ValueError(f"einsum(): operand {k} has {len(shape)} dims, fewer than the {named} subscripts "
                                 f"of {text!r}")
            ellipsis_dims = max(ellipsis_dims, len(shape) - named)
        elif len(shape) != named:
            raise ValueError(f"einsum(): the number of subscripts in {text!r} ({named}) does not match the number "
                             f"of dimensions ({len(shape)}) of operand {k}, and no ellipsis was given")
    broadcast_letters = "".join(spare[:ellipsis_dims])
    inputs = []
    for text, shape in zip(terms, shapes):
        if "..." in text:
            count = len(shape) - len(text.replace("...", ""))
            text = text.replace("...", broadcast_letters[ellipsis_dims - count:])
        inputs.append(text)
    if arrow:
        output = right.replace("...", broadcast_letters)
        for c in output:
            if output.count(c) > 1:
                raise ValueError(f"einsum(): output subscript {c!r} appears more than once in {right!r}")
            if not any(c in t for t in inputs):
                raise ValueError(f"einsum(): output subscript {c!r} does not appear in any input")
    else:
        used = "".join(inputs)
        once = sorted((c for c in set(used) if used.count(c) == 1 and c not in broadcast_letters), key=LETTERS.index)
        output = broadcast_letters + "".join(once)
    sizes = {}
    for c in set("".join(inputs)):
        seen = {n for text, shape in zip(inputs, shapes) for d, n in zip(text, shape) if d == c}
        larger = seen - {1}
        if len(larger) > 1:
            raise ValueError(f"einsum(): subscript {c!r} is used for dims of sizes {sorted(seen)}, which do not "
                             "broadcast (sizes must be equal, or 1)")
        sizes[c] = larger.pop() if larger else 1
    return inputs, output, sizes


class Einsum(Function):
    """z = einsum(equation, *operands); see the module docstring for the gradients."""

    @staticmethod
    def forward(ctx, *arrays, equation):
        inputs, output, sizes = parse(equation, [a.shape for a in arrays])
        explicit = ",".join(inputs) + "->" + output
        dtype = np.result_type(*arrays)
        ctx.arrays, ctx.inputs, ctx.output, ctx.sizes = arrays, inputs, output, sizes
        return np.asarray(np.einsum(explicit, *arrays, optimize=len(arrays) > 2), dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        arrays, inputs, output, sizes = ctx.arrays, ctx.inputs, ctx.output, ctx.sizes
        # Every operand at the full sizes of its letters, so the sums below need no broadcasting.
        full = [np.broadcast_to(a, [sizes[c] for c in s]) for a, s in zip(arrays, inputs)]
        grads = []
        for i, (a, subscripts) in enumerate(zip(arrays, inputs)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [s for j, s in enumerate(inputs) if j != i]
            letters = "".join(dict.fromkeys(subscripts))                    # s_i without repeats
            elsewhere = set(output).union(*others)
            kept = "".join(c for c in letters if c in elsewhere)
            g = np.einsum(",".join([output] + others) + "->" + kept, grad,
                          *[f for j, f in enumerate(full) if j != i], optimize=len(arrays) > 1)
            # letters found only in this operand were summed away: copy the gradient back along them
            g = np.broadcast_to(g.reshape([sizes[c] if c in kept else 1 for c in letters]),
                                [sizes[c] for c in letters])
            if len(letters) < len(subscripts):
                # a repeated letter (a diagonal): the gradient sits on that diagonal, zeros elsewhere
                diagonal = np.zeros([sizes[c] for c in subscripts], dtype=grad.dtype)
                grid = np.ogrid[tuple(slice(0, sizes[c]) for c in letters)]
                diagonal[tuple(grid[letters.index(c)] for c in subscripts)] = g
                g = diagonal
            stretched = tuple(d for d, (n, c) in enumerate(zip(a.shape, subscripts)) if n == 1 and sizes[c] != 1)
            if stretched:
                g = g.sum(axis=stretched, keepdims=True)
            grads.append(np.asarray(g, dtype=grad.dtype))
        return tuple(grads)


def einsum(equation, *operands):
    """As torch.einsum(equation, *operands); the operands may also be given as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    return Einsum.apply(*operands, equation=equation)
