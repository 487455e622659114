"""Token-id sequences of different lengths -> one padded (batch, length) array and its mask.

The one place npformer pads: the tokenizers' batch call, npformer.data's batches and the
training tasks all come here, so every batch follows one convention (int64 ids, an
``attention_mask`` of 1 on tokens and 0 on padding, as Hugging Face's).
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple

import numpy as np

__all__ = ["pad_to_batch"]

PADDING_SIDES = ("right", "left")


def pad_to_batch(sequences: Iterable[Sequence[int]], pad_id: int, length: Optional[int] = None,
                 padding_side: str = "right") -> Tuple[np.ndarray, np.ndarray]:
    """``(input_ids, attention_mask)``, two int64 arrays of shape (batch, length).

    Each sequence of ids fills one row, from the left (``padding_side="right"``) or ending at
    the right edge (``"left"``, as decoder-only generation wants); the rest of the row is
    ``pad_id``, and ``attention_mask`` is 1 on the sequence's ids and 0 on the padding.
    ``length`` defaults to the longest sequence's; a sequence longer than it is a ValueError.
    """
    if padding_side not in PADDING_SIDES:
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    if isinstance(pad_id, (bool, np.bool_)) or not isinstance(pad_id, (int, np.integer)):
        raise TypeError(f"pad_id must be an integer token id, got {type(pad_id).__name__} {pad_id!r}")
    rows = []
    for i, sequence in enumerate(sequences):
        row = np.asarray(sequence, dtype=np.int64)
        if row.ndim != 1:
            raise ValueError(f"sequence {i} has shape {row.shape}; expected one sequence of ids (1-D)")
        rows.append(row)
    longest = max((len(row) for row in rows), default=0)
    if length is None:
        length = longest
    elif isinstance(length, (bool, np.bool_)) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be a non-negative integer or None, got {length!r}")
    input_ids = np.full((len(rows), length), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(rows), length), dtype=np.int64)
    for i, row in enumerate(rows):
        n = len(row)
        if n > length:
            raise ValueError(f"sequence {i} has {n} tokens, more than the padded length {length}")
        where = slice(0, n) if padding_side == "right" else slice(length - n, length)
        input_ids[i, where] = row
        attention_mask[i, where] = 1
    return input_ids, attention_mask
