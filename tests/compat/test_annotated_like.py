"""An Annotated-Transformer-style program, run by torch and by npformer with only its imports
changed: the encoder-decoder's outputs, label-smoothed loss and every gradient against torch
with the same weights (float64, eval mode: the attention keeps make_model's dropout 0.1), the
label smoothing target and its gradient, the rate() schedule through LambdaLR, greedy decoding,
and the copy task trained on npformer alone.
"""
import numpy as np
import pytest

from tests.compat.harness import assert_close, assert_grads_close, copy_state, load_pair, to_numpy

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

import npformer  # noqa: E402

V = 11


@pytest.fixture
def programs(float64):
    return load_pair("annotated_like")


def _long(array):
    array = np.asarray(array, dtype=np.int64)
    return torch.tensor(array), npformer.tensor(array)


def build(programs, dropout=0.0, N=2, d_model=16, d_ff=32, h=4):
    theirs, ours = (module.make_model(V, V, N=N, d_model=d_model, d_ff=d_ff, h=h, dropout=dropout)
                    for module in programs)
    copy_state(theirs, ours)
    return theirs, ours


def _copy_batch(rng, batch=3, length=7, pad=0):
    """Copy-task sequences starting with 1, the tails of two rows padded."""
    data = rng.integers(1, V, size=(batch, length))
    data[:, 0] = 1
    data[0, -2:] = pad
    data[1, -1:] = pad
    return data


def test_subsequent_mask(programs):
    theirs_mod, ours_mod = programs
    theirs, ours = theirs_mod.subsequent_mask(5), ours_mod.subsequent_mask(5)
    assert ours.dtype == np.bool_ and tuple(ours.shape) == (1, 5, 5)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_positional_encoding_buffer(programs):
    theirs, ours = (module.PositionalEncoding(12, 0.1, max_len=300) for module in programs)
    assert list(ours.state_dict()) == ["pe"]
    assert_close("annotated PositionalEncoding pe", ours.pe, theirs.pe)


def test_layer_norm_uses_unbiased_std(programs):
    theirs, ours = (module.LayerNorm(6) for module in programs)
    x = np.random.default_rng(0).standard_normal((2, 3, 6))
    x_t, x_o = torch.tensor(x, requires_grad=True), npformer.tensor(x, requires_grad=True)
    out_t, out_o = theirs(x_t), ours(x_o)
    assert_close("annotated LayerNorm forward", out_o, out_t)
    out_t.sum().backward()
    out_o.sum().backward()
    assert_close("annotated LayerNorm grad x", x_o.grad, x_t.grad)


def test_state_dict_keys(programs):
    theirs, ours = build(programs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def test_xavier_uniform_bounds(programs):
    """npformer's own initialisation (before copying): every matrix within the Glorot bound."""
    ours = programs[1].make_model(V, V, N=1, d_model=16, d_ff=32, h=4)
    for name, p in ours.named_parameters():
        if p.dim() > 1:
            fan_out, fan_in = p.shape
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            values = p.numpy()
            assert np.abs(values).max() <= bound, name
            assert np.abs(values).max() > 0.8 * bound, name


def _loss_and_grads(programs, smoothing):
    theirs_mod, ours_mod = programs
    theirs, ours = build(programs)
    # make_model leaves MultiHeadedAttention at its default dropout 0.1, as the original does:
    # eval mode turns every dropout off; gradients flow all the same
    theirs.eval(), ours.eval()
    data = _copy_batch(np.random.default_rng(1))
    results = []
    for module, model, tensors in ((theirs_mod, theirs, _long(data)[0]), (ours_mod, ours, _long(data)[1])):
        batch = module.Batch(tensors, tensors, 0)
        criterion = module.LabelSmoothing(size=V, padding_idx=0, smoothing=smoothing)
        out = model.forward(batch.src, batch.tgt, batch.src_mask, batch.tgt_mask)
        loss, loss_node = module.SimpleLossCompute(model.generator, criterion)(out, batch.tgt_y, batch.ntokens)
        loss_node.backward()
        results.append((batch, out, loss, loss_node, criterion.true_dist))
    return theirs, ours, results


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_model_forward_loss_and_grads(programs, smoothing):
    theirs, ours, (res_t, res_o) = _loss_and_grads(programs, smoothing)
    what = f"annotated model smoothing={smoothing}"
    batch_t, batch_o = res_t[0], res_o[0]
    np.testing.assert_array_equal(to_numpy(batch_o.src_mask), to_numpy(batch_t.src_mask))
    np.testing.assert_array_equal(to_numpy(batch_o.tgt_mask), to_numpy(batch_t.tgt_mask))
    assert int(batch_o.ntokens) == int(batch_t.ntokens) == 3 * 6 - 3
    assert_close(f"{what} decoder output", res_o[1], res_t[1])
    assert_close(f"{what} true_dist", res_o[4], res_t[4])
    assert_close(f"{what} loss", res_o[2], res_t[2])
    assert_close(f"{what} loss_node", res_o[3], res_t[3])
    assert_grads_close(what, ours, theirs)


def test_eval_mode_with_dropout(programs):
    theirs, ours = build(programs, dropout=0.1)
    theirs.eval(), ours.eval()
    data = _copy_batch(np.random.default_rng(2))
    outs = []
    for module, model, tensors in zip(programs, (theirs, ours), _long(data)):
        batch = module.Batch(tensors, tensors, 0)
        outs.append(model.generator(model.forward(batch.src, batch.tgt, batch.src_mask, batch.tgt_mask)))
    assert_close("annotated model eval log-probs", outs[1], outs[0])


def test_label_smoothing_values_and_grads(programs):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 5))
    x = logits - np.log(np.exp(logits).sum(-1, keepdims=True))  # log-probabilities
    target = np.array([2, 1, 0, 3, 3, 0])
    results = []
    for module, lib in zip(programs, (torch, npformer)):
        crit = module.LabelSmoothing(5, 0, 0.4)
        x_in = lib.tensor(x, requires_grad=True)
        loss = crit(x_in, lib.tensor(target))
        loss.backward()
        results.append((loss, crit.true_dist, x_in.grad))
    (loss_t, dist_t, grad_t), (loss_o, dist_o, grad_o) = results
    assert_close("annotated LabelSmoothing true_dist", dist_o, dist_t)
    assert np.all(to_numpy(dist_o)[[2, 5]] == 0) and np.all(to_numpy(dist_o)[:, 0] == 0)
    assert_close("annotated LabelSmoothing loss", loss_o, loss_t)
    assert_close("annotated LabelSmoothing grad x", grad_o, grad_t)


def test_label_smoothing_without_padding_rows(programs):
    x = np.log(np.full((2, 5), 0.2))
    losses = [module.LabelSmoothing(5, 0, 0.1)(lib.tensor(x), lib.tensor(np.array([1, 4])))
              for module, lib in zip(programs, (torch, npformer))]
    assert_close("annotated LabelSmoothing no padding rows", losses[1], losses[0])


@pytest.mark.parametrize("model_size, factor, warmup", [(512, 1.0, 40), (16, 2.0, 10)])
def test_rate_schedule_through_lambda_lr(programs, model_size, factor, warmup):
    theirs, ours = (module.learning_rates(model_size, factor, warmup, 120) for module in programs)
    assert len(ours) == len(theirs) == 120
    assert_close(f"annotated LambdaLR rate({model_size}, {factor}, {warmup})", np.array(ours), np.array(theirs))
    assert np.argmax(ours) == warmup  # it rises during warmup, then decays


def test_inference_and_greedy_decode_match_torch(programs):
    theirs, ours = build(programs)
    src = np.arange(1, 10)[None]
    ys_t = programs[0].inference_test(theirs, torch.tensor(src))
    ys_o = programs[1].inference_test(ours, npformer.tensor(src))
    assert ys_o.dtype == np.int64
    np.testing.assert_array_equal(ys_o.numpy(), ys_t.numpy())
    src_mask = np.ones((1, 1, 9))
    greedy = [module.greedy_decode(model, lib.tensor(src), lib.tensor(src_mask), max_len=9, start_symbol=1)
              for module, model, lib in zip(programs, (theirs, ours), (torch, npformer))]
    np.testing.assert_array_equal(greedy[1].numpy(), greedy[0].numpy())


def test_copy_task_trains_on_npformer():
    """The copy task on npformer alone, in the default float32: the per-token loss falls, and
    greedy decoding of a new sequence gives the sequence back. 140 Adam steps of a one-layer
    model (d_model 32); seeds 0-4 all decode the sequence exactly."""
    ours_mod = load_pair("annotated_like")[1]
    npformer.manual_seed(0)
    model, losses = ours_mod.copy_task(V=V, N=1, d_model=32, d_ff=64, h=4, batch_size=32, nbatches=20, epochs=7,
                                       warmup=60, factor=1.0)
    assert next(model.parameters()).dtype == np.float32
    assert losses[-1] < 0.25 * losses[0], losses
    model.eval()
    src = npformer.tensor(np.array([[1, 3, 5, 7, 9, 2, 4, 6, 8, 10]]))
    src_mask = npformer.ones(1, 1, 10)
    decoded = ours_mod.greedy_decode(model, src, src_mask, max_len=10, start_symbol=1)
    np.testing.assert_array_equal(decoded.numpy(), src.numpy())
