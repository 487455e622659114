"""npformer's tokenizers against Hugging Face ``tokenizers``.

Both libraries train on one corpus built here (Python's own documentation text from
``pydoc_data.topics``, plus lines in other scripts), each saves its files, and each reads the
other's. Ids must be identical on every line of the corpus and on Hypothesis-drawn text, and so
must decoded text. The trainers are compared too: byte-level BPE gives identical vocabularies and
merges; the WordPiece trainers may break ties between equally frequent pairs differently
(tokenizers numbers the ``##`` symbols in hash-map order), so the test replays tokenizers'
merges in npformer's trainer and checks that each was a most frequent pair there.

Unicode versions. Python's ``unicodedata`` (14.0 on Python 3.11) is older than the tables in
tokenizers (Oniguruma's Unicode 16 for the GPT-2 regex; for BERT, Rust tables of several
versions). The exhaustive tests below compare every code point and assert where the two may
differ: for byte-level BPE only code points unassigned in this Python, for BERT only characters
assigned or recategorized after Unicode 3.2. Hypothesis draws from the characters outside those
sets, so the property tests compare everything on which the two libraries are meant to agree.

When the tinyshakespeare corpus of the shared data folder exists it is compared too; CI clones
without it skip that test and say so.
"""
import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

tokenizers = pytest.importorskip("tokenizers", reason="tokenizers is not installed: pip install "
                                                      "'tokenizers>=0.22,<0.24' (in the crosscheck extra)")
from tokenizers import BertWordPieceTokenizer, Regex, models, normalizers, pre_tokenizers, trainers  # noqa: E402
from tokenizers import ByteLevelBPETokenizer as HFByteLevelBPE  # noqa: E402
from tokenizers import Tokenizer as HFTokenizer  # noqa: E402

import npformer.tokenizers as nt  # noqa: E402
from npformer.tokenizers.bpe import train_bpe  # noqa: E402
from npformer.tokenizers.bytelevel import gpt2_regex  # noqa: E402
from npformer.tokenizers.unicode_classes import WHITE_SPACE, category_class  # noqa: E402
from npformer.tokenizers.wordpiece import BasicTokenizer  # noqa: E402

SHAKESPEARE = Path(__file__).resolve().parents[3] / "shared" / "data" / "tinyshakespeare.txt"
BPE_MERGES = 1500
WORDPIECE_VOCAB = 2500
SPECIAL_BPE = ["<|endoftext|>"]
SPECIAL_BERT = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Lines in other scripts, digits of other scripts, emoji, odd whitespace: the corpus has them so
# that the trained vocabularies do too.
WORLD = [
    "Ελληνικά: Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο. ΟΔΥΣΣΕΥΣ\n",
    "Русский: Съешь же ещё этих мягких французских булок, да выпей чаю.\n",
    "中文：我能吞下玻璃而不伤身体。日本語：私はガラスを食べられます。\n",
    "한국어: 나는 유리를 먹을 수 있어요. 그래도 아프지 않아요\n",
    "العربية: أنا قادر على أكل الزجاج و هذا لا يؤلمني. ١٢٣٤٥٦٧٨٩٠\n",
    "हिन्दी: मैं काँच खा सकता हूँ और मुझे उससे कोई चोट नहीं पहुंचती. १२३४५\n",
    "עברית: אני יכול לאכול זכוכית וזה לא מזיק לי.\n",
    "emoji: 😀 😀😀 👍🏽 🇫🇷 👨‍👩‍👧 ❤️ café naïve résumé Ⅻ ½ ²³ ３４５\n",
    "tabs\tand   spaces  \u00a0nbsp\u2003em\u3000ideographic\r\nline\u2028sep\n\n\n",
    "It's they'll we've I'm you'd she's WE'RE don't <|endoftext|> [MASK] end.\n",
]


def python_docs_corpus():
    """Python's documentation text (pydoc_data ships with CPython) plus the WORLD lines."""
    from pydoc_data.topics import topics
    text = "\n".join(topics[key] for key in sorted(topics))
    return text.splitlines(keepends=True) + WORLD * 3


@pytest.fixture(scope="module")
def corpus():
    return python_docs_corpus()


@pytest.fixture(scope="module")
def training(corpus):
    """The corpus without the special tokens' text. npformer takes special tokens out of the
    training text (they are never split when encoding, so merges inside them would be wasted);
    tokenizers trains on them as ordinary text (see test_trainers_treat_special_text_differently).
    Without them in the text, the two trainers see the same words."""
    lines = []
    for line in corpus:
        for token in SPECIAL_BPE + SPECIAL_BERT:
            line = line.replace(token, "")
        lines.append(line)
    return lines


# A running count of the strings compared, written at the end of the module's tests.
COMPARED = {"strings": 0}


@pytest.fixture(scope="module", autouse=True)
def parity_summary(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and COMPARED["strings"]:
        with capture.global_and_fixture_disabled():
            reporter.write_line(f"\ntokenizers parity with Hugging Face tokenizers {tokenizers.__version__}: "
                                f"{COMPARED['strings']} strings compared, ids and text identical")


def same_ids(ours, reference, texts, pairs=None):
    """Assert identical ids for each text; return how many were compared."""
    for i, text in enumerate(texts):
        pair = None if pairs is None else pairs[i]
        expected = reference.encode(text, pair).ids if pair is not None else reference.encode(text).ids
        actual = ours.encode(text, pair)
        assert actual == expected, (text, pair)
    COMPARED["strings"] += len(texts)
    return len(texts)


# ============================================================================ byte-level BPE
@pytest.fixture(scope="module")
def bpe_folder(training, tmp_path_factory):
    """tokenizers' ByteLevelBPE trained on the corpus, saved both ways, and npformer's trained
    with the same settings."""
    folder = tmp_path_factory.mktemp("bpe")
    reference = HFByteLevelBPE()
    reference.train_from_iterator(training, vocab_size=256 + len(SPECIAL_BPE) + BPE_MERGES, min_frequency=2,
                                  special_tokens=SPECIAL_BPE, show_progress=False)
    reference.save_model(str(folder))
    json_folder = folder / "json"
    json_folder.mkdir()
    reference.save(str(json_folder / "tokenizer.json"))
    ours = nt.ByteLevelBPETokenizer.train(training, vocab_size=256 + len(SPECIAL_BPE) + BPE_MERGES,
                                          min_frequency=2, special_tokens=SPECIAL_BPE)
    return {"reference": reference, "folder": folder, "json": json_folder, "trained": ours,
            "loaded": nt.load(folder)}


def test_bpe_trainer_learns_the_same_vocabulary_and_merges(bpe_folder, tmp_path):
    ours = bpe_folder["trained"]
    reference = bpe_folder["reference"]
    assert ours.get_vocab() == reference.get_vocab()
    lines = (bpe_folder["folder"] / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#version")
    assert [f"{a} {b}" for a, b in ours.merges] == lines[1:]
    assert len(ours.merges) == BPE_MERGES
    # and the files npformer writes are the files tokenizers writes, byte for byte
    ours.save(tmp_path)
    for name in ("vocab.json", "merges.txt"):
        assert (tmp_path / name).read_bytes() == (bpe_folder["folder"] / name).read_bytes(), name


@pytest.mark.parametrize("kind", ["vocab.json+merges.txt", "tokenizer.json"])
def test_bpe_ids_identical_on_the_corpus(bpe_folder, corpus, kind):
    folder = bpe_folder["folder"] if kind != "tokenizer.json" else bpe_folder["json"]
    ours = nt.load(folder)
    assert isinstance(ours, nt.ByteLevelBPETokenizer)
    assert ours.all_special_tokens == SPECIAL_BPE
    reference = bpe_folder["reference"]
    same_ids(ours, reference, corpus)
    text = "".join(corpus)
    ids = ours.encode(text)
    assert ids == reference.encode(text).ids
    assert ours.decode(ids) == text == reference.decode(ids, skip_special_tokens=False)
    COMPARED["strings"] += 1


ASSIGNED = st.characters(blacklist_categories=("Cs", "Cn"))
PIECES = st.sampled_from([" ", "  ", "   ", "\n", "\n\n", "\t", " \n ", "\r\n", "\u00a0", "\u3000", "\u2028",
                          "\x1c", "\x85", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "<|endoftext|>",
                          "<|endoftext", "١٢٣", "३४", "３", "Ⅻ", "½", "²", "😀", "👍🏽", "👨‍👩‍👧", "日本語",
                          "Ελλάδα", "Москва", "한국", "é", "e\u0301", "क्षि", "a1b2", "hello", " world", "__init__"])
BPE_TEXT = st.one_of(st.text(ASSIGNED),
                     st.lists(st.one_of(PIECES, st.text(ASSIGNED, max_size=4)), max_size=12).map("".join))


@settings(max_examples=400)
@given(text=BPE_TEXT)
def test_bpe_ids_identical_on_drawn_unicode(bpe_folder, text):
    ours = bpe_folder["loaded"]
    reference = bpe_folder["reference"]
    ids = ours.encode(text)
    assert ids == reference.encode(text).ids
    assert ours.decode(ids) == reference.decode(ids, skip_special_tokens=False) == text
    COMPARED["strings"] += 1


@settings(max_examples=200)
@given(data=st.data())
def test_bpe_decode_of_any_ids_is_identical(bpe_folder, data):
    """Arbitrary id sequences, which cut characters in the middle of their UTF-8 bytes: the
    replacement characters must come out where tokenizers puts them."""
    ours = bpe_folder["loaded"]
    ids = data.draw(st.lists(st.integers(0, len(ours) - 1), max_size=20))
    assert ours.decode(ids) == bpe_folder["reference"].decode(ids, skip_special_tokens=False)
    assert ours.decode(ids, skip_special_tokens=True) == bpe_folder["reference"].decode(ids)
    COMPARED["strings"] += 1


def test_bpe_add_prefix_space_matches(bpe_folder, corpus):
    """GPT-2 files loaded with add_prefix_space=True (RoBERTa's setting), in both libraries."""
    vocab = str(bpe_folder["folder"] / "vocab.json")
    merges = str(bpe_folder["folder"] / "merges.txt")
    reference = HFByteLevelBPE(vocab, merges, add_prefix_space=True)
    ours = nt.ByteLevelBPETokenizer.from_files(vocab, merges, add_prefix_space=True)
    same_ids(ours, reference, corpus[:300] + ["", " a", "a", "\nb"])


@pytest.mark.slow
def test_gpt2_regex_classes_match_oniguruma_on_every_assigned_code_point():
    """\\p{L}, \\p{N} and \\s of the pre-tokenizer against Oniguruma's, for all 1.1 million code
    points: the only disagreements allowed are code points this Python does not know
    (category Cn), which a newer Unicode has assigned."""
    everything = "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp < 0xE000)

    def onig(pattern):
        kept = set()
        for piece, _ in pre_tokenizers.Split(Regex(pattern), behavior="removed").pre_tokenize_str(everything):
            kept.update(piece)
        return set(everything) - kept

    ours = {"\\p{L}": set(re.findall("[" + category_class(("L",)) + "]", everything)),
            "\\p{N}": set(re.findall("[" + category_class(("N",)) + "]", everything)),
            "\\s": set(WHITE_SPACE)}
    # the classes are the ones the compiled pre-tokenizer uses
    assert category_class(("L",)) in gpt2_regex().pattern and category_class(("N",)) in gpt2_regex().pattern
    for pattern, chars in ours.items():
        differ = chars ^ onig(pattern)
        assert all(unicodedata.category(c) == "Cn" for c in differ), \
            (pattern, [hex(ord(c)) for c in differ if unicodedata.category(c) != "Cn"][:20])


def test_trainers_treat_special_text_differently():
    """The one documented difference of the BPE trainers: special-token text in the training
    corpus. tokenizers learns merges inside it; npformer skips it."""
    lines = ["<|endoftext|>hello world<|endoftext|>\n"] * 20
    reference = HFByteLevelBPE()
    reference.train_from_iterator(lines, vocab_size=300, min_frequency=2, special_tokens=SPECIAL_BPE,
                                  show_progress=False)
    ours = nt.ByteLevelBPETokenizer.train(lines, vocab_size=300, min_frequency=2, special_tokens=SPECIAL_BPE)
    assert "<|" in reference.get_vocab() and "<|" not in ours.get_vocab()
    cleaned = [line.replace("<|endoftext|>", "") for line in lines]
    reference = HFByteLevelBPE()
    reference.train_from_iterator(cleaned, vocab_size=300, min_frequency=2, special_tokens=SPECIAL_BPE,
                                  show_progress=False)
    assert ours.get_vocab() == reference.get_vocab()


# ============================================================================ WordPiece
@pytest.fixture(scope="module")
def wordpiece_folder(training, tmp_path_factory):
    """tokenizers' BertWordPieceTokenizer trained on the corpus and saved; the reference is
    the tokenizer read back from vocab.txt (with BERT's [CLS] .. [SEP] template)."""
    folder = tmp_path_factory.mktemp("wordpiece")
    trainer = BertWordPieceTokenizer()
    trainer.train_from_iterator(training, vocab_size=WORDPIECE_VOCAB, min_frequency=2, limit_alphabet=1000,
                                special_tokens=SPECIAL_BERT, show_progress=False)
    trainer.save_model(str(folder))
    reference = BertWordPieceTokenizer(str(folder / "vocab.txt"))
    cased = BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=False)
    cased_folder = folder / "cased"
    cased_folder.mkdir()
    cased.save(str(cased_folder / "tokenizer.json"))
    return {"trainer": trainer, "reference": reference, "folder": folder, "cased": cased,
            "cased_folder": cased_folder, "loaded": nt.load(folder), "loaded_cased": nt.load(cased_folder)}


def test_wordpiece_ids_identical_on_the_corpus(wordpiece_folder, corpus):
    ours = nt.load(wordpiece_folder["folder"])
    assert isinstance(ours, nt.WordPieceTokenizer)
    same_ids(ours, wordpiece_folder["reference"], corpus)
    same_ids(ours, wordpiece_folder["reference"], corpus[:400], pairs=corpus[400:800])


def test_wordpiece_cased_tokenizer_json_identical(wordpiece_folder, corpus):
    ours = nt.load(wordpiece_folder["cased_folder"])
    assert not ours.do_lower_case
    same_ids(ours, wordpiece_folder["cased"], corpus)


def stable_characters():
    """Characters assigned by Unicode 3.2 whose category has not changed since (232,000 of
    them: every script of Unicode 3.2, CJK, Hangul, symbols, the controls and spaces)."""
    old = unicodedata.ucd_3_2_0
    return [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp < 0xE000
            and old.category(chr(cp)) != "Cn" and old.category(chr(cp)) == unicodedata.category(chr(cp))]


STABLE = st.sampled_from(stable_characters())
BERT_PIECES = st.sampled_from([" ", "  ", "\n", "\t", "\r\n", "\x00", "\ufffd", "\x1c", "\x85", "\u00ad", "\u200b",
                               "\u2028", "\u3000", "[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[mask]", "ΟΔΟΣ",
                               "Σ", "İstanbul", "café", "e\u0301", "naïve", "Ǆ", "ß", "ﬁ", "中文", "日本語",
                               "\U00020000", "\U0002b820", "\U0002b920", "can't", "don't", "a.b,c!", "$5", "^_^",
                               "x" * 101, "unbelievable", "hello"])
BERT_TEXT = st.one_of(st.text(STABLE),
                      st.lists(st.one_of(BERT_PIECES, st.text(STABLE, max_size=4)), max_size=12).map("".join))


@settings(max_examples=400)
@given(text=BERT_TEXT, pair=st.none() | BERT_TEXT)
def test_wordpiece_ids_identical_on_drawn_unicode(wordpiece_folder, text, pair):
    ours = wordpiece_folder["loaded"]
    reference = wordpiece_folder["reference"]
    encoding = reference.encode(text, pair) if pair is not None else reference.encode(text)
    ids = ours.encode(text, pair)
    assert ids == encoding.ids
    batch = ours(text, pair, padding=False)
    assert batch["token_type_ids"][0].tolist() == encoding.type_ids
    for skip in (False, True):
        assert ours.decode(ids, skip_special_tokens=skip) == reference.decode(ids, skip_special_tokens=skip)
    cased = wordpiece_folder["loaded_cased"]
    assert cased.encode(text) == wordpiece_folder["cased"].encode(text).ids
    COMPARED["strings"] += 2


@pytest.mark.slow
def test_bert_normalizer_and_pre_tokenizer_on_every_code_point():
    """Each code point through BERT's cleaning, accent stripping, lowercasing and punctuation
    split, in npformer and in tokenizers: they may differ only on characters assigned or
    recategorized after Unicode 3.2, where tokenizers' Rust tables and this Python's
    ``unicodedata`` disagree on a category (the count is printed in the assertion if not)."""
    normalizer = normalizers.BertNormalizer()
    pre = pre_tokenizers.BertPreTokenizer()
    basic = BasicTokenizer()
    old = unicodedata.ucd_3_2_0
    differ = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        if basic.normalize(c) != normalizer.normalize_str(c) or \
                basic.split("a" + c + "a") != [w for w, _ in pre.pre_tokenize_str("a" + c + "a")]:
            differ.append(c)
    unstable = [c for c in differ if old.category(c) == "Cn" or old.category(c) != unicodedata.category(c)]
    assert unstable == differ, [hex(ord(c)) for c in differ if c not in set(unstable)][:20]
    assert len(differ) < 1000   # a few hundred newer marks, controls and punctuation


def _assert_wordpiece_merges_replay(training, vocab_size):
    """tokenizers' WordPieceTrainer is its BPE trainer with the ``##`` prefix. Its merges,
    replayed in npformer's trainer, must each be a most frequent pair at their turn, and give
    the same vocabulary. Which of several equally frequent pairs it merges follows Rust's
    randomly seeded hash order, so it can differ from run to run (measured on Tiny Shakespeare
    at 3,000 tokens: 2 of 8 runs chose 4 other tokens); this check holds for every such run."""
    special = SPECIAL_BERT
    bpe = HFTokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##"))
    bpe.normalizer = normalizers.BertNormalizer()
    bpe.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    bpe.train_from_iterator(training, trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, limit_alphabet=1000, special_tokens=special,
        continuing_subword_prefix="##", show_progress=False))
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
              for m in json.loads(bpe.to_str())["model"]["merges"]]
    counts = nt.WordPieceTokenizer.count_words(training, BasicTokenizer(), special)
    replayed, replayed_merges = train_bpe(counts, vocab_size, 2, special_tokens=special, limit_alphabet=1000,
                                          continuing_subword_prefix="##", _replay=merges)
    assert replayed_merges == merges
    assert set(replayed) == set(bpe.get_vocab())


def test_wordpiece_trainer_differs_only_in_ties(wordpiece_folder, training):
    """The reference's merges replay in npformer's trainer (above); npformer's own choices on
    ties then give nearly the same vocabulary."""
    _assert_wordpiece_merges_replay(training, WORDPIECE_VOCAB)
    ours = nt.WordPieceTokenizer.train(training, vocab_size=WORDPIECE_VOCAB, min_frequency=2)
    theirs = wordpiece_folder["trainer"].get_vocab()
    assert len(ours) == len(theirs) == WORDPIECE_VOCAB
    assert [ours.id_to_token(i) for i in range(5)] == SPECIAL_BERT
    alphabet = {t for t in theirs if len(t) == 1 or (t.startswith("##") and len(t) == 3)}
    assert alphabet <= set(ours.get_vocab())
    overlap = len(set(ours.get_vocab()) & set(theirs)) / len(theirs)
    assert overlap > 0.99, overlap


# ============================================================================ batch API
@pytest.mark.parametrize("max_length", [4, 7, 12, 33])
@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
def test_batch_padding_and_truncation_match(wordpiece_folder, corpus, max_length, strategy):
    ours = nt.load(wordpiece_folder["folder"])
    reference = BertWordPieceTokenizer(str(wordpiece_folder["folder"] / "vocab.txt"))
    firsts, seconds = corpus[1000:1040], corpus[2000:2040]
    reference.enable_truncation(max_length, strategy=strategy)
    reference.enable_padding(pad_id=ours.pad_token_id, pad_token="[PAD]")
    try:
        expected = reference.encode_batch(list(zip(firsts, seconds)))
    except Exception as error:   # tokenizers refuses a sequence too short to cut: so must we
        with pytest.raises(ValueError, match="too short"):
            ours(firsts, seconds, truncation=strategy, max_length=max_length)
        assert "too short" in str(error) or "Truncation error" in str(error)
        return
    batch = ours(firsts, seconds, truncation=strategy, max_length=max_length, padding=True)
    assert batch["input_ids"].tolist() == [e.ids for e in expected]
    assert batch["token_type_ids"].tolist() == [e.type_ids for e in expected]
    assert batch["attention_mask"].tolist() == [e.attention_mask for e in expected]
    COMPARED["strings"] += 2 * len(firsts)


def test_batch_single_sequences_left_padding_match(bpe_folder, corpus):
    ours = nt.load(bpe_folder["folder"])
    ours.pad_token = "<|endoftext|>"
    reference = HFTokenizer.from_file(str(bpe_folder["json"] / "tokenizer.json"))
    reference.enable_padding(direction="left", pad_id=ours.pad_token_id, pad_token="<|endoftext|>")
    reference.enable_truncation(16)
    texts = corpus[3000:3050]
    expected = reference.encode_batch(texts)
    batch = ours(texts, truncation=True, max_length=16, padding_side="left")
    assert batch["input_ids"].dtype == np.int64
    assert batch["input_ids"].tolist() == [e.ids for e in expected]
    assert batch["attention_mask"].tolist() == [e.attention_mask for e in expected]
    COMPARED["strings"] += len(texts)


# ============================================================================ transformers
def test_saved_folders_load_in_transformers(bpe_folder, wordpiece_folder, tmp_path):
    transformers = pytest.importorskip("transformers")
    bpe = nt.load(bpe_folder["folder"])
    bpe.save(tmp_path / "bpe")
    wordpiece = nt.load(wordpiece_folder["folder"])
    wordpiece.save(tmp_path / "wordpiece")
    texts = WORLD + ["Hello <|endoftext|> world [MASK]!"]
    gpt2 = transformers.GPT2TokenizerFast.from_pretrained(str(tmp_path / "bpe"))
    bert = transformers.BertTokenizerFast.from_pretrained(str(tmp_path / "wordpiece"))
    for text in texts:
        assert bpe.encode(text) == gpt2(text)["input_ids"]
        assert wordpiece.encode(text) == bert(text)["input_ids"]
    COMPARED["strings"] += 2 * len(texts)


# ============================================================================ a second corpus
@pytest.mark.slow
def test_tinyshakespeare_when_present():
    if not SHAKESPEARE.exists():
        pytest.skip(f"{SHAKESPEARE} is absent (a clean clone has no shared data folder); the "
                    f"Python-docs corpus above is compared instead")
    lines = SHAKESPEARE.read_text(encoding="utf-8").splitlines(keepends=True)
    reference = HFByteLevelBPE()
    reference.train_from_iterator(lines, vocab_size=256 + 1 + 2000, min_frequency=2, special_tokens=SPECIAL_BPE,
                                  show_progress=False)
    ours = nt.ByteLevelBPETokenizer.train(lines, vocab_size=256 + 1 + 2000, min_frequency=2, special_tokens=SPECIAL_BPE)
    assert ours.get_vocab() == reference.get_vocab()
    text = "".join(lines)
    assert ours.encode(text) == reference.encode(text).ids
    # tokenizers' WordPiece trainer breaks ties between equally frequent pairs in a randomly
    # seeded hash order, so its vocabulary is not one fixed set: its merges must replay in ours
    # (each a most frequent pair at its turn), and our own tie choices stay within 1% of its vocabulary
    _assert_wordpiece_merges_replay(lines, 3000)
    wp = BertWordPieceTokenizer()
    wp.train_from_iterator(lines, vocab_size=3000, show_progress=False)
    ours_wp = nt.WordPieceTokenizer.train(lines, vocab_size=3000)
    assert len(set(ours_wp.get_vocab()) & set(wp.get_vocab())) / len(wp.get_vocab()) > 0.99
    reference_wp = BertWordPieceTokenizer(vocab=ours_wp.get_vocab())
    same_ids(ours_wp, reference_wp, lines)
    COMPARED["strings"] += 1
