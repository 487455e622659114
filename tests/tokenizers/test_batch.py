"""The batch call: padding, truncation, pairs, NumPy arrays."""
import numpy as np
import pytest

import npformer.tokenizers as nt

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefghij")


@pytest.fixture
def tok():
    return nt.WordPieceTokenizer(VOCAB)


def test_padding_true_pads_to_the_longest(tok):
    batch = tok(["a b c", "a", "a b c d e"])
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids"}
    for array in batch.values():
        assert isinstance(array, np.ndarray) and array.dtype == np.int64 and array.shape == (3, 7)
    assert batch["input_ids"][1].tolist() == [2, 5, 3, 0, 0, 0, 0]
    assert batch["attention_mask"].tolist() == [[1] * 5 + [0] * 2, [1] * 3 + [0] * 4, [1] * 7]
    assert batch.input_ids is batch["input_ids"]


def test_padding_max_length_and_left_side(tok):
    batch = tok(["a b", "c"], padding="max_length", max_length=6, padding_side="left")
    assert batch["input_ids"].tolist() == [[0, 0, 2, 5, 6, 3], [0, 0, 0, 2, 7, 3]]
    assert batch["attention_mask"].tolist() == [[0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]]
    tok.padding_side = "left"
    assert tok(["a b", "c"])["input_ids"].tolist() == [[2, 5, 6, 3], [0, 2, 7, 3]]


def test_single_string_is_a_batch_of_one(tok):
    batch = tok("a b")
    assert batch["input_ids"].tolist() == [[2, 5, 6, 3]]


def test_truncation_counts_special_tokens(tok):
    batch = tok(["a b c d e f"], truncation=True, max_length=5)
    assert batch["input_ids"].tolist() == [[2, 5, 6, 7, 3]]
    batch = tok(["a b c d e f"], truncation=True, max_length=5, truncation_side="left")
    assert batch["input_ids"].tolist() == [[2, 8, 9, 10, 3]]


def test_pairs_longest_first(tok):
    # budget 8 - 3 specials = 5: the shorter pair member (2) keeps its length, the longer gets 3
    batch = tok(["a b c d e f"], ["g h"], truncation=True, max_length=8)
    assert batch["input_ids"].tolist() == [[2, 5, 6, 7, 3, 11, 12, 3]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0, 0, 1, 1, 1]]
    # both longer than half the budget: 3 and 2 (the odd id goes to the longer)
    batch = tok(["a b c d e f"], ["g h i j"], truncation=True, max_length=8)
    assert batch["input_ids"].tolist() == [[2, 5, 6, 7, 3, 11, 12, 3]]
    batch = tok(["a b c"], ["d e f g h i"], truncation="only_second", max_length=8)
    assert batch["input_ids"].tolist() == [[2, 5, 6, 7, 3, 8, 9, 3]]


def test_pairs_with_padding(tok):
    batch = tok(["a", "a b c"], ["b c", "d"], padding=True)
    assert batch["input_ids"].tolist() == [[2, 5, 3, 6, 7, 3, 0], [2, 5, 6, 7, 3, 8, 3]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 0, 0, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 1, 0], [1] * 7]


def test_bad_arguments_get_clear_errors(tok):
    with pytest.raises(ValueError, match="different lengths"):
        tok(["a", "a b"], padding=False)
    assert tok(["a", "b"], padding=False)["input_ids"].shape == (2, 3)
    with pytest.raises(ValueError, match="needs max_length"):
        tok(["a"], padding="max_length")
    with pytest.raises(ValueError, match="more than max_length=3; pass truncation=True"):
        tok(["a b c"], padding="max_length", max_length=3)
    with pytest.raises(ValueError, match="text_pair has 1 entries but text has 2"):
        tok(["a", "b"], ["c"])
    with pytest.raises(ValueError, match="padding must be"):
        tok(["a"], padding="sideways")
    with pytest.raises(ValueError, match="padding_side must be 'right' or 'left'"):
        tok(["a"], padding_side="up")
    with pytest.raises(TypeError, match=r"text\[1\] must be a str"):
        tok(["a", 3])
    with pytest.raises(ValueError, match="too short"):
        tok(["a b c"], ["d"], truncation="only_second", max_length=5)
    with pytest.raises(ValueError, match="leaves no room"):
        tok(["a"], ["b"], truncation=True, max_length=2)


def test_model_max_length_is_the_default(tok):
    tok.model_max_length = 4
    assert tok(["a b c d"], truncation=True)["input_ids"].shape == (1, 4)


def test_padding_needs_a_pad_token():
    vocab = {c: i for i, c in enumerate(nt.BYTE_TO_CHAR.values())}
    vocab["<|endoftext|>"] = len(vocab)
    tok = nt.ByteLevelBPETokenizer(vocab, [])
    assert tok(["ab", "cd"])["input_ids"].shape == (2, 2)     # nothing to pad: fine
    with pytest.raises(ValueError, match="needs a pad token"):
        tok(["ab", "c"])
    tok.pad_token = tok.eos_token            # what the error message advises
    assert tok.pad_token == tok.eos_token == "<|endoftext|>" and tok.pad_token_id == vocab["<|endoftext|>"]
    batch = tok(["ab", "c"])
    assert batch["input_ids"][1].tolist() == [vocab["c"], vocab["<|endoftext|>"]]
    assert batch["token_type_ids"].tolist() == [[0, 0], [0, 0]]


def test_batch_decode(tok):
    batch = tok(["a b", "c"])
    assert tok.batch_decode(batch["input_ids"], skip_special_tokens=True) == ["a b", "c"]
    with pytest.raises(ValueError, match="batch_decode"):
        tok.decode(batch["input_ids"])


# ----------------------------------------------------------------------------- pad_to_batch
def test_pad_to_batch_right_and_left():
    ids, mask = nt.pad_to_batch([[5, 6, 7], [8], []], pad_id=0)
    assert ids.dtype == mask.dtype == np.int64
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    ids, mask = nt.pad_to_batch([np.array([5, 6]), [8]], pad_id=9, length=4, padding_side="left")
    assert ids.tolist() == [[9, 9, 5, 6], [9, 9, 9, 8]]
    assert mask.tolist() == [[0, 0, 1, 1], [0, 0, 0, 1]]
    ids, mask = nt.pad_to_batch([], pad_id=0)
    assert ids.shape == mask.shape == (0, 0)


def test_pad_to_batch_refuses_what_it_cannot_pad():
    with pytest.raises(ValueError, match="sequence 1 has 3 tokens, more than the padded length 2"):
        nt.pad_to_batch([[1], [1, 2, 3]], pad_id=0, length=2)
    with pytest.raises(ValueError, match="padding_side must be 'right' or 'left', got 'top'"):
        nt.pad_to_batch([[1]], pad_id=0, padding_side="top")
    with pytest.raises(TypeError, match="pad_id must be an integer token id, got NoneType"):
        nt.pad_to_batch([[1]], pad_id=None)
    with pytest.raises(ValueError, match=r"sequence 0 has shape \(1, 2\)"):
        nt.pad_to_batch([[[1, 2]]], pad_id=0)
    with pytest.raises(ValueError, match="length must be a non-negative integer or None, got -1"):
        nt.pad_to_batch([[1]], pad_id=0, length=-1)


def test_the_batch_call_and_the_data_batches_pad_alike(tok):
    from npformer.data import pad_batch
    batch = tok(["a b c", "a"], add_special_tokens=False)
    ids, mask = pad_batch([tok.encode(t, add_special_tokens=False) for t in ["a b c", "a"]], tok.pad_token_id)
    np.testing.assert_array_equal(batch["input_ids"], ids)
    np.testing.assert_array_equal(batch["attention_mask"], mask)


# ----------------------------------------------------------------------------- special-token roles
def test_every_role_of_the_table_has_its_two_attributes(tok):
    assert nt.SPECIAL_ROLES == tuple(names.token for names in nt.SPECIAL_TOKEN_ROLES.values())
    expected = {"unk": "[UNK]", "sep": "[SEP]", "pad": "[PAD]", "cls": "[CLS]", "mask": "[MASK]"}
    for role, names in nt.SPECIAL_TOKEN_ROLES.items():
        assert names == (f"{role}_token", f"{role}_token_id")
        assert getattr(tok, names.token) == expected.get(role)
        assert getattr(tok, names.token_id) == (None if role not in expected else VOCAB.index(expected[role]))
    assert tok.special_tokens_map == {names.token: expected[role] for role, names in nt.SPECIAL_TOKEN_ROLES.items()
                                      if role in expected}


def test_setting_a_role_attribute_is_add_special_tokens(tok):
    tok.bos_token = "[CLS]"
    assert tok.bos_token_id == 2 and tok.special_tokens_map["bos_token"] == "[CLS]"
    tok.eos_token = "</s>"                                   # new: added as a special token
    assert tok.eos_token_id == len(VOCAB) and "</s>" in tok.all_special_tokens
    tok.eos_token = None
    assert tok.eos_token is None and tok.eos_token_id is None
    with pytest.raises(ValueError, match="unknown special-token role 'end_token'"):
        tok.add_special_tokens({"end_token": "x"})
