"""npformer.data: the corpora, the split, GPT blocks, BERT masking and seq2seq batches, all
deterministic for a seed."""
import numpy as np
import pytest

import npformer as nf
from npformer.data import (
    CorpusError,
    bucket_batches,
    default_corpus,
    load_corpus,
    mask_tokens,
    pad_batch,
    random_blocks,
    read_text,
    synthetic_pairs,
    train_val_split,
)


def test_default_corpus_is_cpythons_english_documentation():
    text = default_corpus()
    assert len(text) > 100_000
    assert "The \"assert\" statement" in text
    assert load_corpus() == text


def test_default_corpus_missing_asks_for_data(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_pydoc_data(name, *args, **kwargs):
        if name.startswith("pydoc_data"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pydoc_data)
    with pytest.raises(CorpusError, match="no pydoc_data.topics.*pass a UTF-8 text file with --data"):
        default_corpus()


def test_read_text_errors(tmp_path):
    with pytest.raises(CorpusError, match="no such file"):
        read_text(tmp_path / "missing.txt")
    with pytest.raises(CorpusError, match="is a directory"):
        read_text(tmp_path)
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(CorpusError, match="empty"):
        read_text(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8 text"):
        read_text(tmp_path / "latin1.txt")
    (tmp_path / "ok.txt").write_text("héllo", encoding="utf-8")
    assert read_text(tmp_path / "ok.txt") == "héllo"


def test_split_is_contiguous_and_deterministic():
    train, val = train_val_split(np.arange(100))
    np.testing.assert_array_equal(train, np.arange(90))
    np.testing.assert_array_equal(val, np.arange(90, 100))
    with pytest.raises(ValueError):
        train_val_split(np.arange(10), val_fraction=1.0)


def test_split_cuts_where_nanogpt_cuts():
    # nanoGPT's prepare.py: train = data[:int(n * 0.9)]; Tiny Shakespeare has n = 1,115,394
    # characters, where rounding instead of truncating would move one character (1,003,855)
    n = 1_115_394
    train, val = train_val_split(np.arange(n))
    assert len(train) == int(n * 0.9) == 1_003_854 and len(val) == n - 1_003_854


def test_random_blocks_are_shifted_windows_and_repeat_for_a_seed():
    ids = np.arange(1000)
    x, y = random_blocks(ids, 4, 16, generator=nf.Generator(0))
    assert x.shape == y.shape == (4, 16) and x.dtype == np.int64
    np.testing.assert_array_equal(y, x + 1)
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)
    x2, _ = random_blocks(ids, 4, 16, generator=nf.Generator(0))
    np.testing.assert_array_equal(x, x2)
    with pytest.raises(CorpusError, match="block_size 1000 needs more than 1000 tokens, but this split has 1000"):
        random_blocks(ids, 1, 1000)


def test_bert_masking_80_10_10_and_never_special_tokens():
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 100, (200, 128))
    ids[:, 0], ids[:, -1] = 1, 2                   # [CLS] and [SEP]
    corrupted, labels = mask_tokens(ids, mask_token_id=3, vocab_size=100, special_ids=(0, 1, 2, 3),
                                    generator=nf.Generator(1))
    chosen = labels != -100
    assert abs(chosen.mean() - 0.15 * 126 / 128) < 0.005
    assert not chosen[:, 0].any() and not chosen[:, -1].any()
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    masked = corrupted[chosen] == 3
    kept = corrupted[chosen] == ids[chosen]
    replaced = ~masked & ~kept
    assert abs(masked.mean() - 0.8) < 0.02 and abs(replaced.mean() - 0.1) < 0.015
    assert np.all(corrupted[chosen][replaced] >= 4)          # random tokens are never special
    np.testing.assert_array_equal(corrupted[~chosen], ids[~chosen])
    again, _ = mask_tokens(ids, 3, 100, (0, 1, 2, 3), generator=nf.Generator(1))
    np.testing.assert_array_equal(corrupted, again)


def test_synthetic_tasks_padding_and_buckets():
    pairs = synthetic_pairs("reverse", 50, vocab_size=20, generator=nf.Generator(2))
    for source, target in pairs:
        np.testing.assert_array_equal(target, source[::-1])
        assert source.min() >= 3
    sorted_pairs = synthetic_pairs("sort", 5, vocab_size=20, generator=nf.Generator(2))
    assert all(np.all(np.diff(t) >= 0) for _, t in sorted_pairs)
    ids, mask = pad_batch([[5, 6], [7, 8, 9]], pad_id=0, prefix=[1], suffix=[2])
    np.testing.assert_array_equal(ids, [[1, 5, 6, 2, 0], [1, 7, 8, 9, 2]])
    np.testing.assert_array_equal(mask, [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    lengths = [len(s) for s, _ in pairs]
    batches = bucket_batches(lengths, 8, generator=nf.Generator(3))
    assert sorted(np.concatenate(batches).tolist()) == list(range(50))
    spread = [np.ptp([lengths[i] for i in b]) for b in batches]
    assert np.mean(spread) < np.ptp(lengths) / 2                 # buckets group similar lengths
    with pytest.raises(ValueError, match="task must be one of"):
        synthetic_pairs("copy", 1, 10)
