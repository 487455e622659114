"""Hostile tokenizer files: ids are trusted only inside the range the files can fill (issue 11).

A tokenizer's files holding n entries (vocabulary entries and added tokens together) may use
the ids 0 .. n - 1, so no id table is larger than the files' own contents. Every example here
either loads or raises FileFormatError (or, for a folder left without a tokenizer file it
reads, FileNotFoundError saying so), and stays under the stated memory bound, measured with
tracemalloc:

    peak traced bytes of one load  <=  100 x the bytes of the folder's files + 4 MiB

Measured on valid folders: 12 to 33 x for vocab.json, tokenizer.json and merges.txt, up to 71 x
for a vocab.txt of two-character tokens (each line of 3 bytes becomes a str, a list slot and a
dict entry: Python objects of about 200 bytes).
"""
import json
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

import npformer.tokenizers as nt
from npformer.tokenizers import FileFormatError

from ..tokenizers.test_files import BERT_VOCAB, bpe_tokenizer_json, gpt2_like_folder, wordpiece_tokenizer_json
from .test_hostile_files import folder_bytes, measured, mutations

TOKENIZER_FACTOR, TOKENIZER_ALLOWANCE = 100, 4 * 2 ** 20


def load_within_bound(directory):
    """nt.load(directory): the tokenizer or the FileFormatError, checked against the bound."""
    outcome, peak = measured(lambda: nt.load(directory))
    no_tokenizer = isinstance(outcome, FileNotFoundError) and "holds no tokenizer this library reads" in str(outcome)
    if isinstance(outcome, Exception) and not (isinstance(outcome, FileFormatError) or no_tokenizer):
        raise AssertionError(f"load raised {type(outcome).__name__}, not FileFormatError") from outcome
    bound = TOKENIZER_FACTOR * folder_bytes(directory) + TOKENIZER_ALLOWANCE
    assert peak <= bound, f"peak {peak} bytes > bound {bound} ({outcome!r})"
    return outcome


def refused(directory, match):
    outcome, peak = measured(lambda: nt.load(directory))
    if not isinstance(outcome, FileFormatError):
        raise AssertionError(f"expected FileFormatError, got {outcome!r}") from (
            outcome if isinstance(outcome, Exception) else None)
    assert match in str(outcome), str(outcome)
    assert peak <= TOKENIZER_FACTOR * folder_bytes(directory) + TOKENIZER_ALLOWANCE, peak
    return outcome


def write_json(path, value):
    path.write_text(json.dumps(value), encoding="utf-8")


# ---------------------------------------------------------------- by hand
def test_a_4_kb_vocab_json_with_an_id_of_10_to_the_8_fails_at_once(tmp_path):
    vocab = gpt2_like_folder(tmp_path)
    vocab["<|endoftext|>"] = 10 ** 8
    write_json(tmp_path / "vocab.json", vocab)
    assert folder_bytes(tmp_path) < 4096
    refused(tmp_path, "token '<|endoftext|>' has id 100000000, outside [0, 262)")


def test_ids_may_leave_gaps_inside_the_range_the_files_fill(tmp_path):
    # 262 entries: vocab.json gives 261 of them ids below 262 with one gap, which the
    # tokenizer_config.json added token fills
    vocab = gpt2_like_folder(tmp_path)
    del vocab["<|endoftext|>"]
    vocab["Ġw"] = 261
    write_json(tmp_path / "vocab.json", vocab)
    write_json(tmp_path / "tokenizer_config.json", {"added_tokens_decoder": {"260": {"content": "<|endoftext|>"}}})
    tokenizer = load_within_bound(tmp_path)
    assert len(tokenizer) == 262 and tokenizer.encode("<|endoftext|>") == [260]


@pytest.mark.parametrize("key, match", [
    ("100000000", "the added token '<pad>' has id 100000000, outside [0, 263)"),
    ("9" * 5000, "has 5000 digits, beyond any id a tokenizer's files can fill"),
    ("٣", "added_tokens_decoder['٣'] must be keyed by an id"),
])
def test_added_tokens_decoder_ids_outside_the_files_are_refused(tmp_path, key, match):
    gpt2_like_folder(tmp_path)
    write_json(tmp_path / "tokenizer_config.json", {"added_tokens_decoder": {key: {"content": "<pad>"}}})
    refused(tmp_path, match)


@pytest.mark.parametrize("where", ["vocab", "added"])
def test_tokenizer_json_ids_outside_its_entries_are_refused(tmp_path, where):
    config = bpe_tokenizer_json()
    if where == "vocab":
        config["model"]["vocab"]["hello"] = 10 ** 8
    else:
        config["added_tokens"][0]["id"] = 10 ** 8
    write_json(tmp_path / "tokenizer.json", config)
    refused(tmp_path, "has id 100000000, outside [0, 261)")


def test_char_tokenizer_files_are_checked_too(tmp_path):
    nt.CharTokenizer.train("abc", special_tokens=["<pad>"]).save(tmp_path)
    write_json(tmp_path / "vocab.json", {"<pad>": 0, "a": 1, "b": 2, "c": 10 ** 8})
    refused(tmp_path, "token 'c' has id 100000000, outside [0, 4)")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": 1' + "0" * 5000 + "}"])
def test_json_nested_too_deeply_or_with_a_huge_integer(tmp_path, text):
    gpt2_like_folder(tmp_path)
    (tmp_path / "vocab.json").write_text(text)
    refused(tmp_path, "vocab.json: not valid JSON here")


@pytest.mark.parametrize("change, match", [
    (dict(normalizer="BertNormalizer"), "normalizer must be an object with a string 'type'"),
    (dict(decoder="WordPiece"), "decoder must be an object with a string 'type'"),
    (dict(post_processor={"type": "TemplateProcessing", "single": [3], "pair": []}), "TemplateProcessing holds 3"),
    (dict(model=dict(max_input_chars_per_word="x")), "model.max_input_chars_per_word is 'x'; expected an integer"),
    (dict(model=dict(unk_token=5)), "model.unk_token is 5; expected a string"),
    # the reference refuses these types; read by truthiness they would silently change the tokens
    (dict(model=dict(max_input_chars_per_word=-1)), "model.max_input_chars_per_word is -1; expected a positive"),
    (dict(normalizer={"type": "BertNormalizer", "lowercase": "no"}), "normalizer.lowercase is 'no'; expected true"),
    (dict(normalizer={"type": "BertNormalizer", "strip_accents": 5}), "normalizer.strip_accents is 5; expected true "
                                                                      "or false or null"),
])
def test_wordpiece_tokenizer_json_of_the_wrong_shape_is_a_file_error(tmp_path, change, match):
    config = wordpiece_tokenizer_json()
    for key, value in change.items():
        config[key] = dict(config[key], **value) if key == "model" else value
    write_json(tmp_path / "tokenizer.json", config)
    refused(tmp_path, match)


# ---------------------------------------------------------------- generated
FOLDERS = {
    "vocab.json + merges.txt": lambda path: gpt2_like_folder(path),
    "vocab.txt": lambda path: (path / "vocab.txt").write_text("\n".join(BERT_VOCAB) + "\n", encoding="utf-8"),
    "tokenizer.json (BPE)": lambda path: write_json(path / "tokenizer.json", bpe_tokenizer_json()),
    "tokenizer.json (WordPiece)": lambda path: write_json(path / "tokenizer.json", wordpiece_tokenizer_json()),
    "char": lambda path: nt.CharTokenizer.train("hello world", special_tokens=["<pad>"], unk_token="<unk>").save(path),
}
CONFIG = {"add_prefix_space": False, "model_max_length": 1024, "do_lower_case": True, "unk_token": "<unk>",
          "bos_token": {"content": "<|endoftext|>"}, "added_tokens_decoder": {
              "261": {"content": "<|endoftext|>", "special": True}, "262": {"content": "<pad>", "lstrip": False}}}


def _valid_folder(tmp_path_factory, kind):
    directory = tmp_path_factory.mktemp("tokenizer")
    FOLDERS[kind](directory)
    return directory


@given(kind=st.sampled_from(sorted(FOLDERS)), data=st.data())
def test_generated_json_tokenizer_files_load_or_raise_file_format_error(tmp_path_factory, kind, data):
    directory = _valid_folder(tmp_path_factory, kind)
    if not os.path.exists(directory / "tokenizer_config.json"):
        write_json(directory / "tokenizer_config.json", CONFIG)
    names = sorted(name for name in os.listdir(directory) if name.endswith(".json"))
    name = data.draw(st.sampled_from(names))
    document = json.loads((directory / name).read_text(encoding="utf-8"))
    write_json(directory / name, data.draw(mutations(document)))
    load_within_bound(directory)


def _id_places(document, name):
    """(container, key) of every id a tokenizer file holds; an added_tokens_decoder id is a key."""
    if name == "vocab.json":
        return [(document, token) for token in document]
    if name == "tokenizer.json":
        return ([(document["model"]["vocab"], token) for token in document["model"]["vocab"]]
                + [(entry, "id") for entry in document["added_tokens"]])
    return [(document["added_tokens_decoder"], None)]


HOSTILE_IDS = st.one_of(st.integers(-2 ** 70, 2 ** 70), st.integers(0, 600),
                        st.sampled_from([10 ** 8, 2 ** 40, 10 ** 4000, 261, 262, 263]))


@given(kind=st.sampled_from(["vocab.json + merges.txt", "tokenizer.json (BPE)", "tokenizer.json (WordPiece)", "char"]),
       data=st.data())
def test_generated_ids_load_or_raise_file_format_error(tmp_path_factory, kind, data):
    directory = _valid_folder(tmp_path_factory, kind)
    if kind == "vocab.json + merges.txt":
        write_json(directory / "tokenizer_config.json", CONFIG)
    names = [name for name in ("vocab.json", "tokenizer.json", "tokenizer_config.json") if (directory / name).exists()
             and (name != "tokenizer_config.json" or kind == "vocab.json + merges.txt")]
    name = data.draw(st.sampled_from(names))
    document = json.loads((directory / name).read_text(encoding="utf-8"))
    for container, key in data.draw(st.lists(st.sampled_from(_id_places(document, name)), min_size=1, max_size=3)):
        if key is None:                                     # move an added token to another id
            container[str(abs(data.draw(HOSTILE_IDS)))] = container.pop(data.draw(st.sampled_from(sorted(container))))
        else:
            container[key] = data.draw(HOSTILE_IDS)
    write_json(directory / name, document)
    load_within_bound(directory)


LINES = st.lists(st.one_of(st.sampled_from(["h e", "he ll", "#version: 0.2", "", " ", "a  b", "[UNK]", "##s", "\r"]),
                           st.text(max_size=8)), max_size=12)


@given(kind=st.sampled_from(["vocab.json + merges.txt", "vocab.txt"]), lines=LINES, keep=st.integers(0, 20),
       tail=st.sampled_from(["", "\n", "\r\n"]))
def test_generated_text_tokenizer_files_load_or_raise_file_format_error(tmp_path_factory, kind, lines, keep, tail):
    directory = _valid_folder(tmp_path_factory, kind)
    name = "merges.txt" if kind == "vocab.json + merges.txt" else "vocab.txt"
    kept = (directory / name).read_text(encoding="utf-8").split("\n")[:keep]
    (directory / name).write_text("\n".join(kept + lines) + tail, encoding="utf-8")
    load_within_bound(directory)


@given(raw=st.binary(max_size=64))
def test_generated_bytes_in_a_vocab_file_load_or_raise_file_format_error(tmp_path_factory, raw):
    directory = _valid_folder(tmp_path_factory, "vocab.json + merges.txt")
    (directory / "vocab.json").write_bytes(raw)
    load_within_bound(directory)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("name", ["vocab.json", "tokenizer_config.json"])
def test_a_fifo_or_a_device_in_place_of_a_file_is_refused_without_reading(tmp_path, name):
    # opening a FIFO for reading blocks until a writer comes; /dev/zero never ends
    gpt2_like_folder(tmp_path)
    (tmp_path / name).unlink(missing_ok=True)
    os.mkfifo(tmp_path / name)
    refused(tmp_path, "a device, pipe or socket, not a regular file")
    (tmp_path / name).unlink()
    os.symlink("/dev/zero", tmp_path / name)
    refused(tmp_path, "a device, pipe or socket, not a regular file")
