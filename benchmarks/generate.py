"""Greedy decoding speed: npformer with its KV cache, npformer recomputing without it, and
transformers' generate with its cache, on the same weights, in the same run.

    python benchmarks/generate.py [--threads N] [--repeats R] [--new-tokens N] [--batches 1 8] [--split]

Setting: a GPT-2-style model, 4 layers, 4 heads, d_model 256, vocabulary 50,257 (tied
embeddings), float32, a 16-token prompt and 256 new tokens (no end token: every run decodes
all of them), at batch 1 and batch 8. One random GPT-2 checkpoint is saved with transformers'
save_pretrained; transformers and npformer both load that folder. Every measurement is a whole
``generate`` call (prompt included), the best of R runs after a warm-up, npformer's and
transformers' runs alternating (on a shared machine a slow spell then falls on both); tokens/s
counts the new tokens of all rows. The greedy tokens of the three runs are checked to be
identical.

Recomputing without the cache costs a whole forward over the sequence so far at every step,
so it is timed once (it is the slow one by far). The table gives tokens/s and the ratios
npformer-with-cache / transformers and npformer-with-cache / npformer-without-cache; the last
line is one JSON object with every figure. ``--split`` adds where npformer's cached step
spends its time: the vocabulary projection, attention (with its projections), the MLP, and
the rest (norms, residuals, embeddings, the search, Python glue), timed around each module's
forward during one generate call.
"""
import argparse
import json
import os
import platform
import sys
import tempfile
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=os.cpu_count())
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--new-tokens", type=int, default=256)
parser.add_argument("--prompt", type=int, default=16)
parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
parser.add_argument("--skip-no-cache", action="store_true", help="do not time npformer without the cache")
parser.add_argument("--split", action="store_true",
                    help="also split npformer's cached step into vocabulary projection, attention, MLP and the rest")
args = parser.parse_args()
# BLAS reads its thread count when NumPy loads, so set it before the import.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(args.threads)

import numpy as np  # noqa: E402

import npformer  # noqa: E402
from npformer.models import from_pretrained  # noqa: E402

try:
    import torch
    import transformers
except ImportError:
    sys.exit("benchmarks/generate.py compares with transformers: pip install -e '.[crosscheck]'")
torch.set_num_threads(args.threads)
transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

LAYERS, HEADS, D_MODEL, VOCAB = 4, 4, 256, 50257


def save_checkpoint(directory):
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=1024, n_embd=D_MODEL, n_layer=LAYERS,
                                     n_head=HEADS, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = transformers.GPT2LMHeadModel(config)
    # GPT-2's init (std 0.02) makes a random model repeat one token; larger weights give varied
    # greedy continuations, so the three runs' tokens are a meaningful check.
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim == 2:
                param.copy_(0.3 * torch.randn(param.shape, generator=generator))
    model.save_pretrained(directory)


def best_of_interleaved(runs, repeats):
    """name -> the best wall time of ``repeats`` calls, after one warm-up call each. The calls
    alternate between the runs, so a slow spell of a shared machine falls on all of them."""
    for run in runs.values():
        run()
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def run_ours(model, prompt, mask, outputs, use_cache):
    outputs["ours" if use_cache else "ours_no_cache"] = model.generate(
        prompt, mask, max_new_tokens=args.new_tokens, use_cache=use_cache)


def run_theirs(model, prompt, mask, outputs):
    with torch.no_grad():
        outputs["theirs"] = model.generate(
            torch.from_numpy(prompt), attention_mask=torch.from_numpy(mask), use_cache=True, do_sample=False,
            max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, pad_token_id=0).numpy()


def time_split(model, prompt, mask):
    """Where a cached step's time goes: each attention module (its projections included), each
    MLP and the vocabulary projection are timed around their forward during one whole generate
    call; "rest" is the remainder (norms, residual adds, embeddings, the search, Python glue).
    Returns milliseconds per step by part."""
    parts = {"vocabulary projection": [model.lm_head]}
    parts["attention"] = [layer.self_attn for layer in model.decoder.layers]
    parts["MLP"] = [layer.ffn for layer in model.decoder.layers]
    spent = dict.fromkeys(parts, 0.0)

    def timed(part, forward):
        def run(*args, **kwargs):
            start = time.perf_counter()
            try:
                return forward(*args, **kwargs)
            finally:
                spent[part] += time.perf_counter() - start
        return run

    for part, modules in parts.items():
        for module in modules:
            module.forward = timed(part, module.forward)       # an instance attribute: Module.__call__ finds it
    try:
        run_ours(model, prompt, mask, {}, True)                # warm-up
        for part in spent:
            spent[part] = 0.0
        start = time.perf_counter()
        run_ours(model, prompt, mask, {}, True)
        total = time.perf_counter() - start
    finally:
        for modules in parts.values():
            for module in modules:
                del module.forward
    steps = args.new_tokens
    split = {part: 1e3 * seconds / steps for part, seconds in spent.items()}
    split["rest"] = 1e3 * total / steps - sum(split.values())
    split["total"] = 1e3 * total / steps
    return split


def main():
    new = args.new_tokens
    with tempfile.TemporaryDirectory() as directory:
        save_checkpoint(directory)
        theirs = transformers.GPT2LMHeadModel.from_pretrained(directory, dtype=torch.float32).eval()
        ours = from_pretrained(directory, dtype=np.float32)
    print(f"greedy decoding, GPT-2 style {LAYERS}L/{HEADS}H/{D_MODEL}d, vocab {VOCAB} (tied), float32, "
          f"prompt {args.prompt}, {new} new tokens, {args.threads} threads, best of {args.repeats}; "
          f"numpy {np.__version__}, torch {torch.__version__}, transformers {transformers.__version__}, "
          f"{platform.processor() or platform.machine()}")
    header = (f"{'batch':>5} {'npformer cache':>15} {'npformer no cache':>18} {'transformers':>13} "
              f"{'vs transformers':>16} {'vs no cache':>12}")
    print(header)
    print(f"{'':>5} {'tokens/s':>15} {'tokens/s':>18} {'tokens/s':>13} {'(ratio)':>16} {'(ratio)':>12}")
    print("-" * len(header))
    results = {}
    rng = np.random.default_rng(0)
    for batch in args.batches:
        prompt = rng.integers(0, VOCAB, (batch, args.prompt))
        mask = np.ones_like(prompt)
        outputs = {}
        runs = {"ours": lambda p=prompt, m=mask, o=outputs: run_ours(ours, p, m, o, True),
                "theirs": lambda p=prompt, m=mask, o=outputs: run_theirs(theirs, p, m, o)}
        best = best_of_interleaved(runs, args.repeats)
        cached, hf = best["ours"], best["theirs"]
        uncached = None
        if not args.skip_no_cache:
            start = time.perf_counter()
            run_ours(ours, prompt, mask, outputs, False)
            uncached = time.perf_counter() - start
        figures = {"npformer_cache_tokens_per_s": batch * new / cached,
                   "transformers_cache_tokens_per_s": batch * new / hf,
                   "npformer_cache_s": cached, "transformers_cache_s": hf,
                   "ratio_vs_transformers": hf / cached}
        if uncached is not None:
            figures.update(npformer_no_cache_tokens_per_s=batch * new / uncached, npformer_no_cache_s=uncached,
                           ratio_vs_no_cache=uncached / cached)
        same = all(np.array_equal(outputs["ours"], other) for other in outputs.values())
        figures["same_tokens"] = bool(same)
        results[f"batch_{batch}"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items()}
        no_cache = f"{figures['npformer_no_cache_tokens_per_s']:>18.1f}" if uncached is not None else f"{'-':>18}"
        ratio_nc = f"{figures['ratio_vs_no_cache']:>11.1f}x" if uncached is not None else f"{'-':>12}"
        print(f"{batch:>5} {figures['npformer_cache_tokens_per_s']:>15.1f} {no_cache} "
              f"{figures['transformers_cache_tokens_per_s']:>13.1f} {figures['ratio_vs_transformers']:>15.2f}x "
              f"{ratio_nc}" + ("" if same else "   (tokens differ!)"))
    splits = {}
    if args.split:
        print(f"\nnpformer's cached step, ms per step (one generate call of {new} tokens, prompt included)")
        print(f"{'batch':>5} {'vocab proj':>11} {'attention':>10} {'MLP':>8} {'rest':>8} {'total':>8}")
        for batch in args.batches:
            prompt = rng.integers(0, VOCAB, (batch, args.prompt))
            split = time_split(ours, prompt, np.ones_like(prompt))
            splits[f"batch_{batch}"] = {k: round(v, 4) for k, v in split.items()}
            print(f"{batch:>5} {split['vocabulary projection']:>11.3f} {split['attention']:>10.3f} "
                  f"{split['MLP']:>8.3f} {split['rest']:>8.3f} {split['total']:>8.3f}")
    print(json.dumps({"benchmark": "generate", "threads": args.threads, "repeats": args.repeats,
                      "layers": LAYERS, "heads": HEADS, "d_model": D_MODEL, "vocab": VOCAB,
                      "prompt": args.prompt, "new_tokens": new, "dtype": "float32",
                      "npformer": npformer.__version__, "numpy": np.__version__, "torch": torch.__version__,
                      "transformers": transformers.__version__, "results": results,
                      "split_ms_per_step": splits}))


if __name__ == "__main__":
    main()
