"""decay_groups: which parameters get weight decay.

The rule is by module type and parameter name, not by shape:

- decayed: the ``weight`` of every ``nn.Linear`` (the matrices of attention projections,
  feed-forward layers and output heads);
- not decayed: every bias, the weights of ``LayerNorm`` and ``RMSNorm``, and embedding tables
  (``Embedding``, ``LearnedPositionalEmbedding``, T5's relative position bias, which is an
  Embedding). A weight tied to an embedding (GPT-2's ``lm_head.weight`` is
  ``embed_tokens.weight``) is an embedding table, so it is not decayed;
- anything else is not decayed either: a new layer type opts in by being (or using) a Linear.

nanoGPT's rule is "every parameter with dim >= 2 decays", which differs in two places: it
decays embedding tables (tied or not), and it would decay any 2-D parameter of another layer.
"""
from ..nn.layers import Embedding, Linear
from ..nn.positional import LearnedPositionalEmbedding

__all__ = ["decay_groups", "EMBEDDING_TYPES"]

#: Modules whose parameters are embedding tables (never decayed, even when tied to a Linear).
EMBEDDING_TYPES = (Embedding, LearnedPositionalEmbedding)


def decay_groups(model, weight_decay, **group_options):
    """Two parameter groups for an optimizer::

        [{"params": [Linear weights], "weight_decay": weight_decay, **group_options},
         {"params": [everything else], "weight_decay": 0.0, **group_options}]

    in ``model.named_parameters()`` order. Both groups are always present (one may be empty),
    so the number of groups, which an optimizer state_dict records, does not depend on the
    model. ``group_options`` (e.g. ``lr``) go into both groups.
    """
    decayed_ids, embedding_ids = set(), set()
    for _, module in model.named_modules(remove_duplicate=False):
        for name, param in module._parameters.items():
            if param is None:
                continue
            if isinstance(module, EMBEDDING_TYPES):
                embedding_ids.add(id(param))
            elif isinstance(module, Linear) and name == "weight" and param._data.ndim >= 2:
                decayed_ids.add(id(param))
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        (decay if id(param) in decayed_ids and id(param) not in embedding_ids else no_decay).append(param)
    return [dict(group_options, params=decay, weight_decay=weight_decay),
            dict(group_options, params=no_decay, weight_decay=0.0)]
