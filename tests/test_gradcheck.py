"""gradcheck itself: it accepts correct backwards, rejects wrong ones and says where."""
import numpy as np
import pytest

import npformer as nf
from npformer.autograd.gradcheck import gradcheck_report
from npformer.testing.gradcases import GRAD_CASES


class WrongSquare(nf.Function, register=False):
    """z = a^2 with a deliberately wrong derivative: 3a instead of 2a."""

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return a * a

    @staticmethod
    def backward(ctx, grad):
        return grad * 3 * ctx.a


class SlightlyWrongExp(nf.Function, register=False):
    """exp whose derivative is off by 1% at one element only."""

    @staticmethod
    def forward(ctx, a):
        ctx.z = np.exp(a)
        return ctx.z

    @staticmethod
    def backward(ctx, grad):
        g = grad * ctx.z
        g.reshape(-1)[2] *= 1.01
        return g


def test_gradcheck_accepts_a_correct_backward():
    x = nf.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True, dtype=np.float64)
    assert nf.gradcheck(lambda a: (a * a).exp(), (x,))
    assert nf.gradcheck(lambda a: (a * a).exp(), (x,), fast_mode=True)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_rejects_a_wrong_backward_and_names_the_worst_entry(fast_mode):
    x = nf.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True, dtype=np.float64)
    with pytest.raises(nf.GradcheckError) as info:
        nf.gradcheck(WrongSquare.apply, (x,), fast_mode=fast_mode)
    message = str(info.value)
    # the worst entry is where |3a - 2a| = |a| is largest: a = 2.0 at (1, 0)
    assert "input 0" in message
    assert "d output 0(1, 0) / d input 0(1, 0)" in message
    assert "analytic 6.0" in message and "numeric 4.0" in message


def test_gradcheck_finds_a_single_wrong_entry():
    x = nf.tensor(np.linspace(-1, 1, 6), requires_grad=True, dtype=np.float64)
    with pytest.raises(nf.GradcheckError, match=r"d input 0\(2,\)"):
        nf.gradcheck(SlightlyWrongExp.apply, (x,))
    assert not nf.gradcheck(SlightlyWrongExp.apply, (x,), raise_exception=False)


def test_gradcheck_names_the_second_input_when_it_is_wrong():
    class WrongSecond(nf.Function, register=False):
        @staticmethod
        def forward(ctx, a, b):
            ctx.a, ctx.b = a, b
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.b, grad * ctx.b     # second should be grad * a

    a = nf.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    b = nf.tensor([3.0, 5.0], requires_grad=True, dtype=np.float64)
    with pytest.raises(nf.GradcheckError, match="gradient of input 1"):
        nf.gradcheck(WrongSecond.apply, (a, b))


def test_gradcheck_checks_float32_inputs_as_float64_copies():
    x = nf.tensor([0.3, 0.7], requires_grad=True)
    assert nf.gradcheck(lambda a: a.tanh(), (x,))
    assert x.grad is None and x.dtype == np.float32


def test_gradcheck_refuses_a_float32_computation():
    x = nf.tensor([0.3, 0.7], requires_grad=True, dtype=np.float64)
    with pytest.raises(nf.GradcheckError, match="float32"):
        nf.gradcheck(lambda a: a.float() * 2.0, (x,))


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        nf.gradcheck(lambda a: a * 2.0, (nf.tensor([1.0], dtype=np.float64),))


def test_gradcheck_passes_non_tensor_and_integer_inputs_through():
    x = nf.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    index = nf.tensor([[2, 0], [1, 1]])
    assert nf.gradcheck(lambda a, i, k: a.gather(1, i) * k, (x, index, 3.0))


def test_gradcheck_with_several_outputs():
    x = nf.tensor(np.linspace(0.1, 1, 6), requires_grad=True)
    assert nf.gradcheck(lambda a: a.split([2, 4]), (x,))


def test_report_figures_are_small_for_every_case():
    # A correct backward in float64 agrees with central differences to ~1e-9 relative;
    # the tolerance of gradcheck is 1e-3, so this guards the margin, not just the pass.
    worst = 0.0
    for cases in GRAD_CASES.values():
        for _, build in cases:
            fn, inputs = build(np.random.default_rng(0))
            worst = max([worst] + [r.relative_error for r in gradcheck_report(fn, inputs)])
    assert worst < 1e-7
