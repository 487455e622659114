"""Tokenizer throughput and BPE training time, npformer against Hugging Face tokenizers.

    python benchmarks/tokenize_speed.py [--data FILE] [--merges N] [--threads N] [--repeats R]

The text is ``--data`` (UTF-8), or by default Python's documentation topics (``pydoc_data``,
shipped with CPython) repeated to about 1 MB, so the benchmark runs anywhere. Both libraries
run in one process on the same text, line by line:

- BPE training: ``ByteLevelBPETokenizer.train`` / ``train_from_iterator`` for ``--merges``
  merges (min_frequency 2), median of R runs; both must learn the same merges.
- Encode: GPT-2-style byte-level BPE (the tokenizer both just trained) and BERT WordPiece
  (a 8,000-token vocabulary trained by tokenizers on the text), every line encoded, MB/s of
  UTF-8 input, best of R runs. npformer starts each run with an empty word cache; tokenizers
  encodes with ``encode_batch`` on ``--threads`` threads (its fast path). Both outputs must
  be identical.

A ratio above 1 means npformer is slower. The last line is one JSON object with every figure.
"""
import argparse
import json
import os
import sys
import tempfile
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", help="UTF-8 text file (default: Python's docs text, ~1 MB)")
parser.add_argument("--merges", type=int, default=2000)
parser.add_argument("--threads", type=int, default=os.cpu_count())
parser.add_argument("--repeats", type=int, default=3)
args = parser.parse_args()
# tokenizers reads its thread count when its pool starts
os.environ["RAYON_NUM_THREADS"] = str(args.threads)
os.environ["TOKENIZERS_PARALLELISM"] = "true"

try:
    import npformer.tokenizers as nt
except ImportError:
    sys.exit("benchmarks/tokenize_speed.py times the installed npformer: pip install -e . in the repository")
try:
    import tokenizers
    from tokenizers import BertWordPieceTokenizer, ByteLevelBPETokenizer
except ImportError:
    sys.exit("benchmarks/tokenize_speed.py compares with tokenizers: pip install 'tokenizers>=0.22,<0.24'")


def default_text():
    from pydoc_data.topics import topics
    docs = "\n".join(topics[key] for key in sorted(topics))
    text = docs
    while len(text.encode("utf-8")) < 1_000_000:
        text += "\n" + docs
    return text


if args.data:
    with open(args.data, encoding="utf-8") as f:
        text = f.read()
    source = os.path.basename(args.data)
else:
    text, source = default_text(), "pydoc_data.topics"
lines = text.splitlines(keepends=True)
megabytes = len(text.encode("utf-8")) / 1e6
vocab_size = 256 + 1 + args.merges


def median_seconds(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], result


def best_seconds(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


# ----------------------------------------------------------------------------- BPE training
def train_ours():
    return nt.ByteLevelBPETokenizer.train(lines, vocab_size=vocab_size, min_frequency=2,
                                          special_tokens=["<|endoftext|>"])


def train_theirs():
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(lines, vocab_size=vocab_size, min_frequency=2, special_tokens=["<|endoftext|>"],
                            show_progress=False)
    return tok


train_np, ours_bpe = median_seconds(train_ours, args.repeats)
train_hf, theirs_bpe = median_seconds(train_theirs, args.repeats)
same_merges = ours_bpe.get_vocab() == theirs_bpe.get_vocab()


# ----------------------------------------------------------------------------- encoding
def encode_ours(tok):
    def run():
        tok._cache.clear()
        encode = tok.encode
        return [encode(line) for line in lines]
    return run


def encode_theirs(tok):
    def run():
        return [e.ids for e in tok.encode_batch(lines)]
    return run


bpe_np, ids_np = best_seconds(encode_ours(ours_bpe), args.repeats)
bpe_hf, ids_hf = best_seconds(encode_theirs(theirs_bpe), args.repeats)
same_bpe_ids = ids_np == ids_hf

wordpiece_trainer = BertWordPieceTokenizer()
wordpiece_trainer.train_from_iterator(lines, vocab_size=8000, show_progress=False)
with tempfile.TemporaryDirectory() as folder:
    wordpiece_trainer.save_model(folder)
    theirs_wp = BertWordPieceTokenizer(os.path.join(folder, "vocab.txt"))
    ours_wp = nt.load(folder)
wp_np, ids_np = best_seconds(encode_ours(ours_wp), args.repeats)
wp_hf, ids_hf = best_seconds(encode_theirs(theirs_wp), args.repeats)
same_wp_ids = ids_np == ids_hf

tokens = sum(len(ids) for ids in ids_np)
figures = {
    "data": source, "megabytes": round(megabytes, 3), "lines": len(lines), "threads": args.threads,
    "tokenizers_version": tokenizers.__version__, "merges": args.merges,
    "bpe_train_seconds": {"npformer": round(train_np, 3), "tokenizers": round(train_hf, 3),
                          "ratio": round(train_np / train_hf, 2), "same_vocabulary": same_merges},
    "bpe_encode_mb_per_s": {"npformer": round(megabytes / bpe_np, 3), "tokenizers": round(megabytes / bpe_hf, 3),
                            "ratio": round(bpe_np / bpe_hf, 2), "same_ids": same_bpe_ids},
    "wordpiece_encode_mb_per_s": {"npformer": round(megabytes / wp_np, 3), "tokenizers": round(megabytes / wp_hf, 3),
                                  "ratio": round(wp_np / wp_hf, 2), "same_ids": same_wp_ids},
}

print(f"data: {source}, {megabytes:.2f} MB, {len(lines)} lines; tokenizers {tokenizers.__version__} "
      f"on {args.threads} threads")
print(f"{'':34s}{'npformer':>12s}{'tokenizers':>12s}{'ratio':>8s}  same result")
print(f"{'BPE training, ' + str(args.merges) + ' merges (s)':34s}{train_np:12.2f}{train_hf:12.2f}"
      f"{train_np / train_hf:8.2f}  {same_merges}")
for name, ours_s, theirs_s, same in (("BPE encode (MB/s)", bpe_np, bpe_hf, same_bpe_ids),
                                     ("WordPiece encode (MB/s)", wp_np, wp_hf, same_wp_ids)):
    print(f"{name:34s}{megabytes / ours_s:12.2f}{megabytes / theirs_s:12.2f}{ours_s / theirs_s:8.2f}  {same}")
print(json.dumps(figures))
