"""load(dir) for each kind of folder, and clear errors for malformed files."""
import json
import os

import pytest

import npformer.tokenizers as nt
from npformer.tokenizers import hf_files

BYTES = list(nt.BYTE_TO_CHAR.values())


def gpt2_like_folder(path, extra_merges=(), vocab_text=None):
    vocab = {c: i for i, c in enumerate(BYTES)}
    for token in ("he", "ll", "hell", "hello", "Ġw", "<|endoftext|>"):
        vocab[token] = len(vocab)
    (path / "vocab.json").write_text(vocab_text if vocab_text is not None else json.dumps(vocab), encoding="utf-8")
    merges = ["h e", "l l", "he ll", "hell o", "Ġ w", *extra_merges]
    (path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    return vocab


BERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "!"]


def test_load_vocab_json_and_merges_txt(tmp_path):
    vocab = gpt2_like_folder(tmp_path)
    tok = nt.load(tmp_path)
    assert isinstance(tok, nt.ByteLevelBPETokenizer)
    assert tok.encode("hello world<|endoftext|>") == [vocab["hello"], vocab["Ġw"]] + [vocab[c] for c in "orld"] + [
        vocab["<|endoftext|>"]]
    assert tok.all_special_tokens == ["<|endoftext|>"]


def test_load_vocab_txt(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(BERT_VOCAB) + "\n", encoding="utf-8")
    tok = nt.load(tmp_path)
    assert isinstance(tok, nt.WordPieceTokenizer)
    assert tok.tokenize("Hello worlds!", add_special_tokens=True) == ["[CLS]", "hello", "world", "##s", "!", "[SEP]"]
    assert tok.pad_token_id == 0 and sorted(tok.all_special_ids) == [0, 1, 2, 3, 4]


def test_load_vocab_txt_with_windows_line_ends_and_config(tmp_path):
    (tmp_path / "vocab.txt").write_bytes(("\r\n".join(BERT_VOCAB + ["Hello"]) + "\r\n").encode())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False, "model_max_length": 512}))
    tok = nt.load(tmp_path)
    assert tok.tokenize("Hello hello") == ["Hello", "hello"]
    assert tok.model_max_length == 512


def wordpiece_tokenizer_json(template=True):
    post = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}]} if template else None
    return {"version": "1.0",
            "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                              "normalized": False, "special": True} for i, t in enumerate(BERT_VOCAB[:5])],
            "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                           "strip_accents": None, "lowercase": True},
            "pre_tokenizer": {"type": "BertPreTokenizer"}, "post_processor": post,
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": {t: i for i, t in enumerate(BERT_VOCAB)}}}


def test_load_tokenizer_json_wordpiece(tmp_path):
    (tmp_path / "tokenizer.json").write_text(json.dumps(wordpiece_tokenizer_json()), encoding="utf-8")
    tok = nt.load(tmp_path)
    assert isinstance(tok, nt.WordPieceTokenizer)
    assert tok.encode("Hello", "worlds") == [2, 5, 3, 6, 7, 3]
    (tmp_path / "tokenizer.json").write_text(json.dumps(wordpiece_tokenizer_json(template=False)), encoding="utf-8")
    assert nt.load(tmp_path).encode("Hello") == [5]       # no post-processor: nothing added


def bpe_tokenizer_json(merges_as_lists=False):
    vocab = {c: i for i, c in enumerate(BYTES)}
    for token in ("he", "hel", "hell", "hello"):
        vocab[token] = len(vocab)
    merges = [["h", "e"], ["he", "l"], ["hel", "l"], ["hell", "o"]]
    return {"version": "1.0",
            "added_tokens": [{"id": len(vocab), "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True}],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": merges if merges_as_lists else [" ".join(m) for m in merges]}}


@pytest.mark.parametrize("merges_as_lists", [False, True])
def test_load_tokenizer_json_bpe(tmp_path, merges_as_lists):
    config = bpe_tokenizer_json(merges_as_lists)
    (tmp_path / "tokenizer.json").write_text(json.dumps(config), encoding="utf-8")
    tok = nt.load(tmp_path)
    assert isinstance(tok, nt.ByteLevelBPETokenizer)
    hello, eot = config["model"]["vocab"]["hello"], len(config["model"]["vocab"])
    assert tok.encode("hello<|endoftext|>") == [hello, eot]
    assert tok.decode([hello, eot]) == "hello<|endoftext|>"


def test_options_an_older_tokenizer_json_omits_take_their_defaults(tmp_path):
    config = bpe_tokenizer_json()
    for option in ("byte_fallback", "fuse_unk", "dropout", "ignore_merges"):     # older writers leave these out
        del config["model"][option]
    (tmp_path / "tokenizer.json").write_text(json.dumps(config), encoding="utf-8")
    assert nt.load(tmp_path).encode("hello") == [config["model"]["vocab"]["hello"]]


def test_unsupported_tokenizer_json_is_named(tmp_path):
    config = bpe_tokenizer_json()
    config["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁"}
    (tmp_path / "tokenizer.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match="pre_tokenizer 'Metaspace' is not supported"):
        nt.load(tmp_path)
    config = bpe_tokenizer_json()
    config["model"]["type"] = "Unigram"
    (tmp_path / "tokenizer.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ValueError, match="model type 'Unigram' is not supported"):
        nt.load(tmp_path)


def test_empty_folder_and_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected tokenizer.json, vocab.json with merges.txt, or vocab.txt"):
        nt.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        nt.load(tmp_path / "nope")


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("text, message", [
    ('{"a": 0,', r"vocab.json, line 1, column \d+: not valid JSON"),
    ('["a", "b"]', "expected a JSON object mapping tokens to ids, got a JSON list"),
    ('{}', "the vocabulary is empty"),
    ('{\n"a": 0,\n"b": "1"\n}', r"vocab.json, line 3: token 'b' has id '1'; expected a non-negative integer"),
    ('{"a": 0, "b": -4}', "token 'b' has id -4"),
    ('{"a": 0, "b": true}', "token 'b' has id True"),
    ('{"a": 0, "b": 0}', "tokens 'a' and 'b' both have id 0"),
])
def test_malformed_vocab_json(tmp_path, text, message):
    gpt2_like_folder(tmp_path, vocab_text=text)
    with pytest.raises(ValueError, match=message):
        nt.load(tmp_path)


def test_vocab_json_not_utf8(tmp_path):
    gpt2_like_folder(tmp_path)
    (tmp_path / "vocab.json").write_bytes(b'{"a": 0,\n "\xff": 1}')
    with pytest.raises(ValueError, match=r"vocab.json, line 2: not valid UTF-8 \(byte 0xff"):
        nt.load(tmp_path)


@pytest.mark.parametrize("bad_line, message", [
    ("h e l", r"merges.txt, line 7: expected two symbols separated by one space, got 'h e l'"),
    ("he", "line 7: expected two symbols"),
    ("", "line 7: expected two symbols"),
    ("h  e", "line 7: expected two symbols"),
    ("x ☃", r"merges.txt, line 7: merge 'x' '☃' names the symbol '☃', which is not in the vocabulary"),
    ("hello w", r"line 7: merge 'hello' 'w' makes 'hellow', which is not in the vocabulary"),
])
def test_malformed_merges_txt(tmp_path, bad_line, message):
    gpt2_like_folder(tmp_path, extra_merges=[bad_line, "l l"])
    with pytest.raises(ValueError, match=message):
        nt.load(tmp_path)


@pytest.mark.parametrize("content, message", [
    (b"", "the vocabulary is empty"),
    (b"[PAD]\n\n[UNK]\n", r"vocab.txt, line 2: empty line; expected one token per line"),
    (b"[PAD]\n[UNK]\nab\xc3\n", r"vocab.txt, line 3: not valid UTF-8"),
])
def test_malformed_vocab_txt(tmp_path, content, message):
    (tmp_path / "vocab.txt").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        nt.load(tmp_path)


def test_malformed_tokenizer_json(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text('{"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}}')
    with pytest.raises(ValueError, match=r"model.vocab\['a'\] is 'x'; expected a non-negative integer"):
        nt.load(tmp_path)
    path.write_text('{"model": 3}')
    with pytest.raises(ValueError, match="expected a 'model' object"):
        nt.load(tmp_path)
    config = bpe_tokenizer_json()
    config["model"]["merges"].append("he zz")
    path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match="names the symbol 'zz'"):
        nt.load(tmp_path)


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "char"])
def test_decode_out_of_range_names_the_id_and_the_size(tmp_path, kind):
    if kind == "bpe":
        gpt2_like_folder(tmp_path)
        tok = nt.load(tmp_path)
    elif kind == "wordpiece":
        tok = nt.WordPieceTokenizer(BERT_VOCAB)
    else:
        tok = nt.CharTokenizer.train("abc")
    n = len(tok)
    with pytest.raises(IndexError, match=rf"id {n} at position 2 is out of range for a vocabulary of {n} tokens"):
        tok.decode([0, 1, n])
    with pytest.raises(IndexError, match=rf"id {10 ** 20}"):
        tok.decode([10 ** 20])
    import numpy as np
    with pytest.raises(IndexError, match=rf"id {n}"):
        tok.decode(np.array([n]))
    with pytest.raises(TypeError, match="float64"):
        tok.decode(np.array([0.0]))


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "vocab.txt"
    target.write_text("old\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        hf_files.write_vocab_txt(target, ["new"])
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["vocab.txt"]


def test_unassigned_id_in_a_gappy_vocabulary(tmp_path):
    vocab = {c: i for i, c in enumerate(BYTES)}
    vocab["<|endoftext|>"] = 300
    tok = nt.ByteLevelBPETokenizer(vocab, [])
    assert len(tok) == 301
    with pytest.raises(IndexError, match="id 299 at position 0 is not assigned"):
        tok.decode([299])
