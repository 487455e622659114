"""The seed's code block, run by torch and by npformer with only its imports changed:
positional encodings, the attention() function and MultiHeadAttention, forward and gradients
in float64 against torch with the same weights."""
import numpy as np
import pytest

from tests.compat.harness import assert_close, assert_grads_close, copy_state, load_pair

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

import npformer  # noqa: E402


@pytest.fixture
def programs(float64):
    return load_pair("seed_snippet")


def _pair(array, requires_grad=True):
    return (torch.tensor(array, requires_grad=requires_grad),
            npformer.tensor(array, requires_grad=requires_grad))


@pytest.mark.parametrize("d_model, max_len", [(16, 50), (6, 5000)])
def test_positional_encoding_table(programs, d_model, max_len):
    theirs_mod, ours_mod = programs
    theirs = theirs_mod.PositionalEncoding(d_model, 0.0, max_len=max_len)
    ours = ours_mod.PositionalEncoding(d_model, 0.0, max_len=max_len)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["pe"]
    assert tuple(ours.pe.shape) == tuple(theirs.pe.shape) == (1, max_len, d_model)
    assert ours.pe.dtype == np.float64
    assert_close(f"seed PositionalEncoding pe d={d_model} len={max_len}", ours.pe, theirs.pe)


def test_positional_encoding_forward_and_grad(programs):
    theirs_mod, ours_mod = programs
    theirs, ours = theirs_mod.PositionalEncoding(8, 0.1, max_len=20), ours_mod.PositionalEncoding(8, 0.1, max_len=20)
    theirs.eval(), ours.eval()  # dropout off
    x = np.random.default_rng(0).standard_normal((2, 7, 8))
    upstream = np.random.default_rng(1).standard_normal((2, 7, 8))
    x_t, x_o = _pair(x)
    out_t, out_o = theirs(x_t), ours(x_o)
    assert_close("seed PositionalEncoding forward", out_o, out_t)
    out_t.backward(torch.tensor(upstream))
    out_o.backward(npformer.tensor(upstream))
    assert_close("seed PositionalEncoding grad x", x_o.grad, x_t.grad.numpy())
    assert theirs.pe.grad is None and ours.pe.grad is None


def _masks(bs, length):
    padding = np.ones((bs, 1, 1, length), dtype=np.int64)
    padding[0, ..., -2:] = 0  # the last two keys of the first sequence are padding
    causal = np.tril(np.ones((1, 1, length, length), dtype=np.int64))
    return {"none": None, "padding": padding, "causal": causal}


@pytest.mark.parametrize("mask_kind", ["none", "padding", "causal"])
def test_attention_function(programs, mask_kind):
    theirs_mod, ours_mod = programs
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 3, 5, 4)) for _ in range(3))
    mask = _masks(2, 5)[mask_kind]
    upstream = rng.standard_normal((2, 3, 5, 4))
    ins_t, ins_o = zip(*(_pair(a) for a in (q, k, v)))
    mask_t = None if mask is None else torch.tensor(mask)
    mask_o = None if mask is None else npformer.tensor(mask)
    out_t = theirs_mod.attention(*ins_t, 4, mask_t, None)
    out_o = ours_mod.attention(*ins_o, 4, mask_o, None)
    assert_close(f"seed attention() forward mask={mask_kind}", out_o, out_t)
    out_t.backward(torch.tensor(upstream))
    out_o.backward(npformer.tensor(upstream))
    for name, a, b in zip("qkv", ins_o, ins_t):
        assert_close(f"seed attention() grad {name} mask={mask_kind}", a.grad, b.grad.numpy())


@pytest.mark.parametrize("mask_kind", ["none", "padding", "causal"])
def test_multi_head_attention(programs, mask_kind):
    theirs_mod, ours_mod = programs
    heads, d_model, bs, length = 2, 8, 2, 5
    theirs = theirs_mod.MultiHeadAttention(heads, d_model, dropout=0.0)
    ours = ours_mod.MultiHeadAttention(heads, d_model, dropout=0.0)
    copy_state(theirs, ours)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((bs, length, d_model))
    memory = rng.standard_normal((bs, length, d_model))
    upstream = rng.standard_normal((bs, length, d_model))
    mask = _masks(bs, length)[mask_kind]
    (x_t, x_o), (m_t, m_o) = _pair(x), _pair(memory)
    mask_t = None if mask is None else torch.tensor(mask)
    mask_o = None if mask is None else npformer.tensor(mask)
    out_t = theirs(x_t, m_t, m_t, mask_t)
    out_o = ours(x_o, m_o, m_o, mask_o)
    assert_close(f"seed MultiHeadAttention forward mask={mask_kind}", out_o, out_t)
    out_t.backward(torch.tensor(upstream))
    out_o.backward(npformer.tensor(upstream))
    assert_close(f"seed MultiHeadAttention grad q mask={mask_kind}", x_o.grad, x_t.grad.numpy())
    assert_close(f"seed MultiHeadAttention grad k,v mask={mask_kind}", m_o.grad, m_t.grad.numpy())
    assert_grads_close(f"seed MultiHeadAttention mask={mask_kind}", ours, theirs)


def test_multi_head_attention_eval_ignores_dropout(programs):
    theirs_mod, ours_mod = programs
    theirs, ours = theirs_mod.MultiHeadAttention(4, 8), ours_mod.MultiHeadAttention(4, 8)  # dropout 0.1
    copy_state(theirs, ours)
    theirs.eval(), ours.eval()
    x = np.random.default_rng(4).standard_normal((3, 6, 8))
    x_t, x_o = _pair(x, requires_grad=False)
    assert_close("seed MultiHeadAttention eval forward", ours(x_o, x_o, x_o), theirs(x_t, x_t, x_t))
