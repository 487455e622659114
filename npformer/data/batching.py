"""Batches for language modelling: a deterministic train/validation split of a token stream,
and random contiguous blocks from it (GPT), drawn from a seeded Generator."""
import numpy as np

from ..autograd.random import resolve
from .corpus import CorpusError


def train_val_split(ids, val_fraction=0.1):
    """The first (1 - val_fraction) of the stream for training, the rest for validation
    (nanoGPT's split: contiguous, so no validation text leaks into training windows; the cut
    truncates as nanoGPT's prepare.py does, ``int(n * 0.9)``, so both see the same characters)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    ids = np.asarray(ids)
    cut = int(len(ids) * (1 - val_fraction))
    return ids[:cut], ids[cut:]


def random_blocks(ids, batch_size, block_size, generator=None):
    """(x, y), each (batch_size, block_size): windows at random starts, y shifted by one."""
    ids = np.asarray(ids)
    if len(ids) <= block_size:
        raise CorpusError(f"block_size {block_size} needs more than {block_size} tokens, but this split has "
                          f"{len(ids)}: use a smaller block_size or more data")
    starts = resolve(generator).numpy.integers(0, len(ids) - block_size, size=batch_size)
    offsets = starts[:, None] + np.arange(block_size)[None, :]
    return ids[offsets].astype(np.int64), ids[offsets + 1].astype(np.int64)
