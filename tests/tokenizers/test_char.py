"""CharTokenizer: built from a corpus, explicit unknown characters, save/load."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer.tokenizers as nt


def test_vocabulary_is_special_tokens_then_sorted_characters():
    tok = nt.CharTokenizer.train(["hello", "world"], special_tokens=["<pad>"])
    assert tok.get_vocab() == {"<pad>": 0, "d": 1, "e": 2, "h": 3, "l": 4, "o": 5, "r": 6, "w": 7}
    assert tok.encode("hello") == [3, 2, 4, 4, 5]
    assert tok.decode([3, 2, 4, 4, 5]) == "hello"


def test_unknown_character_raises_naming_it_without_unk_token():
    tok = nt.CharTokenizer.train("abc")
    with pytest.raises(ValueError, match=r"'z' \(U\+007A\) at position 2 is not in the vocabulary"):
        tok.encode("abz")


def test_unknown_character_maps_to_unk_token():
    tok = nt.CharTokenizer.train("abc", unk_token="<unk>")
    unk = tok.token_to_id("<unk>")
    assert tok.encode("a😀c") == [tok.token_to_id("a"), unk, tok.token_to_id("c")]
    assert tok.decode(tok.encode("a😀c")) == "a<unk>c"
    assert tok.decode(tok.encode("a😀c"), skip_special_tokens=True) == "ac"


def test_special_tokens_are_never_split():
    tok = nt.CharTokenizer.train("ab<>s", special_tokens=["<s>"])
    assert tok.encode("a<s>b") == [tok.token_to_id("a"), tok.token_to_id("<s>"), tok.token_to_id("b")]
    assert tok.tokenize("<s><") == ["<s>", "<"]


@given(st.text(min_size=1))
def test_round_trip_on_the_corpus_alphabet(text):
    tok = nt.CharTokenizer.train(text)
    assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode(text)) == len(text)


def test_save_and_load(tmp_path):
    tok = nt.CharTokenizer.train(["some text", "ünïcödé 日本"], special_tokens=["<pad>"], unk_token="<unk>",
                                 pad_token="<pad>")
    tok.save(tmp_path)
    again = nt.load(tmp_path)
    assert isinstance(again, nt.CharTokenizer)
    assert again.get_vocab() == tok.get_vocab()
    assert again.encode("tëxt?") == tok.encode("tëxt?")
    assert again.pad_token == "<pad>" and again.unk_token == "<unk>"


def test_decode_rejects_ids_out_of_range():
    tok = nt.CharTokenizer.train("abc")
    with pytest.raises(IndexError, match=r"id 3 at position 1 is out of range for a vocabulary of 3 tokens"):
        tok.decode([0, 3])
    with pytest.raises(IndexError, match="id -1"):
        tok.decode([-1])
    with pytest.raises(TypeError, match="integers"):
        tok.decode([0.5])


def test_training_texts_must_be_strings():
    with pytest.raises(TypeError, match="at index 1"):
        nt.CharTokenizer.train(["a", b"b"])
