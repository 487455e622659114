"""Decoding (npformer.generation): the KV cache against recomputing, the search strategies'
properties, and bad input.

The cache property is checked at two levels, on small random models of each family (GPT-2
style, Llama style with grouped-query heads and RoPE, GPT with ALiBi, BART, T5 with its relative
position bias in both versions, and the original encoder-decoder), with left-padded batched
prompts for the decoder-only models and right-padded sources for the encoder-decoders, in
float64 (to 1e-10) and in float32 (to float32 rounding, see FLOAT32_TOLERANCE):

- the model: ``model(..., cache=cache)`` fed one token at a time gives, at every step, the last
  position's logits of ``model(whole sequence)`` without a cache, and those of each row run
  alone without padding;
- generation: the logits ``_Runner`` hands the search at every step with the cache (the
  model's own forward through ``decode_step``) equal those of recomputing (``use_cache=False``),
  outside ``prepared_layouts()`` and inside it with every weight given a prepared copy.

Generation runs the model's own forward: a subclass that overrides forward decodes with it.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer
from npformer import generation
from npformer.autograd.random import Generator
from npformer.generation import beam_search, generate, stream
from npformer.models import GPT, EncoderDecoder, EncoderDecoderConfig, GPTConfig, ModelOutput
from npformer.ops import layouts
from npformer.ops.layouts import prepared_layouts
from tests.helpers import relative_error

CACHE_TOLERANCE = 1e-10             # relative error of cached against recomputed logits, float64


# --------------------------------------------------------------------------- small models
def randomized(model, seed):
    """Norm weights 1 + N(0, 0.1) and biases N(0, 0.1) (BART's final_logits_bias too) instead of
    the init's ones and zeros, which would hide a wrong or missing scale or shift."""
    rng = np.random.default_rng(seed)
    for name, param in model.named_parameters():
        if param.numpy().ndim == 1:
            param.numpy()[...] = (0.0 if name.endswith("bias") else 1.0) + 0.1 * rng.standard_normal(param.shape)
    if getattr(model, "final_logits_bias", None) is not None:
        model.final_logits_bias.numpy()[...] = 0.3 * rng.standard_normal(model.final_logits_bias.shape)
    return model.eval()


def gpt2(seed=0, vocab=23, max_positions=40, std=0.3, *, dtype=np.float64, **options):
    options = dict(dict(d_model=16, n_layers=2, n_heads=2), **options)
    config = GPTConfig.gpt2(vocab_size=vocab, max_positions=max_positions, init_std=std, **options)
    return randomized(GPT(config, dtype=dtype, generator=Generator(seed)), seed)


def llama(seed=0, vocab=23, max_positions=40, std=0.3, *, dtype=np.float64, **options):
    config = GPTConfig.llama(vocab_size=vocab, max_positions=max_positions, d_model=16, n_layers=2, n_heads=4,
                             n_kv_heads=2, d_ff=24, init_std=std, **options)
    return randomized(GPT(config, dtype=dtype, generator=Generator(seed)), seed)


def gpt_alibi(seed=0, vocab=23, std=0.3, *, dtype=np.float64):
    """ALiBi with grouped-query attention (4 query heads, 2 key/value heads), RMSNorm, GeGLU."""
    return gpt2(seed, vocab, std=std, position="alibi", norm="rmsnorm", activation="geglu", bias=False, n_heads=4,
                n_kv_heads=2, dtype=dtype)


def bart(seed=0, vocab=23, max_positions=40, std=0.3, *, dtype=np.float64):
    config = EncoderDecoderConfig.bart(vocab_size=vocab, d_model=16, n_heads=2, encoder_layers=2, decoder_layers=2,
                                       d_ff=24, max_positions=max_positions, dropout=0.0, init_std=std)
    return randomized(EncoderDecoder(config, dtype=dtype, generator=Generator(seed)), seed)


def transformer(seed=0, vocab=23, max_positions=40, std=0.3, *, dtype=np.float64):
    config = EncoderDecoderConfig.transformer(vocab_size=vocab, d_model=16, n_heads=4, encoder_layers=2,
                                              decoder_layers=2, d_ff=24, max_positions=max_positions, dropout=0.1,
                                              init_std=std)
    return randomized(EncoderDecoder(config, dtype=dtype, generator=Generator(seed)), seed)


def t5(seed=0, vocab=23, max_positions=40, std=0.3, *, dtype=np.float64, **options):
    """T5 with few buckets and a short max_distance, so that short sequences reach the
    logarithmic buckets (and, decoding, the bias of each new query moves with its position)."""
    config = EncoderDecoderConfig.t5(vocab_size=vocab, d_model=16, n_heads=2, encoder_layers=2, decoder_layers=2,
                                     d_ff=24, relative_buckets=8, relative_max_distance=10, dropout=0.0, init_std=std,
                                     **options)
    return randomized(EncoderDecoder(config, dtype=dtype, generator=Generator(seed)), seed)


def t5_v1_1(seed=0, vocab=23, max_positions=40, std=0.3, *, dtype=np.float64):
    return t5(seed, vocab, max_positions, std, activation="geglu_tanh", scale_decoder_outputs=False, dtype=dtype)


FAMILIES = {"gpt2": gpt2, "llama": llama, "gpt-alibi": gpt_alibi, "bart": bart, "t5": t5, "t5-v1.1": t5_v1_1,
            "transformer": transformer}
DECODER_ONLY = ("gpt2", "llama", "gpt-alibi")


def left_padded(rng, lengths, width, vocab, pad=0):
    """ids and attention_mask (B, width): row i holds lengths[i] real tokens at the right."""
    mask = (np.arange(width)[None, :] >= width - np.asarray(lengths)[:, None]).astype(np.int64)
    ids = np.where(mask == 1, rng.integers(0, vocab, mask.shape), pad)
    return ids, mask


def right_padded(rng, lengths, width, vocab, pad):
    mask = (np.arange(width)[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)
    ids = np.where(mask == 1, rng.integers(0, vocab, mask.shape), pad)
    return ids, mask


def prompts(family, rng, lengths, width, vocab=23):
    """Decoder-only prompts are left-padded, encoder-decoder sources right-padded."""
    if family in DECODER_ONLY:
        return left_padded(rng, lengths, width, vocab)
    return right_padded(rng, lengths, width, vocab, FAMILIES[family]().config.pad_token_id)


def positions_of(mask):
    positions = np.cumsum(mask, axis=1) - 1
    positions[mask == 0] = 1
    return positions


# --------------------------------------------------------------------------- cache == recompute
# float32: cached and recomputed logits differ only in the order of their sums (one row at a
# time against the whole sequence; a prepared (in, out) copy against W itself), so their gap is
# float32 rounding carried through the model. Each product or sum of n terms rounds with a
# relative error of about sqrt(n) * u (u = 2^-24 ~ 6e-8, float32's unit roundoff; sqrt(n) since
# the roundings of a sum are independent and mostly cancel, n * u being a worst case never met),
# and the residual stream carries every sublayer's error up to the logits, so the errors of the
# blocks on the path add: sqrt(n) * u * depth. Here the longest reduction is n = 64 (GPT-2's
# hidden width 4 * d_model; the others are d_model = 16, d_ff = 24 and at most 12 keys) and the
# depth is 4 blocks (an encoder-decoder's 2 + 2: the rows run alone re-encode their source), so
# sqrt(n) * u * depth = 8 * 6e-8 * 4 = 1.9e-6. The factor 8 on top (1.5e-5 in all) covers what
# this count leaves out: each block has several products in a row (projections, scores, weighted
# sum, output projection, two FFN products), and LayerNorm/RMSNorm divide by a standard deviation
# that can be below 1. Measured over 1,300 random examples per family, the worst error was 3.0e-6
# (GPT with ALiBi; BART 2.9e-6, Llama 2.5e-6, the original Transformer 2.3e-6, GPT-2 1.5e-6, T5
# 5.4e-7, T5 v1.1 4.5e-7), a fifth of the bound; a real mistake (a padding or source mask left out,
# a position one too far) gives 6e-3 (T5's bias one position off, often the same distance bucket)
# to above 1 (test_the_float32_tolerance_is_far_below_a_real_mistake holds some of them to > 100x).
#
# The error is taken relative to the row's largest |logit|: a logit is a sum over d_model of
# terms about as large as the row's largest logits, so its rounding error scales with the row,
# not with itself (a logit near 0 is a difference of larger terms, and its own relative error
# means nothing); per row, so that a row of small logits is held to its own scale, not
# hidden under a batch neighbour's larger one.
FLOAT32_UNIT_ROUNDOFF = 2.0 ** -24
FLOAT32_TOLERANCE = 8 * np.sqrt(64) * FLOAT32_UNIT_ROUNDOFF * 4           # 1.5e-5


def row_relative_error(actual, expected):
    """max over rows of max_j |actual - expected| / max_j |expected| (rows: the last axis)."""
    actual = np.asarray(actual, dtype=np.float64).reshape(-1, np.shape(expected)[-1])
    expected = np.asarray(expected, dtype=np.float64).reshape(actual.shape)
    if not (np.isfinite(actual).all() and np.isfinite(expected).all()):
        return float("inf")
    scale = np.max(np.abs(expected), axis=-1)
    return float(np.max(np.max(np.abs(actual - expected), axis=-1) / scale))


@contextlib.contextmanager
def every_weight_prepared():
    """prepared_layouts() with MIN_ELEMENTS lowered to 1: these small models' weights get the
    prepared (in, out) copies a large model's vocabulary projection gets."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(layouts, "MIN_ELEMENTS", 1)
        with prepared_layouts():
            yield


def _draw_case(family, data, dtype):
    seed = data.draw(st.integers(0, 2 ** 16), label="seed")
    batch = data.draw(st.integers(1, 3), label="batch")
    width = data.draw(st.integers(1, 6), label="prompt width")
    lengths = data.draw(st.lists(st.integers(1, width), min_size=batch, max_size=batch), label="real lengths")
    steps = data.draw(st.integers(1, 6), label="steps")
    model = FAMILIES[family](seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    ids, mask = prompts(family, rng, lengths, width)
    fed = rng.integers(0, model.config.vocab_size, (batch, steps))        # the tokens appended, one per step
    return model, ids, mask, fed


def _check_model(family, model, ids, mask, fed):
    if family in DECODER_ONLY:
        _check_decoder_only_model(model, ids, mask, fed)
    else:
        _check_encoder_decoder_model(model, ids, mask, fed)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@given(data=st.data())
def test_cached_logits_equal_recomputed(family, data):
    model, ids, mask, fed = _draw_case(family, data, np.float64)
    with npformer.no_grad():
        _check_model(family, model, ids, mask, fed)
        _check_runner(model, ids, mask, fed)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@given(data=st.data())
def test_cached_logits_equal_recomputed_in_float32(family, data):
    """The same in float32, to float32 rounding (FLOAT32_TOLERANCE); the model-level check runs
    inside prepared_layouts() with every weight prepared, as a decoding run's products are."""
    model, ids, mask, fed = _draw_case(family, data, np.float32)
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float32)}
    with npformer.no_grad():
        with every_weight_prepared():
            _check_model(family, model, ids, mask, fed)
        _check_runner(model, ids, mask, fed)


def _close(actual, expected, what):
    """Equal to the rounding of the logits' dtype: 1e-10 in float64, FLOAT32_TOLERANCE in float32."""
    if expected.dtype == np.float32:
        assert actual.dtype == np.float32, f"{what}: float32 model gave {actual.dtype} logits"
        error, tolerance = row_relative_error(actual, expected), FLOAT32_TOLERANCE
    else:
        assert expected.dtype == np.float64, f"{what}: expected float64 logits, got {expected.dtype}"
        error, tolerance = relative_error(actual, expected), CACHE_TOLERANCE
    assert error <= tolerance, f"{what}: cached logits differ from recomputed by {error:.2e} (relative)"


def _check_decoder_only_model(model, ids, mask, fed):
    batch, width = ids.shape
    sequence = np.concatenate([ids, fed], axis=1)
    full_mask = np.concatenate([mask, np.ones_like(fed)], axis=1)
    positions = positions_of(full_mask)
    cache = model.make_cache(batch, sequence.shape[1])
    prompt_logits = model(ids, attention_mask=mask, position_ids=positions[:, :width], cache=cache).logits.numpy()
    for end in range(width, sequence.shape[1] + 1):
        if end > width:                                       # one new token per row, from the cache
            step = model(sequence[:, end - 1:end], attention_mask=full_mask[:, :end],
                         position_ids=positions[:, end - 1:end], cache=cache).logits.numpy()[:, -1]
        else:
            step = prompt_logits[:, -1]
        recomputed = model(sequence[:, :end], attention_mask=full_mask[:, :end],
                           position_ids=positions[:, :end]).logits.numpy()[:, -1]
        _close(step, recomputed, f"step {end - width}")
        for row in range(batch):                              # and each row alone, without padding
            alone = model(sequence[row:row + 1, width - mask[row].sum():end]).logits.numpy()[0, -1]
            _close(step[row], alone, f"step {end - width}, row {row} unpadded")
    assert cache[0].length == sequence.shape[1]


def _check_encoder_decoder_model(model, ids, mask, fed):
    batch = ids.shape[0]
    start = np.full((batch, 1), model.config.decoder_start_token_id)
    target = np.concatenate([start, fed], axis=1)
    memory = model.encode(ids, mask)
    cache = model.make_cache(batch, target.shape[1], memory.shape[1])
    for end in range(1, target.shape[1] + 1):
        step = model.decode(target[:, end - 1:end], memory, mask, cache=cache).numpy()[:, -1]
        recomputed = model.decode(target[:, :end], memory, mask).numpy()[:, -1]
        _close(step, recomputed, f"decoder position {end - 1}")
        for row in range(batch):
            real = mask[row].sum()
            alone = model.decode(target[row:row + 1, :end], model.encode(ids[row:row + 1, :real])).numpy()[0, -1]
            _close(step[row], alone, f"decoder position {end - 1}, row {row} unpadded")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_float32_tolerance_is_far_below_a_real_mistake(family):
    """FLOAT32_TOLERANCE has teeth: a cached float32 step that leaves out the padding mask
    (decoder-only) or the source mask (encoder-decoders), or numbers the new token one position
    too far (learned positions, RoPE), differs from the recomputed logits by more than 100 times it."""
    model = FAMILIES[family](seed=5, dtype=np.float32)
    rng = np.random.default_rng(5)
    ids, mask = prompts(family, rng, [5, 2, 4], 5)
    new = rng.integers(0, model.config.vocab_size, (3, 1))
    mistakes = {}
    with npformer.no_grad():
        if family in DECODER_ONLY:
            full_mask = np.concatenate([mask, np.ones_like(new)], axis=1)
            positions = positions_of(full_mask)
            right = model(np.concatenate([ids, new], axis=1), attention_mask=full_mask,
                          position_ids=positions).logits.numpy()[:, -1]

            def step(masked=True, shift=0):
                cache = model.make_cache(3, 6)
                model(ids, attention_mask=mask if masked else None, position_ids=positions[:, :5], cache=cache)
                return model(new, attention_mask=full_mask if masked else None, position_ids=positions[:, 5:] + shift,
                             cache=cache).logits.numpy()[:, -1]
            mistakes["no padding mask"] = step(masked=False)
            if model.position_limit is not None:
                mistakes["position one too far"] = step(shift=1)
        else:
            target = np.concatenate([np.full((3, 1), model.config.decoder_start_token_id), new], axis=1)
            memory = model.encode(ids, mask)
            right = model.decode(target, memory, mask).numpy()[:, -1]

            def step(masked=True):
                cache = model.make_cache(3, 2, memory.shape[1])
                model.decode(target[:, :1], memory, mask if masked else None, cache=cache)
                return model.decode(new, memory, mask if masked else None, cache=cache).numpy()[:, -1]
            mistakes["no source mask"] = step(masked=False)
        _close(step(), right, "the step without a mistake")
    for what, logits in mistakes.items():
        error = row_relative_error(logits, right)
        assert error > 100 * FLOAT32_TOLERANCE, f"{what}: only {error:.2e} from the right logits"


def _check_runner(model, ids, mask, fed):
    """Generation's own step logits with the cache (the model's forward through decode_step)
    equal those of recomputing the whole sequence (use_cache=False), outside prepared_layouts()
    and, as generation runs, inside one scope for the whole run with every weight prepared."""
    steps = fed.shape[1]
    recompute = generation._Runner(model, ids, mask, steps, use_cache=False)
    cached = generation._Runner(model, ids, mask, steps, use_cache=True)
    sequences, sequence, new = [], recompute.prompt, None        # what each step sees: the sequence, its new tokens
    for step in range(steps):
        sequences.append((sequence, new))
        new = fed[:, step]
        sequence = np.concatenate([sequence, new[:, None]], axis=1)
    expected = []
    for step, (sequence, new) in enumerate(sequences):
        expected.append(recompute.logits(sequence, new))
        assert expected[-1].dtype == model.lm_head.weight.dtype, "logits come in the model's dtype"
        _close(cached.logits(sequence, new), expected[-1], f"generation step {step}")
    assert cached.cache.length == sequences[-1][0].shape[1]
    with every_weight_prepared():
        cached = generation._Runner(model, ids, mask, steps, use_cache=True)
        recompute = generation._Runner(model, ids, mask, steps, use_cache=False)
        for step, (sequence, new) in enumerate(sequences):
            _close(cached.logits(sequence, new), expected[step], f"generation step {step} (prepared layouts)")
            _close(recompute.logits(sequence, new), expected[step], f"generation step {step} (prepared, recomputed)")
        # the vocabulary projection went through the prepared copies: it has been seen in this scope
        assert layouts.transposed(model.lm_head.weight.numpy()) is not None


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_generate_with_and_without_cache_give_the_same_tokens(family):
    model = FAMILIES[family](seed=1)
    ids, mask = prompts(family, np.random.default_rng(1), [5, 2, 4], 5)
    common = dict(max_new_tokens=10)
    for options in (dict(), dict(num_beams=3, eos_token_id=4, pad_token_id=3),
                    dict(do_sample=True, top_k=5), dict(repetition_penalty=1.5, no_repeat_ngram_size=2)):
        outputs = []
        for use_cache in (True, False):
            if options.get("do_sample"):
                options["generator"] = Generator(7)
            outputs.append(generate(model, ids, mask, use_cache=use_cache, **common, **options))
        np.testing.assert_array_equal(outputs[0], outputs[1], err_msg=f"{family} {options}")


def test_generation_decodes_with_the_models_own_forward():
    """There is one forward: a GPT subclass whose forward shifts the logits decodes with that
    forward (other tokens than its base class), and its cached steps equal recomputing."""
    shift = 3.0 * np.random.default_rng(2).standard_normal(23)

    class Shifted(GPT):
        def forward(self, *args, **kwargs):
            out = super().forward(*args, **kwargs)
            return ModelOutput(logits=out.logits + shift, loss=out.loss)

    model = gpt2(seed=2)
    other = Shifted(model.config, dtype=np.float64, generator=Generator(2)).eval()
    other.load_state_dict(model.state_dict())
    prompt = np.array([4, 9, 1, 7])
    shifted = generate(other, prompt, max_new_tokens=8)
    np.testing.assert_array_equal(shifted[0], greedy_reference(other, prompt, 8))     # its forward, each step
    assert not np.array_equal(shifted, generate(model, prompt, max_new_tokens=8))
    np.testing.assert_array_equal(generate(other, prompt, max_new_tokens=8, use_cache=False), shifted)
    ids, mask = left_padded(np.random.default_rng(2), [4, 2], 4, 23)
    with npformer.no_grad():
        step = generation._Runner(other, ids, mask, 1, use_cache=True).logits(ids, None)
        base = generation._Runner(model, ids, mask, 1, use_cache=True).logits(ids, None)
        np.testing.assert_allclose(step, base + shift, rtol=0, atol=1e-12)
        _check_runner(other, ids, mask, np.random.default_rng(3).integers(0, 23, (2, 5)))


# --------------------------------------------------------------------------- search strategies
def greedy_reference(model, ids, steps):
    """Greedy decoding by recomputing the whole sequence each step, one row, no padding."""
    sequence = np.asarray(ids)[None, :]
    for _ in range(steps):
        with npformer.no_grad():
            logits = model(sequence).logits.numpy()[0, -1].astype(np.float32)
        sequence = np.concatenate([sequence, [[np.argmax(logits)]]], axis=1)
    return sequence[0]


def test_greedy_is_the_argmax_of_the_logits_at_each_step():
    model = llama(seed=3)
    ids = np.array([5, 9, 1, 14])
    np.testing.assert_array_equal(generate(model, ids, max_new_tokens=12)[0], greedy_reference(model, ids, 12))


@pytest.mark.parametrize("family", ["gpt2", "llama", "bart"])
def test_beam_search_with_one_beam_is_greedy(family):
    model = FAMILIES[family](seed=4)
    ids, mask = prompts(family, np.random.default_rng(4), [6, 3], 6)
    greedy = generate(model, ids, mask, max_new_tokens=15)
    np.testing.assert_array_equal(beam_search(model, ids, mask, num_beams=1, max_new_tokens=15), greedy)
    np.testing.assert_array_equal(generate(model, ids, mask, num_beams=1, max_new_tokens=15), greedy)


def test_top_k_1_sampling_and_a_tiny_top_p_are_greedy():
    model = gpt2(seed=5)
    ids, mask = left_padded(np.random.default_rng(5), [5, 3, 1], 5, 23)
    greedy = generate(model, ids, mask, max_new_tokens=15)
    for options in (dict(top_k=1), dict(top_k=1, temperature=0.3), dict(top_p=1e-6), dict(top_p=1e-6, temperature=3.0)):
        sampled = generate(model, ids, mask, max_new_tokens=15, do_sample=True, generator=Generator(11), **options)
        np.testing.assert_array_equal(sampled, greedy, err_msg=str(options))


def test_seeded_sampling_repeats_and_other_seeds_differ():
    model = gpt2(seed=6, std=0.05)                        # a spread-out distribution
    ids = np.array([[3, 4, 5], [6, 7, 8]])
    first = generate(model, ids, max_new_tokens=20, do_sample=True, generator=Generator(21))
    again = generate(model, ids, max_new_tokens=20, do_sample=True, generator=Generator(21))
    other = generate(model, ids, max_new_tokens=20, do_sample=True, generator=Generator(22))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    npformer.manual_seed(5)                               # without a generator: the default one
    default = generate(model, ids, max_new_tokens=20, do_sample=True)
    npformer.manual_seed(5)
    np.testing.assert_array_equal(generate(model, ids, max_new_tokens=20, do_sample=True), default)


def _first_token_distribution(model, prompt, samples, **options):
    ids = np.repeat(np.asarray(prompt)[None, :], samples, axis=0)
    first = generate(model, ids, max_new_tokens=1, do_sample=True, generator=Generator(31), **options)[:, -1]
    return np.bincount(first, minlength=model.config.vocab_size) / samples


def _softmax64(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


@pytest.mark.parametrize("options", [dict(), dict(temperature=0.5), dict(temperature=2.0), dict(top_k=3),
                                     dict(top_p=0.6), dict(top_k=4, temperature=1.5)], ids=str)
def test_sampling_follows_the_processed_softmax(options):
    """Empirical frequencies of 20,000 first tokens against the distribution the options
    define, each within 5 standard errors: temperature divides the logits; top-k keeps the k
    largest; top-p keeps the fewest most likely tokens whose probability reaches p."""
    model = gpt2(seed=7, vocab=9, std=0.15)
    prompt = [1, 2, 3]
    with npformer.no_grad():
        logits = model(np.asarray(prompt)[None]).logits.numpy()[0, -1].astype(np.float32).astype(np.float64)
    logits = logits / options.get("temperature", 1.0)
    keep = np.ones(len(logits), dtype=bool)
    if "top_k" in options:
        keep &= logits >= np.sort(logits)[-options["top_k"]]
    if "top_p" in options:
        order = np.argsort(-logits)
        before = np.cumsum(_softmax64(logits)[order]) - _softmax64(logits)[order]   # mass of the more likely
        keep[order[before >= options["top_p"]]] = False
    expected = _softmax64(np.where(keep, logits, -np.inf))
    assert 2 <= keep.sum() < len(keep) or not ("top_k" in options or "top_p" in options)
    samples = 20000
    observed = _first_token_distribution(model, prompt, samples, **options)
    standard_error = np.sqrt(expected * (1 - expected) / samples)
    assert np.all(observed[~keep] == 0), f"sampled a token the options exclude: {observed}"
    assert np.all(np.abs(observed - expected) <= 5 * standard_error + 1e-12), (observed, expected)


def test_repetition_penalty_follows_hugging_face_rule():
    """Each step's choice is the argmax of the logits with every token already in the
    sequence divided by the penalty when positive and multiplied by it when negative."""
    model = gpt2(seed=8, std=0.1)
    prompt, penalty, steps = np.array([2, 7, 7, 11]), 1.8, 12
    sequence = prompt[None, :]
    for _ in range(steps):
        with npformer.no_grad():
            logits = model(sequence).logits.numpy()[0, -1].astype(np.float32)
        seen = np.unique(sequence)
        scale = np.float32(penalty)
        logits[seen] = np.where(logits[seen] < 0, logits[seen] * scale, logits[seen] / scale)
        sequence = np.concatenate([sequence, [[np.argmax(logits)]]], axis=1)
    penalized = generate(model, prompt, max_new_tokens=steps, repetition_penalty=penalty)
    np.testing.assert_array_equal(penalized, sequence)
    assert not np.array_equal(penalized, generate(model, prompt, max_new_tokens=steps))   # it changed something


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_repetition_penalty_ignores_left_padding(family):
    """As in HF, a row's left padding is not "already in the sequence": each row of a padded
    batch decodes as it does alone (the pad id is a token the model could produce)."""
    model = FAMILIES[family](seed=17, std=0.1)
    ids, mask = left_padded(np.random.default_rng(17), [6, 3, 1], 6, 23, pad=5)
    batched = generate(model, ids, mask, max_new_tokens=12, repetition_penalty=2.0)
    for row in range(3):
        alone = generate(model, ids[row, 6 - mask[row].sum():], max_new_tokens=12, repetition_penalty=2.0)
        np.testing.assert_array_equal(batched[row, 6:], alone[0, -12:])


def _ngrams(sequence, n):
    return [tuple(sequence[i:i + n]) for i in range(len(sequence) - n + 1)]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_repeat_ngram_size_leaves_no_repeated_ngram(n):
    model = gpt2(seed=9, std=0.05)                       # left alone it repeats itself
    ids = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    steps = 15 if n > 1 else 10
    free = generate(model, ids, max_new_tokens=steps)
    assert any(len(set(_ngrams(row, n))) < len(_ngrams(row, n)) for row in free.tolist())
    for options in (dict(), dict(num_beams=3), dict(do_sample=True, generator=Generator(3))):
        out = generate(model, ids, max_new_tokens=steps, no_repeat_ngram_size=n, **options)
        assert out.shape[1] == 4 + steps
        for row in out.tolist():
            grams = _ngrams(row, n)
            assert len(set(grams)) == len(grams), f"{options}: a {n}-gram repeats in {row}"


def _expected_with_end_tokens(free, prompt_length, ends, pad):
    """Free-running greedy output cut as generate cuts it: a row's first end token ends it,
    pad after; the result is as wide as the last row to finish."""
    rows, finish = [], []
    for row in free:
        new = row[prompt_length:]
        hits = np.flatnonzero(np.isin(new, ends))
        stop = hits[0] + 1 if len(hits) else len(new)
        finish.append(stop)
        rows.append(np.concatenate([row[:prompt_length + stop], np.full(len(new) - stop, pad)]))
    width = prompt_length + (max(finish) if all(np.isin(r[prompt_length:], ends).any() for r in free) else
                             free.shape[1] - prompt_length)
    return np.stack(rows)[:, :width], finish


@pytest.mark.parametrize("family", ["gpt2", "bart"])
def test_end_token_stops_a_row_and_pads_the_rest(family):
    model = FAMILIES[family](seed=10)
    ids, mask = prompts(family, np.random.default_rng(10), [5, 5, 3], 5)
    free = generate(model, ids, mask, max_new_tokens=20)
    prompt_length = 5 if family in DECODER_ONLY else 1
    new = free[0, prompt_length:]
    eos = int(new[3])                                      # row 0 ends at its 4th (or earlier) token
    pad = next(t for t in range(model.config.vocab_size) if t != eos)
    out = generate(model, ids, mask, max_new_tokens=20, eos_token_id=eos, pad_token_id=pad)
    expected, finish = _expected_with_end_tokens(free, prompt_length, [eos], pad)
    assert finish[0] <= 4
    np.testing.assert_array_equal(out, expected)
    # and several end tokens: each row stops at the first of any of them
    ends = [int(new[5]), int(free[1, prompt_length + 2])]
    out = generate(model, ids, mask, max_new_tokens=20, eos_token_id=ends, pad_token_id=pad)
    expected, finish = _expected_with_end_tokens(free, prompt_length, ends, pad)
    np.testing.assert_array_equal(out, expected)
    assert finish[1] <= 3


def test_decoding_stops_when_every_row_has_ended():
    model = gpt2(seed=12)
    ids = np.array([[4, 5, 6]])
    free = generate(model, ids, max_new_tokens=12)
    eos = int(free[0, 3 + 2])
    out = generate(model, ids, max_new_tokens=12, eos_token_id=eos)
    assert out.shape[1] <= 3 + 3 and out[0, -1] == eos


@pytest.mark.parametrize("family", ["gpt2", "transformer"])
def test_max_new_tokens_sets_the_length(family):
    model = FAMILIES[family](seed=13)
    ids, mask = prompts(family, np.random.default_rng(13), [4, 2], 4)
    prompt_length = 4 if family in DECODER_ONLY else 1
    for new in (1, 7):
        for options in (dict(), dict(num_beams=2), dict(do_sample=True)):
            assert generate(model, ids, mask, max_new_tokens=new, **options).shape == (2, prompt_length + new)


@pytest.mark.parametrize("family", ["llama", "bart"])
def test_stream_yields_the_tokens_generate_returns(family):
    model = FAMILIES[family](seed=14)
    ids, mask = prompts(family, np.random.default_rng(14), [5, 3], 5)
    prompt_length = 5 if family in DECODER_ONLY else 1
    free = generate(model, ids, mask, max_new_tokens=12)
    for options in (dict(), dict(do_sample=True, top_p=0.9), dict(eos_token_id=int(free[0, prompt_length + 4]))):
        seeded = dict(generator=Generator(41)) if options.get("do_sample") else {}
        steps = list(stream(model, ids, mask, max_new_tokens=12, **options, **seeded))
        assert all(step.shape == (2,) for step in steps)
        seeded = dict(generator=Generator(41)) if options.get("do_sample") else {}
        returned = generate(model, ids, mask, max_new_tokens=12, **options, **seeded)
        np.testing.assert_array_equal(np.stack(steps, axis=1), returned[:, prompt_length:])


def test_model_generate_and_stream_on_gpt_and_encoder_decoder():
    gpt = gpt2(seed=15)
    ids, mask = left_padded(np.random.default_rng(15), [3, 2], 3, 23)
    out = gpt.generate(ids, mask, max_new_tokens=6)
    assert out.shape == (2, 9) and np.array_equal(out[:, :3], ids)
    np.testing.assert_array_equal(out, generate(gpt, ids, mask, max_new_tokens=6))
    np.testing.assert_array_equal(np.stack(list(gpt.stream(ids, mask, max_new_tokens=6)), axis=1), out[:, 3:])

    seq2seq = bart(seed=15)
    source, source_mask = right_padded(np.random.default_rng(15), [6, 4], 6, 23, seq2seq.config.pad_token_id)
    out = seq2seq.generate(source, source_mask, max_new_tokens=6, num_beams=2)
    assert out.shape == (2, 7) and np.all(out[:, 0] == seq2seq.config.decoder_start_token_id)
    np.testing.assert_array_equal(out, generate(seq2seq, source, source_mask, max_new_tokens=6, num_beams=2))


def test_generate_restores_training_mode_and_takes_tensors_and_single_rows():
    model = gpt2(seed=16).train()
    ids = np.array([1, 2, 3])
    out = generate(model, npformer.tensor(ids), max_new_tokens=4)
    assert model.training and all(m.training for m in model.modules())
    assert out.shape == (1, 7)
    np.testing.assert_array_equal(out, generate(model.eval(), ids[None, :], max_new_tokens=4))


# --------------------------------------------------------------------------- bad input
def test_prompt_longer_than_the_position_table():
    model = gpt2(max_positions=16)
    with pytest.raises(ValueError, match=r"prompt has 17 tokens.*16 positions"):
        generate(model, np.zeros((1, 17), dtype=np.int64), max_new_tokens=1)
    seq2seq = bart(max_positions=16)
    with pytest.raises(ValueError, match=r"input_ids has 17 tokens.*16 positions"):
        generate(seq2seq, np.zeros((1, 17), dtype=np.int64), max_new_tokens=1)


def test_max_new_tokens_that_would_overrun_the_position_table():
    model = llama(max_positions=16)
    with pytest.raises(ValueError, match=r"max_new_tokens 7 would overrun.*prompt 10 \+ 7 new > 16"):
        generate(model, np.zeros((1, 10), dtype=np.int64), max_new_tokens=7)
    assert generate(model, np.zeros((1, 10), dtype=np.int64), max_new_tokens=6).shape == (1, 16)
    with pytest.raises(ValueError, match=r"max_new_tokens 16 would overrun.*1 start token \+ 16 new > 16"):
        generate(bart(max_positions=16), np.ones((1, 4), dtype=np.int64), max_new_tokens=16)
    with pytest.raises(ValueError, match=r"max_new_tokens must be an int >= 1, got 0"):
        generate(model, np.zeros((1, 3), dtype=np.int64), max_new_tokens=0)


@pytest.mark.parametrize("num_beams", [0, -2, 1.5])
def test_num_beams_below_one(num_beams):
    with pytest.raises(ValueError, match=rf"num_beams must be an int >= 1, got {num_beams}"):
        generate(gpt2(), np.array([[1, 2]]), num_beams=num_beams)


@pytest.mark.parametrize("top_p", [0.0, -0.5, 1.01, 2.0])
def test_top_p_outside_zero_one(top_p):
    with pytest.raises(ValueError, match=rf"top_p must be in \(0, 1\], got {top_p}"):
        generate(gpt2(), np.array([[1, 2]]), do_sample=True, top_p=top_p)


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_temperature_not_positive_with_sampling(temperature):
    with pytest.raises(ValueError, match=rf"temperature must be > 0 when sampling.*got {temperature}"):
        generate(gpt2(), np.array([[1, 2]]), do_sample=True, temperature=temperature)
    with pytest.raises(ValueError, match=r"temperature must be > 0"):
        stream(gpt2(), np.array([[1, 2]]), do_sample=True, temperature=temperature)   # at the call, not later
    generate(gpt2(), np.array([[1, 2]]), temperature=temperature, max_new_tokens=2)     # greedy ignores it


def test_other_bad_arguments():
    model = gpt2()
    ids = np.array([[1, 2, 3]])
    with pytest.raises(ValueError, match=r"pad_token_id must be token ids in 0..22.*got 23"):
        generate(model, ids, pad_token_id=23)
    with pytest.raises(ValueError, match=r"eos_token_id must be token ids in 0..22.*got -1"):
        generate(model, ids, eos_token_id=[2, -1])
    with pytest.raises(ValueError, match=r"attention_mask has shape \(1, 2\), expected \(1, 3\)"):
        generate(model, ids, np.ones((1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=r"input_ids holds id 30, outside the vocabulary of 23"):
        generate(model, np.array([[1, 30]]))
    with pytest.raises(ValueError, match=r"input_ids must be integer ids"):
        generate(model, np.array([[0.5, 1.0]]))
    with pytest.raises(ValueError, match=r"top_k must be an int >= 0"):
        generate(model, ids, do_sample=True, top_k=-1)
    with pytest.raises(ValueError, match=r"repetition_penalty must be > 0"):
        generate(model, ids, repetition_penalty=0.0)
    with pytest.raises(ValueError, match=r"early_stopping must be True, False or 'never'"):
        generate(model, ids, num_beams=2, early_stopping="sometimes")


# --------------------------------------------------------------------------- past the context
def nanogpt_sample(model, ids, new, window):
    """nanoGPT's sample loop, greedy: crop to the last ``window`` tokens, run, take the argmax."""
    with npformer.no_grad():
        model.eval()
        for _ in range(new):
            logits = model(ids[:, -window:]).logits.numpy()[:, -1].astype(np.float32)
            ids = np.concatenate([ids, logits.argmax(-1)[:, None]], axis=1)
    return ids


@pytest.mark.parametrize("window, prompt_length", [(None, 3), (5, 3), (8, 11), (1, 2)])
def test_generating_past_the_position_table_crops_the_context_as_nanogpt(window, prompt_length):
    model = gpt2(seed=3, max_positions=8)
    ids = np.random.default_rng(1).integers(0, 23, (2, prompt_length))
    expected = nanogpt_sample(model, ids, 25, window or 8)
    np.testing.assert_array_equal(generation.generate_in_window(model, ids, max_new_tokens=25, window=window), expected)
    with pytest.raises(ValueError, match="max_new_tokens 25"):       # generate itself keeps to the table
        generate(model, ids[:, -3:], max_new_tokens=25)


def test_generating_in_a_window_ends_rows_for_good_and_stops_when_all_have_ended():
    model = gpt2(seed=3, max_positions=8)
    ids = np.random.default_rng(1).integers(0, 23, (2, 3))
    free = generation.generate_in_window(model, ids, max_new_tokens=30)[:, 3:]
    # an end token both rows produce, the later one past the first window (5 new tokens fit it)
    eos = next(int(t) for t in free[0, 6:] if (free[1] == t).any())
    ends = [int(np.argmax(free[row] == eos)) for row in (0, 1)]
    assert max(ends) >= 5
    out = generation.generate_in_window(model, ids, max_new_tokens=30, eos_token_id=eos, pad_token_id=22)[:, 3:]
    assert out.shape[1] == max(ends) + 1                          # stopped when the last row ended
    for row, end in enumerate(ends):
        np.testing.assert_array_equal(out[row, :end + 1], free[row, :end + 1])
        assert (out[row, end + 1:] == 22).all()


def test_generating_in_a_window_refuses_what_it_cannot_do():
    model = gpt2(seed=3, max_positions=8)
    with pytest.raises(ValueError, match="window must be an int in"):
        generation.generate_in_window(model, [[1, 2]], window=9)
    with pytest.raises(ValueError, match="length >= 1"):
        generation.generate_in_window(model, np.zeros((1, 0), np.int64))
    with pytest.raises(ValueError, match="causal LMs"):
        generation.generate_in_window(bart(), [[1, 2]])
