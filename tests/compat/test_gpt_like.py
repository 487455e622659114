"""A nanoGPT-style model file, run by torch and by npformer with only its imports changed.

torch builds and initialises the model; its state_dict is loaded into npformer's model, and
both then compute the logits, the loss, every parameter's gradient and one AdamW step from
configure_optimizers, in float64 (relative error <= 1e-10). Both attention paths are covered:
the fused scaled_dot_product_attention and the manual masked softmax over the registered tril
buffer (the program takes it when `hasattr(torch.nn.functional, ...)` is False; the test
shadows `hasattr` in the program's namespace, the same way for both libraries).
"""
import builtins

import numpy as np
import pytest

from tests.compat.harness import assert_close, assert_grads_close, assert_params_close, copy_state, load_pair

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

import npformer  # noqa: E402

SIZES = dict(block_size=8, vocab_size=13, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
CASES = [("flash", True), ("flash", False), ("manual", True), ("manual", False)]


@pytest.fixture
def programs(float64):
    return load_pair("gpt_like")


def _no_fused_attention(obj, name):
    return False if name == "scaled_dot_product_attention" else builtins.hasattr(obj, name)


def build(programs, path, bias, monkeypatch, **overrides):
    """(torch model, npformer model) with torch's weights copied into npformer's."""
    models = []
    for module in programs:
        config = module.GPTConfig(**{**SIZES, "bias": bias, **overrides})
        with monkeypatch.context() as patch:
            if path == "manual":
                patch.setattr(module, "hasattr", _no_fused_attention, raising=False)
            models.append(module.GPT(config))
    theirs, ours = models
    for model in models:
        assert all(block.attn.flash == (path == "flash") for block in model.transformer.h)
    copy_state(theirs, ours)
    return theirs, ours


def _batch(rng, batch, length, vocab, ignore=0):
    idx = rng.integers(0, vocab, size=(batch, length))
    targets = rng.integers(0, vocab, size=(batch, length))
    targets.flat[:ignore] = -1  # ignore_index=-1 positions
    return idx, targets


def _long(array):
    return torch.tensor(array, dtype=torch.long), npformer.tensor(np.asarray(array, dtype=np.int64))


@pytest.mark.parametrize("path, bias", CASES)
def test_construct(programs, path, bias, monkeypatch):
    theirs, ours = build(programs, path, bias, monkeypatch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert ours.get_num_params() == theirs.get_num_params()
    assert ours.get_num_params(non_embedding=False) == theirs.get_num_params(non_embedding=False)
    # weight tying: one Parameter, counted once, and its gradient is the sum of both uses
    assert ours.transformer.wte.weight is ours.lm_head.weight
    assert ours.estimate_mfu(fwdbwd_per_iter=4, dt=0.5) == pytest.approx(theirs.estimate_mfu(4, 0.5), rel=1e-15)


def test_state_dict_round_trip_between_npformer_models(programs, monkeypatch):
    """model.load_state_dict(other.state_dict()) with npformer's own Tensors, as PyTorch code does;
    the tie survives and the copy is independent of the source."""
    theirs, ours = build(programs, "manual", True, monkeypatch)
    with monkeypatch.context() as patch:
        patch.setattr(programs[1], "hasattr", _no_fused_attention, raising=False)
        other = programs[1].GPT(programs[1].GPTConfig(**{**SIZES, "bias": True}))
    other.load_state_dict(ours.state_dict())
    assert other.transformer.wte.weight is other.lm_head.weight
    idx_t, idx_o = _long(np.random.default_rng(5).integers(0, SIZES["vocab_size"], size=(2, 8)))
    assert_close("gpt_like state_dict round trip logits", other(idx_o)[0], theirs(idx_t)[0])
    with npformer.no_grad():
        ours.lm_head.weight.mul_(2.0)
    assert_close("gpt_like state_dict copy is independent", other(idx_o)[0], theirs(idx_t)[0])


def test_init_follows_the_program(programs, monkeypatch):
    """npformer's own initialisation (before copying) has the program's statistics: N(0, 0.02)
    weights, zero biases, c_proj at 0.02/sqrt(2 n_layer), unit LayerNorm gains."""
    ours = programs[1].GPT(programs[1].GPTConfig(block_size=64, vocab_size=512, n_layer=2, n_head=2, n_embd=64))
    params = dict(ours.named_parameters())
    wte = params["transformer.wte.weight"].numpy()
    assert abs(wte.std() - 0.02) < 0.002 and abs(wte.mean()) < 0.002
    c_proj = params["transformer.h.0.mlp.c_proj.weight"].numpy()
    assert abs(c_proj.std() - 0.02 / np.sqrt(4)) < 0.002
    assert np.all(params["transformer.h.0.attn.c_attn.bias"].numpy() == 0)
    assert np.all(params["transformer.h.1.ln_2.weight"].numpy() == 1)


@pytest.mark.parametrize("path, bias", CASES)
def test_forward_backward_and_adamw_step(programs, path, bias, monkeypatch):
    theirs, ours = build(programs, path, bias, monkeypatch)
    idx, targets = _batch(np.random.default_rng(0), 3, 8, SIZES["vocab_size"], ignore=5)
    (idx_t, idx_o), (tgt_t, tgt_o) = _long(idx), _long(targets)
    what = f"gpt_like {path} bias={bias}"

    logits_t, loss_t = theirs(idx_t, tgt_t)
    logits_o, loss_o = ours(idx_o, tgt_o)
    assert tuple(logits_o.shape) == (3, 8, SIZES["vocab_size"])
    assert_close(f"{what} logits", logits_o, logits_t)
    assert_close(f"{what} loss", loss_o, loss_t)
    loss_t.backward()
    loss_o.backward()
    assert_grads_close(what, ours, theirs)

    opt_t = theirs.configure_optimizers(0.1, 1e-2, (0.9, 0.95), "cpu")
    opt_o = ours.configure_optimizers(0.1, 1e-2, (0.9, 0.95), "cpu")
    assert [len(g["params"]) for g in opt_o.param_groups] == [len(g["params"]) for g in opt_t.param_groups]
    assert [g["weight_decay"] for g in opt_o.param_groups] == [0.1, 0.0]
    opt_t.step()
    opt_o.step()
    assert_params_close(f"{what} after one AdamW step", ours, theirs)
    # the next forward sees the updated (still tied) weights
    assert_close(f"{what} loss after the step", ours(idx_o, tgt_o)[1], theirs(idx_t, tgt_t)[1])


@pytest.mark.parametrize("path", ["flash", "manual"])
def test_inference_logits_last_position(programs, path, monkeypatch):
    theirs, ours = build(programs, path, True, monkeypatch)
    idx_t, idx_o = _long(np.random.default_rng(1).integers(0, SIZES["vocab_size"], size=(2, 5)))
    logits_t, loss_t = theirs(idx_t)
    logits_o, loss_o = ours(idx_o)
    assert loss_t is None and loss_o is None
    assert tuple(logits_o.shape) == (2, 1, SIZES["vocab_size"])
    assert_close(f"gpt_like {path} inference logits", logits_o, logits_t)


@pytest.mark.parametrize("path", ["flash", "manual"])
def test_crop_block_size(programs, path, monkeypatch):
    theirs, ours = build(programs, path, True, monkeypatch)
    theirs.crop_block_size(5)
    ours.crop_block_size(5)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        assert tuple(ours.state_dict()[name].shape) == tuple(value.shape), name
    idx, targets = _batch(np.random.default_rng(2), 2, 5, SIZES["vocab_size"])
    (idx_t, idx_o), (tgt_t, tgt_o) = _long(idx), _long(targets)
    logits_t, loss_t = theirs(idx_t, tgt_t)
    logits_o, loss_o = ours(idx_o, tgt_o)
    assert_close(f"gpt_like {path} cropped logits", logits_o, logits_t)
    loss_t.backward()
    loss_o.backward()
    assert_grads_close(f"gpt_like {path} cropped", ours, theirs)
    with pytest.raises(AssertionError):
        ours(*_long(np.zeros((1, 6), dtype=np.int64)))


@pytest.mark.parametrize("path", ["flash", "manual"])
def test_generate_greedy_matches_torch(programs, path, monkeypatch):
    """top_k=1 leaves one token with probability 1, so sampling is greedy in both libraries.
    The prompt plus new tokens outgrows block_size, so the context cropping runs too."""
    theirs, ours = build(programs, path, True, monkeypatch)
    theirs.eval(), ours.eval()
    prompt = np.random.default_rng(3).integers(0, SIZES["vocab_size"], size=(2, 6))
    out_t = theirs.generate(torch.tensor(prompt), max_new_tokens=5, temperature=0.8, top_k=1)
    out_o = ours.generate(npformer.tensor(prompt), max_new_tokens=5, temperature=0.8, top_k=1)
    assert out_o.dtype == np.int64 and tuple(out_o.shape) == (2, 11)
    np.testing.assert_array_equal(out_o.numpy(), out_t.numpy())
    assert not out_o.requires_grad


@pytest.mark.parametrize("top_k", [3, None])
def test_generate_samples_valid_tokens(programs, top_k, monkeypatch):
    """Sampling draws from npformer's own generator, so tokens differ from torch's; they must be
    valid, keep the prompt, and with top_k come from the k most likely next tokens."""
    _, ours = build(programs, "flash", True, monkeypatch)
    ours.eval()
    prompt = np.random.default_rng(4).integers(0, SIZES["vocab_size"], size=(3, 4))
    npformer.manual_seed(7)
    out = ours.generate(npformer.tensor(prompt), max_new_tokens=6, temperature=1.0, top_k=top_k)
    tokens = out.numpy()
    assert tokens.shape == (3, 10) and tokens.dtype == np.int64
    np.testing.assert_array_equal(tokens[:, :4], prompt)
    assert tokens.min() >= 0 and tokens.max() < SIZES["vocab_size"]
    if top_k is not None:
        for step in range(4, 10):
            with npformer.no_grad():
                logits, _ = ours(npformer.tensor(tokens[:, max(0, step - SIZES["block_size"]):step]))
            allowed = np.argsort(-logits.numpy()[:, -1, :], axis=-1)[:, :top_k]
            assert all(tokens[row, step] in allowed[row] for row in range(3))
    npformer.manual_seed(7)
    again = ours.generate(npformer.tensor(prompt), max_new_tokens=6, temperature=1.0, top_k=top_k)
    np.testing.assert_array_equal(again.numpy(), tokens)
