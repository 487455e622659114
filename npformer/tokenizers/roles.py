"""The special-token roles and the names Hugging Face gives them: the one table of them.

A role is a job a token does (begin or end a sequence, pad, stand for unknown text, ...). Each
role has two names, the same everywhere Hugging Face writes them:

- the token's name, ``eos_token``: a key of ``tokenizer_config.json`` and
  ``special_tokens_map.json``, a key of ``Tokenizer.add_special_tokens({...})``, an argument of
  the tokenizers' constructors and an attribute of every tokenizer;
- the id's name, ``eos_token_id``: an attribute of every tokenizer, and the field of
  ``config.json`` / ``generation_config.json`` that holds the id (for the roles a model uses).

Everything that lists roles reads them from :data:`SPECIAL_TOKEN_ROLES`.
"""
from __future__ import annotations

from typing import Dict, NamedTuple, Tuple

__all__ = ["SpecialTokenNames", "SPECIAL_TOKEN_ROLES", "SPECIAL_ROLES"]


class SpecialTokenNames(NamedTuple):
    """The names of one role: ``token`` (``"eos_token"``) and ``token_id`` (``"eos_token_id"``)."""
    token: str
    token_id: str


#: role -> its names, in the order transformers lists them (and error messages show them)
SPECIAL_TOKEN_ROLES: Dict[str, SpecialTokenNames] = {
    "bos": SpecialTokenNames("bos_token", "bos_token_id"),
    "eos": SpecialTokenNames("eos_token", "eos_token_id"),
    "unk": SpecialTokenNames("unk_token", "unk_token_id"),
    "sep": SpecialTokenNames("sep_token", "sep_token_id"),
    "pad": SpecialTokenNames("pad_token", "pad_token_id"),
    "cls": SpecialTokenNames("cls_token", "cls_token_id"),
    "mask": SpecialTokenNames("mask_token", "mask_token_id"),
}

#: the token names of every role (``"bos_token"``, ...): the keys a tokenizer's roles are stored under
SPECIAL_ROLES: Tuple[str, ...] = tuple(names.token for names in SPECIAL_TOKEN_ROLES.values())
