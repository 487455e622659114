"""The one table of gradient cases covers every registered Function, and every case passes."""
import numpy as np
import pytest

import npformer as nf
from npformer.autograd.function import Function
from npformer.testing.gradcases import GRAD_CASES

# (op, what the case exercises, build) for every case of the table, in its order
CASES = [(op, name, build) for op, cases in GRAD_CASES.items() for name, build in cases]
CASE_IDS = [f"{op}-{name}" for op, name, _ in CASES]


@pytest.mark.parametrize("op_name", sorted(Function.registry))
def test_every_registered_op_has_a_gradient_case(op_name):
    assert GRAD_CASES.get(op_name), f"{op_name} has no case in GRAD_CASES (npformer/testing/gradcases.py)"


def test_every_case_names_a_registered_op():
    unknown = set(GRAD_CASES) - set(Function.registry)
    assert not unknown


def _ops_in_graph(outputs):
    names, seen = set(), set()
    stack = [t.grad_fn for t in outputs if t.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        names.add(type(node).__name__)
        stack.extend(parent[0] for parent in node._parents if type(parent) is tuple)
    return names


@pytest.mark.parametrize("op, name, build", CASES, ids=CASE_IDS)
def test_every_case_runs_its_op(op, name, build):
    # A case labelled Add that never runs Add would check nothing about Add.
    fn, inputs = build(np.random.default_rng(0))
    out = fn(*inputs)
    assert op in _ops_in_graph(list(out) if isinstance(out, tuple) else [out])


@pytest.mark.parametrize("op, name, build", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("fast_mode", [False, True], ids=["full", "fast"])
def test_gradient_case(op, name, build, fast_mode):
    fn, inputs = build(np.random.default_rng(0))
    assert nf.gradcheck(fn, inputs, fast_mode=fast_mode)
