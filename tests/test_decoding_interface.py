"""The decoding interface (npformer/generation.py's module docstring): generation knows a model
only through it, any Module that implements it decodes, and npformer's GPT and
EncoderDecoder implement it with the documented semantics.

    model.is_encoder_decoder, model.config.vocab_size (+ decoder_start_token_id),
    model.position_limit, model.make_cache(batch_size, max_length, memory_length=0) -> a cache
    with .length and .reorder(rows), model.encode(ids, mask),
    model.decode_step(input_ids, cache, *, attention_mask, position_ids, memory,
                      memory_attention_mask) -> the last position's logits (B, vocab)
"""
import ast
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import npformer
from npformer import generation, nn
from npformer.autograd.random import Generator
from npformer.generation import beam_search, generate
from npformer.models import GPT, GPTConfig
from tests.helpers import relative_error
from tests.test_generation import bart, gpt2, gpt_alibi, left_padded, llama, right_padded, t5, transformer

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- generation knows no model class
def _generation_tree():
    return ast.parse(Path(generation.__file__).read_text(encoding="utf-8"))


def test_generation_imports_no_model_or_module_code():
    """No import of npformer.models or npformer.nn, absolute or relative (`.models`, `.nn`,
    `from . import models`): a floor above the models would be free to, but generation needs
    only the decoding interface."""
    floors = ("npformer.models", "npformer.nn")
    imported = []
    for node in ast.walk(_generation_tree()):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # generation.py sits in the npformer package: level 1 is npformer itself
            base = "npformer" if node.level == 1 else ("" if node.level == 0 else "<above npformer>")
            module = ".".join(part for part in (base, node.module or "") if part)
            imported.append(module)
            imported += [f"{module}.{alias.name}" for alias in node.names]
    offending = [name for name in imported if name.startswith(floors) or name in floors]
    assert not offending, f"npformer/generation.py imports {offending}"
    assert "npformer.autograd.tensor" in imported          # the walk does see the imports that are there


def test_generation_makes_no_isinstance_check_on_a_model():
    checks = [ast.unparse(node) for node in ast.walk(_generation_tree())
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
              and node.args and ast.unparse(node.args[0]).split(".")[0].split("[")[0] == "model"]
    assert not checks, f"npformer/generation.py tells models apart by class: {checks}"


def test_importing_generation_does_not_import_the_models():
    code = ("import json, sys, npformer.generation; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('npformer.models'))))")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


# --------------------------------------------------------------------------- a model that is not npformer's
class TallyCache:
    """TallyLM's whole decoding state: each row's running sum of its real tokens' tally rows."""

    def __init__(self, batch_size, vocab):
        self.length = 0
        self.totals = np.zeros((batch_size, vocab))
        self.reorders = 0

    def reorder(self, rows):
        self.totals = self.totals[rows]
        self.reorders += 1


class TallyLM(nn.Module):
    """A causal LM that is not a Transformer: after real tokens t_0 .. t_n,

        logits = follow[t_n] + (tally[t_0] + ... + tally[t_n]) + place[n]            (vocab,)

    so the next token depends on the last one, on every earlier one (through the running sum,
    which the cache carries and beam search must reorder) and on the position (which left
    padding must not shift). The sums run left to right with or without the cache, so both
    give the same bits as the reference below."""

    is_encoder_decoder = False

    def __init__(self, vocab=6, positions=12, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.config = SimpleNamespace(vocab_size=vocab)
        self.position_limit = positions
        self.follow = rng.standard_normal((vocab, vocab))
        self.tally = 0.5 * rng.standard_normal((vocab, vocab))
        self.place = 0.5 * rng.standard_normal((positions, vocab))
        self.cache_type = TallyCache

    def make_cache(self, batch_size, max_length, memory_length=0):
        assert memory_length == 0 and max_length <= self.position_limit
        return self.cache_type(batch_size, self.config.vocab_size)

    def decode_step(self, input_ids, cache=None, *, attention_mask=None, position_ids=None, memory=None,
                    memory_attention_mask=None):
        assert memory is None and memory_attention_mask is None
        ids = np.asarray(input_ids)
        batch, length = ids.shape
        past = 0 if cache is None else cache.length
        real = np.ones((batch, past + length)) if attention_mask is None else np.asarray(attention_mask)
        assert real.shape == (batch, past + length)
        totals = np.zeros((batch, self.config.vocab_size)) if cache is None else cache.totals
        for t in range(length):                            # left to right, as the reference sums
            totals = totals + real[:, past + t, None] * self.tally[ids[:, t]]
        if cache is not None:
            cache.totals, cache.length = totals, past + length
        position = np.full(batch, past + length - 1) if position_ids is None else np.asarray(position_ids)[:, -1]
        return npformer.tensor(self.follow[ids[:, -1]] + totals + self.place[position])


def tally_logits(model, tokens):
    """TallyLM's next-token logits after the real tokens ``tokens``, by hand."""
    totals = np.zeros(model.config.vocab_size)
    for token in tokens:
        totals = totals + model.tally[token]
    return model.follow[tokens[-1]] + totals + model.place[len(tokens) - 1]


class TallySeq2Seq(nn.Module):
    """An encoder-decoder that is not a Transformer: the memory is a row of ``source`` per
    source token (zeros for padding); after the decoded tokens d_0 .. d_n (d_0 the start token),

        logits = follow[d_n] + (tally[d_0] + ... + tally[d_n]) + (memory summed over the source)"""

    is_encoder_decoder = True
    position_limit = None

    def __init__(self, vocab=6, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.config = SimpleNamespace(vocab_size=vocab, decoder_start_token_id=vocab - 1)
        self.follow = rng.standard_normal((vocab, vocab))
        self.tally = 0.5 * rng.standard_normal((vocab, vocab))
        self.source = 0.5 * rng.standard_normal((vocab, vocab))

    def encode(self, input_ids, attention_mask=None):
        ids = np.asarray(input_ids)
        real = np.ones(ids.shape) if attention_mask is None else np.asarray(attention_mask)
        return npformer.tensor(self.source[ids] * real[:, :, None])                  # (B, S, vocab)

    def make_cache(self, batch_size, max_length, memory_length=0):
        return TallyCache(batch_size, self.config.vocab_size)

    def decode_step(self, input_ids, cache=None, *, attention_mask=None, position_ids=None, memory=None,
                    memory_attention_mask=None):
        assert position_ids is None and attention_mask is None
        ids = np.asarray(input_ids)
        totals = np.zeros((len(ids), self.config.vocab_size)) if cache is None else cache.totals
        for t in range(ids.shape[1]):
            totals = totals + self.tally[ids[:, t]]
        if cache is not None:
            cache.totals, cache.length = totals, cache.length + ids.shape[1]
        source = np.zeros_like(totals)
        for s in range(memory.shape[1]):                   # left to right, as the reference sums
            source = source + memory.numpy()[:, s]
        return npformer.tensor(self.follow[ids[:, -1]] + totals + source)


def seq2seq_logits(model, source_tokens, decoded):
    totals = np.zeros(model.config.vocab_size)
    for token in decoded:
        totals = totals + model.tally[token]
    source = np.zeros(model.config.vocab_size)
    for token in source_tokens:
        source = source + model.source[token]
    return model.follow[decoded[-1]] + totals + source


# the hand-written decoding loops: ``logits_of(row, tokens)`` gives a row's float64 logits
def greedy_reference(logits_of, prompts, steps):
    rows = [list(prompt) for prompt in prompts]
    for _ in range(steps):
        for row, tokens in enumerate(rows):
            tokens.append(int(np.argmax(logits_of(row, tokens).astype(np.float32))))
    return np.array([tokens[len(prompt):] for tokens, prompt in zip(rows, prompts)])


def sampling_reference(logits_of, prompts, steps, seed):
    """Inverse-CDF sampling from the float32 logits' softmax: one uniform draw per row and step,
    the rows of a step drawn together, from the generator's NumPy stream."""
    draws = Generator(seed).numpy
    rows = [list(prompt) for prompt in prompts]
    for _ in range(steps):
        uniforms = draws.random(len(rows))
        for row, tokens in enumerate(rows):
            logits = logits_of(row, tokens).astype(np.float32).astype(np.float64)
            cumulative = np.cumsum(np.exp(logits - logits.max()))
            tokens.append(int(np.searchsorted(cumulative, uniforms[row] * cumulative[-1])))
    return np.array([tokens[len(prompt):] for tokens, prompt in zip(rows, prompts)])


def best_continuation(logits_of, prompts, steps, vocab):
    """The continuation of ``steps`` tokens with the highest total log-probability, by trying
    them all: what beam search finds when it has a beam for every prefix."""
    best = []
    for row, prompt in enumerate(prompts):
        def score(continuation):
            total = 0.0
            for i, token in enumerate(continuation):
                logits = logits_of(row, list(prompt) + list(continuation[:i])).astype(np.float32).astype(np.float64)
                total += logits[token] - logits.max() - np.log(np.sum(np.exp(logits - logits.max())))
            return total
        best.append(max(itertools.product(range(vocab), repeat=steps), key=score))
    return np.array(best)


def _tally_batch():
    """A left-padded batch of three prompts for TallyLM. The seed is one where beam search finds
    better than greedy and a cache that does not reorder changes the result (both asserted)."""
    model = TallyLM(seed=3)
    ids, mask = left_padded(np.random.default_rng(3), [4, 1, 3], 4, model.config.vocab_size)
    prompts = [ids[row, 4 - mask[row].sum():].tolist() for row in range(3)]

    def logits_of(row, tokens):
        return tally_logits(model, tokens)
    return model, ids, mask, prompts, logits_of


@pytest.mark.parametrize("use_cache", [True, False])
def test_a_custom_causal_model_decodes_greedily_and_by_sampling(use_cache):
    model, ids, mask, prompts, logits_of = _tally_batch()
    out = generate(model, ids, mask, max_new_tokens=7, use_cache=use_cache)
    np.testing.assert_array_equal(out[:, :4], ids)
    np.testing.assert_array_equal(out[:, 4:], greedy_reference(logits_of, prompts, 7))
    sampled = generate(model, ids, mask, max_new_tokens=7, do_sample=True, generator=Generator(5),
                       use_cache=use_cache)
    np.testing.assert_array_equal(sampled[:, 4:], sampling_reference(logits_of, prompts, 7, seed=5))
    assert not np.array_equal(sampled, out)                 # sampling is not greedy here
    with pytest.raises(ValueError, match="overrun the position table"):
        generate(model, ids, mask, max_new_tokens=9)        # position_limit is honoured


@pytest.mark.parametrize("use_cache", [True, False])
def test_a_custom_causal_model_decodes_by_beam_search(use_cache):
    model, ids, mask, prompts, logits_of = _tally_batch()
    vocab, steps = model.config.vocab_size, 3
    expected = best_continuation(logits_of, prompts, steps, vocab)
    out = beam_search(model, ids, mask, num_beams=vocab ** (steps - 1), max_new_tokens=steps, use_cache=use_cache)
    np.testing.assert_array_equal(out[:, 4:], expected)
    assert not np.array_equal(expected, greedy_reference(logits_of, prompts, steps))     # beam search found better


def test_beam_search_reorders_a_custom_cache():
    """The cache's reorder is what keeps each beam's running sum with its beam: one that does not
    reorder gives other tokens."""
    model, ids, mask, prompts, logits_of = _tally_batch()
    vocab, steps = model.config.vocab_size, 3
    expected = best_continuation(logits_of, prompts, steps, vocab)
    caches = []

    class Recorded(TallyCache):
        def __init__(self, *args):
            super().__init__(*args)
            caches.append(self)

    class Unordered(TallyCache):
        def reorder(self, rows):
            pass

    model.cache_type = Recorded
    np.testing.assert_array_equal(beam_search(model, ids, mask, num_beams=vocab ** 2, max_new_tokens=steps)[:, 4:],
                                  expected)
    assert len(caches) == 1 and caches[0].reorders >= steps - 1        # between every two steps
    model.cache_type = Unordered
    wrong = beam_search(model, ids, mask, num_beams=vocab ** 2, max_new_tokens=steps)[:, 4:]
    assert not np.array_equal(wrong, expected)


@pytest.mark.parametrize("use_cache", [True, False])
def test_a_custom_encoder_decoder_decodes(use_cache):
    model = TallySeq2Seq(seed=2)
    vocab, start = model.config.vocab_size, model.config.decoder_start_token_id
    ids, mask = right_padded(np.random.default_rng(2), [5, 2], 5, vocab, pad=0)
    sources = [ids[row, :mask[row].sum()].tolist() for row in range(2)]

    def logits_of(row, decoded):
        return seq2seq_logits(model, sources[row], decoded)
    starts = [[start]] * 2
    out = generate(model, ids, mask, max_new_tokens=6, use_cache=use_cache)
    assert (out[:, 0] == start).all()
    np.testing.assert_array_equal(out[:, 1:], greedy_reference(logits_of, starts, 6))
    sampled = generate(model, ids, mask, max_new_tokens=6, do_sample=True, generator=Generator(8),
                       use_cache=use_cache)
    np.testing.assert_array_equal(sampled[:, 1:], sampling_reference(logits_of, starts, 6, seed=8))
    out = beam_search(model, ids, mask, num_beams=vocab ** 2, max_new_tokens=3, use_cache=use_cache)
    np.testing.assert_array_equal(out[:, 1:], best_continuation(logits_of, starts, 3, vocab))


# --------------------------------------------------------------------------- npformer's models implement it
def test_position_limit_and_is_encoder_decoder():
    assert gpt2(max_positions=40).position_limit == 40                      # learned table
    assert llama(max_positions=32).position_limit == 32                     # RoPE: as far as the config says
    sinusoidal = GPT(GPTConfig.gpt2(vocab_size=11, max_positions=24, d_model=8, n_layers=1, n_heads=2,
                                    position="sinusoidal"))
    assert sinusoidal.position_limit == 24
    assert gpt_alibi().position_limit is None                               # no table to overrun
    assert GPT(GPTConfig.gpt2(vocab_size=11, d_model=8, n_layers=1, n_heads=2, position="none")).position_limit is None
    assert bart(max_positions=30).position_limit == 30
    assert transformer(max_positions=36).position_limit == 36
    assert t5().position_limit is None                                      # relative bias, no table
    assert gpt2().is_encoder_decoder is False and llama().is_encoder_decoder is False
    assert bart().is_encoder_decoder is True and t5().is_encoder_decoder is True


def _close(actual, expected):
    assert relative_error(actual, expected) <= 1e-12


@pytest.mark.parametrize("build", [gpt2, llama, gpt_alibi], ids=["gpt2", "llama", "gpt-alibi"])
def test_gpt_cache_grows_reorders_and_steps_as_forward(build):
    model = build(seed=3)
    rng = np.random.default_rng(3)
    prompt, new = rng.integers(0, 23, (3, 4)), rng.integers(0, 23, (3, 1))
    rows = np.array([2, 0, 0])                             # beam search permutes and repeats rows
    with npformer.no_grad():
        cache = model.make_cache(3, 6)
        assert cache.length == 0
        first = model.decode_step(prompt, cache)
        assert isinstance(first, npformer.Tensor) and first.shape == (3, 23) and cache.length == 4
        _close(first.numpy(), model(prompt).logits.numpy()[:, -1])
        cache.reorder(rows)
        step = model.decode_step(new, cache).numpy()
        assert cache.length == 5
        whole = np.concatenate([prompt[rows], new], axis=1)
        _close(step, model(whole).logits.numpy()[:, -1])
        _close(step, model.decode_step(whole).numpy())              # without a cache: the whole sequence
        # a padded batch: the mask covers past + new positions, the positions are the caller's
        ids, mask = left_padded(rng, [4, 2, 3], 4, 23)
        positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)
        cache = model.make_cache(3, 5)
        model.decode_step(ids, cache, attention_mask=mask, position_ids=positions)
        step = model.decode_step(new, cache, attention_mask=np.concatenate([mask, np.ones((3, 1), int)], axis=1),
                                 position_ids=positions[:, -1:] + 1).numpy()
        for row in range(3):
            alone = np.concatenate([ids[row, 4 - mask[row].sum():], new[row]])[None]
            _close(step[row], model(alone).logits.numpy()[0, -1])


@pytest.mark.parametrize("build", [bart, t5, transformer], ids=["bart", "t5", "transformer"])
def test_encoder_decoder_cache_grows_reorders_and_steps_as_decode(build):
    model = build(seed=4)
    rng = np.random.default_rng(4)
    ids, mask = right_padded(rng, [5, 3, 4], 5, 23, model.config.pad_token_id)
    start = np.full((3, 1), model.config.decoder_start_token_id)
    new = rng.integers(0, 23, (3, 1))
    rows = np.array([1, 1, 2])
    with npformer.no_grad():
        memory = model.encode(ids, mask)
        cache = model.make_cache(3, 3, memory_length=memory.shape[1])
        assert cache.length == 0
        first = model.decode_step(start, cache, memory=memory, memory_attention_mask=mask)
        assert isinstance(first, npformer.Tensor) and first.shape == (3, 23) and cache.length == 1
        _close(first.numpy(), model.decode(start, memory, mask).numpy()[:, -1])
        cache.reorder(rows)
        memory, mask = memory[rows], mask[rows]
        step = model.decode_step(new, cache, memory=memory, memory_attention_mask=mask).numpy()
        assert cache.length == 2
        target = np.concatenate([start, new], axis=1)
        _close(step, model.decode(target, memory, mask).numpy()[:, -1])
        _close(step, model.decode_step(target, memory=memory, memory_attention_mask=mask).numpy())


def _one_line_error(call, match):
    with pytest.raises(ValueError, match=match) as caught:
        call()
    assert "\n" not in str(caught.value), f"not one line: {caught.value}"


def test_decode_step_refuses_arguments_the_family_has_no_use_for():
    model = gpt2()
    ids = np.array([[1, 2, 3]])
    memory = npformer.tensor(np.zeros((1, 2, 16)))
    _one_line_error(lambda: model.decode_step(ids, memory=memory), "memory=None")
    _one_line_error(lambda: model.decode_step(ids, memory_attention_mask=np.ones((1, 2), int)), "memory=None")
    _one_line_error(lambda: model.make_cache(1, 4, memory_length=2), "memory_length must be 0")
    seq2seq = bart()
    memory = seq2seq.encode(ids)
    _one_line_error(lambda: seq2seq.decode_step(np.array([[2]]), memory=memory, position_ids=np.array([[0]])),
                    "position_ids=None")
