"""BERT's tokenizer: the basic tokenizer (cleaning, optional lowercasing and accent stripping,
CJK and punctuation splitting), greedy longest-match-first WordPiece with ``##`` continuations,
``[CLS] a [SEP] b [SEP]`` pairs with ``token_type_ids``, and a trainer.

The basic tokenizer follows Hugging Face tokenizers' BertNormalizer and BertPreTokenizer (what
``BertTokenizerFast`` runs), in this order:

1. clean: drop NUL, U+FFFD and every control (category Cc, Cf or Co except TAB, LF, CR), then
   turn every remaining whitespace character (Unicode White_Space, TAB, LF, CR) into a space;
2. CJK: put spaces around every CJK ideograph (the CJK Unified Ideographs blocks and their
   extensions, and the compatibility ideographs), so each becomes its own word;
3. strip accents (by default whenever lowercasing): NFD, then drop nonspacing marks (Mn);
4. lowercase, character by character (so a final capital sigma becomes σ, not ς);
5. split on whitespace, and make each punctuation character its own word (ASCII symbols
   ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~`` and every category P* character).

Two details differ from Google's original Python BERT and match Hugging Face instead: whitespace
is the White_Space property (so U+001C..U+001F are controls and removed, U+2028/U+2029 and
U+0085 are separators), and the CJK range U+2B820..U+2B91F (CJK Extension E's first part) is not
split. Characters whose category changed after Unicode 3.2, or that were assigned after it, may
be classified differently from tokenizers, whose Rust tables come from several Unicode versions;
the cross-check compares every character assigned by Unicode 3.2 and unchanged since.

WordPiece, per word: if it has more than ``max_input_chars_per_word`` characters it is
``[UNK]``; otherwise take the longest prefix in the vocabulary, then the longest ``##``-prefixed
continuation from where it ended, and so on; if some position has no match the whole word is
``[UNK]``.

The trainer is tokenizers' WordPieceTrainer: byte-pair merges over the basic tokenizer's words,
with every non-initial character carrying the ``##`` prefix, keeping the vocabulary (not the
merges). See ``bpe.train_bpe``.
"""
from __future__ import annotations

import functools
import os
import re
import unicodedata
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from .base import AddedToken, Tokenizer, TokenLike, Vocab
from .bpe import train_bpe
from .hf_files import read_vocab_txt, write_json, write_vocab_txt
from .roles import SPECIAL_TOKEN_ROLES
from .unicode_classes import WHITE_SPACE, category_ranges, chars_to_ranges, ranges_to_class

__all__ = ["BasicTokenizer", "WordPieceTokenizer", "CJK_RANGES", "BERT_SPECIAL_TOKENS"]

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# Hugging Face tokenizers' is_chinese_char (Google's BERT has 0x2B820 for 0x2B920).
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
_ASCII_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@functools.lru_cache(maxsize=None)
def _patterns():
    """The compiled character classes of the basic tokenizer (built once, on first use)."""
    # the controls (NUL is one) and U+FFFD, minus TAB, LF and CR, which are whitespace
    removed = [(cp, cp) for cp in (0x0, 0xFFFD)]
    for lo, hi in category_ranges(("Cc", "Cf", "Co")):
        cut = [cp for cp in (0x9, 0xA, 0xD) if lo <= cp <= hi]
        for cp in cut:
            if lo < cp:
                removed.append((lo, cp - 1))
            lo = cp + 1
        if lo <= hi:
            removed.append((lo, hi))
    space_chars = set(WHITE_SPACE) | set("\t\n\r")
    punctuation = ranges_to_class(tuple(category_ranges(("P",))) + tuple(chars_to_ranges(_ASCII_PUNCTUATION)))
    space = ranges_to_class(chars_to_ranges(WHITE_SPACE))
    return {
        # the controls, minus TAB, LF and CR, which are whitespace
        "remove": re.compile("[" + ranges_to_class(sorted(set(removed))) + "]+"),
        "to_space": {ord(c): " " for c in space_chars},
        "cjk": re.compile("[" + ranges_to_class(CJK_RANGES) + "]"),
        "nonspacing": re.compile("[" + ranges_to_class(category_ranges(("Mn",))) + "]+"),
        "words": re.compile(f"[{punctuation}]|[^{space}{punctuation}]+"),
    }


class BasicTokenizer:
    """BERT's text cleaning and word split (see the module docstring for the steps).

    ``strip_accents=None`` follows ``do_lower_case``, as in BERT."""

    def __init__(self, do_lower_case: bool = True, strip_accents: Optional[bool] = None,
                 tokenize_chinese_chars: bool = True, clean_text: bool = True) -> None:
        self.do_lower_case = bool(do_lower_case)
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.clean_text = bool(clean_text)

    def normalize(self, text: str) -> str:
        """Steps 1-4: the cleaned, spaced, accent-stripped, lowercased text."""
        p = _patterns()
        if self.clean_text:
            text = p["remove"].sub("", text).translate(p["to_space"])
        if self.tokenize_chinese_chars and not text.isascii():
            text = p["cjk"].sub(r" \g<0> ", text)
        strip = self.do_lower_case if self.strip_accents is None else self.strip_accents
        if strip and not text.isascii():
            text = p["nonspacing"].sub("", unicodedata.normalize("NFD", text))
        if self.do_lower_case:
            # str.lower() applies the context rule for a final capital sigma; tokenizers
            # lowercases one character at a time, which gives σ everywhere
            text = text.replace("\u03a3", "\u03c3").lower()
        return text

    def split(self, text: str) -> List[str]:
        """Step 5: words split on whitespace, each punctuation character on its own."""
        return _patterns()["words"].findall(text)

    def tokenize(self, text: str) -> List[str]:
        return self.split(self.normalize(text))


class WordPieceTokenizer(Tokenizer):
    """BERT's WordPiece tokenizer.

    ``vocab``: the list of tokens by id (``vocab.txt``) or a dict token -> id. The special
    tokens ``[PAD] [UNK] [CLS] [SEP] [MASK]`` (or those named by the arguments) that are in the
    vocabulary are never split and keep their roles. ``encode`` adds ``[CLS] ... [SEP]``."""

    #: the special-token roles of a BERT vocabulary: the constructor's role arguments, in their order
    ROLES = tuple(SPECIAL_TOKEN_ROLES[role].token for role in ("unk", "sep", "cls", "pad", "mask"))

    def __init__(self, vocab: Vocab, unk_token: Optional[TokenLike] = "[UNK]", sep_token: Optional[TokenLike] = "[SEP]",
                 cls_token: Optional[TokenLike] = "[CLS]", pad_token: Optional[TokenLike] = "[PAD]",
                 mask_token: Optional[TokenLike] = "[MASK]", do_lower_case: bool = True,
                 strip_accents: Optional[bool] = None, tokenize_chinese_chars: bool = True, clean_text: bool = True,
                 max_input_chars_per_word: int = 100, continuing_subword_prefix: str = "##", cleanup: bool = True,
                 added_tokens: Optional[Iterable[TokenLike]] = None) -> None:
        roles = dict(zip(self.ROLES, (unk_token, sep_token, cls_token, pad_token, mask_token)))
        tokens_in = set(vocab.keys() if isinstance(vocab, dict) else vocab)
        roles = {role: t for role, t in roles.items() if t is not None and
                 (t.content if isinstance(t, AddedToken) else t) in tokens_in}
        if added_tokens is None:
            added_tokens = [AddedToken(t) if isinstance(t, str) else t for t in roles.values()]
        super().__init__(vocab, added_tokens, **roles)
        self.basic = BasicTokenizer(do_lower_case, strip_accents, tokenize_chinese_chars, clean_text)
        # the unknown token asked for, named when a word needs it but the vocabulary lacks it
        self._unk_asked = unk_token.content if isinstance(unk_token, AddedToken) else unk_token
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.continuing_subword_prefix = continuing_subword_prefix
        self.cleanup = cleanup
        self._cache = {}

    @property
    def do_lower_case(self) -> bool:
        return self.basic.do_lower_case

    # ------------------------------------------------------------------ encode
    def _normalize(self, text):
        return self.basic.normalize(text)

    def _unk_id(self):
        unk = self.unk_token_id
        if unk is None:
            raise ValueError(f"a word has no WordPiece split and the unknown token {self._unk_asked!r} "
                             f"is not in the vocabulary")
        return unk

    def wordpiece(self, word: str) -> List[int]:
        """Greedy longest-match-first ids of one word."""
        n = len(word)
        if n > self.max_input_chars_per_word:
            return [self._unk_id()]
        vocab = self._vocab
        prefix = self.continuing_subword_prefix
        ids = []
        start = 0
        while start < n:
            end = n
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else prefix + word[start:end]
                found = vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return [self._unk_id()]
            ids.append(found)
            start = end
        return ids

    def _encode_normalized(self, text):
        cache = self._cache
        ids = []
        for word in self.basic.split(text):
            word_ids = cache.get(word)
            if word_ids is None:
                word_ids = self.wordpiece(word)
                if len(cache) >= 100_000:
                    cache.clear()
                cache[word] = word_ids
            ids.extend(word_ids)
        return ids

    def _post_process(self, ids, pair_ids=None):
        cls, sep = self._roles.get("cls_token"), self._roles.get("sep_token")
        if cls is None and sep is None:
            # a vocabulary without [CLS] and [SEP] (or a tokenizer.json without a
            # post-processor): nothing to add
            return super()._post_process(ids, pair_ids)
        if cls is None or sep is None:
            raise ValueError(f"adding BERT's special tokens needs both a cls and a sep token in the "
                             f"vocabulary, but only {cls or sep!r} is; pass add_special_tokens=False")
        cls, sep = self._vocab[cls], self._vocab[sep]
        out = [cls] + list(ids) + [sep]
        types = [0] * len(out)
        if pair_ids is not None:
            out += list(pair_ids) + [sep]
            types += [1] * (len(pair_ids) + 1)
        return out, types

    # ------------------------------------------------------------------ decode
    def _decode_tokens(self, tokens):
        """As tokenizers' WordPiece decoder: a ``##`` token is glued to the previous one, any
        other is preceded by a space; with ``cleanup``, spaces before punctuation and English
        contractions are removed."""
        prefix = self.continuing_subword_prefix
        parts = []
        for i, token in enumerate(tokens):
            if i:
                token = token[len(prefix):] if token.startswith(prefix) else " " + token
            if self.cleanup:
                token = (token.replace(" .", ".").replace(" ?", "?").replace(" !", "!")
                         .replace(" ,", ",").replace(" ' ", "'").replace(" n't", "n't")
                         .replace(" 'm", "'m").replace(" do not", " don't").replace(" 's", "'s")
                         .replace(" 've", "'ve").replace(" 're", "'re"))
            parts.append(token)
        return "".join(parts)

    # ------------------------------------------------------------------ files
    @classmethod
    def from_file(cls, vocab_path: str, **kwargs: Any) -> WordPieceTokenizer:
        """Load ``vocab.txt``."""
        return cls(read_vocab_txt(vocab_path), **kwargs)

    def save(self, directory: str) -> str:
        """Write ``vocab.txt`` and ``tokenizer_config.json`` (casing and special tokens, as
        transformers' BertTokenizer reads them) into ``directory``."""
        if any(t is None for t in self._tokens):
            raise ValueError("vocab.txt cannot hold a vocabulary with unassigned ids")
        os.makedirs(directory, exist_ok=True)
        write_vocab_txt(os.path.join(directory, "vocab.txt"), self._tokens)
        config = {"tokenizer_class": "BertTokenizer", "do_lower_case": self.basic.do_lower_case,
                  "strip_accents": self.basic.strip_accents,
                  "tokenize_chinese_chars": self.basic.tokenize_chinese_chars,
                  "clean_text": self.basic.clean_text}
        config.update(self.special_tokens_map)
        if self.model_max_length is not None:
            config["model_max_length"] = self.model_max_length
        write_json(os.path.join(directory, "tokenizer_config.json"), config)
        write_json(os.path.join(directory, "special_tokens_map.json"), self.special_tokens_map)
        return directory

    # ------------------------------------------------------------------ training
    @classmethod
    def train(cls, texts: Union[str, Iterable[str]], vocab_size: int = 30000, min_frequency: int = 2,
              limit_alphabet: Optional[int] = 1000, initial_alphabet: Iterable[str] = (),
              special_tokens: Sequence[str] = BERT_SPECIAL_TOKENS, do_lower_case: bool = True,
              strip_accents: Optional[bool] = None, tokenize_chinese_chars: bool = True, clean_text: bool = True,
              continuing_subword_prefix: str = "##", **kwargs: Any) -> WordPieceTokenizer:
        """Train on ``texts`` (a str or an iterable of str), with the defaults of tokenizers'
        ``BertWordPieceTokenizer.train``. Special tokens take the first ids and are taken out of
        the training text (tokenizers trains on them as ordinary text)."""
        basic = BasicTokenizer(do_lower_case, strip_accents, tokenize_chinese_chars, clean_text)
        counts = cls.count_words(texts, basic, special_tokens)
        vocab, _ = train_bpe(counts, vocab_size, min_frequency, special_tokens=special_tokens,
                             initial_alphabet=initial_alphabet, limit_alphabet=limit_alphabet,
                             continuing_subword_prefix=continuing_subword_prefix)
        return cls(vocab, do_lower_case=do_lower_case, strip_accents=strip_accents,
                   tokenize_chinese_chars=tokenize_chinese_chars, clean_text=clean_text,
                   continuing_subword_prefix=continuing_subword_prefix, **kwargs)

    @staticmethod
    def count_words(texts: Union[str, Iterable[str]], basic: BasicTokenizer,
                    special_tokens: Iterable[TokenLike] = ()) -> Dict[str, int]:
        """The basic tokenizer's words of ``texts`` and their counts."""
        return Tokenizer.count_training_words(texts, special_tokens, basic.tokenize)

