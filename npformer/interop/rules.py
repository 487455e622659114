"""Name-mapping rules between a Hugging Face checkpoint and an npformer state dict.

A family's table is a list of Rules. Each rule names one checkpoint tensor and the npformer
tensors it fills, with the conversion each way: usually the identity, sometimes a transpose
(GPT-2 stores its projections as Conv1D, (in, out)), a split (GPT-2 packs q, k and v into one
matrix) or a reshape. A tensor tied into several npformer places (an embedding shared with the
output projection) is one rule with several targets.

Each rule also says which shape the checkpoint tensor has for given shapes of ours
(``hf_shape``), so a loader can check a file's header against a model built under
``nn.shapes_only()``, whose arrays hold no numbers to convert.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np


@dataclass(frozen=True)
class Rule:
    hf: str
    ours: Tuple[str, ...]
    to_ours: Optional[Callable] = field(default=None, compare=False)   # hf array -> tuple, one per name in ours
    to_hf: Optional[Callable] = field(default=None, compare=False)     # tuple of our arrays -> hf array
    to_hf_shape: Optional[Callable] = field(default=None, compare=False)   # tuple of our shapes -> the hf shape

    def load(self, array: np.ndarray) -> Tuple[np.ndarray, ...]:
        """The checkpoint tensor ``array`` as our arrays, one per name in ``ours``."""
        if self.to_ours is None:
            return (array,) * len(self.ours)
        return self.to_ours(array)

    def save(self, arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Our arrays (one per name in ``ours``) as the checkpoint tensor."""
        if self.to_hf is None:
            return arrays[0]
        return self.to_hf(arrays)

    def hf_shape(self, shapes: Sequence[Tuple[int, ...]]) -> Tuple[int, ...]:
        """The checkpoint tensor's shape, for ``shapes`` of ours (one per name in ``ours``)."""
        if self.to_hf_shape is None:
            return tuple(shapes[0])
        return tuple(self.to_hf_shape(shapes))


def same(hf: str, *ours: str) -> Rule:
    """The same tensor under another name (and, for tied weights, several names)."""
    return Rule(hf, tuple(ours))


def transposed(hf: str, ours: str) -> Rule:
    """Conv1D (in, out) <-> Linear (out, in)."""
    return Rule(hf, (ours,), lambda a: (np.ascontiguousarray(a.T),), lambda arrays: np.ascontiguousarray(arrays[0].T),
                lambda shapes: shapes[0][::-1])


def split_columns_transposed(hf: str, ours: Sequence[str], parts: int) -> Rule:
    """One Conv1D (in, parts * out) -> ``parts`` Linear weights (out, in); a bias (parts * out,)
    splits the same way without the transpose."""
    def to_ours(a):
        pieces = np.split(a, parts, axis=-1)
        return tuple(np.ascontiguousarray(p.T) if p.ndim == 2 else p for p in pieces)

    def to_hf(arrays):
        return np.concatenate([a.T if a.ndim == 2 else a for a in arrays], axis=-1)

    def to_hf_shape(shapes):
        rows = shapes[0][1:] if len(shapes[0]) == 2 else ()
        return (*rows, sum(shape[0] for shape in shapes))

    return Rule(hf, tuple(ours), to_ours, to_hf, to_hf_shape)


def row(hf: str, ours: str) -> Rule:
    """(1, n) in the checkpoint <-> (n,) here (BART's final_logits_bias)."""
    return Rule(hf, (ours,), lambda a: (a.reshape(-1),), lambda arrays: arrays[0].reshape(1, -1),
                lambda shapes: (1, *shapes[0]))


def per_layer(n_layers: int, rules_for_layer: Callable[[int], List[Rule]]) -> List[Rule]:
    """Expand a function of the layer index into the rules of every layer."""
    return [rule for i in range(n_layers) for rule in rules_for_layer(i)]
