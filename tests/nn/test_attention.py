"""AttentionHeads and the Transformer stacks: the properties attention must have, and the
KV cache giving the same result as recomputing."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer as nf
from npformer import nn


def _model(cls, seed, **options):
    nf.manual_seed(seed)
    return cls(**options)


def _x(rng, *shape):
    return nf.tensor(rng.standard_normal(shape))


@given(seed=st.integers(0, 1000), t=st.integers(0, 5), n_kv=st.sampled_from([1, 2, 4]))
def test_causal_output_at_t_ignores_later_tokens(seed, t, n_kv):
    rng = np.random.default_rng(seed)
    attn = _model(nn.AttentionHeads, seed, d_model=8, n_heads=4, n_kv_heads=n_kv, dtype=np.float64)
    x = rng.standard_normal((2, 6, 8))
    changed = x.copy()
    changed[:, t + 1:] = rng.standard_normal(changed[:, t + 1:].shape)
    a = attn(nf.tensor(x), is_causal=True).numpy()
    b = attn(nf.tensor(changed), is_causal=True).numpy()
    np.testing.assert_allclose(a[:, :t + 1], b[:, :t + 1], rtol=1e-13, atol=1e-13)
    if t < 5:
        assert not np.allclose(a[:, t + 1:], b[:, t + 1:])


def test_decoder_stack_is_causal():
    rng = np.random.default_rng(1)
    nf.manual_seed(1)
    stack = nn.DecoderStack(2, 8, 2, cross_attention=False, activation="swiglu", norm="rmsnorm", dtype=np.float64)
    x = rng.standard_normal((1, 5, 8))
    changed = x.copy()
    changed[:, 3:] += 1.0
    np.testing.assert_allclose(stack(nf.tensor(x)).numpy()[:, :3], stack(nf.tensor(changed)).numpy()[:, :3], rtol=1e-13)


@given(seed=st.integers(0, 1000), real=st.integers(1, 5))
def test_changing_padded_tokens_leaves_real_positions_unchanged(seed, real):
    rng = np.random.default_rng(seed)
    nf.manual_seed(seed)
    encoder = nn.EncoderStack(2, 8, 2, norm_first=False, activation="gelu", dtype=np.float64)
    x = rng.standard_normal((2, 6, 8))
    padding = np.zeros((2, 6), dtype=bool)
    padding[0, real:] = True
    changed = x.copy()
    changed[0, real:] = rng.standard_normal((6 - real, 8)) * 10
    a = encoder(nf.tensor(x), key_padding_mask=padding).numpy()
    b = encoder(nf.tensor(changed), key_padding_mask=padding).numpy()
    np.testing.assert_allclose(a[0, :real], b[0, :real], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(a[1], b[1])


@given(seed=st.integers(0, 1000), data=st.data())
def test_attention_without_positions_is_permutation_equivariant(seed, data):
    rng = np.random.default_rng(seed)
    nf.manual_seed(seed)
    encoder = nn.EncoderStack(1, 8, 4, n_kv_heads=2, dtype=np.float64)
    x = rng.standard_normal((1, 5, 8))
    order = np.array(data.draw(st.permutations(range(5))))
    np.testing.assert_allclose(encoder(nf.tensor(x[:, order])).numpy(), encoder(nf.tensor(x)).numpy()[:, order],
                               rtol=1e-12, atol=1e-12)


def test_grouped_query_attention_equals_multi_head_with_shared_key_value_weights():
    rng = np.random.default_rng(2)
    gqa = _model(nn.AttentionHeads, 3, d_model=12, n_heads=6, n_kv_heads=2, dtype=np.float64)
    mha = _model(nn.AttentionHeads, 4, d_model=12, n_heads=6, dtype=np.float64)
    head_dim = 2
    state = gqa.state_dict()
    # kv head j serves query heads 3j, 3j+1, 3j+2: repeat its rows in the full projection
    for name in ("k_proj", "v_proj"):
        w, b = state[f"{name}.weight"], state[f"{name}.bias"]
        rows = [np.arange(j * head_dim, (j + 1) * head_dim) for j in (0, 0, 0, 1, 1, 1)]
        state[f"{name}.weight"] = np.concatenate([w[r] for r in rows])
        state[f"{name}.bias"] = np.concatenate([b[r] for r in rows])
    mha.load_state_dict(state)
    x = _x(rng, 2, 4, 12)
    padding = np.array([[False, False, True, True], [False] * 4])
    np.testing.assert_allclose(gqa(x, is_causal=True, key_padding_mask=padding).numpy(),
                               mha(x, is_causal=True, key_padding_mask=padding).numpy(), rtol=1e-12, atol=1e-12)


def test_gqa_with_as_many_kv_heads_as_heads_is_plain_multi_head_attention():
    rng = np.random.default_rng(5)
    attn = _model(nn.AttentionHeads, 5, d_model=8, n_heads=2, n_kv_heads=2, dtype=np.float64)
    x = rng.standard_normal((1, 3, 8))
    state = {name: tensor.numpy() for name, tensor in attn.state_dict().items()}

    def heads(name):
        y = x @ state[f"{name}.weight"].T + state[f"{name}.bias"]
        return y.reshape(1, 3, 2, 4).transpose(0, 2, 1, 3)

    q, k, v = heads("q_proj"), heads("k_proj"), heads("v_proj")
    scores = q @ k.transpose(0, 1, 3, 2) / 2.0
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    merged = (weights @ v).transpose(0, 2, 1, 3).reshape(1, 3, 8)
    expected = merged @ state["out_proj.weight"].T + state["out_proj.bias"]
    out, returned = attn(nf.tensor(x), need_weights=True)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(returned.numpy(), weights, rtol=1e-12)


@pytest.mark.parametrize("n_kv_heads", [1, 2, 4])
def test_kv_cache_decoding_equals_recomputing(n_kv_heads):
    rng = np.random.default_rng(n_kv_heads)
    nf.manual_seed(0)
    stack = nn.DecoderStack(2, 8, 4, n_kv_heads=n_kv_heads, cross_attention=True, dtype=np.float64)
    memory = _x(rng, 2, 3, 8)
    memory_padding = np.array([[False, False, True], [False, False, False]])
    x = rng.standard_normal((2, 6, 8))
    full = stack(nf.tensor(x), memory, memory_key_padding_mask=memory_padding).numpy()
    with nf.no_grad():
        caches = stack.make_caches(batch_size=2, max_length=6, memory_length=3)
        steps = [stack(nf.tensor(x[:, :2]), memory, memory_key_padding_mask=memory_padding, caches=caches).numpy()]
        for t in range(2, 6):
            steps.append(stack(nf.tensor(x[:, t:t + 1]), memory, memory_key_padding_mask=memory_padding,
                               caches=caches).numpy())
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, rtol=1e-12, atol=1e-12)
    assert caches[0].length == 6


def test_kv_cache_refuses_overflow_and_grad_mode():
    attn = nn.AttentionHeads(4, 2)
    cache = nn.KVCache(1, 2, 2, 2)
    with pytest.raises(RuntimeError, match="no_grad"):
        attn(nf.randn(1, 1, 4), cache=cache)
    with nf.no_grad():
        attn(nf.randn(1, 2, 4), cache=cache, is_causal=True)
        with pytest.raises(ValueError, match="KV cache overflow: 3 positions needed, 2 allocated"):
            attn(nf.randn(1, 1, 4), cache=cache, is_causal=True)


def test_kv_cache_reorder_follows_the_batch_index():
    cache = nn.KVCache(3, 1, 4, 2, dtype=np.float64)
    cache.append(np.arange(3.0).reshape(3, 1, 1, 1) * np.ones((3, 1, 1, 2)), np.zeros((3, 1, 1, 2)))
    cache.reorder(np.array([2, 2, 0]))
    np.testing.assert_array_equal(cache.filled()[0][:, 0, 0, 0], [2, 2, 0])


def test_block_returns_float32_and_trains_in_float32():
    block = nn.TransformerBlock(8, 2, 16, activation="geglu", norm="rmsnorm", causal=True, dropout=0.1,
                                attention_dropout=0.1)
    x = nf.randn(2, 5, 8, requires_grad=True)
    y = block(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.numpy().dtype == np.float32
    assert all(p.grad is not None and p.grad.numpy().dtype == np.float32 for p in block.parameters())


def test_mismatched_sizes_are_named():
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by n_heads \(4\)"):
        nn.AttentionHeads(10, 4)
    with pytest.raises(ValueError, match=r"n_heads \(4\) must be divisible by n_kv_heads \(3\)"):
        nn.AttentionHeads(8, 4, n_kv_heads=3)
    attn = nn.AttentionHeads(8, 4)
    with pytest.raises(ValueError, match=r"query must be \(batch, length, d_model=8\), got shape \(5, 8\)"):
        attn(nf.randn(5, 8))
    with pytest.raises(ValueError, match=r"key_padding_mask must be bool of shape \(batch=2, key length=5\)"):
        attn(nf.randn(2, 5, 8), key_padding_mask=np.zeros((2, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(3, 3\) does not broadcast to the scores' shape"):
        attn(nf.randn(2, 5, 8), attn_mask=np.ones((3, 3), dtype=bool))
