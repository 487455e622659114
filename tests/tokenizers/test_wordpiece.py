"""WordPiece: BERT's basic tokenizer, greedy longest match, [UNK], pairs, the trainer."""
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer.tokenizers as nt
from npformer.tokenizers.unicode_classes import WHITE_SPACE
from npformer.tokenizers.wordpiece import BasicTokenizer

from .corpus import python_docs_lines

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "want", "##ed", "runn",
         "##ing", ",", "!", "hello", "world", "a", "##b", "##c", "ab", "中", "文", "cafe", "the"]


@pytest.fixture
def tok():
    return nt.WordPieceTokenizer(VOCAB)


# ----------------------------------------------------------------------------- basic tokenizer
@pytest.mark.parametrize("text, words", [
    ("Hello, World!", ["hello", ",", "world", "!"]),
    ("  spaced\tout\nlines\r\n", ["spaced", "out", "lines"]),
    ("Café naïve ÉCOLE", ["cafe", "naive", "ecole"]),                   # accents stripped when lowercasing
    ("中文abc日本", ["中", "文", "abc", "日", "本"]),                      # each CJK ideograph is a word
    # kana and Hangul are not split; NFD takes the voicing mark off が (a nonspacing mark, then
    # stripped) and decomposes Hangul syllables into their jamo, as uncased BERT does
    ("ひらがな 한국어", ["ひらかな", unicodedata.normalize("NFD", "한국어")]),
    ("a$b^c`d", ["a", "$", "b", "^", "c", "`", "d"]),                    # ASCII symbols count as punctuation
    ("x«y»z¿", ["x", "«", "y", "»", "z", "¿"]),                          # so does every P* character
    ("a\x00b\ufffdc\x07d\u200be", ["abcde"]),                            # controls and U+FFFD removed
    ("a\u2028b\u00a0c\u3000d", ["a", "b", "c", "d"]),                    # Unicode whitespace splits
    ("a\x1cb", ["ab"]),                                                  # U+001C is a control, not a space
    ("ΟΔΟΣ", ["οδοσ"]),                                                  # per-character lowercasing
    ("İ", ["i"]),
])
def test_basic_tokenizer_uncased(text, words):
    assert BasicTokenizer().tokenize(text) == words


def test_basic_tokenizer_options():
    assert BasicTokenizer(do_lower_case=False).tokenize("Café Hello") == ["Café", "Hello"]
    assert BasicTokenizer(do_lower_case=True, strip_accents=False).tokenize("Café") == ["café"]
    assert BasicTokenizer(do_lower_case=False, strip_accents=True).tokenize("Café") == ["Cafe"]
    assert BasicTokenizer(tokenize_chinese_chars=False).tokenize("中文abc") == ["中文abc"]
    assert BasicTokenizer(clean_text=False).tokenize("a\x07b") == ["a\x07b"]


@given(st.text())
def test_basic_tokenizer_words_have_no_whitespace(text):
    for word in BasicTokenizer().tokenize(text):
        assert word and not any(c in WHITE_SPACE for c in word)


# ----------------------------------------------------------------------------- WordPiece
def test_greedy_longest_match_first(tok):
    assert tok.tokenize("unaffable") == ["un", "##aff", "##able"]
    assert tok.tokenize("wanted, running!") == ["want", "##ed", ",", "runn", "##ing", "!"]
    assert tok.tokenize("abc") == ["ab", "##c"]            # "ab" is longer than "a"


def test_unknown_words(tok):
    assert tok.tokenize("unwanted") == ["[UNK]"]           # no "##want": the whole word is unknown
    assert tok.tokenize("hello xyz world") == ["hello", "[UNK]", "world"]
    long_word = "a" + "b" * 100                             # 101 characters > max_input_chars_per_word
    assert tok.tokenize(long_word) == ["[UNK]"]
    assert tok.tokenize("a" + "b" * 99) == ["ab"] + ["##b"] * 98
    short = nt.WordPieceTokenizer(VOCAB, max_input_chars_per_word=3)
    assert short.tokenize("abbb") == ["[UNK]"]


def test_special_tokens_and_pairs(tok):
    ids = tok.encode("hello [MASK] world", "the cafe")
    assert tok.convert_ids_to_tokens(ids) == ["[CLS]", "hello", "[MASK]", "world", "[SEP]", "the", "cafe", "[SEP]"]
    batch = tok("hello [MASK] world", "the cafe")
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 0, 1, 1, 1]]
    assert batch["input_ids"].tolist() == [ids]
    # special tokens are matched in the raw text, case-sensitively
    assert "[MASK]" not in tok.tokenize("[mask]")
    assert tok.encode("hello", add_special_tokens=False) == [tok.token_to_id("hello")]
    assert tok.num_special_tokens_to_add() == 2 and tok.num_special_tokens_to_add(pair=True) == 3


def test_decode(tok):
    ids = tok.encode("Hello, unaffable world!")
    assert tok.decode(ids) == "[CLS] hello, unaffable world! [SEP]"
    assert tok.decode(ids, skip_special_tokens=True) == "hello, unaffable world!"


def test_vocab_without_unk_is_a_clear_error():
    tok = nt.WordPieceTokenizer(["[CLS]", "[SEP]", "a"])
    assert tok.encode("a") == [0, 2, 1]
    with pytest.raises(ValueError, match=r"unknown token '\[UNK\]' is not in the vocabulary"):
        tok.encode("b")


# ----------------------------------------------------------------------------- trainer
@pytest.fixture(scope="module")
def trained():
    return nt.WordPieceTokenizer.train(python_docs_lines(), vocab_size=1500)


def test_trainer_vocabulary(trained):
    vocab = trained.get_vocab()
    assert len(vocab) == 1500
    assert [trained.id_to_token(i) for i in range(5)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert "the" in vocab and "##ing" in vocab and "##s" in vocab
    assert all(t == t.lower() for t in vocab if not t.startswith("["))


def test_trained_tokenizer_encodes_with_few_unknowns(trained):
    text = "".join(python_docs_lines()[:300])
    ids = trained.encode(text, add_special_tokens=False)
    assert ids.count(trained.token_to_id("[UNK]")) < len(ids) / 1000
    assert trained.decode(ids).replace(" ", "") == "".join(BasicTokenizer().tokenize(text))


def test_trainer_limit_alphabet():
    tok = nt.WordPieceTokenizer.train(["aaaa bbb cc d"] * 3, vocab_size=100, limit_alphabet=2, min_frequency=1)
    assert "d" not in tok.get_vocab() and "c" not in tok.get_vocab()
    assert "a" in tok.get_vocab() and "b" in tok.get_vocab()


def test_save_and_load(trained, tmp_path):
    trained.save(tmp_path)
    again = nt.load(tmp_path)
    assert isinstance(again, nt.WordPieceTokenizer)
    assert again.get_vocab() == trained.get_vocab()
    text = "".join(python_docs_lines()[300:400])
    assert again.encode(text) == trained.encode(text)


def test_cased_config_is_read(tmp_path):
    tok = nt.WordPieceTokenizer(VOCAB + ["Hello"], do_lower_case=False)
    tok.save(tmp_path)
    again = nt.load(tmp_path)
    assert not again.do_lower_case
    assert again.tokenize("Hello hello") == ["Hello", "hello"]
