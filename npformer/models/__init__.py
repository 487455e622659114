"""npformer.models: the model families, each an embedding, a stack of the shared block and a head.

    GPT                 decoder-only (GPTConfig.gpt2(), GPTConfig.llama())
    BertModel + heads   BertForMaskedLM, BertForPreTraining, BertForSequenceClassification,
                        BertForTokenClassification, BertForQuestionAnswering
    EncoderDecoder      the original Transformer (EncoderDecoderConfig.transformer()), BART, Marian, T5

``from_pretrained(dir)`` and ``model.save_pretrained(dir)`` read and write Hugging Face
checkpoint folders (npformer.interop holds the conversion tables).
"""
# ruff: noqa: F401 -- the imports below are npformer.models' public names
from .bert import (
    BertConfig,
    BertForMaskedLM,
    BertForPreTraining,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from .encoder_decoder import EncoderDecoder, EncoderDecoderConfig
from .gpt import GPT, GPTConfig
from .output import ModelOutput


def from_pretrained(directory: str, dtype=None, strict: bool = True):
    """Load a Hugging Face checkpoint folder (config.json + model.safetensors, or shards with an
    index) as the matching npformer model, in eval mode. ``dtype=None`` keeps the checkpoint's
    dtype; see npformer.interop.from_pretrained."""
    from ..interop import from_pretrained as load  # the conversion tables sit a floor above
    return load(directory, dtype=dtype, strict=strict)
