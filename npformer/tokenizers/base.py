"""What every npformer tokenizer shares: the vocabulary, special (added) tokens that are never
split, ``encode``/``decode``, and the batch call with padding and truncation.

A subclass supplies four things:

- ``_normalize(text)``: the text a model sees (identity unless the kind normalizes, as BERT does);
- ``_encode_normalized(text) -> list[int]``: ids of a normalized piece that holds no added token;
- ``_decode_tokens(tokens) -> str``: text from token strings;
- ``_post_process(a, b)``: where special tokens go around one sequence or a pair (default: none).

Encoding follows Hugging Face tokenizers' order. Added tokens with ``normalized=False`` (the
usual case for special tokens such as ``<|endoftext|>`` or ``[MASK]``) are found first in the
raw text, leftmost and then longest; each piece between them is normalized; added tokens with
``normalized=True`` are then found in the normalized pieces; what is left goes to the model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .batching import pad_to_batch
from .roles import SPECIAL_ROLES, SPECIAL_TOKEN_ROLES, SpecialTokenNames
from .unicode_classes import WHITE_SPACE, chars_to_ranges, ranges_to_class

__all__ = ["AddedToken", "BatchEncoding", "Tokenizer", "SPECIAL_ROLES"]


_PADDING = {True: "longest", "longest": "longest", "max_length": "max_length", False: None,
            "do_not_pad": None, None: None}
_TRUNCATION = {True: "longest_first", "longest_first": "longest_first", "only_first": "only_first",
               "only_second": "only_second", False: None, "do_not_truncate": None, None: None}


@dataclass(frozen=True)
class AddedToken:
    """A token matched in the text before the model runs, so it is never split.

    ``special`` tokens are the ones ``decode(..., skip_special_tokens=True)`` drops.
    ``normalized=False`` matches the raw text; ``lstrip``/``rstrip`` let the token absorb the
    whitespace on its left/right (RoBERTa's ``<mask>``)."""
    content: str
    special: bool = True
    normalized: bool = False
    lstrip: bool = False
    rstrip: bool = False

    def __post_init__(self):
        if not isinstance(self.content, str) or not self.content:
            raise ValueError(f"an added token must be a non-empty string, got {self.content!r}")


# what the API takes: a token as a str or an AddedToken; a vocabulary as token -> id or a list of
# tokens by id; a sequence of ids as a list or a 1-D integer array
TokenLike = Union[str, AddedToken]
Vocab = Union[Mapping[str, int], Sequence[str]]
Ids = Union[Sequence[int], np.ndarray]


class BatchEncoding(dict):
    """The batch call's result: a dict of 2-D int64 arrays (``input_ids``, ``attention_mask``,
    ``token_type_ids``), also readable as attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _as_added(token, special=True):
    if isinstance(token, AddedToken):
        return token
    if isinstance(token, str):
        return AddedToken(token, special=special)
    raise TypeError(f"a special token must be a str or an AddedToken, got {type(token).__name__}")


def _check_text(text, name="text"):
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    return text


class Tokenizer:
    """Base class: vocabulary, added tokens, ``encode``/``decode`` and the batch ``__call__``.

    ``padding_side`` ("right" or "left") and ``truncation_side`` are attributes that the batch
    call may override per call; ``model_max_length`` (None by default) is used when padding to
    ``"max_length"`` or truncating without an explicit ``max_length``.

    Every special-token role of npformer.tokenizers.roles has two attributes, defined below the
    class from the role table: ``eos_token`` (the token or None; assigning sets the role, as
    ``add_special_tokens({"eos_token": ...})`` does) and ``eos_token_id`` (its id or None)."""

    padding_side = "right"
    truncation_side = "right"
    model_max_length = None

    def __init__(self, vocab: Vocab, added_tokens: Iterable[TokenLike] = (), **roles: TokenLike) -> None:
        self._splitters = None
        self._set_vocab(vocab)
        self._added = {}
        self._roles = {}
        for token in added_tokens:
            self.add_tokens([token])
        for role, token in roles.items():
            self._set_role(role, token)

    # ----------------------------------------------------------------- vocabulary
    def _set_vocab(self, vocab):
        """``vocab``: a dict token -> id, or a list of tokens (the index is the id). Ids need not
        be contiguous (a gap is an unassigned id). In a list, a repeated token keeps every id
        for decoding, and text maps to its last id, as Hugging Face reads vocab.txt."""
        if isinstance(vocab, dict):
            self._vocab = dict(vocab)
            size = max(self._vocab.values(), default=-1) + 1
            tokens = [None] * size
            for token, index in self._vocab.items():
                if tokens[index] is not None:
                    raise ValueError(f"ids must be unique: {tokens[index]!r} and {token!r} both have id {index}")
                tokens[index] = token
        else:
            tokens = list(vocab)
            self._vocab = {token: index for index, token in enumerate(tokens)}
        self._tokens = tokens

    @property
    def vocab_size(self) -> int:
        """Number of ids: one more than the largest id, added tokens included."""
        return len(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def get_vocab(self) -> Dict[str, int]:
        """token -> id, added tokens included (a copy)."""
        return dict(self._vocab)

    def token_to_id(self, token: str) -> Optional[int]:
        """The id of ``token``, or None."""
        return self._vocab.get(token)

    def id_to_token(self, index: int) -> str:
        """The token of ``index``; IndexError when it is out of range or unassigned."""
        return self._tokens[self._check_id(index, 0)]

    def convert_tokens_to_ids(self, tokens: Union[str, Iterable[str]]) -> Union[Optional[int], List[Optional[int]]]:
        if isinstance(tokens, str):
            return self._vocab.get(tokens)
        return [self._vocab.get(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: Union[int, Ids]) -> Union[str, List[str]]:
        if isinstance(ids, (int, np.integer)):
            return self.id_to_token(ids)
        return [self._tokens[i] for i in self._check_ids(ids)]

    def _add_to_vocab(self, token):
        if token not in self._vocab:
            self._vocab[token] = len(self._tokens)
            self._tokens.append(token)
        return self._vocab[token]

    # ----------------------------------------------------------------- added / special tokens
    def add_tokens(self, tokens: Union[TokenLike, Iterable[TokenLike]], special: bool = False) -> int:
        """Register tokens that are never split; a token not in the vocabulary gets the next id.
        Returns how many were new to the vocabulary."""
        if isinstance(tokens, (str, AddedToken)):
            tokens = [tokens]
        new = 0
        for token in tokens:
            token = _as_added(token, special=special)
            new += token.content not in self._vocab
            self._add_to_vocab(token.content)
            self._added[token.content] = token
        self._splitters = None
        return new

    def add_special_tokens(self, tokens: Union[Mapping[str, Optional[TokenLike]], TokenLike, Iterable[TokenLike]]
                           ) -> Optional[int]:
        """``add_tokens`` with ``special=True``; also accepts a dict role -> token, as in
        ``{"pad_token": "[PAD]"}``."""
        if isinstance(tokens, dict):
            for role, token in tokens.items():
                self._set_role(role, token)
            return None
        return self.add_tokens(tokens, special=True)

    def _set_role(self, role, token):
        if role not in SPECIAL_ROLES:
            raise ValueError(f"unknown special-token role {role!r}; expected one of {SPECIAL_ROLES}")
        if token is None:
            self._roles.pop(role, None)
            return
        token = _as_added(token)
        if token.content not in self._added:
            self.add_tokens([token], special=True)
        self._roles[role] = token.content

    @property
    def added_tokens(self) -> Dict[str, AddedToken]:
        """content -> AddedToken, in the order they were added."""
        return dict(self._added)

    @property
    def all_special_tokens(self) -> List[str]:
        return [t for t, a in self._added.items() if a.special]

    @property
    def all_special_ids(self) -> List[int]:
        return [self._vocab[t] for t in self.all_special_tokens]

    @property
    def special_tokens_map(self) -> Dict[str, str]:
        """role -> token, for the roles that are set."""
        return dict(self._roles)

    def _splitter(self, normalized):
        """A compiled regex finding the added tokens of one kind (raw or normalized), longest
        first at each position; None when there are none."""
        if self._splitters is None:
            self._splitters = {}
            space = ranges_to_class(chars_to_ranges(WHITE_SPACE))
            for kind in (False, True):
                # longest first, so that at one position the longest token wins
                tokens = sorted((a for a in self._added.values() if a.normalized == kind),
                                key=lambda a: -len(a.content))
                alternatives = []
                for index, token in enumerate(tokens):
                    body = re.escape(token.content)
                    if token.lstrip:
                        body = f"[{space}]*" + body
                    if token.rstrip:
                        body = body + f"[{space}]*"
                    alternatives.append(f"(?P<t{index}>{body})")
                self._splitters[kind] = ((re.compile("|".join(alternatives)), [a.content for a in tokens])
                                         if tokens else None)
        return self._splitters[normalized]

    @staticmethod
    def _split(text, splitter):
        """Pieces of ``text``: str for plain text, int (index into the splitter's tokens) for an
        added token."""
        if splitter is None:
            return [text] if text else []
        regex, _ = splitter
        pieces = []
        start = 0
        for match in regex.finditer(text):
            if match.start() > start:
                pieces.append(text[start:match.start()])
            pieces.append(int(match.lastgroup[1:]))
            start = match.end()
        if start < len(text):
            pieces.append(text[start:])
        return pieces

    @staticmethod
    def count_training_words(texts: Union[str, Iterable[str]], special_tokens: Iterable[TokenLike],
                             words_of: Callable[[str], Iterable[str]]) -> Dict[str, int]:
        """{word: count} over the training ``texts`` (a str or a list of str): the text between
        ``special_tokens`` (never counted themselves) cut into words by ``words_of(piece)``.
        The trainers of every tokenizer kind share this; each supplies its own word splitter."""
        if isinstance(texts, str):
            texts = [texts]
        raw = Tokenizer([], [AddedToken(t) if isinstance(t, str) else t for t in special_tokens])._splitter(False)
        counts = {}
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"training texts must be str, got {type(text).__name__} at index {i}")
            for piece in Tokenizer._split(text, raw):
                if isinstance(piece, int):                      # a special token
                    continue
                for word in words_of(piece):
                    counts[word] = counts.get(word, 0) + 1
        return counts

    # ----------------------------------------------------------------- to be supplied
    def _normalize(self, text):
        return text

    def _encode_normalized(self, text):
        raise NotImplementedError(f"{type(self).__name__}: a tokenizer kind defines _encode_normalized(text)")

    def _decode_tokens(self, tokens):
        raise NotImplementedError(f"{type(self).__name__}: a tokenizer kind defines _decode_tokens(tokens)")

    def _post_process(self, ids, pair_ids=None):
        """(ids, token_type_ids) of one sequence or a pair with its special tokens."""
        if pair_ids is None:
            return list(ids), [0] * len(ids)
        return list(ids) + list(pair_ids), [0] * len(ids) + [1] * len(pair_ids)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        ids, _ = self._post_process([], [] if pair else None)
        return len(ids)

    # ----------------------------------------------------------------- encode
    def _encode_text(self, text):
        """Ids of ``text`` without the special tokens ``_post_process`` adds."""
        raw = self._splitter(False)
        normalized = self._splitter(True)
        ids = []
        for piece in self._split(text, raw):
            if isinstance(piece, int):
                ids.append(self._vocab[raw[1][piece]])
                continue
            for inner in self._split(self._normalize(piece), normalized):
                if isinstance(inner, int):
                    ids.append(self._vocab[normalized[1][inner]])
                else:
                    ids.extend(self._encode_normalized(inner))
        return ids

    def encode(self, text: str, text_pair: Optional[str] = None, add_special_tokens: bool = True) -> List[int]:
        """Token ids of ``text`` (and ``text_pair``), with the kind's special tokens when
        ``add_special_tokens`` (BERT: ``[CLS] text [SEP] pair [SEP]``; byte-level BPE: none)."""
        ids = self._encode_text(_check_text(text))
        pair = None if text_pair is None else self._encode_text(_check_text(text_pair, "text_pair"))
        if not add_special_tokens:
            return ids if pair is None else ids + pair
        return self._post_process(ids, pair)[0]

    def tokenize(self, text: str, text_pair: Optional[str] = None, add_special_tokens: bool = False) -> List[str]:
        """Token strings of ``text`` (no special tokens added unless asked)."""
        return [self._tokens[i] for i in self.encode(text, text_pair, add_special_tokens=add_special_tokens)]

    # ----------------------------------------------------------------- decode
    def _check_id(self, index, position):
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"decode: ids must be integers, got {type(index).__name__} "
                            f"{index!r} at position {position}")
        if not 0 <= index < len(self._tokens):
            raise IndexError(f"decode: id {int(index)} at position {position} is out of range for "
                             f"a vocabulary of {len(self._tokens)} tokens (valid ids are "
                             f"0..{len(self._tokens) - 1})")
        if self._tokens[index] is None:
            raise IndexError(f"decode: id {int(index)} at position {position} is not assigned to "
                             f"any token in this vocabulary of {len(self._tokens)} ids")
        return int(index)

    def _check_ids(self, ids):
        if isinstance(ids, np.ndarray):
            if ids.ndim != 1:
                raise ValueError(f"decode takes one sequence of ids (a 1-D array), got shape "
                                 f"{ids.shape}; use batch_decode for a batch")
            if ids.dtype.kind not in "iu":
                raise TypeError(f"decode: ids must be integers, got an array of dtype {ids.dtype}")
            ids = ids.tolist()
        elif isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            raise TypeError(f"decode takes a sequence of ids, got {type(ids).__name__}")
        return [self._check_id(i, k) for k, i in enumerate(ids)]

    def decode(self, ids: Ids, skip_special_tokens: bool = False) -> str:
        """Text of ``ids``. IndexError names any id outside the vocabulary."""
        ids = self._check_ids(ids)
        tokens = [self._tokens[i] for i in ids]
        if skip_special_tokens:
            tokens = [t for t in tokens if not (t in self._added and self._added[t].special)]
        return self._decode_tokens(tokens)

    def batch_decode(self, sequences: Union[np.ndarray, Iterable[Ids]], skip_special_tokens: bool = False) -> List[str]:
        if isinstance(sequences, np.ndarray) and sequences.ndim != 2:
            raise ValueError(f"batch_decode takes a 2-D array or a list of sequences, got shape {sequences.shape}")
        return [self.decode(ids, skip_special_tokens=skip_special_tokens) for ids in sequences]

    # ----------------------------------------------------------------- batch call
    def _truncate(self, a, b, budget, strategy, side):
        """Hugging Face tokenizers' truncation of one sequence or a pair to ``budget`` ids."""
        def cut(ids, n):
            return ids[:n] if side == "right" else ids[len(ids) - n:]

        total = len(a) + (0 if b is None else len(b))
        if total <= budget:
            return a, b
        if strategy == "longest_first":
            if b is None:
                return cut(a, budget), b
            # The shorter input keeps its length when it fits in half; otherwise both are cut
            # to half the budget, the longer getting the odd id.
            n1, n2 = len(a), len(b)
            swap = n1 > n2
            if swap:
                n1, n2 = n2, n1
            n2 = n1 if n1 > budget else max(n1, budget - n1)
            if n1 + n2 > budget:
                n1 = budget // 2
                n2 = n1 + budget % 2
            if swap:
                n1, n2 = n2, n1
            return cut(a, n1), cut(b, n2)
        remove = total - budget
        if strategy == "only_second" and b is None:
            raise ValueError("truncation='only_second' needs a text_pair")
        target = a if strategy == "only_first" else b
        if len(target) <= remove:
            raise ValueError(f"truncation={strategy!r}: the sequence to truncate has {len(target)} "
                             f"tokens, too short to bring the total of {total} down to {budget}")
        if strategy == "only_first":
            return cut(a, len(a) - remove), b
        return a, cut(b, len(b) - remove)

    def __call__(self, text: Union[str, Sequence[str]], text_pair: Union[str, Sequence[str], None] = None, *,
                 add_special_tokens: bool = True, padding: Union[bool, str, None] = True,
                 truncation: Union[bool, str, None] = False, max_length: Optional[int] = None,
                 padding_side: Optional[str] = None, truncation_side: Optional[str] = None,
                 return_attention_mask: bool = True, return_token_type_ids: bool = True,
                 return_tensors: Optional[str] = "np") -> BatchEncoding:
        """Encode a string or a batch of strings (optionally with pairs) into NumPy arrays.

        Returns a BatchEncoding with ``input_ids``, ``attention_mask`` (1 on tokens, 0 on
        padding) and ``token_type_ids`` (0 on the first sequence and its special tokens, 1 on
        the pair), each an int64 array of shape (batch, length); a single string is a batch of
        one.

        padding: True / "longest" pads to the longest sequence of the batch; "max_length" pads
        to ``max_length``; False leaves sequences as they are, which must then have one length
        (a NumPy array is rectangular). Padding goes on ``padding_side`` ("right" by default).
        truncation: True / "longest_first" removes ids from the longer of a pair first;
        "only_first" / "only_second" cut one sequence; the special tokens count towards
        ``max_length``.
        """
        if return_tensors not in ("np", None):
            raise ValueError(f"return_tensors must be 'np' (NumPy arrays), got {return_tensors!r}")
        if padding not in _PADDING:
            raise ValueError(f"padding must be True, False, 'longest', 'max_length' or 'do_not_pad', got {padding!r}")
        if truncation not in _TRUNCATION:
            raise ValueError(f"truncation must be True, False, 'longest_first', 'only_first', "
                             f"'only_second' or 'do_not_truncate', got {truncation!r}")
        padding, truncation = _PADDING[padding], _TRUNCATION[truncation]
        padding_side = padding_side or self.padding_side
        truncation_side = truncation_side or self.truncation_side
        for name, side in (("padding_side", padding_side), ("truncation_side", truncation_side)):
            if side not in ("right", "left"):
                raise ValueError(f"{name} must be 'right' or 'left', got {side!r}")
        if max_length is None and (padding == "max_length" or truncation):
            max_length = self.model_max_length
            if max_length is None:
                raise ValueError(f"{'padding=max_length' if padding == 'max_length' else 'truncation'} "
                                 f"needs max_length (this tokenizer has no model_max_length)")
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer))
                                       or max_length < 0):
            raise ValueError(f"max_length must be a non-negative int, got {max_length!r}")

        single = isinstance(text, str)
        texts = [text] if single else list(text)
        for i, t in enumerate(texts):
            _check_text(t, f"text[{i}]")
        if text_pair is None:
            pairs = [None] * len(texts)
        else:
            pairs = [text_pair] if isinstance(text_pair, str) else list(text_pair)
            if len(pairs) != len(texts):
                raise ValueError(f"text_pair has {len(pairs)} entries but text has {len(texts)}")
            for i, t in enumerate(pairs):
                _check_text(t, f"text_pair[{i}]")

        rows, types = [], []
        for a, b in zip(texts, pairs):
            ids_a = self._encode_text(a)
            ids_b = None if b is None else self._encode_text(b)
            if truncation:
                budget = max_length - (self.num_special_tokens_to_add(b is not None) if add_special_tokens else 0)
                if budget < 0:
                    raise ValueError(f"max_length={max_length} leaves no room for the "
                                     f"{max_length - budget} special tokens of each sequence")
                ids_a, ids_b = self._truncate(ids_a, ids_b, budget, truncation, truncation_side)
            if add_special_tokens:
                ids, type_ids = self._post_process(ids_a, ids_b)
            else:
                ids = ids_a + (ids_b or [])
                type_ids = [0] * len(ids_a) + [1] * len(ids_b or [])
            rows.append(ids)
            types.append(type_ids)

        lengths = [len(r) for r in rows]
        longest = max(lengths, default=0)
        if padding == "max_length":
            if longest > max_length:
                i = lengths.index(longest)
                raise ValueError(f"sequence {i} has {longest} tokens, more than max_length={max_length}; "
                                 f"pass truncation=True to cut it")
            width = max_length
        elif padding == "longest":
            width = longest
        else:
            if len(set(lengths)) > 1:
                raise ValueError(f"padding=False but the sequences have different lengths "
                                 f"({min(lengths)} to {longest} tokens) and NumPy arrays are "
                                 f"rectangular; pass padding=True")
            width = longest
        pad_id = self.pad_token_id
        if pad_id is None and any(n < width for n in lengths):
            raise ValueError("padding needs a pad token and this tokenizer has none; set one, e.g. "
                             "tokenizer.pad_token = tokenizer.eos_token or tokenizer.add_special_tokens("
                             "{'pad_token': '<pad>'})")

        # no pad token is needed when nothing is padded: any id fills the (empty) padding then
        input_ids, attention_mask = pad_to_batch(rows, 0 if pad_id is None else pad_id, width, padding_side)
        token_type_ids, _ = pad_to_batch(types, 0, width, padding_side)
        out = BatchEncoding(input_ids=input_ids)
        if return_token_type_ids:
            out["token_type_ids"] = token_type_ids
        if return_attention_mask:
            out["attention_mask"] = attention_mask
        return out


def _role_attributes(names: SpecialTokenNames) -> Tuple[property, property]:
    """The two attributes of one role: ``<role>_token`` (its token, None when unset; assigning
    sets the role as ``add_special_tokens`` does) and ``<role>_token_id`` (read only)."""
    def token(self: Tokenizer) -> Optional[str]:
        return self._roles.get(names.token)

    def set_token(self: Tokenizer, value: Optional[TokenLike]) -> None:
        self._set_role(names.token, value)

    def token_id(self: Tokenizer) -> Optional[int]:
        content = self._roles.get(names.token)
        return None if content is None else self._vocab[content]

    return (property(token, set_token, doc=f"The {names.token} (a str), or None when this tokenizer has none."),
            property(token_id, doc=f"The id of the {names.token}, or None when this tokenizer has none."))


# every role of the table gets its pair of attributes: tokenizer.eos_token, tokenizer.eos_token_id, ...
for _names in SPECIAL_TOKEN_ROLES.values():
    _token, _token_id = _role_attributes(_names)
    setattr(Tokenizer, _names.token, _token)
    setattr(Tokenizer, _names.token_id, _token_id)
del _names, _token, _token_id
