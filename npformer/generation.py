"""Decoding: greedy search, sampling and beam search over a preallocated KV cache.

    generate(model, input_ids, attention_mask=None, max_new_tokens=20, ...) -> ids (B, prompt + new)
    stream(model, input_ids, ...)       yields each step's new tokens (B,) as they are chosen
    stream_in_window / generate_in_window   the same past a causal LM's position table, each
                                        token seeing the last max_positions tokens (nanoGPT's sample.py)
    beam_search(model, input_ids, ...)  the beam search generate runs when num_beams > 1

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
cache is preallocated for prompt + max_new_tokens positions, so nothing is concatenated. The
model's own forward runs the prompt; each step after it (one token per row) runs through
``_FastStep``, the same computation in plain NumPy on the model's arrays, without the autograd
engine (see its docstring); models it does not recognise decode through their forward.
Without the cache (``use_cache=False``) every step runs the model's forward over the whole
sequence: the reference the cached steps are tested against.
"""
import numpy as np

from .autograd.grad_mode import no_grad
from .autograd.random import resolve
from .autograd.tensor import Tensor
from .models.encoder_decoder import EncoderDecoder
from .models.gpt import GPT
from .nn.attention import AttentionHeads
from .nn.layers import Dropout, Embedding, LayerNorm, Linear, RMSNorm
from .nn.module import ModuleList
from .nn.positional import ALiBi, LearnedPositionalEmbedding, RotaryEmbedding, SinusoidalPositionalEmbedding
from .nn.transformer import ACTIVATIONS, GATED, DecoderStack, FeedForward, TransformerBlock
from .ops.blas import matmul
from .ops.rotary import Rotary

NEG_INF = np.float32(-np.inf)


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
    keeps what the steps need: the attention mask, the positions, the encoder's memory."""

    def __init__(self, model, input_ids, attention_mask, max_new_tokens, use_cache, batch_repeat=1):
        self.model = model
        self.seq2seq = isinstance(model, EncoderDecoder)
        ids = _as_batch(input_ids, "input_ids")
        mask = np.ones_like(ids) if attention_mask is None else _as_batch(attention_mask, "attention_mask")
        if mask.shape != ids.shape:
            raise ValueError(f"attention_mask has shape {mask.shape}, expected {ids.shape} like input_ids")
        if ids.size and (ids.min() < 0 or ids.max() >= model.config.vocab_size):
            bad = int(ids.min() if ids.min() < 0 else ids.max())
            raise ValueError(f"input_ids holds id {bad}, outside the vocabulary of {model.config.vocab_size} tokens")
        ids, mask = np.repeat(ids, batch_repeat, axis=0), np.repeat(mask, batch_repeat, axis=0)
        real = mask != 0
        limit = model.config.max_positions
        if self.seq2seq:
            limit = np.inf if model.position_limit is None else model.position_limit
            if ids.shape[1] > limit:
                raise ValueError(f"input_ids has {ids.shape[1]} tokens, longer than the encoder's position table "
                                 f"of {limit} positions")
            if 1 + max_new_tokens > limit:
                raise ValueError(f"max_new_tokens {max_new_tokens} would overrun the decoder's position table of "
                                 f"{limit} positions (1 start token + {max_new_tokens} new > {limit})")
            self.memory_mask = None if real.all() else mask
            self.memory = model.encode(ids, self.memory_mask)
            self.padding = None
            self.prompt = np.full((ids.shape[0], 1), model.config.decoder_start_token_id, dtype=np.int64)
        else:
            if model.config.position in ("learned", "sinusoidal", "rope"):
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
            self.allowed = np.ones((ids.shape[0], ids.shape[1] + max_new_tokens), dtype=bool)
            self.allowed[:, :ids.shape[1]] = real
            self.positions = np.cumsum(self.allowed, axis=1) - 1
            self.positions[~self.allowed] = 1
        self.cache = self.fast = None
        if use_cache:
            total = self.prompt.shape[1] + max_new_tokens
            self.cache = (model.make_cache(ids.shape[0], total, self.memory.shape[1]) if self.seq2seq
                          else model.make_cache(ids.shape[0], total))
            self.fast = _FastStep.of(model, rows=ids.shape[0], steps=max_new_tokens)

    def scores(self, sequences, new_tokens):
        """The next position's logits in float32 (B, vocab), as HF's generate takes them."""
        return self.logits(sequences, new_tokens).astype(np.float32, copy=False)

    def logits(self, sequences, new_tokens):
        """The next position's logits (B, vocab) in the model's dtype, given the sequences so far
        (B, T) and, after the first call, the tokens just appended to them (B,)."""
        stepping = self.cache is not None and self.cache[0].length > 0        # one new token per row
        if stepping and self.fast is not None:
            return self.fast(new_tokens, self)
        fed = new_tokens[:, None] if stepping else sequences    # the prompt, or without the cache everything
        if self.seq2seq:
            out = self.model.decode(fed, self.memory, self.memory_mask, cache=self.cache)
        else:
            length = sequences.shape[1]
            mask = self.allowed[:, :length].astype(np.int64) if self.padded else None
            positions = self.positions[:, length - fed.shape[1]:length] if self.padded else None
            out = self.model(fed, attention_mask=mask, position_ids=positions, cache=self.cache,
                             logits_to_keep=1).logits
        return out._data[:, -1]

    def reorder(self, index):
        """Keep the rows ``index`` (beam search reorders its hypotheses)."""
        if self.cache is not None:
            for layer in self.cache:
                layer.reorder(index)
        if self.seq2seq:
            self.memory = Tensor._make(self.memory._data[index], False, None, 0)
            self.memory_mask = None if self.memory_mask is None else self.memory_mask[index]
        else:
            self.allowed, self.positions = self.allowed[index], self.positions[index]
            self.padding = None if self.padding is None else self.padding[index]


def _as_batch(ids, name):
    array = ids._data if isinstance(ids, Tensor) else np.asarray(ids)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.dtype.kind not in ("iub" if name == "attention_mask" else "iu") or array.shape[1] == 0:
        raise ValueError(f"{name} must be integer ids (batch, length >= 1), got {array.dtype} of shape {array.shape}")
    return array.astype(np.int64)


# ---------------------------------------------------------------------------- the fast step
class _Scratch:
    """Stands in for an op's autograd ctx: forward saves on it what backward would need, and
    nothing reads it."""

    def __init__(self, inputs):
        self.needs_input_grad = (False,) * inputs


def _op(function, *arrays, **params):
    """An op's forward on plain arrays: the op's numbers, without Tensors or a graph."""
    return function.forward(_Scratch(len(arrays)), *arrays, **params)


def _data(param):
    return None if param is None else param._data


def _norm(layer, x):
    """LayerNorm / RMSNorm over the last dim of x (B, d), the formulas of ops.normalization:
    (x - mean) / sqrt(var + eps) * w + b, and x / sqrt(mean(x^2) + eps) * w."""
    width = x.dtype.type(x.shape[-1])
    if type(layer) is LayerNorm:
        y = x - np.sum(x, axis=-1, keepdims=True) / width
        variance = np.einsum("...i,...i->...", y, y)[..., None] / width
        eps = layer.eps
    else:
        y = x.copy()
        variance = np.einsum("...i,...i->...", x, x)[..., None] / width
        eps = np.finfo(x.dtype).eps if layer.eps is None else layer.eps
    y *= 1 / np.sqrt(variance + x.dtype.type(eps))
    if layer.weight is not None:
        y *= layer.weight._data
    if getattr(layer, "bias", None) is not None:
        y += layer.bias._data
    return y


def _attend(q, keys, values, mask, scale):
    """softmax(q k^T * scale + mask) v for one query per row: q (B, H, 1, Dh) against the cached
    keys and values (B, Hkv, S, Dh), H = G * Hkv query heads in groups of G sharing a key/value
    head. ``mask``: None, boolean "may attend" (B, 1, 1, S), or a float bias (1 or B, H, 1, S).
    As ops.attention: a query that may attend to nothing gets a zero output, never NaN."""
    batch, heads, _, head_dim = q.shape
    kv_heads, groups = keys.shape[1], heads // keys.shape[1]
    q = (q * q.dtype.type(scale)).reshape(batch, kv_heads, groups, head_dim)         # (B, Hkv, G, Dh)
    scores = matmul(q, np.swapaxes(keys, -1, -2))                                   # (B, Hkv, G, S)
    if mask is not None and mask.dtype == np.bool_:
        np.copyto(scores, -np.inf, where=~mask)
    elif mask is not None:
        scores += mask.reshape(mask.shape[0], kv_heads, groups, -1)
    top = np.max(scores, axis=-1, keepdims=True)
    top[~np.isfinite(top)] = 0
    scores -= top
    np.exp(scores, out=scores)
    total = np.sum(scores, axis=-1, keepdims=True)
    total[total == 0] = 1
    scores /= total
    return matmul(scores, values).reshape(batch, heads * head_dim)                   # (B, H * Dh)


def _transposed(weight, block=128):
    """A contiguous copy of weight.T, made a block of rows at a time: for (50257, 256) float32,
    31 ms here against 82 ms for np.ascontiguousarray(weight.T), whose strided reads miss the
    cache."""
    out = np.empty(weight.shape[::-1], dtype=weight.dtype)
    for start in range(0, weight.shape[0], block):
        out[:, start:start + block] = weight[start:start + block].T
    return out


def _activate(function, x):
    return function(Tensor._make(x, False, None, 0))._data      # nn.transformer's table: its names, its ops


class _FastStep:
    """One decoding step -- one new token per row, (B,) -> logits (B, vocab) -- computed as the
    model computes it, in plain NumPy.

    It mirrors GPT.forward / EncoderDecoder.decode and TransformerBlock.forward for a single
    query position and reads and appends to the same KV caches; the tests hold it to the
    model's own forward (float64, relative error <= 1e-10). A step of a small model is a few
    dozen small products: through the modules, wrapping each in Tensors and running the ops'
    general checks costs about as much as the products (GPT-2 style 4L/256d, vocabulary
    50,257, float32, 2 threads, 256 steps: 6.8 ms a step through the modules against 4.9 ms
    here at batch 1, 18.9 against 12.7 at batch 8, measured alternately on this shared
    machine). Activations and rotations are the model's op forwards on arrays; the norms and
    attention are written out below for the one-query case. With one query the causal mask
    allows every cached key, so only left padding (decoder-only) or source padding
    (cross-attention) masks anything, and those masks are built once per step, not per layer.
    ``of(model)`` returns None for a model built of anything else (a subclass, another module
    type, partial rotary, norms over more than the last dim), which then decodes through its
    forward.

    The linear layers multiply by contiguous (in, out) copies of their weights when the run is
    long enough to repay the copies (rows x steps >= COPY_MIN_ROW_STEPS): OpenBLAS multiplies a
    few rows by a transposed (out, in) matrix several times slower than by a contiguous (in, out)
    one (measured here, float32, one thread: 8 rows by (1024, 256): 255 us against 109 us; 2
    rows: 228 against 22). The output projection is the largest matrix by far (vocab x d_model,
    51 MB for GPT-2's vocabulary); with the copy a 256-step run took 2.67 s against 3.56 s at
    batch 8 and about the same at batch 1 (2 threads), the copy (~35 ms) included.
    """

    MODULES = (DecoderStack, ModuleList, TransformerBlock, AttentionHeads, FeedForward, Linear, LayerNorm,
               RMSNorm, Dropout, RotaryEmbedding)
    COPY_MIN_ROW_STEPS = 128

    @classmethod
    def of(cls, model, rows=1, steps=1):
        if type(model) not in (GPT, EncoderDecoder) or model.training:
            return None
        modules = list(model.decoder.modules())
        if type(model) is EncoderDecoder and model.decoder_embed_norm is not None:
            modules.append(model.decoder_embed_norm)
        if any(type(m) not in cls.MODULES for m in modules):
            return None
        if any(type(m) in (LayerNorm, RMSNorm) and m.normalized_shape != (model.config.d_model,) for m in modules):
            return None
        if any(layer.self_attn.rotary is not None and layer.self_attn.rotary.rotary_dim != layer.self_attn.head_dim
               for layer in model.decoder.layers):
            return None
        if type(model.lm_head) is not Linear or type(model.embed_tokens) is not Embedding:
            return None
        positions = model.decoder_positions if type(model) is EncoderDecoder else model.embed_positions
        if type(positions) not in (LearnedPositionalEmbedding, SinusoidalPositionalEmbedding, type(None)):
            return None
        if type(model) is GPT and type(model.alibi) not in (ALiBi, type(None)):
            return None
        return cls(model, copy_weights=rows * steps >= cls.COPY_MIN_ROW_STEPS)

    def __init__(self, model, copy_weights=False):
        self.model = model
        self.seq2seq = type(model) is EncoderDecoder
        self.weights = {}                                     # Linear -> (weight (in, out), bias or None)
        for layer in list(model.decoder.modules()) + [model.lm_head]:
            if type(layer) is Linear:
                weight = _transposed(layer.weight._data) if copy_weights else layer.weight._data.T
                self.weights[layer] = (weight, _data(layer.bias))

    def _linear(self, layer, x):
        weight, bias = self.weights[layer]
        y = matmul(x, weight)                                                           # (B, out)
        if bias is not None:
            y += bias
        return y

    def __call__(self, tokens, runner):
        model, caches = self.model, runner.cache
        past = caches[0].length                                         # positions already cached
        x = model.embed_tokens.weight._data[tokens]                      # (B, d)
        self_mask = cross_mask = rotary_positions = None
        if self.seq2seq:
            if model.embed_scale != 1.0:
                x = x * x.dtype.type(model.embed_scale)
            if model.decoder_positions is not None:
                x = x + self._position_vectors(model.decoder_positions, past)
            if model.decoder_embed_norm is not None:
                x = _norm(model.decoder_embed_norm, x)
            if runner.memory_mask is not None:
                cross_mask = (runner.memory_mask != 0)[:, None, None, :]                # (B, 1, 1, S)
            if model.decoder_relative_bias is not None:                                 # T5
                self_mask = model.decoder_relative_bias(1, past + 1, offset=past)._data   # (1, H, 1, S)
        else:
            positions = runner.positions[:, past]                                       # (B,)
            if model.embed_positions is not None:
                x = x + self._position_vectors(model.embed_positions, positions)
            if model.config.position == "rope":
                rotary_positions = positions[:, None]                                   # (B, 1)
            allowed = runner.allowed[:, None, None, :past + 1] if runner.padded else None   # (B, 1, 1, S)
            self_mask = allowed
            if model.alibi is not None:
                self_mask = model.alibi(1, past + 1, offset=past, dtype=x.dtype)._data[None]    # (1, H, 1, S)
                if allowed is not None:
                    self_mask = self_mask + np.where(allowed, 0, -np.inf).astype(x.dtype)
        for layer, cache in zip(model.decoder.layers, caches):
            x = self._block(layer, x, cache, self_mask, cross_mask, rotary_positions)
        if model.decoder.norm is not None:
            x = _norm(model.decoder.norm, x)
        if self.seq2seq and model.config.scale_decoder_outputs:
            x = x * x.dtype.type(model.config.d_model ** -0.5)
        logits = self._linear(model.lm_head, x)                                         # (B, vocab)
        if self.seq2seq and model.final_logits_bias is not None:
            logits += model.final_logits_bias._data
        return logits

    @staticmethod
    def _position_vectors(module, positions):
        if type(module) is LearnedPositionalEmbedding:
            return module.weight._data[positions + module.offset]
        return module.table._data[positions]

    def _block(self, block, x, cache, self_mask, cross_mask, rotary_positions):
        x = self._sublayer(block, x, block.self_attn_norm, lambda h: self._attention(
            block.self_attn, h, cache.self_attn, self_mask, rotary_positions))
        if block.cross_attn is not None:
            x = self._sublayer(block, x, block.cross_attn_norm, lambda h: self._attention(
                block.cross_attn, h, cache.cross_attn, cross_mask, None))
        return self._sublayer(block, x, block.ffn_norm, lambda h: self._ffn(block.ffn, h))

    @staticmethod
    def _sublayer(block, x, norm, function):
        if block.norm_first:
            return x + function(_norm(norm, x))
        return _norm(norm, x + function(x))

    def _attention(self, attention, h, cache, mask, rotary_positions):
        """h (B, d) -> (B, d). Self-attention appends this position's key and value to the
        cache; cross-attention reads the encoder's, cached by the model's first call."""
        batch, heads, kv_heads, head_dim = h.shape[0], attention.n_heads, attention.n_kv_heads, attention.head_dim
        q = self._linear(attention.q_proj, h).reshape(batch, heads, 1, head_dim)        # (B, H, 1, Dh)
        if attention.cross_attention:
            keys, values = cache.filled()                                               # (B, Hkv, S, Dh)
        else:
            k = self._linear(attention.k_proj, h).reshape(batch, kv_heads, 1, head_dim)
            v = self._linear(attention.v_proj, h).reshape(batch, kv_heads, 1, head_dim)
            if attention.rotary is not None:
                cos, sin = attention.rotary.cos_sin(rotary_positions, h.dtype)         # (B, 1, Dh)
                cos, sin = cos[:, None], sin[:, None]
                q = _op(Rotary, q, cos, sin, interleaved=attention.rotary.interleaved)
                k = _op(Rotary, k, cos, sin, interleaved=attention.rotary.interleaved)
            keys, values = cache.append(k, v)
        return self._linear(attention.out_proj, _attend(q, keys, values, mask, attention.scale))

    def _ffn(self, ffn, h):
        if ffn.gate is not None:
            hidden = _activate(GATED[ffn.activation], self._linear(ffn.gate, h)) * self._linear(ffn.up, h)
        else:
            hidden = _activate(ACTIVATIONS[ffn.activation], self._linear(ffn.up, h))
        return self._linear(ffn.down, hidden)


# ---------------------------------------------------------------------------- search
def stream(model, input_ids, attention_mask=None, *, max_new_tokens=20, do_sample=False, temperature=1.0,
           top_k=None, top_p=1.0, repetition_penalty=1.0, no_repeat_ngram_size=0, eos_token_id=None,
           pad_token_id=None, generator=None, use_cache=True):
    """Greedy search or sampling, yielding each step's tokens (B,) as soon as they are chosen.
    Stops when every row has produced an end token or after max_new_tokens. A row that has
    finished gets pad_token_id (default: the first end token, else 0)."""
    options = _Options(model, max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                       no_repeat_ngram_size, 1, 1.0, False, eos_token_id, pad_token_id, generator)
    return _stream(model, input_ids, attention_mask, options, use_cache)


def stream_in_window(model, input_ids, *, max_new_tokens=20, window=None, do_sample=False, temperature=1.0,
                     top_k=None, top_p=1.0, repetition_penalty=1.0, no_repeat_ngram_size=0, eos_token_id=None,
                     pad_token_id=None, generator=None):
    """stream() for a causal LM past its position table, as nanoGPT's sample.py does it: each
    token is predicted from at most the last ``window`` tokens (default: the model's
    max_positions). While the sequence fits the window, one cached stream runs; after that each
    token re-runs the last ``window`` tokens (their positions have shifted, so no cache carries
    over), and the penalties see those tokens. Rows that produce an end token get pad tokens
    after it; the stream stops when every row has."""
    if isinstance(model, EncoderDecoder):
        raise ValueError("stream_in_window is for causal LMs; an encoder-decoder's decoder length is max_new_tokens")
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
            with no_grad():
                scores = model(context, logits_to_keep=1).logits._data[:, -1].astype(np.float32)
            produced += 1
            yield emit(options.choose(options.process(scores, context)))
    finally:
        model.train(was_training)


def generate_in_window(model, input_ids, *, max_new_tokens=20, window=None, **options):
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
        with no_grad():
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


def generate(model, input_ids, attention_mask=None, *, max_new_tokens=20, do_sample=False, temperature=1.0,
             top_k=None, top_p=1.0, repetition_penalty=1.0, no_repeat_ngram_size=0, num_beams=1, length_penalty=1.0,
             early_stopping=False, eos_token_id=None, pad_token_id=None, generator=None, use_cache=True):
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


def beam_search(model, input_ids, attention_mask=None, *, num_beams=4, max_new_tokens=20, length_penalty=1.0,
                early_stopping=False, eos_token_id=None, pad_token_id=None, do_sample=False, temperature=1.0,
                top_k=None, top_p=1.0, repetition_penalty=1.0, no_repeat_ngram_size=0, generator=None,
                use_cache=True):
    """Hugging Face's vectorised beam search for any num_beams >= 1 (generate uses it when
    num_beams > 1; with one beam and no end token it chooses what greedy search chooses).
    Returns the best finished hypothesis of each row, (B, prompt + longest returned)."""
    options = _Options(model, max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                       no_repeat_ngram_size, num_beams, length_penalty, early_stopping, eos_token_id, pad_token_id,
                       generator)
    return _beam_search(model, input_ids, attention_mask, options, use_cache)


def _prompt_of(model, input_ids):
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
