"""Sequence-to-sequence data: generated tasks (reverse or sort a sequence of symbols), padding
to a batch, and length bucketing so that a batch wastes little on padding."""
from __future__ import annotations

from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..autograd.random import Generator, resolve
from ..tokenizers.batching import pad_to_batch

TASKS = ("reverse", "sort")


def synthetic_pairs(task: str, count: int, vocab_size: int, min_length: int = 4, max_length: int = 12,
                    first_symbol: int = 3,
                    generator: Optional[Generator] = None) -> List[Tuple[np.ndarray, np.ndarray]]:
    """``count`` (source, target) pairs of symbol ids in [first_symbol, vocab_size): the target
    is the source reversed or sorted. Ids below first_symbol stay free for pad, bos and eos."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    rng = resolve(generator).numpy
    pairs = []
    for _ in range(count):
        source = rng.integers(first_symbol, vocab_size, size=int(rng.integers(min_length, max_length + 1)))
        target = source[::-1] if task == "reverse" else np.sort(source)
        pairs.append((source.astype(np.int64), np.ascontiguousarray(target, dtype=np.int64)))
    return pairs


def pad_batch(sequences: Iterable[Sequence[int]], pad_id: int, length: Optional[int] = None,
              prefix: Sequence[int] = (), suffix: Sequence[int] = ()) -> Tuple[np.ndarray, np.ndarray]:
    """(ids (B, L), attention_mask (B, L)) with right padding; ``prefix``/``suffix`` (e.g. bos,
    eos) are added around each sequence first. The padding is npformer.tokenizers.pad_to_batch's."""
    rows = [np.concatenate([np.asarray(prefix, np.int64), np.asarray(s, np.int64), np.asarray(suffix, np.int64)])
            for s in sequences]
    return pad_to_batch(rows, pad_id, length)


def bucket_batches(lengths: Sequence[int], batch_size: int,
                   generator: Optional[Generator] = None) -> List[np.ndarray]:
    """Index batches of similar lengths: sort by length (ties in random order), cut into batches,
    then shuffle the batches. Deterministic for a generator's state."""
    rng = resolve(generator).numpy
    lengths = np.asarray(lengths)
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
