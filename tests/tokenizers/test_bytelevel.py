"""GPT-2's byte table and pre-tokenization split, reproduced with Python's re."""
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from npformer.tokenizers.bytelevel import (
    BYTE_TO_CHAR,
    CHAR_TO_BYTE,
    bytes_to_unicode,
    gpt2_regex,
    pretokenize,
    text_to_symbols,
)
from npformer.tokenizers.unicode_classes import WHITE_SPACE


def test_byte_table_is_gpt2s():
    table = bytes_to_unicode()
    assert len(table) == 256 and len(set(table.values())) == 256
    assert table[ord("!")] == "!" and table[ord("~")] == "~" and table[0xA1] == "¡" and table[0xFF] == "ÿ"
    # the 68 other bytes are shifted past U+00FF in byte order
    assert table[0] == "\u0100" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[0xAD] == "\u0143"
    assert all(c.isprintable() and not c.isspace() for c in table.values())
    assert CHAR_TO_BYTE == {c: b for b, c in BYTE_TO_CHAR.items()}


def test_text_to_symbols_is_one_symbol_per_utf8_byte():
    assert text_to_symbols("a b\n") == "aĠbĊ"
    assert text_to_symbols("é") == "Ã©"
    assert len(text_to_symbols("😀")) == 4


def test_lone_surrogate_is_a_clear_error():
    with pytest.raises(ValueError, match=r"lone surrogate U\+D800 at position 1"):
        text_to_symbols("a\ud800")


@pytest.mark.parametrize("text, words", [
    ("Hello world", ["Hello", " world"]),
    ("I'm here, it's 'quoted' and we'll see", ["I", "'m", " here", ",", " it", "'s", " '", "quoted", "'",
                                               " and", " we", "'ll", " see"]),
    ("DON'T", ["DON", "'", "T"]),                       # the contractions are lowercase only
    # runs of spaces: all but the last stay together, the last one leads the next word
    ("a   b", ["a", "  ", " b"]),
    ("a \n\n b", ["a", " \n\n", " b"]),
    ("end  ", ["end", "  "]),
    ("\n\n\nx", ["\n\n", "\n", "x"]),
    ("tab\tx", ["tab", "\t", "x"]),
    ("a\u3000\u3000b", ["a", "\u3000", "\u3000", "b"]),  # ideographic space is whitespace, but only
                                                       # an ASCII space joins the next word
    # other scripts are letters
    ("Ελληνικά Русский", ["Ελληνικά", " Русский"]),
    ("日本語の文章", ["日本語の文章"]),
    (" 한국어 العربية עברית", [" 한국어", " العربية", " עברית"]),
    # combining marks are not letters: Devanagari vowel signs split words, as in GPT-2
    ("हिन्दी", ["ह", "ि", "न", "्", "द", "ी"]),
    ("e\u0301t\u00e9", ["e", "\u0301", "t\u00e9"]),
    # digits of other scripts, Roman numerals, fractions and superscripts are numbers
    ("x ١٢٣ ३४५ ３４ Ⅻ ½²", ["x", " ١٢٣", " ३४५", " ３４", " Ⅻ", " ½²"]),
    ("abc123def", ["abc", "123", "def"]),
    # emoji and symbols are neither letters nor numbers
    ("hi 😀😀 👍🏽!", ["hi", " 😀😀", " 👍🏽!"]),
    ("a👨\u200d👩\u200d👧b", ["a", "👨\u200d👩\u200d👧", "b"]),
    ("x\x1cy", ["x", "\x1c", "y"]),                          # U+001C is not White_Space (Python's \s says it is)
])
def test_gpt2_split(text, words):
    assert pretokenize(text) == words


def test_classes_follow_unicodedata():
    regex = gpt2_regex()
    assert regex.fullmatch("Ǆǅǆ") and regex.fullmatch(" ⅯⅯ")          # Lt and Nl
    assert regex.fullmatch(" ꙮ") and regex.fullmatch("ʰ")              # Lo, Lm
    for c in WHITE_SPACE:
        assert pretokenize("a" + c + c + "b")[1] == c, repr(c)


@given(st.text())
def test_split_covers_the_text(text):
    words = pretokenize(text)
    assert "".join(words) == text
    assert all(words)


@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_split_matches_the_reference_pattern_on_ascii_like_input(text):
    """Where Python's own classes agree with Unicode's (ASCII letters, digits and spaces),
    the compiled pattern gives what GPT-2's pattern written with Python's \\w-style classes
    gives."""
    ascii_text = "".join(c if c.isascii() else " " for c in text).replace("\x1c", " ").replace(
        "\x1d", " ").replace("\x1e", " ").replace("\x1f", " ")
    simple = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
    assert pretokenize(ascii_text) == simple.findall(ascii_text)
