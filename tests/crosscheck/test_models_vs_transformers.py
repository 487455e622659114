"""Whole models against Hugging Face transformers: GPT-2, Llama, BERT and its five heads, BART,
Marian and T5 (original and v1.1), through checkpoint folders in both directions.

- HF -> npformer: a small random transformers model (fixed torch seed, norms and zero-initialised
  biases randomised so that a wrong mapping cannot hide behind ones and zeros) is saved with
  transformers' save_pretrained and loaded with ``npformer.models.from_pretrained``. Logits of
  every head, the loss and BERT's pooled output must agree with padding masks in float64
  (relative error <= 1e-9) and float32 (absolute error <= 1e-5), and the loss gradient of every
  parameter, mapped onto HF's names through the family's conversion table, must agree with torch
  autograd in float64 (relative error <= 1e-8).
- npformer -> HF: a seeded npformer model saved with ``save_pretrained`` (float64, float32, and
  in shards) loads in transformers with the same logits.

Llama in float64. transformers computes LlamaRMSNorm in float32 (forward casts its input to
float32) and the RoPE tables in float32 (inv_freq is built in float32, and forward multiplies the
positions in float32) even in a float64 model, so its float64 logits carry float32 rounding
(measured here: 4.6e-8 relative on the logits) and cannot be compared at 1e-9. The float64
comparisons therefore patch those two forwards with the same math in the input's dtype
(``_patch_float64``; likewise T5LayerNorm, which also takes its mean of squares in float32);
``test_float64_against_unpatched_transformers`` runs the unpatched float64 models and asserts
the difference stays below 1e-6, and the float32 comparisons use the unpatched models
(npformer's float32 Llama builds its RoPE tables in float32 as HF does).

The causal-LM loss in float64. transformers' ForCausalLMLoss (GPT-2's and Llama's loss) "upcasts"
the logits with ``logits.float()``, which in a float64 model rounds them to float32: the float64
loss then differs by about 2e-7 (GPT-2; the logits agree to 1e-16). ``_patch_float64`` also
replaces that loss, for float64 logits only, by the same shifted cross entropy without the cast;
the unpatched test bounds this difference too. BERT's and BART/Marian's losses call
CrossEntropyLoss directly and need no patch.

Marian's sinusoidal table is float32 in transformers whatever the model's dtype (built by NumPy
in float64, then stored in a FloatTensor); npformer's Marian loader rounds its table the same way,
so the float64 comparison is exact. That table is a frozen parameter (requires_grad=False) and
the only HF parameter no conversion rule covers. ``EncoderDecoderConfig.marian()`` rounds its
table the same way; ``test_marian_preset_and_exact_sinusoids`` also checks the exact float64
table (``sinusoidal_table_dtype="float64"``, about 1e-8 from HF's float64 logits) against HF
with its table replaced by the exact one.

Documented precision differences are asserted against their bounds and not recorded with
record_torch_error, so the printed parity figures compare like with like.
"""
import copy
import json
import os
from dataclasses import dataclass, field
from typing import Callable, Dict, Tuple

import numpy as np
import pytest

import npformer.models as models
from npformer.autograd.random import Generator
from npformer.interop import FAMILIES
from npformer.models import (
    GPT,
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    EncoderDecoder,
    EncoderDecoderConfig,
    GPTConfig,
)
from tests.conftest import record_torch_error
from tests.helpers import relative_error

torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")
transformers = pytest.importorskip("transformers",
                                   reason="transformers is not installed: pip install -e '.[crosscheck]'")

from transformers.loss import loss_utils  # noqa: E402
from transformers.models.llama import modeling_llama  # noqa: E402
from transformers.models.t5 import modeling_t5  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

FLOAT64_FORWARD = 1e-9          # relative error
FLOAT64_GRADIENT = 1e-8         # relative error
FLOAT32_FORWARD = 1e-5          # absolute error
UNPATCHED_FLOAT64 = 1e-6        # relative error against HF's float32 RMSNorm, RoPE tables and causal-LM loss

VOCAB = 96
BATCH = 3


# --------------------------------------------------------------------------- inputs
# One fixed batch per kind of model, right-padded (no row is fully masked, so every position,
# padded or not, is compared). Real tokens avoid the pad id; padding uses it.

def _lengths_mask(lengths, length):
    return (np.arange(length)[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)      # (B, T)


def _ids(rng, shape, pad):
    ids = rng.integers(0, VOCAB - 1, shape)
    return np.where(ids >= pad, ids + 1, ids) if pad is not None else ids                    # never pad


def causal_inputs(pad=0):
    rng = np.random.default_rng(11)
    mask = _lengths_mask([10, 7, 4], 10)
    ids = np.where(mask == 1, _ids(rng, mask.shape, pad), pad)
    labels = np.where(mask == 1, ids, -100)
    return dict(input_ids=ids, attention_mask=mask, labels=labels)


def bert_inputs(head):
    rng = np.random.default_rng(12)
    mask = _lengths_mask([12, 9, 5], 12)
    ids = np.where(mask == 1, _ids(rng, mask.shape, 0), 0)
    types = np.where((np.arange(12)[None, :] >= np.array([[6], [4], [3]])) & (mask == 1), 1, 0)
    inputs = dict(input_ids=ids, attention_mask=mask, token_type_ids=types)
    if head in ("masked-lm", "pretraining"):
        chosen = (rng.random(mask.shape) < 0.3) & (mask == 1)
        chosen[:, 1] = True                                           # at least one per row
        inputs["labels"] = np.where(chosen, _ids(rng, mask.shape, 0), -100)
    if head == "pretraining":
        inputs["next_sentence_label"] = np.array([0, 1, 1])
    if head == "sequence-classification":
        inputs["labels"] = np.array([0, 2, 1])
    if head == "token-classification":
        inputs["labels"] = np.where(mask == 1, rng.integers(0, 5, mask.shape), -100)
    if head == "question-answering":
        # out-of-range positions are clamped to T and ignored, by HF and by npformer
        inputs["start_positions"] = np.array([3, 40, 1])
        inputs["end_positions"] = np.array([7, 5, 30])
    return inputs


def seq2seq_inputs(pad, start, labels_only=False):
    rng = np.random.default_rng(13)
    source_mask = _lengths_mask([11, 8, 5], 11)
    source = np.where(source_mask == 1, _ids(rng, source_mask.shape, pad), pad)
    target_mask = _lengths_mask([9, 6, 3], 9)
    labels = np.where(target_mask == 1, _ids(rng, target_mask.shape, pad), -100)
    if labels_only:                 # the decoder inputs are the labels shifted right, by each library
        return dict(input_ids=source, attention_mask=source_mask, labels=labels)
    decoder_ids = np.concatenate([np.full((BATCH, 1), start), labels[:, :-1]], axis=1)
    decoder_ids = np.where(decoder_ids == -100, pad, decoder_ids)
    return dict(input_ids=source, attention_mask=source_mask, decoder_input_ids=decoder_ids,
                decoder_attention_mask=target_mask, labels=labels)


def to_torch(inputs):
    return {name: torch.from_numpy(np.ascontiguousarray(array)) for name, array in inputs.items()}


# --------------------------------------------------------------------------- the cases

def gpt2_config():
    return transformers.GPT2Config(vocab_size=VOCAB, n_positions=48, n_embd=24, n_layer=2, n_head=4,
                                   resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)


def llama_config():
    return transformers.LlamaConfig(vocab_size=VOCAB, max_position_embeddings=64, hidden_size=32,
                                    intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                                    num_key_value_heads=2, tie_word_embeddings=False, rms_norm_eps=1e-6,
                                    bos_token_id=0, eos_token_id=0, pad_token_id=None)


def bert_config(num_labels=2):
    return transformers.BertConfig(vocab_size=VOCAB, hidden_size=24, num_hidden_layers=2, num_attention_heads=4,
                                   intermediate_size=40, max_position_embeddings=40, type_vocab_size=2,
                                   hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, num_labels=num_labels,
                                   pad_token_id=0)


def bart_config():
    return transformers.BartConfig(vocab_size=VOCAB, d_model=24, encoder_layers=2, decoder_layers=2,
                                   encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=40,
                                   decoder_ffn_dim=40, max_position_embeddings=40, dropout=0.0, attention_dropout=0.0,
                                   activation_dropout=0.0, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                                   decoder_start_token_id=2, forced_eos_token_id=2)


def marian_config():
    # as real Marian checkpoints: swish, scaled embeddings, pad = decoder start = the last id
    return transformers.MarianConfig(vocab_size=VOCAB, decoder_vocab_size=VOCAB, d_model=24, encoder_layers=2,
                                     decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                                     encoder_ffn_dim=40, decoder_ffn_dim=40, max_position_embeddings=40,
                                     activation_function="swish", scale_embedding=True, dropout=0.0,
                                     attention_dropout=0.0, activation_dropout=0.0, pad_token_id=VOCAB - 1,
                                     decoder_start_token_id=VOCAB - 1, eos_token_id=0, bos_token_id=0,
                                     forced_eos_token_id=0, share_encoder_decoder_embeddings=True)


def t5_config(v1_1=False):
    # 3 decoder layers against 2 encoder layers, and few buckets with a short max_distance so that
    # the logarithmic buckets are reached by these 9- and 11-token sequences. v1.1 does not scale
    # the decoder output by d_model^-0.5, and with T5's initialisation (shared ~ N(0, 1)) its
    # logits reach |22| where every other case stays under 4; initializer_factor 0.2 brings them
    # to about 6, the same order, so that FLOAT32_FORWARD (absolute) bounds the same relative
    # rounding.
    options = (dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False, initializer_factor=0.2) if v1_1
               else {})
    return transformers.T5Config(vocab_size=VOCAB, d_model=24, d_kv=6, num_heads=4, d_ff=40, num_layers=2,
                                 num_decoder_layers=3, relative_attention_num_buckets=8,
                                 relative_attention_max_distance=12, dropout_rate=0.0, pad_token_id=0, eos_token_id=1,
                                 decoder_start_token_id=0, **options)


def _t5_ours(v1_1=False):
    def build(dtype, generator):
        # v1.1 with T5's initializer_factor 0.2, as t5_config(v1_1=True) and for the same reason
        options = dict(activation="geglu_tanh", scale_decoder_outputs=False, init_std=0.2) if v1_1 else {}
        config = EncoderDecoderConfig.t5(vocab_size=VOCAB, d_model=24, n_heads=4, encoder_layers=2, decoder_layers=3,
                                         d_ff=40, relative_buckets=8, relative_max_distance=12, dropout=0.0, **options)
        return EncoderDecoder(config, dtype=dtype, generator=generator)
    return build


@dataclass(frozen=True)
class Case:
    family: str
    head: str
    hf_class: str                       # the transformers class name
    config: Callable
    inputs: Callable                    # () -> dict of NumPy inputs, labels included
    outputs: Tuple[str, ...]            # output fields besides the loss, named alike in both libraries
    pooled: bool = False                # compare .bert(...).pooler_output
    ours: Callable = None               # (dtype, generator) -> a fresh npformer model of this shape
    extra: Dict = field(default_factory=dict)

    @property
    def id(self):
        return f"{self.family}-{self.head}"


def _bert_ours(cls, num_labels=2):
    def build(dtype, generator):
        config = BertConfig(vocab_size=VOCAB, max_positions=40, d_model=24, n_layers=2, n_heads=4, d_ff=40,
                            dropout=0.0, attention_dropout=0.0, num_labels=num_labels)
        return cls(config, dtype=dtype, generator=generator)
    return build


CASES = [
    Case("gpt2", "lm", "GPT2LMHeadModel", gpt2_config, causal_inputs, ("logits",),
         ours=lambda dtype, g: GPT(GPTConfig.gpt2(vocab_size=VOCAB, max_positions=48, d_model=24, n_layers=2,
                                                  n_heads=4), dtype=dtype, generator=g)),
    Case("llama", "lm", "LlamaForCausalLM", llama_config, causal_inputs, ("logits",),
         ours=lambda dtype, g: GPT(GPTConfig.llama(vocab_size=VOCAB, max_positions=64, d_model=32, n_layers=2,
                                                   n_heads=4, n_kv_heads=2, d_ff=48), dtype=dtype, generator=g)),
    Case("bert", "masked-lm", "BertForMaskedLM", bert_config, lambda: bert_inputs("masked-lm"), ("logits",),
         ours=_bert_ours(BertForMaskedLM)),
    Case("bert", "pretraining", "BertForPreTraining", bert_config, lambda: bert_inputs("pretraining"),
         ("prediction_logits", "seq_relationship_logits"), pooled=True, ours=_bert_ours(BertForPreTraining)),
    Case("bert", "sequence-classification", "BertForSequenceClassification", lambda: bert_config(3),
         lambda: bert_inputs("sequence-classification"), ("logits",), pooled=True,
         ours=_bert_ours(BertForSequenceClassification, 3)),
    Case("bert", "token-classification", "BertForTokenClassification", lambda: bert_config(5),
         lambda: bert_inputs("token-classification"), ("logits",), ours=_bert_ours(BertForTokenClassification, 5)),
    Case("bert", "question-answering", "BertForQuestionAnswering", bert_config,
         lambda: bert_inputs("question-answering"), ("start_logits", "end_logits"),
         ours=_bert_ours(BertForQuestionAnswering)),
    Case("bart", "conditional-generation", "BartForConditionalGeneration", bart_config,
         lambda: seq2seq_inputs(pad=1, start=2), ("logits",),
         ours=lambda dtype, g: EncoderDecoder(EncoderDecoderConfig.bart(
             vocab_size=VOCAB, d_model=24, n_heads=4, encoder_layers=2, decoder_layers=2, d_ff=40, max_positions=40,
             dropout=0.0), dtype=dtype, generator=g),
         extra={"labels_only": lambda: seq2seq_inputs(pad=1, start=2, labels_only=True)}),
    Case("marian", "mt", "MarianMTModel", marian_config, lambda: seq2seq_inputs(pad=VOCAB - 1, start=VOCAB - 1),
         ("logits",),
         ours=lambda dtype, g: EncoderDecoder(EncoderDecoderConfig.marian(
             vocab_size=VOCAB, d_model=24, n_heads=4, encoder_layers=2, decoder_layers=2, d_ff=40, max_positions=40,
             dropout=0.0, pad_token_id=VOCAB - 1, decoder_start_token_id=VOCAB - 1), dtype=dtype, generator=g),
         extra={"labels_only": lambda: seq2seq_inputs(pad=VOCAB - 1, start=VOCAB - 1, labels_only=True)}),
    Case("t5", "conditional-generation", "T5ForConditionalGeneration", t5_config,
         lambda: seq2seq_inputs(pad=0, start=0), ("logits",), ours=_t5_ours(),
         extra={"labels_only": lambda: seq2seq_inputs(pad=0, start=0, labels_only=True)}),
    Case("t5", "v1.1-gated-gelu", "T5ForConditionalGeneration", lambda: t5_config(v1_1=True),
         lambda: seq2seq_inputs(pad=0, start=0), ("logits",), ours=_t5_ours(v1_1=True)),
]
CASE_IDS = [case.id for case in CASES]


# --------------------------------------------------------------------------- building and loading

def _randomize_hf(model, seed):
    """Norm weights around 1 and every bias (and BART/Marian's final_logits_bias buffer) random,
    not HF's ones and zeros."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not param.requires_grad:                   # Marian's frozen sinusoids
                continue
            if name.endswith("bias"):
                param.copy_(0.1 * torch.randn(param.shape, generator=generator))
            elif "norm" in name.lower() or ".ln_" in name:
                param.copy_(1.0 + 0.1 * torch.randn(param.shape, generator=generator))
        for name, buffer in model.named_buffers():
            if name.endswith("final_logits_bias"):
                buffer.copy_(0.1 * torch.randn(buffer.shape, generator=generator))
    constant = [name for name, tensor in model.state_dict().items()
                if tensor.is_floating_point() and tensor.numel() > 1 and bool((tensor == tensor.flatten()[0]).all())]
    assert not constant, f"left constant: {constant}"


def _randomize_ours(model, seed):
    rng = np.random.default_rng(seed)
    for name, param in model.named_parameters():
        if name.endswith("bias"):
            param.data[...] = 0.1 * rng.standard_normal(param.shape)
        elif "norm" in name:
            param.data[...] = 1.0 + 0.1 * rng.standard_normal(param.shape)
    for name, buffer in model.named_buffers():
        if name.endswith("final_logits_bias"):
            buffer.data[...] = 0.1 * rng.standard_normal(buffer.shape)
    constant = [name for name, tensor in model.state_dict().items()
                if tensor.numel() > 1 and np.all(tensor.numpy() == tensor.numpy().flat[0])]
    assert not constant, f"left constant: {constant}"


@pytest.fixture(scope="module")
def hf_checkpoint(tmp_path_factory):
    """case -> (folder, the float32 HF model it was saved from), each built once."""
    built = {}

    def get(case):
        if case.id not in built:
            torch.manual_seed(1000 + CASE_IDS.index(case.id))
            model = getattr(transformers, case.hf_class)(case.config()).eval()
            _randomize_hf(model, 2000 + CASE_IDS.index(case.id))
            directory = tmp_path_factory.mktemp(case.id)
            model.save_pretrained(directory)
            built[case.id] = (str(directory), model)
        return built[case.id]
    return get


def _hf_float64(model):
    return copy.deepcopy(model).double().eval()


def _rms_norm_in_input_dtype(self, hidden_states):
    """LlamaRMSNorm's and T5LayerNorm's math without their cast of the statistics to float32."""
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


def patch_llama_float64(monkeypatch):
    """transformers' Llama computes RMSNorm and its RoPE tables in float32 even in a float64
    model; patched, both compute HF's math in the input's dtype (for float32 inputs, exactly
    transformers'). The generation cross-checks use it too."""
    def rotary_forward(self, x, position_ids):
        dim = 2 * self.inv_freq.shape[-1]
        base = self.config.rope_parameters["rope_theta"]
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=x.dtype) / dim))
        freqs = position_ids[..., None].to(x.dtype) * inv_freq                       # (B, T, dim/2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos() * self.attention_scaling, emb.sin() * self.attention_scaling

    monkeypatch.setattr(modeling_llama.LlamaRMSNorm, "forward", _rms_norm_in_input_dtype)
    monkeypatch.setattr(modeling_llama.LlamaRotaryEmbedding, "forward", rotary_forward)


def patch_t5_float64(monkeypatch):
    """T5LayerNorm takes its mean of squares in float32 even in a float64 model; patched, in the
    input's dtype (for float32 inputs, exactly transformers')."""
    monkeypatch.setattr(modeling_t5.T5LayerNorm, "forward", _rms_norm_in_input_dtype)


def _patch_float64(monkeypatch):
    """transformers' float64 models without their float32 steps (see the module docstring):
    LlamaRMSNorm, LlamaRotaryEmbedding and T5LayerNorm compute in the input's dtype
    (patch_llama_float64, patch_t5_float64), and the causal-LM loss keeps float64 logits in
    float64. For float32 inputs all four compute exactly what transformers does."""
    patch_llama_float64(monkeypatch)
    patch_t5_float64(monkeypatch)
    original_loss = loss_utils.LOSS_MAPPING["ForCausalLM"]

    def causal_lm_loss(logits, labels, vocab_size, ignore_index=-100, **kwargs):
        if logits.dtype != torch.float64 or kwargs.get("shift_labels") is not None \
                or kwargs.get("num_items_in_batch") is not None:
            return original_loss(logits, labels, vocab_size, ignore_index=ignore_index, **kwargs)
        shifted = torch.nn.functional.pad(labels, (0, 1), value=ignore_index)[..., 1:]
        return torch.nn.functional.cross_entropy(logits.reshape(-1, vocab_size), shifted.reshape(-1),
                                                 ignore_index=ignore_index)

    monkeypatch.setitem(loss_utils.LOSS_MAPPING, "ForCausalLM", causal_lm_loss)


def _outputs(case, output, model, inputs, library):
    """name -> array of every compared output: the case's fields, the loss, BERT's pooled output."""
    arrays = {name: getattr(output, name) for name in case.outputs}
    arrays["loss"] = output.loss
    if case.pooled:
        keep = ("input_ids", "attention_mask", "token_type_ids")
        arrays["pooler_output"] = model.bert(**{k: v for k, v in inputs.items() if k in keep}).pooler_output
    if library == "hf":
        return {name: value.detach().numpy() for name, value in arrays.items()}
    return {name: value.numpy() for name, value in arrays.items()}


def _run_ours(case, model, inputs):
    return _outputs(case, model(**inputs), model, inputs, "ours")


def _run_hf(case, model, inputs):
    torch_inputs = to_torch(inputs)
    with torch.no_grad():
        return _outputs(case, model(**torch_inputs), model, torch_inputs, "hf")


def _compare(ours, theirs, dtype, what):
    """The worst error over the compared outputs (relative in float64, absolute in float32)."""
    assert set(ours) == set(theirs) and "loss" in ours
    worst, worst_name = 0.0, None
    for name in ours:
        assert ours[name].shape == theirs[name].shape, (what, name, ours[name].shape, theirs[name].shape)
        if dtype == np.float64:
            error = relative_error(ours[name], theirs[name])
        else:
            assert ours[name].dtype == np.float32, (what, name, ours[name].dtype)
            error = float(np.max(np.abs(ours[name].astype(np.float64) - theirs[name].astype(np.float64))))
        if error >= worst:
            worst, worst_name = error, name
    return worst, worst_name


# --------------------------------------------------------------------------- HF -> npformer: forward

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward_float64(case, hf_checkpoint, monkeypatch):
    _patch_float64(monkeypatch)
    directory, hf32 = hf_checkpoint(case)
    ours = models.from_pretrained(directory, dtype=np.float64)
    hf64 = _hf_float64(hf32)
    inputs_list = [("", case.inputs())] + [(f" {k}", make()) for k, make in case.extra.items()]
    for suffix, inputs in inputs_list:
        error, name = _compare(_run_ours(case, ours, inputs), _run_hf(case, hf64, inputs), np.float64, case.id)
        record_torch_error(f"{case.family} {case.head} float64 forward{suffix}", error)
        assert error <= FLOAT64_FORWARD, f"{case.id}{suffix}: {name} differs by {error:.2e} (relative)"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_forward_float32(case, hf_checkpoint):
    directory, hf32 = hf_checkpoint(case)
    ours = models.from_pretrained(directory, dtype=np.float32)
    inputs_list = [("", case.inputs())] + [(f" {k}", make()) for k, make in case.extra.items()]
    for suffix, inputs in inputs_list:
        error, name = _compare(_run_ours(case, ours, inputs), _run_hf(case, hf32, inputs), np.float32, case.id)
        record_torch_error(f"{case.family} {case.head} float32 forward{suffix}", error)
        assert error <= FLOAT32_FORWARD, f"{case.id}{suffix}: {name} differs by {error:.2e} (absolute)"


@pytest.mark.parametrize("case", [c for c in CASES if c.family in ("gpt2", "llama", "t5")], ids=lambda c: c.id)
def test_float64_against_unpatched_transformers(case, hf_checkpoint):
    """Against transformers' own float64 models (float32 Llama RMSNorm, RoPE tables and
    T5LayerNorm statistics, float32 causal-LM loss) the agreement is only to float32 rounding;
    this keeps the module docstring's statement checked."""
    directory, hf32 = hf_checkpoint(case)
    ours = models.from_pretrained(directory, dtype=np.float64)
    inputs = case.inputs()
    error, name = _compare(_run_ours(case, ours, inputs), _run_hf(case, _hf_float64(hf32), inputs), np.float64,
                           case.id)
    # a documented precision difference, asserted against its bound and not recorded as parity
    assert error <= UNPATCHED_FLOAT64, f"{name} differs by {error:.2e} (relative)"


# --------------------------------------------------------------------------- HF -> npformer: gradients

@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradients_float64(case, hf_checkpoint, monkeypatch):
    _patch_float64(monkeypatch)
    directory, hf32 = hf_checkpoint(case)
    ours = models.from_pretrained(directory, dtype=np.float64)
    hf64 = _hf_float64(hf32)
    inputs = case.inputs()

    ours_loss = ours(**inputs).loss
    ours_loss.backward()
    hf64.zero_grad()
    hf_loss = hf64(**to_torch(inputs)).loss
    hf_loss.backward()
    assert relative_error(ours_loss.numpy(), hf_loss.detach().numpy()) <= FLOAT64_FORWARD

    ours_params = dict(ours.named_parameters(remove_duplicate=False))
    ours_buffers = dict(ours.named_buffers())
    hf_params = dict(hf64.named_parameters())
    hf_tensors = hf64.state_dict(keep_vars=True)           # tied names included
    family = FAMILIES[hf64.config.model_type]
    covered, worst, worst_name = set(), 0.0, None
    for rule in family.rules(ours):
        assert rule.hf in hf_tensors, f"{case.id}: the table names {rule.hf}, which {case.hf_class} lacks"
        theirs = hf_tensors[rule.hf]
        if not isinstance(theirs, torch.nn.Parameter):    # a buffer (final_logits_bias): no gradient
            assert all(name in ours_buffers for name in rule.ours), rule
            continue
        params = [ours_params[name] for name in rule.ours]
        if len(params) > 1 and rule.to_hf is None:        # tied: several names, one Parameter
            assert all(p is params[0] for p in params), f"{case.id}: {rule.ours} are not one parameter"
        assert all(p.grad is not None for p in params), f"{case.id}: no gradient reached {rule.ours}"
        assert theirs.grad is not None, f"{case.id}: no HF gradient for {rule.hf}"
        error = relative_error(rule.save(tuple(p.grad for p in params)), theirs.grad.numpy())
        covered.add(id(theirs))
        if error >= worst:
            worst, worst_name = error, rule.hf
    uncovered = [name for name, p in hf_params.items() if p.requires_grad and id(p) not in covered]
    assert not uncovered, f"{case.id}: HF parameters no rule covers: {uncovered}"
    frozen = [name for name, p in hf_params.items() if not p.requires_grad]
    assert all("embed_positions" in name for name in frozen) and (case.family == "marian") == bool(frozen), frozen
    record_torch_error(f"{case.family} {case.head} float64 gradient", worst)
    assert worst <= FLOAT64_GRADIENT, f"{case.id}: gradient of {worst_name} differs by {worst:.2e} (relative)"


# --------------------------------------------------------------------------- npformer -> HF

@pytest.fixture(scope="module")
def our_model():
    """case -> a seeded float64 npformer model with randomised norms and biases, built once."""
    built = {}

    def get(case):
        if case.id not in built:
            index = CASE_IDS.index(case.id)
            model = case.ours(np.float64, Generator(3000 + index)).eval()
            _randomize_ours(model, 4000 + index)
            built[case.id] = model
        return built[case.id]
    return get


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_save_pretrained_loads_in_transformers(case, dtype, our_model, tmp_path, monkeypatch):
    """Our folder loads in transformers (strictly: nothing missing but Marian's recomputed sinusoids,
    nothing unexpected) and gives our logits."""
    if dtype == np.float64:
        _patch_float64(monkeypatch)
    model = our_model(case)
    model.save_pretrained(tmp_path, dtype=dtype)
    with open(tmp_path / "config.json") as f:
        assert json.load(f)["architectures"] == [case.hf_class]
    hf_class = getattr(transformers, case.hf_class)
    hf, info = hf_class.from_pretrained(tmp_path, dtype=torch.float64 if dtype == np.float64 else torch.float32,
                                        output_loading_info=True)
    hf.eval()
    missing = [name for name in info["missing_keys"] if not (case.family == "marian" and "embed_positions" in name)]
    assert not missing and not info["unexpected_keys"] and not info["mismatched_keys"], info
    for name, tensor in hf.state_dict().items():
        assert tensor.dtype == (torch.float64 if dtype == np.float64 else torch.float32), name

    ours = model if dtype == np.float64 else copy.deepcopy(model).float()
    inputs = case.inputs()
    error, name = _compare(_run_ours(case, ours, inputs), _run_hf(case, hf, inputs), dtype, case.id)
    label = "float64" if dtype == np.float64 else "float32"
    record_torch_error(f"{case.family} {case.head} {label} forward, saved by npformer", error)
    limit = FLOAT64_FORWARD if dtype == np.float64 else FLOAT32_FORWARD
    assert error <= limit, f"{case.id}: {name} differs by {error:.2e}"


SHARDED = ("gpt2-lm", "bert-pretraining", "bart-conditional-generation", "t5-conditional-generation")


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SHARDED], ids=lambda c: c.id)
def test_sharded_save_pretrained(case, our_model, tmp_path, monkeypatch):
    """max_shard_size: an index and several shards, loaded by transformers and by npformer alike."""
    _patch_float64(monkeypatch)
    model = our_model(case)
    model.save_pretrained(tmp_path, dtype=np.float64, max_shard_size=20_000)
    files = sorted(os.listdir(tmp_path))
    shards = [f for f in files if f.endswith(".safetensors")]
    assert "model.safetensors.index.json" in files and "model.safetensors" not in files
    assert len(shards) >= 3, files
    with open(tmp_path / "model.safetensors.index.json") as f:
        weight_map = json.load(f)["weight_map"]
    assert sorted(set(weight_map.values())) == shards

    reloaded = models.from_pretrained(tmp_path)
    assert reloaded.state_dict().keys() == model.state_dict().keys()
    for name, array in model.state_dict().items():
        assert reloaded.state_dict()[name].dtype == np.float64
        np.testing.assert_array_equal(reloaded.state_dict()[name], array, err_msg=name)

    hf, info = getattr(transformers, case.hf_class).from_pretrained(tmp_path, dtype=torch.float64,
                                                                    output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    inputs = case.inputs()
    error, name = _compare(_run_ours(case, model, inputs), _run_hf(case, hf.eval(), inputs), np.float64, case.id)
    record_torch_error(f"{case.family} {case.head} float64 forward, sharded by npformer", error)
    assert error <= FLOAT64_FORWARD, f"{case.id}: {name} differs by {error:.2e}"


def _exact_marian_sinusoids(positions, dim):
    """HF's MarianSinusoidalPositionalEmbedding.create_weight without its float32 rounding."""
    angle = np.array([[p / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for p in range(positions)])
    return np.concatenate([np.sin(angle[:, 0::2]), np.cos(angle[:, 1::2])], axis=1)         # (positions, dim)


def test_marian_preset_and_exact_sinusoids(tmp_path):
    """EncoderDecoderConfig.marian() rounds its sinusoids through float32 as transformers does,
    so a float64 Marian built from the preset matches HF's float64 logits to 1e-9. With exact
    float64 sinusoids (sinusoidal_table_dtype="float64") it matches HF once HF's table is
    replaced by the exact one, and differs from HF's own table only by that rounding."""
    case = CASES[CASE_IDS.index("marian-mt")]
    options = dict(vocab_size=VOCAB, d_model=24, n_heads=4, encoder_layers=2, decoder_layers=2, d_ff=40,
                   max_positions=40, dropout=0.0, pad_token_id=VOCAB - 1, decoder_start_token_id=VOCAB - 1)
    inputs = case.inputs()
    preset = EncoderDecoderConfig.marian(**options)
    assert preset.sinusoidal_table_dtype == "float32"
    model = EncoderDecoder(preset, dtype=np.float64, generator=Generator(5000)).eval()
    _randomize_ours(model, 5001)
    model.save_pretrained(tmp_path / "preset")
    hf = transformers.MarianMTModel.from_pretrained(tmp_path / "preset", dtype=torch.float64).eval()
    error, name = _compare(_run_ours(case, model, inputs), _run_hf(case, hf, inputs), np.float64, case.id)
    record_torch_error("marian mt float64 forward, preset (float32-rounded sinusoids)", error)
    assert error <= FLOAT64_FORWARD, f"{name} differs by {error:.2e} (relative)"

    exact = EncoderDecoder(EncoderDecoderConfig.marian(sinusoidal_table_dtype="float64", **options), dtype=np.float64,
                           generator=Generator(5000)).eval()
    _randomize_ours(exact, 5001)
    exact.save_pretrained(tmp_path / "exact")
    hf = transformers.MarianMTModel.from_pretrained(tmp_path / "exact", dtype=torch.float64).eval()
    ours = _run_ours(case, exact, inputs)
    error, name = _compare(ours, _run_hf(case, hf, inputs), np.float64, case.id)
    assert error <= UNPATCHED_FLOAT64, f"{name} differs by {error:.2e} (relative)"      # not recorded: see above
    table = torch.from_numpy(_exact_marian_sinusoids(40, 24))
    with torch.no_grad():
        for stack in (hf.model.encoder, hf.model.decoder):
            stack.embed_positions.weight.copy_(table)
    error, name = _compare(ours, _run_hf(case, hf, inputs), np.float64, case.id)
    record_torch_error("marian mt float64 forward, float64 sinusoids", error)
    assert error <= FLOAT64_FORWARD, f"{name} differs by {error:.2e} (relative)"
