"""Every primitive against PyTorch autograd in float64: the forward value and the gradient of
every input, for a random upstream gradient, on Hypothesis-drawn shapes.

The tolerance is 1e-12 relative (see ``relative_error``): both libraries compute the same
formulas in float64, so they differ only by rounding, ~1e-16 per operation, and by summation
order in reductions and matmul. The worst error seen is printed at the end of the run.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import npformer as nf
from tests.conftest import record_torch_error
from tests.helpers import relative_error
from tests.strategies import broadcast_pairs, dims_for, matmul_shapes, shapes, values

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

TOLERANCE = 1e-12


class Spec:
    """One comparison: ``draw(data)`` -> (float64 arrays, constants); then the same
    computation written against each library."""

    def __init__(self, name, draw, ours, theirs):
        self.name, self.draw, self.ours, self.theirs = name, draw, ours, theirs


def _one(shape_strategy=shapes(), **kwargs):
    def draw(data):
        return [data.draw(values(data.draw(shape_strategy), **kwargs))], {}
    return draw


def _pair(**kwargs_b):
    def draw(data):
        shape_a, shape_b = data.draw(broadcast_pairs())
        return [data.draw(values(shape_a)), data.draw(values(shape_b, **kwargs_b))], {}
    return draw


def _pow_draw(data):
    shape_a, shape_b = data.draw(broadcast_pairs())
    return [data.draw(values(shape_a, 0.3, 2.0)), data.draw(values(shape_b, -2.0, 2.0))], {}


def _matmul_draw(data):
    shape_a, shape_b = data.draw(matmul_shapes())
    return [data.draw(values(shape_a)), data.draw(values(shape_b))], {}


def _distinct_pair_draw(data):
    shape_a, shape_b = data.draw(broadcast_pairs())
    size_a, size_b = int(np.prod(shape_a)), int(np.prod(shape_b))
    joint = data.draw(values((size_a + size_b,), distinct=True))
    return [joint[:size_a].reshape(shape_a), joint[size_a:].reshape(shape_b)], {}


def _where_draw(data):
    shape_a, shape_b = data.draw(broadcast_pairs())
    condition = np.asarray(data.draw(values(np.broadcast_shapes(shape_a, shape_b))) > 0)
    return [data.draw(values(shape_a)), data.draw(values(shape_b))], {"condition": condition}


def _clamp_draw(data):
    low, high = data.draw(st.sampled_from([(-0.5, 0.5), (None, 0.3), (-0.2, None)]))
    array = data.draw(values(data.draw(shapes()), away_from=[b for b in (low, high) if b is not None]))
    return [array], {"low": low, "high": high}


def _reduce_draw(distinct=False, min_dims=0):
    def draw(data):
        shape = data.draw(shapes(min_dims=min_dims))
        dim = data.draw(dims_for(len(shape)))
        return [data.draw(values(shape, distinct=distinct))], {"dim": dim, "keepdim": data.draw(st.booleans())}
    return draw


def _var_draw(data):
    shape = data.draw(shapes(min_dims=1))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    correction = data.draw(st.sampled_from([0, 1])) if shape[dim] > 1 else 0
    return [data.draw(values(shape))], {"dim": dim, "keepdim": data.draw(st.booleans()), "correction": correction}


def _dim_draw(distinct=False):
    def draw(data):
        shape = data.draw(shapes(min_dims=1))
        return [data.draw(values(shape, distinct=distinct))], {
            "dim": data.draw(st.integers(-len(shape), len(shape) - 1)), "keepdim": data.draw(st.booleans())}
    return draw


def _reshape_draw(data):
    shape = data.draw(shapes(max_dims=4))
    target = tuple(data.draw(st.permutations(list(shape))))
    if target and data.draw(st.booleans()):
        target = target[:-1] + (-1,)
    return [data.draw(values(shape))], {"shape": target}


def _permute_draw(data):
    shape = data.draw(shapes(min_dims=1, max_dims=4))
    return [data.draw(values(shape))], {"dims": tuple(data.draw(st.permutations(range(len(shape)))))}


def _transpose_draw(data):
    shape = data.draw(shapes(min_dims=1, max_dims=4))
    pick = st.integers(-len(shape), len(shape) - 1)
    return [data.draw(values(shape))], {"dim0": data.draw(pick), "dim1": data.draw(pick)}


def _expand_draw(data):
    shape = data.draw(shapes(max_dims=3))
    target = tuple(data.draw(st.integers(1, 3)) for _ in range(data.draw(st.integers(0, 2))))
    target += tuple(data.draw(st.sampled_from([n, -1] if n != 1 else [1, -1, 3])) for n in shape)
    return [data.draw(values(shape))], {"shape": target}


def _squeeze_draw(data):
    shape = data.draw(shapes(max_dims=4, min_side=1, max_side=2))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1))) if shape else None
    return [data.draw(values(shape))], {"dim": dim}


def _unsqueeze_draw(data):
    shape = data.draw(shapes(max_dims=3))
    return [data.draw(values(shape))], {"dim": data.draw(st.integers(-len(shape) - 1, len(shape)))}


def _cat_draw(data):
    base = data.draw(shapes(min_dims=1))
    dim = data.draw(st.integers(-len(base), len(base) - 1))
    arrays = []
    for _ in range(data.draw(st.integers(1, 3))):
        shape = list(base)
        shape[dim] = data.draw(st.integers(0, 3))
        arrays.append(data.draw(values(tuple(shape))))
    return arrays, {"dim": dim}


def _stack_draw(data):
    shape = data.draw(shapes())
    arrays = [data.draw(values(shape)) for _ in range(data.draw(st.integers(1, 3)))]
    return arrays, {"dim": data.draw(st.integers(-len(shape) - 1, len(shape)))}


def _split_draw(data):
    shape = data.draw(shapes(min_dims=1, max_side=5))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    return [data.draw(values(shape))], {"size": data.draw(st.integers(1, shape[dim] + 1)), "dim": dim}


def _chunk_draw(data):
    shape = data.draw(shapes(min_dims=1, max_side=5))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    return [data.draw(values(shape))], {"chunks": data.draw(st.integers(1, shape[dim] + 1)), "dim": dim}


def _basic_index_draw(data):
    shape = data.draw(shapes(min_dims=1, max_side=4))
    # torch has no negative-step slices; everything else of basic indexing is shared.
    index = data.draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True).filter(
        lambda ix: all(not isinstance(i, slice) or (i.step or 1) > 0
                       for i in (ix if isinstance(ix, tuple) else (ix,)))))
    return [data.draw(values(shape))], {"index": index}


def _array_index_draw(data):
    shape = data.draw(shapes(min_dims=1, max_side=4))
    index = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2, max_side=5)))
    return [data.draw(values(shape))], {"index": index}


def _mask_index_draw(data):
    shape = data.draw(shapes(min_dims=1, max_side=4))
    return [data.draw(values(shape))], {"index": data.draw(hnp.arrays(np.bool_, shape))}


def _masked_fill_draw(data):
    shape = data.draw(shapes(min_dims=1))
    mask_shape = tuple(data.draw(st.sampled_from([n, 1])) for n in shape)[data.draw(st.integers(0, len(shape))):]
    return [data.draw(values(shape))], {"mask": data.draw(hnp.arrays(np.bool_, mask_shape)),
                                        "value": data.draw(st.sampled_from([0.0, -1e9, 2.5]))}


def _gather_draw(data):
    shape = data.draw(shapes(min_dims=1, max_side=4))
    ndim = len(shape)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    index_shape = tuple(data.draw(st.integers(1, 4)) if d == dim % ndim else data.draw(st.integers(1, n))
                        for d, n in enumerate(shape))
    index = data.draw(hnp.arrays(np.int64, index_shape, elements=st.integers(0, shape[dim] - 1)))
    return [data.draw(values(shape))], {"dim": dim, "index": index}


def _torch_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return tuple(torch.from_numpy(i) if isinstance(i, np.ndarray) else i for i in items)


SPECS = [
    Spec("add", _pair(), lambda x, k: x[0] + x[1], lambda x, k: x[0] + x[1]),
    Spec("sub", _pair(), lambda x, k: x[0] - x[1], lambda x, k: x[0] - x[1]),
    Spec("mul", _pair(), lambda x, k: x[0] * x[1], lambda x, k: x[0] * x[1]),
    Spec("div", _pair(away_from=[0.0]), lambda x, k: x[0] / x[1], lambda x, k: x[0] / x[1]),
    Spec("neg", _one(), lambda x, k: -x[0], lambda x, k: -x[0]),
    Spec("pow", _pow_draw, lambda x, k: x[0] ** x[1], lambda x, k: x[0] ** x[1]),
    Spec("pow_scalar", _one(away_from=[0.0]), lambda x, k: x[0] ** 3 + 2.0 ** x[0],
         lambda x, k: x[0] ** 3 + 2.0 ** x[0]),
    Spec("matmul", _matmul_draw, lambda x, k: x[0] @ x[1], lambda x, k: x[0] @ x[1]),
    Spec("exp", _one(), lambda x, k: x[0].exp(), lambda x, k: x[0].exp()),
    Spec("log", _one(low=0.1, high=3.0), lambda x, k: x[0].log(), lambda x, k: x[0].log()),
    Spec("sqrt", _one(low=0.1, high=3.0), lambda x, k: x[0].sqrt(), lambda x, k: x[0].sqrt()),
    Spec("erf", _one(low=-4.0, high=4.0), lambda x, k: x[0].erf(), lambda x, k: x[0].erf()),
    Spec("tanh", _one(low=-3.0, high=3.0), lambda x, k: x[0].tanh(), lambda x, k: x[0].tanh()),
    Spec("sigmoid", _one(low=-6.0, high=6.0), lambda x, k: x[0].sigmoid(), lambda x, k: x[0].sigmoid()),
    Spec("relu", _one(away_from=[0.0]), lambda x, k: x[0].relu(), lambda x, k: x[0].relu()),
    Spec("abs", _one(away_from=[0.0]), lambda x, k: x[0].abs(), lambda x, k: x[0].abs()),
    Spec("maximum", _distinct_pair_draw, lambda x, k: nf.maximum(x[0], x[1]), lambda x, k: torch.maximum(x[0], x[1])),
    Spec("minimum", _distinct_pair_draw, lambda x, k: nf.minimum(x[0], x[1]), lambda x, k: torch.minimum(x[0], x[1])),
    Spec("where", _where_draw, lambda x, k: nf.where(nf.tensor(k["condition"]), x[0], x[1]),
         lambda x, k: torch.where(torch.from_numpy(k["condition"]), x[0], x[1])),
    Spec("clamp", _clamp_draw, lambda x, k: x[0].clamp(k["low"], k["high"]),
         lambda x, k: x[0].clamp(k["low"], k["high"])),
    Spec("sum", _reduce_draw(), lambda x, k: x[0].sum(k["dim"], k["keepdim"]),
         lambda x, k: x[0].sum(k["dim"], k["keepdim"])),
    Spec("mean", _reduce_draw(), lambda x, k: x[0].mean(k["dim"], k["keepdim"]),
         lambda x, k: x[0].mean(k["dim"], k["keepdim"])),
    Spec("var", _var_draw, lambda x, k: x[0].var(k["dim"], keepdim=k["keepdim"], correction=k["correction"]),
         lambda x, k: x[0].var(k["dim"], keepdim=k["keepdim"], correction=k["correction"])),
    Spec("std", _var_draw, lambda x, k: x[0].std(k["dim"], keepdim=k["keepdim"], correction=k["correction"]),
         lambda x, k: x[0].std(k["dim"], keepdim=k["keepdim"], correction=k["correction"])),
    Spec("amax", _reduce_draw(distinct=True), lambda x, k: x[0].amax(k["dim"], k["keepdim"]),
         lambda x, k: x[0].amax(() if k["dim"] is None else k["dim"], k["keepdim"])),
    Spec("amin", _reduce_draw(distinct=True), lambda x, k: x[0].amin(k["dim"], k["keepdim"]),
         lambda x, k: x[0].amin(() if k["dim"] is None else k["dim"], k["keepdim"])),
    Spec("max_dim", _dim_draw(distinct=True), lambda x, k: x[0].max(k["dim"], k["keepdim"]).values,
         lambda x, k: x[0].max(k["dim"], k["keepdim"]).values),
    Spec("min_dim", _dim_draw(distinct=True), lambda x, k: x[0].min(k["dim"], k["keepdim"]).values,
         lambda x, k: x[0].min(k["dim"], k["keepdim"]).values),
    Spec("reshape", _reshape_draw, lambda x, k: x[0].reshape(k["shape"]), lambda x, k: x[0].reshape(k["shape"])),
    Spec("permute", _permute_draw, lambda x, k: x[0].permute(k["dims"]), lambda x, k: x[0].permute(k["dims"])),
    Spec("transpose", _transpose_draw, lambda x, k: x[0].transpose(k["dim0"], k["dim1"]),
         lambda x, k: x[0].transpose(k["dim0"], k["dim1"])),
    Spec("expand", _expand_draw, lambda x, k: x[0].expand(k["shape"]), lambda x, k: x[0].expand(k["shape"])),
    Spec("squeeze", _squeeze_draw, lambda x, k: x[0].squeeze(k["dim"]),
         lambda x, k: x[0].squeeze() if k["dim"] is None else x[0].squeeze(k["dim"])),
    Spec("unsqueeze", _unsqueeze_draw, lambda x, k: x[0].unsqueeze(k["dim"]), lambda x, k: x[0].unsqueeze(k["dim"])),
    Spec("cat", _cat_draw, lambda x, k: nf.cat(x, k["dim"]), lambda x, k: torch.cat(x, k["dim"])),
    Spec("stack", _stack_draw, lambda x, k: nf.stack(x, k["dim"]), lambda x, k: torch.stack(x, k["dim"])),
    Spec("split", _split_draw,
         lambda x, k: nf.cat([p * float(i + 1) for i, p in enumerate(x[0].split(k["size"], k["dim"]))], k["dim"]),
         lambda x, k: torch.cat([p * float(i + 1) for i, p in enumerate(x[0].split(k["size"], k["dim"]))], k["dim"])),
    Spec("chunk", _chunk_draw, lambda x, k: x[0].chunk(k["chunks"], k["dim"])[-1],
         lambda x, k: x[0].chunk(k["chunks"], k["dim"])[-1]),
    Spec("getitem_basic", _basic_index_draw, lambda x, k: x[0][k["index"]],
         lambda x, k: x[0][_torch_index(k["index"])]),
    Spec("getitem_array", _array_index_draw, lambda x, k: x[0][k["index"]],
         lambda x, k: x[0][_torch_index(k["index"])]),
    Spec("getitem_mask", _mask_index_draw, lambda x, k: x[0][k["index"]],
         lambda x, k: x[0][torch.from_numpy(k["index"])]),
    Spec("masked_fill", _masked_fill_draw, lambda x, k: x[0].masked_fill(nf.tensor(k["mask"]), k["value"]),
         lambda x, k: x[0].masked_fill(torch.from_numpy(k["mask"]), k["value"])),
    Spec("gather", _gather_draw, lambda x, k: x[0].gather(k["dim"], nf.tensor(k["index"])),
         lambda x, k: x[0].gather(k["dim"], torch.from_numpy(k["index"]))),
    Spec("cast", _one(), lambda x, k: x[0].to(nf.float64) * 2.0, lambda x, k: x[0].to(torch.float64) * 2.0),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@given(data=st.data())
def test_forward_and_gradients_match_torch(spec, data):
    arrays, constants = spec.draw(data)
    ours_inputs = [nf.tensor(a, requires_grad=True) for a in arrays]
    theirs_inputs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    ours = spec.ours(ours_inputs, constants)
    theirs = spec.theirs(theirs_inputs, constants)

    expected = theirs.detach().numpy()
    error = relative_error(ours.data, expected)
    record_torch_error(f"{spec.name} forward", error)
    assert error <= TOLERANCE, f"{spec.name} forward differs from torch by {error:.2e}"
    assert ours.dtype == np.float64

    upstream = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1))).standard_normal(expected.shape)
    ours.backward(upstream)
    theirs.backward(torch.from_numpy(upstream))
    for position, (mine, reference) in enumerate(zip(ours_inputs, theirs_inputs)):
        reference_grad = np.zeros(mine.shape) if reference.grad is None else reference.grad.numpy()
        mine_grad = np.zeros(mine.shape) if mine.grad is None else mine.grad
        error = relative_error(mine_grad, reference_grad)
        record_torch_error(f"{spec.name} gradient", error)
        assert error <= TOLERANCE, f"{spec.name}: gradient of input {position} differs from torch by {error:.2e}"


# Registry name -> the spec above that exercises it (tests/crosscheck/test_coverage.py checks
# that every registered op is covered by one of the cross-check files).
COVERS = {
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Neg": "neg", "Pow": "pow", "MatMul": "matmul",
    "Exp": "exp", "Log": "log", "Sqrt": "sqrt", "Erf": "erf", "Tanh": "tanh", "Sigmoid": "sigmoid", "ReLU": "relu",
    "Abs": "abs", "Maximum": "maximum", "Minimum": "minimum", "Where": "where", "Clamp": "clamp",
    "Sum": "sum", "Mean": "mean", "Var": "var", "Std": "std", "Amax": "amax", "Amin": "amin", "Reshape": "reshape",
    "Permute": "permute", "Expand": "expand", "Cat": "cat", "Stack": "stack", "Split": "split",
    "GetItem": "getitem_basic", "MaskedFill": "masked_fill", "Gather": "gather", "Cast": "cast",
}


def test_cover_map_names_real_specs():
    names = {s.name for s in SPECS}
    assert all(spec in names for spec in COVERS.values())
