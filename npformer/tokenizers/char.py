"""A character tokenizer: one id per character of a corpus.

The vocabulary is the special tokens (first ids), then every distinct character of the corpus
sorted by code point. A character outside it is handled explicitly, never dropped silently:
with ``unk_token`` set it becomes that token; without one, ``encode`` raises ValueError naming
the character and its position.
"""
from __future__ import annotations

import os
from typing import Iterable, Optional, Union

from .base import AddedToken, Tokenizer, TokenLike, Vocab
from .hf_files import FileFormatError, read_json, read_vocab_json, write_json, write_vocab_json
from .roles import SPECIAL_ROLES

__all__ = ["CharTokenizer"]


class CharTokenizer(Tokenizer):
    """Characters to ids. ``vocab``: token -> id (single characters plus special tokens)."""

    def __init__(self, vocab: Vocab, special_tokens: Iterable[TokenLike] = (), unk_token: Optional[str] = None,
                 **roles: TokenLike) -> None:
        special = [AddedToken(t) if isinstance(t, str) else t for t in special_tokens]
        if unk_token is not None:
            roles["unk_token"] = unk_token
        super().__init__(vocab, special, **roles)
        for token in self._vocab:
            if len(token) != 1 and token not in self._added:
                raise ValueError(f"the character vocabulary holds {token!r}, which is neither one "
                                 f"character nor a special token")

    @classmethod
    def train(cls, texts: Union[str, Iterable[str]], special_tokens: Iterable[TokenLike] = (),
              unk_token: Optional[str] = None, **roles: TokenLike) -> CharTokenizer:
        """Build from a corpus (a str or an iterable of str). ``unk_token`` (e.g. ``"<unk>"``)
        is added to the special tokens when given."""
        if isinstance(texts, str):
            texts = [texts]
        chars = set()
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"training texts must be str, got {type(text).__name__} at index {i}")
            chars.update(text)
        special = [t.content if isinstance(t, AddedToken) else t for t in special_tokens]
        if unk_token is not None and unk_token not in special:
            special.append(unk_token)
        vocab = {}
        for token in special + sorted(chars):
            vocab.setdefault(token, len(vocab))
        return cls(vocab, special_tokens=special, unk_token=unk_token, **roles)

    from_corpus = train

    def _encode_normalized(self, text):
        vocab = self._vocab
        try:
            return [vocab[c] for c in text]
        except KeyError:
            pass
        unk = None if self.unk_token is None else vocab[self.unk_token]
        ids = []
        for position, char in enumerate(text):
            index = vocab.get(char)
            if index is None:
                if unk is None:
                    raise ValueError(f"the character {char!r} (U+{ord(char):04X}) at position {position} "
                                     f"is not in the vocabulary of {len(vocab)} tokens; build the "
                                     f"tokenizer with unk_token=... to map unknown characters to it")
                index = unk
            ids.append(index)
        return ids

    def _decode_tokens(self, tokens):
        return "".join(tokens)

    def save(self, directory: str) -> str:
        """Write ``vocab.json`` and a ``tokenizer_config.json`` naming this class."""
        os.makedirs(directory, exist_ok=True)
        write_vocab_json(os.path.join(directory, "vocab.json"), self._vocab)
        write_json(os.path.join(directory, "tokenizer_config.json"), {
            "tokenizer_class": "CharTokenizer", "unk_token": self.unk_token,
            "special_tokens": [t for t, a in self._added.items() if a.special],
            "special_tokens_map": self.special_tokens_map})
        return directory

    @classmethod
    def load(cls, directory: str) -> CharTokenizer:
        """The tokenizer :meth:`save` wrote into ``directory``."""
        config_path = os.path.join(directory, "tokenizer_config.json")
        config = read_json(config_path)
        if not isinstance(config, dict) or config.get("tokenizer_class") != "CharTokenizer":
            raise FileFormatError(f"{config_path}: expected a tokenizer_class of 'CharTokenizer'")
        special = config.get("special_tokens", [])
        roles = config.get("special_tokens_map", {})
        unk_token = config.get("unk_token")
        if (not isinstance(special, list) or not all(isinstance(t, str) and t for t in special)
                or not isinstance(roles, dict) or not all(role in SPECIAL_ROLES and isinstance(t, str) and t
                                                          for role, t in roles.items())
                or not (unk_token is None or isinstance(unk_token, str) and unk_token)):
            raise FileFormatError(f"{config_path}: 'special_tokens' must be a list of strings, "
                                  f"'special_tokens_map' an object of strings by role ({', '.join(SPECIAL_ROLES)}) "
                                  f"and 'unk_token' a string or null")
        roles = dict(roles)
        roles.pop("unk_token", None)
        vocab_path = os.path.join(directory, "vocab.json")
        vocab = read_vocab_json(vocab_path)
        try:
            return cls(vocab, special_tokens=special, unk_token=unk_token, **roles)
        except ValueError as error:             # e.g. a token of two characters that is not special
            raise FileFormatError(f"{vocab_path}: {error}") from None
