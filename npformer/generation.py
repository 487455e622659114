"""Decoding: greedy search, sampling and beam search over a preallocated KV cache.

    generate(model, input_ids, attention_mask=None, max_new_tokens=20, ...) -> ids (B, prompt + new)
    stream(model, input_ids, ...)       yields each step's new tokens (B,) as they are chosen
    stream_in_window / generate_in_window   the same past a causal LM's position table, each
                                        token seeing the last max_positions tokens (nanoGPT's sample.py)
    beam_search(model, input_ids, ...)  the beam search generate runs when num_beams > 1

Generation knows a model only by this decoding interface (npformer's GPT and EncoderDecoder
have it; so can any Module), the way Hugging Face's GenerationMixin relies on a few methods:

    model.is_encoder_decoder            bool
    model.config.vocab_size             and, for an encoder-decoder, config.decoder_start_token_id
    model.position_limit                the longest sequence the position tables allow, or None
    model.make_cache(batch_size, max_length, memory_length=0)
                                        a cache with ``length`` (positions filled) and ``reorder(rows)``
    model.encode(input_ids, attention_mask)         encoder-decoders: the memory (B, S, d)
    model.decode_step(input_ids, cache, *, attention_mask=None, position_ids=None, memory=None,
                      memory_attention_mask=None)   the last position's logits (B, vocab)

``decode_step`` is the model's own forward, keeping one position's logits: decoding runs
the same code as training and evaluation, with the KV cache. For an encoder-decoder the
result is the decoder's sequence, starting with decoder_start_token_id.

How a step is scored follows Hugging Face's generate, so that the same model gives the same
tokens: the last position's logits are taken in float32; the processors run in the order
repetition penalty, no-repeat n-gram, then (when sampling) temperature, top-k, top-p; beam
search ranks by accumulated float32 log-probabilities with the length penalty
score / generated_length ** length_penalty, and finished beams are kept exactly as HF's
vectorised beam search keeps them. Sequences that have finished are padded with
pad_token_id. Batched prompts of different lengths are left-padded; each token's position is
its index among the row's real tokens (the cumulative attention mask), computed once for all
steps.

With the cache, the prompt is run once and each new token costs one position's work; the
cache is preallocated for prompt + max_new_tokens positions, so nothing is concatenated.
Decoding runs inside ``prepared_layouts()``: the few-row products of each step use weight
layouts BLAS prefers, made once per run (npformer/ops/layouts.py). Without the cache
(``use_cache=False``) every step runs the model's forward over the whole sequence: the
reference the cached steps are tested against.
"""
from __future__ import annotations

from typing import Any, Iterator, Optional, Protocol, Sequence, Union

import numpy as np

from .autograd.grad_mode import no_grad
from .autograd.random import resolve
from .autograd.tensor import Tensor
from .ops.layouts import prepared_layouts

NEG_INF = np.float32(-np.inf)

Ids = Union[np.ndarray, Tensor, Sequence[int], Sequence[Sequence[int]]]       # (B, T) or (T,) token ids
TokenIds = Union[int, Sequence[int], None]                                     # one end token, several, or none


class Decodable(Protocol):
    """The decoding interface (see the module docstring): what generation reads of a model.
    It is documentation and a type; nothing checks it with isinstance."""

    is_encoder_decoder: bool
    config: Any                                     # .vocab_size (and .decoder_start_token_id)
    position_limit: Optional[int]
    training: bool

    def make_cache(self, batch_size: int, max_length: int, memory_length: int = 0) -> Any: ...

    def encode(self, input_ids: np.ndarray, attention_mask: Optional[np.ndarray] = None) -> Tensor: ...

    def decode_step(self, input_ids: np.ndarray, cache: Any = None, *, attention_mask: Optional[np.ndarray] = None,
                    position_ids: Optional[np.ndarray] = None, memory: Optional[Tensor] = None,
                    memory_attention_mask: Optional[np.ndarray] = None) -> Tensor: ...

    def eval(self) -> Any: ...

    def train(self, mode: bool = True) -> Any: ...


# ---------------------------------------------------------------------------- score processing
def _penalize_repetition(scores, sequences, penalty, skip=None):
    """HF's rule: a token already in the sequence has its score divided by the penalty when
    positive, multiplied when negative (so a penalty above 1 always lowers it). The first
    ``skip[row]`` positions of a row (its left padding) do not count, as in HF."""
    vocab = scores.shape[1]
    if skip is not None and skip.any():
        sequences = np.where(np.arange(sequences.shape[1])[None, :] < skip[:, None], vocab, sequences)
    widened = np.concatenate([scores, np.zeros((len(scores), 1), dtype=scores.dtype)], axis=1)   # vocab: "none"
    rows = np.arange(scores.shape[0])[:, None]
    seen = widened[rows, sequences]
    widened[rows, sequences] = np.where(seen < 0, seen * penalty, seen / penalty)
    return widened[:, :vocab]


def _ban_repeated_ngrams(scores, sequences, n):
    """A token that would complete an n-gram already in the sequence gets -inf."""
    length = sequences.shape[1]
    if length + 1 < n:
        return scores
    for row, sequence in enumerate(sequences.tolist()):
        prefix = tuple(sequence[length - n + 1:])
        banned = [sequence[i + n - 1] for i in range(length - n + 1) if tuple(sequence[i:i + n - 1]) == prefix]
        scores[row, banned] = NEG_INF
    return scores


def _top_k(scores, k):
    k = min(k, scores.shape[-1])
    threshold = np.partition(scores, -k, axis=-1)[:, -k][:, None]       # the k-th largest
    return np.where(scores < threshold, NEG_INF, scores)


def _top_p(scores, p):
    """Keep the smallest set of most likely tokens whose probability reaches p (HF's rule: drop
    tokens, least likely first, while the dropped mass stays <= 1 - p; always keep one)."""
    order = np.argsort(scores, axis=-1, kind="stable")                   # ascending
    ascending = np.take_along_axis(scores, order, axis=-1)
    probs = _softmax(ascending)
    drop = np.cumsum(probs, axis=-1) <= (1 - p)
    drop[:, -1] = False
    remove = np.zeros_like(drop)
    np.put_along_axis(remove, order, drop, axis=-1)
    return np.where(remove, NEG_INF, scores)


def _softmax(scores):
    with np.errstate(invalid="ignore", over="ignore"):
        shifted = scores - np.max(scores, axis=-1, keepdims=True)
        e = np.exp(shifted)
        return e / np.sum(e, axis=-1, keepdims=True)


def _log_softmax(scores):
    with np.errstate(invalid="ignore", divide="ignore"):
        shifted = scores - np.max(scores, axis=-1, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class _Options:
    def __init__(self, model, max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                 no_repeat_ngram_size, num_beams, length_penalty, early_stopping, eos_token_id, pad_token_id,
                 generator):
        vocab = model.config.vocab_size
        if not _is_int(max_new_tokens) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
        if not _is_int(num_beams) or num_beams < 1:
            raise ValueError(f"num_beams must be an int >= 1, got {num_beams!r}")
        if top_p is None or not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
        if do_sample and (temperature is None or not temperature > 0):
            raise ValueError(f"temperature must be > 0 when sampling (do_sample=True), got {temperature!r}")
        if top_k is not None and (not _is_int(top_k) or top_k < 0):
            raise ValueError(f"top_k must be an int >= 0 (0 or None: off), got {top_k!r}")
        if repetition_penalty is None or not repetition_penalty > 0:
            raise ValueError(f"repetition_penalty must be > 0 (1.0: off), got {repetition_penalty!r}")
        if no_repeat_ngram_size is not None and (not _is_int(no_repeat_ngram_size) or no_repeat_ngram_size < 0):
            raise ValueError(f"no_repeat_ngram_size must be an int >= 0 (0: off), got {no_repeat_ngram_size!r}")
        if early_stopping not in (True, False, "never"):
            raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
        self.max_new_tokens, self.do_sample, self.temperature = int(max_new_tokens), bool(do_sample), temperature
        self.top_k, self.top_p, self.repetition_penalty = int(top_k or 0), top_p, repetition_penalty
        self.no_repeat_ngram_size, self.num_beams = int(no_repeat_ngram_size or 0), int(num_beams)
        self.length_penalty, self.early_stopping = length_penalty, early_stopping
        eos = [] if eos_token_id is None else ([eos_token_id] if np.isscalar(eos_token_id) else list(eos_token_id))
        for name, ids in (("eos_token_id", eos), ("pad_token_id", [] if pad_token_id is None else [pad_token_id])):
            for token in ids:
                if not _is_int(token) or not 0 <= token < vocab:
                    raise ValueError(f"{name} must be token ids in 0..{vocab - 1} (the vocabulary of {vocab}), "
                                     f"got {token!r}")
        self.eos = np.asarray(eos, dtype=np.int64)
        self.pad = int(pad_token_id) if pad_token_id is not None else (int(self.eos[0]) if len(self.eos) else 0)
        self.rng = resolve(generator).numpy

    def process(self, scores, sequences, skip=None):
        """HF's processors, in HF's order, on float32 scores (B, vocab): the penalties, then
        (when sampling) the warpers. ``skip`` (B,): leading positions the repetition penalty
        ignores (left padding)."""
        if self.repetition_penalty != 1.0:
            scores = _penalize_repetition(scores, sequences, np.float32(self.repetition_penalty), skip)
        if self.no_repeat_ngram_size > 0:
            scores = _ban_repeated_ngrams(scores, sequences, self.no_repeat_ngram_size)
        if self.do_sample:
            if self.temperature != 1.0:
                scores = scores / np.float32(self.temperature)
            if self.top_k > 0:
                scores = _top_k(scores, self.top_k)
            if self.top_p < 1.0:
                scores = _top_p(scores, self.top_p)
        return scores

    def choose(self, scores):
        """The next token of each row: argmax, or a sample from the processed distribution."""
        if not self.do_sample:
            return np.argmax(scores, axis=-1)
        probs = _softmax(scores).astype(np.float64)
        cumulative = np.cumsum(probs, axis=-1)
        draws = self.rng.random(len(probs)) * cumulative[:, -1]
        return np.minimum((cumulative < draws[:, None]).sum(axis=-1), probs.shape[-1] - 1)


# ---------------------------------------------------------------------------- the model side
class _Runner:
    """Runs the model one step at a time, with the cache or by recomputing from scratch, and
    keeps what the steps need: the attention mask, the positions, the encoder's memory. It
    knows the model only through the decoding interface (see the module docstring)."""

    def __init__(self, model, input_ids, attention_mask, max_new_tokens, use_cache, batch_repeat=1):
        self.model = model
        self.seq2seq = bool(model.is_encoder_decoder)
        ids = _as_batch(input_ids, "input_ids")
        mask = np.ones_like(ids) if attention_mask is None else _as_batch(attention_mask, "attention_mask")
        if mask.shape != ids.shape:
            raise ValueError(f"attention_mask has shape {mask.shape}, expected {ids.shape} like input_ids")
        if ids.size and (ids.min() < 0 or ids.max() >= model.config.vocab_size):
            bad = int(ids.min() if ids.min() < 0 else ids.max())
            raise ValueError(f"input_ids holds id {bad}, outside the vocabulary of {model.config.vocab_size} tokens")
        ids, mask = np.repeat(ids, batch_repeat, axis=0), np.repeat(mask, batch_repeat, axis=0)
        real = mask != 0
        limit = model.position_limit
        self.memory = self.memory_mask = None
        if self.seq2seq:
            if limit is not None and ids.shape[1] > limit:
                raise ValueError(f"input_ids has {ids.shape[1]} tokens, longer than the encoder's position table "
                                 f"of {limit} positions")
            if limit is not None and 1 + max_new_tokens > limit:
                raise ValueError(f"max_new_tokens {max_new_tokens} would overrun the decoder's position table of "
                                 f"{limit} positions (1 start token + {max_new_tokens} new > {limit})")
            self.memory_mask = None if real.all() else mask
            self.memory = model.encode(ids, self.memory_mask)
            self.padding = None
            self.prompt = np.full((ids.shape[0], 1), model.config.decoder_start_token_id, dtype=np.int64)
        else:
            if limit is not None:
                if ids.shape[1] > limit:
                    raise ValueError(f"the prompt has {ids.shape[1]} tokens, longer than the position table of "
                                     f"{limit} positions")
                if ids.shape[1] + max_new_tokens > limit:
                    raise ValueError(f"max_new_tokens {max_new_tokens} would overrun the position table: prompt "
                                     f"{ids.shape[1]} + {max_new_tokens} new > {limit} positions")
            self.prompt = ids
            # Every new token is a real one; each key's "may attend" and each token's position
            # (its index among the row's real tokens; 1 for padding, as HF) for all steps at once.
            self.padded = not real.all()
            self.padding = np.argmax(real, axis=1) if self.padded else None        # leading padding of each row
            self.allowed = np.ones((ids.shape[0], ids.shape[1] + max_new_tokens), dtype=np.int64)
            self.allowed[:, :ids.shape[1]] = real
            self.positions = np.cumsum(self.allowed, axis=1) - 1
            self.positions[self.allowed == 0] = 1
        self.cache = None
        if use_cache:
            total = self.prompt.shape[1] + max_new_tokens
            memory_length = self.memory.shape[1] if self.seq2seq else 0
            self.cache = model.make_cache(ids.shape[0], total, memory_length)

    def scores(self, sequences, new_tokens):
        """The next position's logits in float32 (B, vocab), as HF's generate takes them."""
        return self.logits(sequences, new_tokens).astype(np.float32, copy=False)

    def logits(self, sequences, new_tokens):
        """The next position's logits (B, vocab) in the model's dtype, given the sequences so far
        (B, T) and, after the first call, the tokens just appended to them (B,)."""
        stepping = self.cache is not None and self.cache.length > 0          # one new token per row
        fed = new_tokens[:, None] if stepping else sequences    # the prompt, or without the cache everything
        if self.seq2seq:
            out = self.model.decode_step(fed, self.cache, memory=self.memory, memory_attention_mask=self.memory_mask)
        else:
            length = sequences.shape[1]
            mask = self.allowed[:, :length] if self.padded else None
            positions = self.positions[:, length - fed.shape[1]:length] if self.padded else None
            out = self.model.decode_step(fed, self.cache, attention_mask=mask, position_ids=positions)
        return out.numpy()

    def reorder(self, index):
        """Keep the rows ``index`` (beam search reorders its hypotheses)."""
        if self.cache is not None:
            self.cache.reorder(index)
        if self.seq2seq:
            self.memory = self.memory[index]
            self.memory_mask = None if self.memory_mask is None else self.memory_mask[index]
        else:
            self.allowed, self.positions = self.allowed[index], self.positions[index]
            self.padding = None if self.padding is None else self.padding[index]


def _as_batch(ids, name):
    array = ids.numpy() if isinstance(ids, Tensor) else np.asarray(ids)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.dtype.kind not in ("iub" if name == "attention_mask" else "iu") or array.shape[1] == 0:
        raise ValueError(f"{name} must be integer ids (batch, length >= 1), got {array.dtype} of shape {array.shape}")
    return array.astype(np.int64)


# ---------------------------------------------------------------------------- search
def stream(model: Decodable, input_ids: Ids, attention_mask: Optional[Ids] = None, *, max_new_tokens: int = 20,
           do_sample: bool = False, temperature: float = 1.0, top_k: Optional[int] = None, top_p: float = 1.0,
           repetition_penalty: float = 1.0, no_repeat_ngram_size: int = 0, eos_token_id: TokenIds = None,
           pad_token_id: Optional[int] = None, generator=None, use_cache: bool = True) -> Iterator[np.ndarray]:
    """Greedy search or sampling, yielding each step's tokens (B,) as soon as they are chosen.
    Stops when every row has produced an end token or after max_new_tokens. A row that has
    finished gets pad_token_id (default: the first end token, else 0)."""
    options = _Options(model, max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                       no_repeat_ngram_size, 1, 1.0, False, eos_token_id, pad_token_id, generator)
    return _stream(model, input_ids, attention_mask, options, use_cache)


def stream_in_window(model: Decodable, input_ids: Ids, *, max_new_tokens: int = 20, window: Optional[int] = None,
                     do_sample: bool = False, temperature: float = 1.0, top_k: Optional[int] = None,
                     top_p: float = 1.0, repetition_penalty: float = 1.0, no_repeat_ngram_size: int = 0,
                     eos_token_id: TokenIds = None, pad_token_id: Optional[int] = None,
                     generator=None) -> Iterator[np.ndarray]:
    """stream() for a causal LM past its position table, as nanoGPT's sample.py does it: each
    token is predicted from at most the last ``window`` tokens (default: the model's
    max_positions). While the sequence fits the window, one cached stream runs; after that each
    token re-runs the last ``window`` tokens (their positions have shifted, so no cache carries
    over), and the penalties see those tokens. Rows that produce an end token get pad tokens
    after it; the stream stops when every row has."""
    if model.is_encoder_decoder:
        raise ValueError("stream_in_window is for causal LMs; an encoder-decoder's decoder length is max_new_tokens")
    limit = model.position_limit
    if limit is None:                   # no position table (ALiBi): the window is the config's context
        limit = model.config.max_positions
    window = limit if window is None else window
    if not _is_int(window) or not 1 <= window <= limit:
        raise ValueError(f"window must be an int in [1, {limit}] (the position table), got {window!r}")
    sequences = _as_batch(input_ids, "input_ids")
    options = _Options(model, max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                       no_repeat_ngram_size, 1, 1.0, False, eos_token_id, pad_token_id, generator)
    unfinished = np.ones(len(sequences), dtype=bool)

    def emit(tokens):
        nonlocal sequences
        tokens = np.where(unfinished, tokens, options.pad).astype(np.int64)
        sequences = np.concatenate([sequences, tokens[:, None]], axis=1)
        if len(options.eos):
            unfinished[np.isin(tokens, options.eos)] = False
        return tokens

    produced = 0
    room = window - sequences.shape[1]               # tokens the cached stream can add in the window
    if room > 0:
        for tokens in _stream(model, sequences, None, options, True, steps=min(room, max_new_tokens)):
            produced += 1
            yield emit(tokens)
            if not unfinished.any():
                return
    was_training = model.training
    model.eval()
    try:
        while produced < max_new_tokens and unfinished.any():
            context = sequences[:, -window:]
            with no_grad(), prepared_layouts():
                scores = model.decode_step(context).numpy().astype(np.float32)
            produced += 1
            yield emit(options.choose(options.process(scores, context)))
    finally:
        model.train(was_training)


def generate_in_window(model: Decodable, input_ids: Ids, *, max_new_tokens: int = 20, window: Optional[int] = None,
                       **options) -> np.ndarray:
    """The prompt and stream_in_window's tokens, (B, prompt + new); ``options`` are its own."""
    prompt = _as_batch(input_ids, "input_ids")
    steps = [t[:, None] for t in stream_in_window(model, prompt, max_new_tokens=max_new_tokens, window=window,
                                                  **options)]
    return np.concatenate([prompt] + steps, axis=1)


def _stream(model, input_ids, attention_mask, options, use_cache, steps=None):
    """Yields each step's tokens; ``steps`` (default options.max_new_tokens) bounds how many."""
    steps = options.max_new_tokens if steps is None else steps
    was_training = model.training
    model.eval()
    try:
        with no_grad(), prepared_layouts():
            runner = _Runner(model, input_ids, attention_mask, steps, use_cache)
            sequences = runner.prompt
            unfinished = np.ones(len(sequences), dtype=bool)
            new_tokens = None
            for _ in range(steps):
                scores = options.process(runner.scores(sequences, new_tokens), sequences, runner.padding)
                new_tokens = np.where(unfinished, options.choose(scores), options.pad).astype(np.int64)
                sequences = np.concatenate([sequences, new_tokens[:, None]], axis=1)
                yield new_tokens
                if len(options.eos):
                    unfinished &= ~np.isin(new_tokens, options.eos)
                    if not unfinished.any():
                        return
    finally:
        model.train(was_training)


def generate(model: Decodable, input_ids: Ids, attention_mask: Optional[Ids] = None, *, max_new_tokens: int = 20,
             do_sample: bool = False, temperature: float = 1.0, top_k: Optional[int] = None, top_p: float = 1.0,
             repetition_penalty: float = 1.0, no_repeat_ngram_size: int = 0, num_beams: int = 1,
             length_penalty: float = 1.0, early_stopping: Union[bool, str] = False, eos_token_id: TokenIds = None,
             pad_token_id: Optional[int] = None, generator=None, use_cache: bool = True) -> np.ndarray:
    """The prompt followed by the generated tokens, (B, prompt + new) -- or, for an
    encoder-decoder, the decoder sequence from its start token. See the module docstring.

    Without end tokens every row gets max_new_tokens; with them (``eos_token_id``: one id or a
    list) decoding stops when every row has produced one, and rows that finished earlier are
    padded with ``pad_token_id``. ``num_beams > 1`` runs ``beam_search``.
    """
    options = _Options(model, max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                       no_repeat_ngram_size, num_beams, length_penalty, early_stopping, eos_token_id, pad_token_id,
                       generator)
    if options.num_beams > 1:
        return _beam_search(model, input_ids, attention_mask, options, use_cache)
    steps = list(_stream(model, input_ids, attention_mask, options, use_cache))
    return np.concatenate([_prompt_of(model, input_ids)] + [step[:, None] for step in steps], axis=1)


def beam_search(model: Decodable, input_ids: Ids, attention_mask: Optional[Ids] = None, *, num_beams: int = 4,
                max_new_tokens: int = 20, length_penalty: float = 1.0, early_stopping: Union[bool, str] = False,
                eos_token_id: TokenIds = None, pad_token_id: Optional[int] = None, do_sample: bool = False,
                temperature: float = 1.0, top_k: Optional[int] = None, top_p: float = 1.0,
                repetition_penalty: float = 1.0, no_repeat_ngram_size: int = 0, generator=None,
                use_cache: bool = True) -> np.ndarray:
    """Hugging Face's vectorised beam search for any num_beams >= 1 (generate uses it when
    num_beams > 1; with one beam and no end token it chooses what greedy search chooses).
    Returns the best finished hypothesis of each row, (B, prompt + longest returned)."""
    options = _Options(model, max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                       no_repeat_ngram_size, num_beams, length_penalty, early_stopping, eos_token_id, pad_token_id,
                       generator)
    return _beam_search(model, input_ids, attention_mask, options, use_cache)


def _prompt_of(model, input_ids):
    ids = _as_batch(input_ids, "input_ids")
    if model.is_encoder_decoder:
        return np.full((len(ids), 1), model.config.decoder_start_token_id, dtype=np.int64)
    return ids


def _beam_search(model, input_ids, attention_mask, options, use_cache):
    """Hugging Face's vectorised beam search (transformers 4.50+), step for step.

    Each step keeps the best 2 * num_beams (more with several end tokens) continuations of all
    beams by accumulated log-probability. Those ending in an end token (or at the last step)
    become finished hypotheses, scored by log-probability / generated_length ** length_penalty
    and merged with the best finished so far; the best num_beams unfinished ones continue.
    """
    beams = options.num_beams
    was_training = model.training
    model.eval()
    try:
        with no_grad(), prepared_layouts():
            runner = _Runner(model, input_ids, attention_mask, options.max_new_tokens, use_cache, batch_repeat=beams)
            prompt = runner.prompt                                              # (B * beams, P)
            batch = prompt.shape[0] // beams
            prompt_length = prompt.shape[1]
            max_length = prompt_length + options.max_new_tokens
            keep = max(2, 1 + len(options.eos)) * beams
            top_beams = np.arange(keep) < beams
            running = np.full((batch, beams, max_length), options.pad, dtype=np.int64)
            running[:, :, :prompt_length] = prompt.reshape(batch, beams, prompt_length)
            finished = running.copy()
            running_scores = np.zeros((batch, beams), dtype=np.float32)
            running_scores[:, 1:] = -1e9
            finished_scores = np.full((batch, beams), -1e9, dtype=np.float32)
            is_finished = np.zeros((batch, beams), dtype=bool)
            improvable = np.ones((batch, 1), dtype=bool)
            generated = np.zeros((batch, beams), dtype=np.int64)              # tokens added to each finished beam
            running_generated = np.zeros((batch, beams), dtype=np.int64)
            length, new_tokens = prompt_length, None
            while True:
                flat = running[:, :, :length].reshape(batch * beams, length)
                log_probs = options.process(_log_softmax(runner.scores(flat, new_tokens)), flat, runner.padding)
                vocab = log_probs.shape[-1]
                totals = (log_probs.reshape(batch, beams, vocab) + running_scores[:, :, None]).reshape(batch, -1)
                if options.do_sample:
                    candidates = _sample_without_replacement(_softmax(totals), keep, options.rng)
                    candidate_scores = np.take_along_axis(totals, candidates, axis=1)
                    order = np.argsort(-candidate_scores, axis=1, kind="stable")
                    candidates = np.take_along_axis(candidates, order, axis=1)
                    candidate_scores = np.take_along_axis(candidate_scores, order, axis=1)
                else:
                    candidates = _topk_indices(totals, keep)
                    candidate_scores = np.take_along_axis(totals, candidates, axis=1)
                source_beam, token = candidates // vocab, candidates % vocab
                candidate_sequences = np.take_along_axis(running, source_beam[:, :, None], axis=1)
                candidate_sequences[:, :, length] = token
                candidate_generated = np.take_along_axis(running_generated, source_beam, axis=1) + 1
                hits_stop = np.isin(token, options.eos) | (length + 1 >= max_length)
                # the best unfinished continuations run on
                alive_scores = candidate_scores + hits_stop.astype(np.float32) * np.float32(-1e9)
                next_beams = _topk_indices(alive_scores, beams)
                previous_beam = np.take_along_axis(source_beam, next_beams, axis=1)
                running = np.take_along_axis(candidate_sequences, next_beams[:, :, None], axis=1)
                running_scores = np.take_along_axis(alive_scores, next_beams, axis=1)
                running_generated = np.take_along_axis(candidate_generated, next_beams, axis=1)
                # finished hypotheses: merge those just completed with the best so far
                just_finished = hits_stop & top_beams[None, :]
                penalized = candidate_scores / np.float32((length + 1 - prompt_length) ** options.length_penalty)
                full = np.all(is_finished, axis=1, keepdims=True) & (options.early_stopping is True)
                penalized = penalized + full * np.float32(-1e9) + (~improvable) * np.float32(-1e9)
                penalized = penalized + (~just_finished) * np.float32(-1e9)
                merged_scores = np.concatenate([finished_scores, penalized.astype(np.float32)], axis=1)
                best = _topk_indices(merged_scores, beams)
                finished = np.take_along_axis(np.concatenate([finished, candidate_sequences], axis=1),
                                              best[:, :, None], axis=1)
                finished_scores = np.take_along_axis(merged_scores, best, axis=1)
                is_finished = np.take_along_axis(np.concatenate([is_finished, just_finished], axis=1), best, axis=1)
                generated = np.take_along_axis(np.concatenate([generated, candidate_generated], axis=1), best, axis=1)
                runner.reorder((previous_beam + np.arange(batch)[:, None] * beams).reshape(-1))
                new_tokens = running[:, :, length].reshape(-1)
                length += 1
                improvable = _still_improvable(improvable, running_scores, finished_scores, is_finished, length,
                                               max_length, prompt_length, options)
                go_on = (np.any(improvable) and not (np.all(is_finished) and options.early_stopping is True)
                         and not np.all(hits_stop))
                if not go_on:
                    break
            width = prompt_length + int(generated[:, 0].max())          # as HF: the returned beams' longest
            return finished[:, 0, :width]
    finally:
        model.train(was_training)


def _still_improvable(improvable, running_scores, finished_scores, is_finished, length, max_length, prompt_length,
                      options):
    """HF's early-stop heuristic: can the best running beam still beat the worst finished one?"""
    if options.early_stopping == "never" and options.length_penalty > 0.0:
        best_length = max_length - prompt_length
    else:
        best_length = length - prompt_length
    best_running = running_scores[:, :1] / np.float32(best_length ** options.length_penalty)
    worst_finished = np.where(is_finished, np.min(finished_scores, axis=1, keepdims=True), np.float32(-1e9))
    return improvable & np.any(best_running > worst_finished, axis=1, keepdims=True)


def _topk_indices(scores, k):
    """Indices of the k largest per row, largest first; ties keep the lower index first, as
    torch.topk does on CPU."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def _sample_without_replacement(probs, k, rng):
    """k distinct indices per row, drawn in proportion to probs (the Gumbel-top-k trick)."""
    with np.errstate(divide="ignore"):
        keys = np.log(probs) - np.log(-np.log(rng.random(probs.shape)))
    return np.argsort(-keys, axis=1, kind="stable")[:, :k]
