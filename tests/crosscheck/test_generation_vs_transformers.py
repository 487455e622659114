"""Decoding against transformers' generate: the same tokens, in float64.

Four random transformers models from fixed seeds -- GPT2LMHeadModel, LlamaForCausalLM with
grouped-query heads (4 query heads, 2 key/value heads), BartForConditionalGeneration and
T5ForConditionalGeneration (original T5: ReLU, relative position bias, scaled output) -- are
saved with save_pretrained and loaded with ``npformer.models.from_pretrained(dir,
dtype=np.float64)``; transformers runs a float64 copy of the same model. Both libraries then
decode with the same settings and must return identical token sequences: greedy search (50 new
tokens), beam search with 4 beams (with and without an end token that the beams produce,
length_penalty 1.0 and 2.0, early_stopping True and False), batched left-padded prompts for the
decoder-only models, and greedy search with repetition_penalty and no_repeat_ngram_size.

Random models repeat one token under greedy search when their weights are small (GPT-2's init
std is 0.02); the matrices here are redrawn larger (std 0.5; for BART and T5 0.3, with their
cross-attention at 0.05 so that the decoder's own tokens, not the fixed source, decide each
step), and every greedy test checks the continuation is not one repeated token.

transformers' generation config can add processors npformer does not model (BART's forced end
token, for one); they are switched off on the transformers model, and the end and pad tokens are
passed explicitly. The pad token is never 0: transformers' beam search fills unfinished tails
with ``pad_token_id or eos_token_id``, which skips a pad of 0 (T5's own pad, so this T5 pads with
1 and starts decoding from 0). Llama runs with transformers' float32 RMSNorm and RoPE tables, and
T5 with its float32 T5LayerNorm statistics, replaced by the same math in float64, as in
test_models_vs_transformers.py, so that no float32 rounding can flip a near tie.
"""
import numpy as np
import pytest

from npformer.generation import generate
from npformer.models import from_pretrained

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")
transformers = pytest.importorskip("transformers",
                                   reason="transformers is not installed: pip install -e '.[crosscheck]'")

from tests.crosscheck.test_models_vs_transformers import patch_llama_float64, patch_t5_float64  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

VOCAB = 96
PAD = 1


def _gpt2():
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=128, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, bos_token_id=None, eos_token_id=None))


def _llama():
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=VOCAB, max_position_embeddings=128, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False, rms_norm_eps=1e-6,
        bos_token_id=None, eos_token_id=None, pad_token_id=None))


def _bart():
    return transformers.BartForConditionalGeneration(transformers.BartConfig(
        vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=48, decoder_ffn_dim=48, max_position_embeddings=128, dropout=0.0,
        attention_dropout=0.0, activation_dropout=0.0, pad_token_id=PAD, bos_token_id=0, eos_token_id=2,
        decoder_start_token_id=2))


def _t5():
    return transformers.T5ForConditionalGeneration(transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, num_heads=4, d_ff=48, num_layers=2, relative_attention_num_buckets=16,
        relative_attention_max_distance=32, dropout_rate=0.0, pad_token_id=PAD, eos_token_id=2,
        decoder_start_token_id=0))


BUILDERS = {"gpt2": (_gpt2, 0.5, 0.5), "llama": (_llama, 0.5, 0.5), "bart": (_bart, 0.3, 0.05), "t5": (_t5, 0.3, 0.05)}
# t5: a seed whose greedy and beam continuations both vary (with 104 and 106-110 one token repeats)
SEEDS = {"gpt2": 101, "llama": 102, "bart": 103, "t5": 111}
SEQ2SEQ = ("bart", "t5")


def _randomize(model, std, cross_std, seed):
    """Matrices N(0, std) (cross-attention: cross_std), biases N(0, 0.1), norms 1 + N(0, 0.1)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim == 2:
                cross = "encoder_attn." in name or "EncDecAttention." in name
                param.copy_((cross_std if cross else std) * torch.randn(param.shape, generator=generator))
            elif name.endswith("bias"):
                param.copy_(0.1 * torch.randn(param.shape, generator=generator))
            else:
                param.copy_(1.0 + 0.1 * torch.randn(param.shape, generator=generator))
        for name, buffer in model.named_buffers():
            if name.endswith("final_logits_bias"):
                buffer.copy_(0.1 * torch.randn(buffer.shape, generator=generator))


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """These models are tiny: torch's thread pool only adds waiting (seconds per generate call
    when another process holds a core), so this module runs torch on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """family -> (npformer float64 model, transformers float64 model), built once."""
    built = {}

    def get(family):
        if family not in built:
            build, std, cross_std = BUILDERS[family]
            torch.manual_seed(SEEDS[family])
            hf = build().eval()
            _randomize(hf, std, cross_std, SEEDS[family] + 1000)
            directory = tmp_path_factory.mktemp(family)
            hf.save_pretrained(directory)
            hf = hf.double().eval()
            config = hf.generation_config
            config.eos_token_id = config.forced_eos_token_id = config.forced_bos_token_id = None
            built[family] = (from_pretrained(directory, dtype=np.float64), hf)
        return built[family]
    return get


@pytest.fixture(autouse=True)
def exact_float64_norms(monkeypatch):
    """transformers' Llama computes RMSNorm and its RoPE tables, and T5 its norms' statistics,
    in float32 even in a float64 model; the same math in the input's dtype (for float32 inputs,
    exactly transformers')."""
    patch_llama_float64(monkeypatch)
    patch_t5_float64(monkeypatch)


# --------------------------------------------------------------------------- inputs
def _prompt(family, batch):
    """Decoder-only: left-padded prompts of 9, 5 and 2 real tokens. BART and T5: right-padded
    sources ending in the end token (2)."""
    rng = np.random.default_rng(SEEDS[family])
    lengths = [9, 5, 2][:batch]
    ids = rng.integers(3, VOCAB, (batch, 9))                 # no pad, no end token inside
    columns = np.arange(9)[None, :]
    if family in SEQ2SEQ:
        mask = (columns < np.asarray(lengths)[:, None]).astype(np.int64)
        ids[np.arange(batch), np.asarray(lengths) - 1] = 2
    else:
        mask = (columns >= 9 - np.asarray(lengths)[:, None]).astype(np.int64)
    return np.where(mask == 1, ids, PAD), mask


def _both(pair, family, batch, **options):
    """(npformer's sequences, transformers') for the same prompt and settings."""
    ours_model, hf_model = pair(family)
    ids, mask = _prompt(family, batch)
    options.setdefault("pad_token_id", PAD)
    ours = generate(ours_model, ids, mask, **options)
    hf_options = dict(dict(eos_token_id=None, no_repeat_ngram_size=0, repetition_penalty=1.0), **options)
    with torch.no_grad():
        theirs = hf_model.generate(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), do_sample=False,
                                   use_cache=True, min_length=0, forced_bos_token_id=None, forced_eos_token_id=None,
                                   **hf_options).numpy()
    return ours, theirs


def _assert_same(ours, theirs, what):
    assert ours.shape == theirs.shape, f"{what}: shapes differ, npformer {ours.shape} vs transformers {theirs.shape}"
    differ = np.argwhere(ours != theirs)
    assert differ.size == 0, (f"{what}: {len(differ)} tokens differ, first at (row, position) {tuple(differ[0])}:\n"
                              f"npformer     {ours.tolist()}\ntransformers {theirs.tolist()}")


def _new_tokens(family, sequences):
    return sequences[:, 1:] if family in SEQ2SEQ else sequences[:, 9:]


def _assert_varied(family, sequences, distinct):
    for row in _new_tokens(family, sequences):
        assert len(set(row.tolist())) >= distinct, f"degenerate continuation: {row.tolist()}"


FAMILIES = ["gpt2", "llama", "bart", "t5"]


# --------------------------------------------------------------------------- greedy
@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_50_tokens(pair, family):
    ours, theirs = _both(pair, family, 1, max_new_tokens=50)
    _assert_same(ours, theirs, f"{family} greedy")
    assert ours.shape[1] == (1 if family in SEQ2SEQ else 9) + 50
    _assert_varied(family, ours, 5)


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_batched_padded_prompts(pair, family):
    ours, theirs = _both(pair, family, 3, max_new_tokens=30)
    _assert_same(ours, theirs, f"{family} greedy, batch of 3 padded prompts")
    _assert_varied(family, ours, 3)


@pytest.mark.parametrize("options", [dict(repetition_penalty=1.3), dict(repetition_penalty=0.8),
                                     dict(no_repeat_ngram_size=2), dict(no_repeat_ngram_size=3),
                                     dict(repetition_penalty=1.5, no_repeat_ngram_size=2)], ids=str)
@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_with_repetition_penalty_and_no_repeat_ngrams(pair, family, options):
    ours, theirs = _both(pair, family, 3, max_new_tokens=30, **options)
    _assert_same(ours, theirs, f"{family} greedy {options}")
    free = _both(pair, family, 3, max_new_tokens=30)[0]
    assert not np.array_equal(ours, free), f"{options} changed nothing: the comparison would not test it"


# --------------------------------------------------------------------------- beam search
_END_TOKENS = {}


def _end_token(pair, family):
    """An end token the beams produce and finish on: the first token of the best beam without
    an end token (from its 2nd new token on) with which the best beam returned is a finished one,
    so the finished-hypothesis bookkeeping decides the result."""
    if family not in _END_TOKENS:
        ours, _ = pair(family)
        ids, mask = _prompt(family, 1)
        free = _new_tokens(family, generate(ours, ids, mask, max_new_tokens=20, num_beams=4, pad_token_id=PAD))[0]
        for token in free[1:]:
            best = _new_tokens(family, generate(ours, ids, mask, max_new_tokens=20, num_beams=4, pad_token_id=PAD,
                                                eos_token_id=int(token)))[0]
            if token in best:
                _END_TOKENS[family] = int(token)
                break
        else:
            raise AssertionError(f"{family}: no token of {free.tolist()} ends the best beam")
    return _END_TOKENS[family]


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("length_penalty", [1.0, 2.0])
@pytest.mark.parametrize("with_end", [False, True], ids=["no-eos", "eos"])
@pytest.mark.parametrize("family", FAMILIES)
def test_beam_search_4_beams(pair, family, with_end, length_penalty, early_stopping):
    eos = _end_token(pair, family) if with_end else None
    ours, theirs = _both(pair, family, 1, max_new_tokens=20, num_beams=4, eos_token_id=eos,
                         length_penalty=length_penalty, early_stopping=early_stopping)
    _assert_same(ours, theirs, f"{family} beams eos={eos} length_penalty={length_penalty} "
                               f"early_stopping={early_stopping}")


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_beam_search_batched_padded_prompts(pair, family, early_stopping):
    eos = _end_token(pair, family)
    for end in (None, eos):
        ours, theirs = _both(pair, family, 3, max_new_tokens=16, num_beams=4, eos_token_id=end,
                             early_stopping=early_stopping)
        _assert_same(ours, theirs, f"{family} beams, batch of 3 padded prompts, eos={end}")


def test_beam_search_with_repetition_penalty_and_no_repeat_ngrams(pair):
    for family in FAMILIES:
        ours, theirs = _both(pair, family, 2, max_new_tokens=16, num_beams=3, repetition_penalty=1.3,
                             no_repeat_ngram_size=2, eos_token_id=_end_token(pair, family))
        _assert_same(ours, theirs, f"{family} beams with penalties")
