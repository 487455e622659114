"""Sequence-to-sequence data: generated tasks (reverse or sort a sequence of symbols), padding
to a batch, and length bucketing so that a batch wastes little on padding."""
import numpy as np

from ..autograd.random import resolve

TASKS = ("reverse", "sort")


def synthetic_pairs(task, count, vocab_size, min_length=4, max_length=12, first_symbol=3, generator=None):
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


def pad_batch(sequences, pad_id, length=None, prefix=(), suffix=()):
    """(ids (B, L), attention_mask (B, L)) with right padding; ``prefix``/``suffix`` (e.g. bos,
    eos) are added around each sequence first."""
    rows = [np.concatenate([np.asarray(prefix, np.int64), np.asarray(s, np.int64), np.asarray(suffix, np.int64)])
            for s in sequences]
    width = max(len(r) for r in rows) if length is None else length
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        if len(row) > width:
            raise ValueError(f"sequence {i} has {len(row)} tokens, more than the padded length {width}")
        ids[i, :len(row)] = row
        mask[i, :len(row)] = 1
    return ids, mask


def bucket_batches(lengths, batch_size, generator=None):
    """Index batches of similar lengths: sort by length (ties in random order), cut into batches,
    then shuffle the batches. Deterministic for a generator's state."""
    rng = resolve(generator).numpy
    lengths = np.asarray(lengths)
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
