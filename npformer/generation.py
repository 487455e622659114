"""Decoding: greedy search, sampling and beam search over a preallocated KV cache.

    generate(model, input_ids, attention_mask=None, max_new_tokens=20, ...) -> ids (B, prompt + new)
    stream(model, input_ids, ...)  yields each step's new tokens (B,) as they are chosen

``model`` is a causal LM (npformer.models.GPT) or an encoder-decoder (EncoderDecoder); for
the latter the result is the decoder's sequence, starting with decoder_start_token_id.

How a step is scored follows Hugging Face's generate, so that the same model gives the same
tokens: the last position's logits are taken in float32; the processors run in the order
repetition penalty, no-repeat n-gram, then (when sampling) temperature, top-k, top-p; beam
search ranks by accumulated float32 log-probabilities with the length penalty
score / generated_length ** length_penalty, and finished beams are kept exactly as HF's
vectorised beam search keeps them. Sequences that have finished are padded with
pad_token_id. Batched prompts of different lengths are left-padded; each token's position is
its index among the row's real tokens (the cumulative attention mask).

With the cache, the prompt is run once and each new token costs one position's work; the
cache is preallocated for prompt + max_new_tokens positions, so nothing is concatenated.
"""
import numpy as np

from .autograd.grad_mode import no_grad
from .autograd.random import resolve
from .autograd.tensor import Tensor

NEG_INF = np.float32(-np.inf)


# ---------------------------------------------------------------------------- score processing
def _penalize_repetition(scores, sequences, penalty):
    """HF's rule: a token already in the sequence has its score divided by the penalty when
    positive, multiplied when negative (so the penalty always lowers it)."""
    rows = np.arange(scores.shape[0])[:, None]
    seen = scores[rows, sequences]
    scores[rows, sequences] = np.where(seen < 0, seen * penalty, seen / penalty)
    return scores


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


class _Options:
    def __init__(self, max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                 no_repeat_ngram_size, num_beams, length_penalty, early_stopping, eos_token_id, pad_token_id,
                 generator):
        if max_new_tokens is None or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        if num_beams is None or num_beams < 1:
            raise ValueError(f"num_beams must be at least 1, got {num_beams}")
        if not (top_p is not None and 0.0 < top_p <= 1.0):
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if do_sample and not temperature > 0:
            raise ValueError(f"temperature must be > 0 when sampling, got {temperature}")
        if top_k is not None and top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {top_k}")
        if repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {repetition_penalty}")
        if early_stopping not in (True, False, "never"):
            raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
        self.max_new_tokens, self.do_sample, self.temperature = int(max_new_tokens), do_sample, temperature
        self.top_k, self.top_p, self.repetition_penalty = top_k or 0, top_p, repetition_penalty
        self.no_repeat_ngram_size, self.num_beams = no_repeat_ngram_size or 0, int(num_beams)
        self.length_penalty, self.early_stopping = length_penalty, early_stopping
        eos = [] if eos_token_id is None else ([eos_token_id] if np.isscalar(eos_token_id) else list(eos_token_id))
        self.eos = np.asarray(eos, dtype=np.int64)
        self.pad = pad_token_id if pad_token_id is not None else (int(self.eos[0]) if len(self.eos) else 0)
        self.rng = resolve(generator).numpy

    def process(self, scores, sequences):
        """HF's processors, in HF's order, on float32 scores (B, vocab)."""
        if self.repetition_penalty != 1.0:
            scores = _penalize_repetition(scores, sequences, np.float32(self.repetition_penalty))
        if self.no_repeat_ngram_size > 0:
            scores = _ban_repeated_ngrams(scores, sequences, self.no_repeat_ngram_size)
        return scores

    def warp(self, scores):
        if self.temperature != 1.0:
            scores = scores / np.float32(self.temperature)
        if self.top_k > 0:
            scores = _top_k(scores, self.top_k)
        if self.top_p < 1.0:
            scores = _top_p(scores, self.top_p)
        return scores

    def choose(self, scores):
        """The next token of each row: argmax, or a sample from the warped distribution."""
        if not self.do_sample:
            return np.argmax(scores, axis=-1)
        probs = _softmax(self.warp(scores)).astype(np.float64)
        cumulative = np.cumsum(probs, axis=-1)
        draws = self.rng.random(len(probs)) * cumulative[:, -1]
        return np.minimum((cumulative < draws[:, None]).sum(axis=-1), probs.shape[-1] - 1)


# ---------------------------------------------------------------------------- the model side
class _Runner:
    """Runs the model one step at a time, with the cache or by recomputing from scratch."""

    def __init__(self, model, input_ids, attention_mask, max_new_tokens, use_cache, batch_repeat=1):
        from .models.encoder_decoder import EncoderDecoder
        self.model = model
        self.use_cache = use_cache
        self.seq2seq = isinstance(model, EncoderDecoder)
        ids = _as_batch(input_ids, "input_ids")
        mask = np.ones_like(ids) if attention_mask is None else _as_batch(attention_mask, "attention_mask")
        if mask.shape != ids.shape:
            raise ValueError(f"attention_mask has shape {mask.shape}, expected {ids.shape} like input_ids")
        ids, mask = np.repeat(ids, batch_repeat, axis=0), np.repeat(mask, batch_repeat, axis=0)
        config = model.config
        limit = getattr(config, "max_positions", None)
        uses_table = not self.seq2seq and getattr(config, "position", "learned") != "alibi"
        if self.seq2seq:
            self.memory_mask = mask
            self.memory = model.encode(ids, mask)
            start = np.full((ids.shape[0], 1), config.decoder_start_token_id, dtype=np.int64)
            self.prompt, self.mask = start, None
            if limit is not None and 1 + max_new_tokens > limit:
                raise ValueError(f"max_new_tokens {max_new_tokens} would overrun the decoder's position table of "
                                 f"{limit} positions (1 start token + {max_new_tokens} new)")
        else:
            if limit is not None and uses_table and ids.shape[1] > limit:
                raise ValueError(f"the prompt has {ids.shape[1]} tokens, longer than the position table of {limit}")
            if limit is not None and uses_table and ids.shape[1] + max_new_tokens > limit:
                raise ValueError(f"max_new_tokens {max_new_tokens} would overrun the position table: prompt "
                                 f"{ids.shape[1]} + {max_new_tokens} > {limit} positions")
            self.prompt, self.mask = ids, mask
        self.cache = None
        if use_cache:
            total = self.prompt.shape[1] + max_new_tokens
            self.cache = (model.make_cache(ids.shape[0], total, self.memory.shape[1]) if self.seq2seq
                          else model.make_cache(ids.shape[0], total))

    def logits(self, sequences, new_tokens):
        """Float32 scores (B, vocab) of the next position, given everything so far."""
        if self.seq2seq:
            if self.use_cache:
                fed = sequences if self.cache[0].length == 0 else new_tokens[:, None]
                out = self.model.decode(fed, self.memory, self.memory_mask, cache=self.cache)
            else:
                out = self.model.decode(sequences, self.memory, self.memory_mask)
            return out.data[:, -1].astype(np.float32)
        mask = np.concatenate([self.mask, np.ones((len(sequences), sequences.shape[1] - self.mask.shape[1]),
                                                  dtype=self.mask.dtype)], axis=1)
        positions = np.cumsum(mask, axis=1) - 1
        positions[mask == 0] = 1                       # padding: any valid position (HF uses 1)
        if self.use_cache:
            done = self.cache[0].length
            out = self.model(sequences[:, done:], attention_mask=mask, position_ids=positions[:, done:],
                             cache=self.cache).logits
        else:
            out = self.model(sequences, attention_mask=mask, position_ids=positions).logits
        return out.data[:, -1].astype(np.float32)

    def reorder(self, index):
        if self.cache is not None:
            for layer in self.cache:
                layer.reorder(index)
        if self.seq2seq:
            self.memory = Tensor._make(self.memory.data[index], False, None, 0)
            self.memory_mask = self.memory_mask[index]
        else:
            self.mask = self.mask[index]


def _as_batch(ids, name):
    array = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.dtype.kind not in "iu":
        raise ValueError(f"{name} must be integer ids (batch, length), got {array.dtype} of shape {array.shape}")
    return array.astype(np.int64)


# ---------------------------------------------------------------------------- search
def stream(model, input_ids, attention_mask=None, *, max_new_tokens=20, do_sample=False, temperature=1.0,
           top_k=None, top_p=1.0, repetition_penalty=1.0, no_repeat_ngram_size=0, eos_token_id=None,
           pad_token_id=None, generator=None, use_cache=True):
    """Greedy search or sampling, yielding each step's tokens (B,) as soon as they are chosen.
    Stops when every row has produced an end token or after max_new_tokens."""
    options = _Options(max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                       no_repeat_ngram_size, 1, 1.0, False, eos_token_id, pad_token_id, generator)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            runner = _Runner(model, input_ids, attention_mask, options.max_new_tokens, use_cache)
            sequences = runner.prompt
            unfinished = np.ones(len(sequences), dtype=bool)
            new_tokens = None
            for _ in range(options.max_new_tokens):
                scores = options.process(runner.logits(sequences, new_tokens), sequences)
                new_tokens = np.where(unfinished, options.choose(scores), options.pad).astype(np.int64)
                sequences = np.concatenate([sequences, new_tokens[:, None]], axis=1)
                yield new_tokens
                if len(options.eos):
                    unfinished &= ~np.isin(new_tokens, options.eos)
                    if not unfinished.any():
                        return
    finally:
        model.train(was_training)


def generate(model, input_ids, attention_mask=None, *, max_new_tokens=20, do_sample=False, temperature=1.0,
             top_k=None, top_p=1.0, repetition_penalty=1.0, no_repeat_ngram_size=0, num_beams=1, length_penalty=1.0,
             early_stopping=False, eos_token_id=None, pad_token_id=None, generator=None, use_cache=True):
    """The prompt followed by the generated tokens, (B, prompt + new) — or, for an
    encoder-decoder, the decoder sequence from its start token. See the module docstring."""
    if num_beams is not None and num_beams > 1:
        return _beam_search(model, input_ids, attention_mask, _Options(
            max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty, no_repeat_ngram_size,
            num_beams, length_penalty, early_stopping, eos_token_id, pad_token_id, generator), use_cache)
    _Options(max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty, no_repeat_ngram_size,
             num_beams, length_penalty, early_stopping, eos_token_id, pad_token_id, generator)   # validate up front
    steps = list(stream(model, input_ids, attention_mask, max_new_tokens=max_new_tokens, do_sample=do_sample,
                        temperature=temperature, top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty,
                        no_repeat_ngram_size=no_repeat_ngram_size, eos_token_id=eos_token_id,
                        pad_token_id=pad_token_id, generator=generator, use_cache=use_cache))
    prompt = _prompt_of(model, input_ids)
    return np.concatenate([prompt] + [step[:, None] for step in steps], axis=1)


def _prompt_of(model, input_ids):
    from .models.encoder_decoder import EncoderDecoder
    ids = _as_batch(input_ids, "input_ids")
    if isinstance(model, EncoderDecoder):
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
        with no_grad():
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
                log_probs = options.process(_log_softmax(runner.logits(flat, new_tokens)), flat)
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
