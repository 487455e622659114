"""The model families: the properties they must have, a whole-model gradient check of a tiny
configuration of each, save/load round trips, and their bad-input errors."""
import json

import numpy as np
import pytest

import npformer as nf
from npformer.interop import CheckpointError, UnsupportedModelError
from npformer.models import (
    GPT,
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    EncoderDecoder,
    EncoderDecoderConfig,
    GPTConfig,
    from_pretrained,
)

F64 = np.float64
TINY_GPT = dict(vocab_size=37, max_positions=16, d_model=8, n_layers=2, n_heads=2)
TINY_BERT = dict(vocab_size=37, max_positions=16, d_model=8, n_layers=2, n_heads=2, d_ff=16, dropout=0.0,
                 attention_dropout=0.0, num_labels=3)
TINY_SEQ2SEQ = dict(vocab_size=37, d_model=8, n_heads=2, encoder_layers=1, decoder_layers=2, d_ff=16,
                    max_positions=16, dropout=0.0)

GPT_CONFIGS = {
    "gpt2": lambda: GPTConfig.gpt2(**TINY_GPT),
    "llama": lambda: GPTConfig.llama(**dict(TINY_GPT, n_heads=4, n_kv_heads=2, d_ff=16)),
    "alibi": lambda: GPTConfig.gpt2(**dict(TINY_GPT, position="alibi")),
    "sinusoidal": lambda: GPTConfig.gpt2(**dict(TINY_GPT, position="sinusoidal", norm="rmsnorm", activation="geglu")),
}
SEQ2SEQ_CONFIGS = {
    "transformer": lambda: EncoderDecoderConfig.transformer(**TINY_SEQ2SEQ),
    "bart": lambda: EncoderDecoderConfig.bart(**dict(TINY_SEQ2SEQ, pad_token_id=1, decoder_start_token_id=2)),
    "marian": lambda: EncoderDecoderConfig.marian(**dict(TINY_SEQ2SEQ, pad_token_id=36, decoder_start_token_id=36)),
    "t5": lambda: EncoderDecoderConfig.t5(**dict(TINY_SEQ2SEQ, relative_buckets=8, relative_max_distance=8)),
    "t5-v1.1": lambda: EncoderDecoderConfig.t5(**dict(TINY_SEQ2SEQ, relative_buckets=8, relative_max_distance=8,
                                                      activation="geglu_tanh", scale_decoder_outputs=False)),
}
BERT_HEADS = [BertModel, BertForMaskedLM, BertForPreTraining, BertForSequenceClassification,
              BertForTokenClassification, BertForQuestionAnswering]


def _ids(rng, shape, low=3, high=37):
    return rng.integers(low, high, shape)


@pytest.mark.parametrize("kind", sorted(GPT_CONFIGS))
def test_causal_lm_logits_at_t_ignore_later_tokens(kind):
    rng = np.random.default_rng(0)
    model = GPT(GPT_CONFIGS[kind](), dtype=F64, generator=nf.Generator(1))
    ids = _ids(rng, (2, 9))
    for t in range(8):
        changed = ids.copy()
        changed[:, t + 1:] = _ids(rng, (2, 8 - t))
        a, b = model(ids).logits.numpy(), model(changed).logits.numpy()
        np.testing.assert_allclose(a[:, :t + 1], b[:, :t + 1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("head", BERT_HEADS, ids=lambda cls: cls.__name__)
def test_bert_outputs_at_real_positions_ignore_padding(head):
    rng = np.random.default_rng(1)
    model = head(BertConfig(**TINY_BERT), dtype=F64, generator=nf.Generator(2))
    ids = _ids(rng, (2, 7))
    mask = np.ones((2, 7), dtype=np.int64)
    mask[0, 4:] = 0
    changed = ids.copy()
    changed[0, 4:] = _ids(rng, 3)
    first, second = model(ids, attention_mask=mask), model(changed, attention_mask=mask)
    for name in first:
        a, b = first[name].numpy(), second[name].numpy()
        if a.ndim >= 2 and a.shape[1] == 7:                                  # per-token outputs
            np.testing.assert_allclose(a[0, :4], b[0, :4], rtol=1e-12, atol=1e-12)
            np.testing.assert_array_equal(a[1], b[1])
        else:                                                                # pooled: from [CLS], a real token
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["transformer", "t5"])
def test_encoder_decoder_ignores_source_padding_and_is_causal(kind):
    rng = np.random.default_rng(2)
    model = EncoderDecoder(SEQ2SEQ_CONFIGS[kind](), dtype=F64, generator=nf.Generator(3))
    src, tgt = _ids(rng, (2, 6)), _ids(rng, (2, 5))
    mask = np.ones((2, 6), dtype=np.int64)
    mask[1, 3:] = 0
    changed_src = src.copy()
    changed_src[1, 3:] = _ids(rng, 3)
    a = model(src, mask, decoder_input_ids=tgt).logits.numpy()
    b = model(changed_src, mask, decoder_input_ids=tgt).logits.numpy()
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    changed_tgt = tgt.copy()
    changed_tgt[:, 3:] = _ids(rng, (2, 2))
    c = model(src, mask, decoder_input_ids=changed_tgt).logits.numpy()
    np.testing.assert_allclose(a[:, :3], c[:, :3], rtol=1e-12, atol=1e-12)


def _named_parameters(model):
    names, params = zip(*model.named_parameters())
    return list(params), list(names)


@pytest.mark.parametrize("kind", sorted(GPT_CONFIGS))
def test_whole_gpt_gradcheck(kind):
    rng = np.random.default_rng(3)
    model = GPT(GPT_CONFIGS[kind](), dtype=F64, generator=nf.Generator(4))
    ids = _ids(rng, (2, 5))
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    params, names = _named_parameters(model)
    assert nf.gradcheck_parameters(lambda: model(ids, attention_mask=mask, labels=ids).loss, params, names=names)


@pytest.mark.parametrize("head", BERT_HEADS[1:], ids=lambda cls: cls.__name__)
def test_whole_bert_gradcheck(head):
    rng = np.random.default_rng(4)
    model = head(BertConfig(**TINY_BERT), dtype=F64, generator=nf.Generator(5))
    ids, mask = _ids(rng, (2, 6)), np.array([[1] * 6, [1, 1, 1, 1, 0, 0]])
    labels = {
        BertForMaskedLM: dict(labels=np.where(rng.random((2, 6)) < 0.4, ids, -100)),
        BertForPreTraining: dict(labels=np.where(rng.random((2, 6)) < 0.4, ids, -100),
                                 next_sentence_label=np.array([0, 1])),
        BertForSequenceClassification: dict(labels=np.array([2, 0])),
        BertForTokenClassification: dict(labels=np.where(mask == 1, ids % 3, -100)),
        BertForQuestionAnswering: dict(start_positions=np.array([1, 2]), end_positions=np.array([3, 9])),
    }[head]
    params, names = _named_parameters(model)
    assert nf.gradcheck_parameters(lambda: model(ids, attention_mask=mask, **labels).loss, params, names=names)


@pytest.mark.parametrize("kind", sorted(SEQ2SEQ_CONFIGS))
def test_whole_encoder_decoder_gradcheck(kind):
    rng = np.random.default_rng(5)
    config = SEQ2SEQ_CONFIGS[kind]()
    # Marian starts decoding from its padding token, whose embedding row is frozen (PyTorch's
    # padding_idx: no gradient) although the forward uses it; finite differences would see it.
    # T5 also starts from its pad token but does not freeze it, so its row is checked too.
    if config.freeze_pad_embedding and config.decoder_start_token_id == config.pad_token_id:
        config.decoder_start_token_id = 35
    model = EncoderDecoder(config, dtype=F64, generator=nf.Generator(6))
    src, labels = _ids(rng, (2, 5)), _ids(rng, (2, 4))
    labels[1, 3] = -100
    params, names = _named_parameters(model)
    assert nf.gradcheck_parameters(lambda: model(src, np.array([[1] * 5, [1, 1, 1, 0, 0]]), labels=labels).loss,
                                   params, names=names)


def test_gradcheck_parameters_names_a_wrong_parameter():
    model = GPT(GPT_CONFIGS["gpt2"](), dtype=F64, generator=nf.Generator(7))
    ids = np.array([[3, 4, 5]])
    params, names = _named_parameters(model)
    stray = nf.tensor(np.ones(3), requires_grad=True)        # changes the loss, but through detach():

    def fn():
        return model(ids, labels=ids).loss + (stray.detach() ** 2).sum()     # no gradient reaches it
    with pytest.raises(nf.GradcheckError, match="the gradient of stray"):
        nf.gradcheck_parameters(fn, params + [stray], names=names + ["stray"])


def test_labels_of_the_original_transformer_are_label_smoothed():
    rng = np.random.default_rng(6)
    config = SEQ2SEQ_CONFIGS["transformer"]()
    assert config.label_smoothing == 0.1
    model = EncoderDecoder(config, dtype=F64, generator=nf.Generator(8))
    src, labels = _ids(rng, (2, 5)), _ids(rng, (2, 4))
    out = model(src, labels=labels)
    logits = out.logits.numpy().reshape(-1, 37)
    row_max = logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits - row_max).sum(1, keepdims=True)) - row_max
    expected = np.mean(-0.9 * logp[np.arange(8), labels.reshape(-1)] - 0.1 * logp.mean(1))
    assert out.loss.item() == pytest.approx(expected, rel=1e-12)


def test_encode_and_decode_compose_to_forward():
    rng = np.random.default_rng(7)
    model = EncoderDecoder(SEQ2SEQ_CONFIGS["bart"](), dtype=F64, generator=nf.Generator(9))
    src, tgt = _ids(rng, (2, 5)), _ids(rng, (2, 4))
    memory = model.encode(src)
    np.testing.assert_array_equal(model.decode(tgt, memory).numpy(), model(src, decoder_input_ids=tgt).logits.numpy())


@pytest.mark.parametrize("build", [
    lambda: GPT(GPT_CONFIGS["gpt2"]()), lambda: GPT(GPT_CONFIGS["llama"]()),
    lambda: BertForPreTraining(BertConfig(**TINY_BERT)), lambda: BertForQuestionAnswering(BertConfig(**TINY_BERT)),
    lambda: EncoderDecoder(SEQ2SEQ_CONFIGS["bart"]()), lambda: EncoderDecoder(SEQ2SEQ_CONFIGS["marian"]()),
    lambda: EncoderDecoder(SEQ2SEQ_CONFIGS["t5"]()), lambda: EncoderDecoder(SEQ2SEQ_CONFIGS["t5-v1.1"]()),
], ids=["gpt2", "llama", "bert-pretraining", "bert-qa", "bart", "marian", "t5", "t5-v1.1"])
def test_save_then_load_is_the_identity(tmp_path, build):
    model = build()
    model.save_pretrained(tmp_path)
    loaded = from_pretrained(tmp_path)
    assert type(loaded) is type(model)
    original, reloaded = model.state_dict(), loaded.state_dict()
    assert list(original) == list(reloaded)
    for name in original:
        np.testing.assert_array_equal(original[name], reloaded[name], err_msg=name)


@pytest.mark.parametrize("build", [
    lambda: GPT(GPT_CONFIGS["gpt2"]()), lambda: GPT(GPT_CONFIGS["llama"]()),
    lambda: BertForPreTraining(BertConfig(**TINY_BERT)), lambda: BertForQuestionAnswering(BertConfig(**TINY_BERT)),
    lambda: EncoderDecoder(SEQ2SEQ_CONFIGS["bart"]()), lambda: EncoderDecoder(SEQ2SEQ_CONFIGS["t5-v1.1"]()),
], ids=["gpt2", "llama", "bert-pretraining", "bert-qa", "bart", "t5-v1.1"])
def test_each_rule_says_the_shape_it_saves(build):
    # loading checks a file's header against these shapes before reading any tensor
    from npformer.interop import FAMILIES
    model = build()
    family = next(f for f in FAMILIES.values() if f.matches(model))
    state = model.state_dict()
    for rule in family.rules(model):
        arrays = tuple(state[name] for name in rule.ours)
        assert rule.hf_shape(tuple(a.shape for a in arrays)) == rule.save(arrays).shape, rule.hf


def test_original_transformer_has_no_hugging_face_equivalent(tmp_path):
    with pytest.raises(UnsupportedModelError, match="no Hugging Face equivalent"):
        EncoderDecoder(SEQ2SEQ_CONFIGS["transformer"]()).save_pretrained(tmp_path)


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_logits_to_keep_projects_only_the_last_positions(kind):
    rng = np.random.default_rng(11)
    model = GPT(GPT_CONFIGS[kind](), dtype=F64, generator=nf.Generator(12))
    ids, mask = _ids(rng, (2, 7)), np.array([[0, 0, 1, 1, 1, 1, 1], [1] * 7])
    full = model(ids, attention_mask=mask).logits.numpy()
    for keep in (1, 3, 7):
        kept = model(ids, attention_mask=mask, logits_to_keep=keep).logits.numpy()
        assert kept.shape == (2, keep, 37)
        np.testing.assert_allclose(kept, full[:, -keep:], rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="logits_to_keep must be an int >= 0"):
        model(ids, logits_to_keep=-1)
    with pytest.raises(ValueError, match="labels need the logits of every position"):
        model(ids, labels=ids, logits_to_keep=1)


def test_t5_does_not_freeze_the_pad_embedding():
    # T5 decodes from its pad token and trains that row (transformers' T5 embedding has no
    # padding_idx); BART and Marian keep PyTorch's padding_idx (no gradient through the lookup,
    # tested with Embedding)
    for kind, frozen in (("t5", False), ("bart", True), ("marian", True)):
        config = SEQ2SEQ_CONFIGS[kind]()
        model = EncoderDecoder(config, dtype=F64, generator=nf.Generator(16))
        assert model.embed_tokens.padding_idx == (config.pad_token_id if frozen else None), kind


def test_t5_initialisation_follows_t5s_scales():
    # transformers' T5._init_weights with initializer_factor f: shared N(0, f), queries
    # N(0, f / sqrt(d_model d_kv)), keys, values, wi N(0, f / sqrt(d_model)), o N(0, f / sqrt(H d_kv)),
    # wo N(0, f / sqrt(d_ff)), the bias tables N(0, f / sqrt(d_model)); RMSNorm weights 1
    d, heads, d_ff, f = 64, 4, 256, 0.5
    config = EncoderDecoderConfig.t5(vocab_size=400, d_model=d, n_heads=heads, encoder_layers=1, decoder_layers=1,
                                     d_ff=d_ff, relative_buckets=32, activation="geglu_tanh", init_std=f)
    model = EncoderDecoder(config, generator=nf.Generator(17))
    head_dim = d // heads
    expected = {"embed_tokens.weight": f, "q_proj": f * (d * head_dim) ** -0.5, "k_proj": f * d ** -0.5,
                "v_proj": f * d ** -0.5, "out_proj": f * (heads * head_dim) ** -0.5, "ffn.gate": f * d ** -0.5,
                "ffn.up": f * d ** -0.5, "ffn.down": f * d_ff ** -0.5, "relative_attention_bias": f * d ** -0.5}
    checked = set()
    for name, param in model.named_parameters():
        if param.ndim == 1:
            np.testing.assert_array_equal(param.numpy(), 1.0, err_msg=name)
            continue
        key = next(k for k in expected if k in name)
        # >= 256 samples each (the bias tables: 32 x 4): the sample std is within 20% with
        # overwhelming probability, and the scales told apart here differ by 2x or more
        assert abs(param.numpy().std() / expected[key] - 1) < 0.2, (name, param.numpy().std(), expected[key])
        checked.add(key)
    assert checked == set(expected)


def test_t5_has_no_position_table_to_overrun():
    # relative positions: sources and decoded sequences longer than max_positions (16 here) work
    rng = np.random.default_rng(13)
    model = EncoderDecoder(SEQ2SEQ_CONFIGS["t5"](), dtype=F64, generator=nf.Generator(14)).eval()
    src = _ids(rng, (1, 40))
    out = model(src, decoder_input_ids=_ids(rng, (1, 30)))
    assert out.logits.shape == (1, 30, 37) and np.all(np.isfinite(out.logits.numpy()))
    assert model.generate(src, max_new_tokens=24, eos_token_id=None).shape == (1, 25)
    with pytest.raises(ValueError, match="beyond the position table of 16"):
        EncoderDecoder(SEQ2SEQ_CONFIGS["bart"]())(src[:, :20], decoder_input_ids=src[:, :4])


# ---------------------------------------------------------------- bad input
def test_token_id_beyond_the_vocabulary_is_named():
    model = GPT(GPT_CONFIGS["gpt2"]())
    with pytest.raises(IndexError, match=r"input_ids holds id 37, outside the vocabulary of 37 tokens \(0..36\)"):
        model(np.array([[1, 37]]))


def test_sequence_longer_than_the_position_table_is_named():
    with pytest.raises(ValueError, match=r"reaches position 16, beyond the position table of 16 positions"):
        GPT(GPT_CONFIGS["gpt2"]())(np.zeros((1, 17), dtype=np.int64))
    with pytest.raises(ValueError, match="beyond the position table of 16"):
        BertModel(BertConfig(**TINY_BERT))(np.zeros((1, 17), dtype=np.int64))


def test_attention_mask_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"attention_mask has shape \(2, 4\), expected \(batch, length\) = \(2, 5\)"):
        GPT(GPT_CONFIGS["gpt2"]())(np.zeros((2, 5), dtype=np.int64), attention_mask=np.ones((2, 4)))


def test_labels_of_the_wrong_shape_are_named():
    ids = np.zeros((2, 5), dtype=np.int64)
    with pytest.raises(ValueError, match=r"labels have shape \(2, 4\), expected \(batch, length\) = \(2, 5\)"):
        GPT(GPT_CONFIGS["gpt2"]())(ids, labels=np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"labels have shape \(3,\), expected \(2,\)"):
        BertForSequenceClassification(BertConfig(**TINY_BERT))(ids, labels=np.zeros(3, dtype=np.int64))


def test_config_missing_a_field_is_named(tmp_path):
    GPT(GPT_CONFIGS["gpt2"]()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["n_embd"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"config.json \(model_type 'gpt2'\) is missing the field 'n_embd'"):
        from_pretrained(tmp_path)


@pytest.mark.parametrize("change, match", [
    (dict(d_kv=3), r"config.json \(model_type 't5'\): d_kv \* num_heads = 3 \* 2 differs from d_model = 8"),
    (dict(feed_forward_proj="gated-tanh"), r"config.json \(model_type 't5'\): feed_forward_proj='gated-tanh' is not "),
    (dict(feed_forward_proj="double-relu"), r"config.json \(model_type 't5'\): feed_forward_proj='double-relu' is not"),
])
def test_t5_options_npformer_cannot_reproduce_are_named(tmp_path, change, match):
    EncoderDecoder(SEQ2SEQ_CONFIGS["t5"]()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config.update(change)
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedModelError, match=match):
        from_pretrained(tmp_path)


def test_t5_reads_scaled_outputs_from_either_flag(tmp_path):
    # transformers 5 writes scale_decoder_outputs; older T5 configs say tie_word_embeddings=false
    EncoderDecoder(SEQ2SEQ_CONFIGS["t5"]()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert from_pretrained(tmp_path).config.scale_decoder_outputs is True
    del config["scale_decoder_outputs"]
    config["tie_word_embeddings"] = False
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert from_pretrained(tmp_path).config.scale_decoder_outputs is False


def test_unsupported_model_type_is_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mamba", "architectures": ["MambaForCausalLM"]}))
    with pytest.raises(UnsupportedModelError,
                       match=r"model_type 'mamba' is not supported; supported: \['bart', 'bert'"):
        from_pretrained(tmp_path)


def test_missing_and_unexpected_tensors_are_listed(tmp_path):
    from npformer.io import load_file, save_file
    GPT(GPT_CONFIGS["gpt2"]()).save_pretrained(tmp_path)
    tensors = dict(load_file(tmp_path / "model.safetensors", mmap=False))
    del tensors["transformer.h.1.mlp.c_fc.weight"]
    tensors["transformer.h.1.mlp.extra"] = np.zeros(3, dtype=np.float32)
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError) as info:
        from_pretrained(tmp_path)
    message = str(info.value)
    assert "missing tensors (1): transformer.h.1.mlp.c_fc.weight" in message
    assert "unexpected tensors (1): transformer.h.1.mlp.extra" in message
    lenient = from_pretrained(tmp_path, strict=False)
    assert lenient.load_report == {"missing": ["transformer.h.1.mlp.c_fc.weight"],
                                   "unexpected": ["transformer.h.1.mlp.extra"]}


def test_pickled_checkpoints_are_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
                                                      "vocab_size": 5, "n_positions": 4, "n_embd": 4, "n_layer": 1,
                                                      "n_head": 1}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not opened")
    with pytest.raises(CheckpointError, match="a pickle, which npformer never loads"):
        from_pretrained(tmp_path)


def test_checkpoint_dtype_is_kept_or_cast(tmp_path):
    GPT(GPT_CONFIGS["llama"]()).save_pretrained(tmp_path)
    assert from_pretrained(tmp_path).embed_tokens.weight.dtype == np.float32
    assert from_pretrained(tmp_path, dtype=np.float64).embed_tokens.weight.dtype == np.float64
