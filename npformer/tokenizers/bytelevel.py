"""GPT-2's byte-level alphabet and its pre-tokenization split, with Python's ``re`` alone.

Byte-level BPE works on the UTF-8 bytes of the text, so any string can be encoded with 256
base symbols and nothing is ever unknown. GPT-2 shows each byte as one printable character:
the 188 bytes that are already printable and not whitespace (``!``..``~``, ``¡``..``¬``,
``®``..``ÿ``) stand for themselves, and the other 68 (controls, space, DEL, NBSP, soft hyphen)
are shifted to U+0100 onwards in byte order. A space is therefore ``Ġ`` (U+0120), a newline
``Ċ`` (U+010A).

Before BPE, the text is cut into words with GPT-2's pattern

    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

so merges never cross a word boundary. Python's ``re`` has none of the Unicode properties used
there, so each is spelled out as an explicit class (see ``unicode_classes``):

- ``\\p{L}`` (letters): every code point whose general category is Lu, Ll, Lt, Lm or Lo in the
  running Python's ``unicodedata`` — Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, CJK
  ideographs, kana, Hangul syllables... Combining marks (M*) are *not* letters, exactly as in
  the original regex, so a Devanagari vowel sign splits a word; that is GPT-2's behaviour.
- ``\\p{N}`` (numbers): categories Nd, Nl and No — ASCII digits, but also Arabic-Indic ``٣``,
  Devanagari ``३``, fullwidth ``３``, Roman numeral ``Ⅻ``, superscripts ``²`` and fractions ``½``.
- ``\\s``: the Unicode White_Space property, as in Oniguruma (the engine Hugging Face
  tokenizers uses), not Python's ``\\s`` (which adds U+001C..U+001F).

Emoji are category So, so a run of emoji (with an optional leading space) is one
``[^\\s\\p{L}\\p{N}]+`` word. Runs of whitespace: ``\\s+(?!\\S)`` takes a run up to, but not
including, the last whitespace before a non-space, which then starts the next word as its
leading space (``"a   b"`` -> ``"a"``, ``"  "``, ``" b"``).

The alternation is tried left to right at each position, by a backtracking engine in both Python
and Oniguruma, so the two produce the same words wherever their character classes agree. They
can disagree only on code points unassigned in this Python's Unicode database but assigned in
Oniguruma's (Unicode 16 in tokenizers 0.23): the test suite checks every other code point.
"""
from __future__ import annotations

import functools
import re
from typing import Dict, List, Optional

from .unicode_classes import category_class, white_space_class

__all__ = ["bytes_to_unicode", "BYTE_TO_CHAR", "CHAR_TO_BYTE", "GPT2_PATTERN", "gpt2_regex",
           "pretokenize", "text_to_symbols", "symbols_to_bytes"]

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's table: byte value -> the printable character that stands for it."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
                 + list(range(ord("®"), ord("ÿ") + 1)))
    table = {b: chr(b) for b in printable}
    shift = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + shift)
            shift += 1
    return dict(sorted(table.items()))


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}
# str.translate table taking the latin-1 decoding of UTF-8 bytes (one char per byte) to symbols
_LATIN1_TO_SYMBOL = {b: c for b, c in BYTE_TO_CHAR.items()}


@functools.lru_cache(maxsize=None)
def gpt2_regex() -> re.Pattern:
    """GPT2_PATTERN compiled for Python's ``re``, with ``\\p{L}``, ``\\p{N}``, ``\\s`` and
    ``\\S`` replaced by explicit classes."""
    letters, numbers, space = category_class(("L",)), category_class(("N",)), white_space_class()
    pattern = (r"'s|'t|'re|'ve|'m|'ll|'d"
               rf"| ?[{letters}]+| ?[{numbers}]+| ?[^{space}{letters}{numbers}]+"
               rf"|[{space}]+(?![^{space}])|[{space}]+")
    return re.compile(pattern)


def pretokenize(text: str) -> List[str]:
    """GPT-2's words of ``text``; their concatenation is ``text``."""
    return gpt2_regex().findall(text)


def text_to_symbols(text: str) -> str:
    """The byte-level symbols of ``text``: one character per UTF-8 byte.

    Raises ValueError for a lone surrogate, which has no UTF-8 encoding."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = text[error.start]
        raise ValueError(f"text contains the lone surrogate U+{ord(bad):04X} at position "
                         f"{error.start}: it has no UTF-8 encoding, so byte-level BPE cannot "
                         f"encode it") from None
    return raw.decode("latin-1").translate(_LATIN1_TO_SYMBOL)


def symbols_to_bytes(symbols: str) -> Optional[bytes]:
    """Inverse of ``text_to_symbols`` before UTF-8 decoding, or None when a character is not a
    byte symbol."""
    try:
        return bytes(CHAR_TO_BYTE[c] for c in symbols)
    except KeyError:
        return None
