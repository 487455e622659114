"""npformer.data: corpora, batching for GPT, BERT masking, sequence-to-sequence data.

Every random choice draws from a seeded npformer Generator, so a run is repeatable."""
from .batching import random_blocks, train_val_split
from .corpus import CorpusError, check_fingerprint, default_corpus, load_corpus, read_corpus, read_text
from .masking import mask_tokens
from .seq2seq import TASKS, bucket_batches, pad_batch, synthetic_pairs

__all__ = ["random_blocks", "train_val_split", "CorpusError", "check_fingerprint", "default_corpus", "load_corpus",
           "read_corpus", "read_text", "mask_tokens", "TASKS", "bucket_batches", "pad_batch", "synthetic_pairs"]
