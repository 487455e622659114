"""BERT's masked-language-model corruption (Devlin et al. 2019, section 3.1).

15% of the non-special positions are chosen; of those, 80% become [MASK], 10% a random token,
10% stay as they are. Labels hold the original token at chosen positions and -100 (ignored
by the loss) elsewhere. Special tokens ([CLS], [SEP], [PAD], ...) are never chosen.
"""
import numpy as np

from ..autograd.random import resolve


def mask_tokens(input_ids, mask_token_id, vocab_size, special_ids=(), probability=0.15, generator=None,
                random_low=0):
    """Returns (corrupted ids, labels), both shaped like ``input_ids``. Random replacements are
    drawn from [random_low, vocab_size) and are never special tokens."""
    rng = resolve(generator).numpy
    ids = np.asarray(input_ids)
    special = np.isin(ids, np.asarray(list(special_ids), dtype=ids.dtype))
    chosen = (rng.random(ids.shape) < probability) & ~special
    labels = np.where(chosen, ids, -100).astype(np.int64)
    roll = rng.random(ids.shape)
    corrupted = ids.astype(np.int64, copy=True)
    corrupted[chosen & (roll < 0.8)] = mask_token_id
    replace = chosen & (roll >= 0.8) & (roll < 0.9)
    candidates = np.setdiff1d(np.arange(random_low, vocab_size), np.asarray(list(special_ids) + [mask_token_id]))
    if replace.any():
        corrupted[replace] = candidates[rng.integers(0, len(candidates), size=int(replace.sum()))]
    return corrupted, labels
