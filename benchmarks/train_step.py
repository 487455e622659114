"""Milliseconds per training step (forward, backward, AdamW) of the same GPT in npformer and in
PyTorch eager, in one run with the same threads.

    python benchmarks/train_step.py [--threads N] [--steps N] [--configs tiny,small,gpt2mini]

Configurations (no biases, GELU-tanh, tied embeddings, learned positions, causal attention):

    tiny       4L/4H/128d, T=64,  B=12, V=65        nanoGPT's CPU baby GPT
    small      6L/6H/384d, T=256, B=8,  V=65
    gpt2mini   4L/4H/256d, T=128, B=8,  V=50,257

Each (library, configuration) runs in its own process, so its peak memory is its own; the
processes alternate between the libraries for ``--rounds`` rounds and each library's fastest
process counts (shared machines have slow spells). The table shows ms/step (median within a
process), the ratio to torch, the fraction of this machine's float32 matmul peak (measured here
with one large np.matmul) that the step's matmul FLOPs reach, and the peak resident memory
above the process's baseline after its imports. The last line is one JSON object.

Both libraries' processes run with glibc's malloc told to keep freed memory for reuse
(npformer.runtime.retain_freed_memory, as `npformer train` does; PyTorch's CPU tuning guide
gets the same with jemalloc). ``--malloc default`` measures both with glibc's defaults instead.
"""
import argparse
import json
import os
import subprocess
import sys

CONFIGS = {
    "tiny": dict(n_layers=4, n_heads=4, d_model=128, block=64, batch=12, vocab=65),
    "small": dict(n_layers=6, n_heads=6, d_model=384, block=256, batch=8, vocab=65),
    "gpt2mini": dict(n_layers=4, n_heads=4, d_model=256, block=128, batch=8, vocab=50257),
}


def step_flops(c):
    """Matmul FLOPs of forward + backward (3x forward) for one batch."""
    tokens, d, layers = c["batch"] * c["block"], c["d_model"], c["n_layers"]
    per_token = layers * (2 * 4 * d * d + 2 * 8 * d * d + 2 * 2 * c["block"] * d) + 2 * d * c["vocab"]
    return 3 * per_token * tokens


def run_one(library, name, steps, threads, malloc):
    """Child process: build the model, time steps, report ms and peak memory."""
    import resource
    import time

    import numpy as np
    if malloc == "reuse":
        from npformer.runtime import retain_freed_memory
        retain_freed_memory()
    c = CONFIGS[name]
    rng = np.random.default_rng(0)
    x = rng.integers(0, c["vocab"], (c["batch"], c["block"]))
    y = rng.integers(0, c["vocab"], (c["batch"], c["block"]))
    if library == "npformer":
        import npformer as nf
        import npformer.functional as F
        from npformer import optim
        from npformer.models import GPT, GPTConfig
        nf.manual_seed(0)
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss           # after the imports
        model = GPT(GPTConfig.gpt2(vocab_size=c["vocab"], max_positions=c["block"], d_model=c["d_model"],
                                   n_layers=c["n_layers"], n_heads=c["n_heads"], bias=False))
        decay = [p for p in model.parameters() if p.ndim >= 2]
        rest = [p for p in model.parameters() if p.ndim < 2]
        optimizer = optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                                lr=1e-3, betas=(0.9, 0.99))
        target = nf.tensor(y.reshape(-1))

        def step():
            logits = model(x).logits
            F.cross_entropy(logits.reshape(-1, c["vocab"]), target).backward()
            optimizer.step()
            optimizer.zero_grad()
    else:
        import torch
        from torch_gpt import TorchGPT  # this directory is the script's, so on sys.path
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss           # after the imports
        model = TorchGPT(c)
        decay = [p for p in model.parameters() if p.dim() >= 2]
        rest = [p for p in model.parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                                      lr=1e-3, betas=(0.9, 0.99), foreach=True)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y.reshape(-1))

        def step():
            logits = model(tx)
            torch.nn.functional.cross_entropy(logits.view(-1, c["vocab"]), ty).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    for _ in range(3):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"ms": 1e3 * float(np.median(times)), "peak_mb": (peak - baseline) / 1024}))


def matmul_peak_gflops():

    import numpy as np
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    a @ a
    best = min(_time(lambda: a @ a) for _ in range(5))
    return 2 * 2048 ** 3 / best / 1e9


def _time(fn):
    import time
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="processes per library, alternating; the fastest counts")
    parser.add_argument("--configs", default="tiny,small,gpt2mini")
    parser.add_argument("--malloc", choices=("reuse", "default"), default="reuse",
                        help="reuse: keep freed memory in both processes (see above); default: glibc's defaults")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    if args.child:
        run_one(args.child[0], args.child[1], args.steps, args.threads, args.malloc)
        return
    peak = matmul_peak_gflops()
    print(f"ms per training step (forward, backward, AdamW), float32, {args.threads} threads, median of "
          f"{args.steps}, best of {args.rounds} processes; malloc {args.malloc}; "
          f"float32 matmul peak here: {peak:.0f} GFLOP/s")
    header = (f"{'config':<10} {'npformer ms':>12} {'torch ms':>10} {'ratio':>7} {'npformer % peak':>16} "
              f"{'torch % peak':>13} {'npformer MB':>12} {'torch MB':>9}")
    print(header)
    print("-" * len(header))
    results = {}
    for name in args.configs.split(","):
        row = {}
        for _ in range(args.rounds):               # alternate, so a slow spell of the host hits both
            for library in ("npformer", "torch"):
                out = subprocess.run([sys.executable, __file__, "--child", library, name, "--steps", str(args.steps),
                                      "--threads", str(args.threads), "--malloc", args.malloc],
                                     capture_output=True, text=True, check=True)
                measured = json.loads(out.stdout.strip().splitlines()[-1])
                if library not in row or measured["ms"] < row[library]["ms"]:
                    row[library] = measured
        flops = step_flops(CONFIGS[name])
        ours, theirs = row["npformer"], row["torch"]
        results[name] = {"npformer_ms": round(ours["ms"], 2), "torch_ms": round(theirs["ms"], 2),
                         "ratio": round(ours["ms"] / theirs["ms"], 3),
                         "npformer_peak_fraction": round(flops / (ours["ms"] / 1e3) / (peak * 1e9), 4),
                         "torch_peak_fraction": round(flops / (theirs["ms"] / 1e3) / (peak * 1e9), 4),
                         "npformer_peak_mb": round(ours["peak_mb"], 1), "torch_peak_mb": round(theirs["peak_mb"], 1)}
        r = results[name]
        print(f"{name:<10} {r['npformer_ms']:>12.1f} {r['torch_ms']:>10.1f} {r['ratio']:>7.2f} "
              f"{100 * r['npformer_peak_fraction']:>15.1f}% {100 * r['torch_peak_fraction']:>12.1f}% "
              f"{r['npformer_peak_mb']:>12.0f} {r['torch_peak_mb']:>9.0f}")
    print(json.dumps({"benchmark": "train_step", "threads": args.threads, "malloc": args.malloc,
                      "matmul_peak_gflops": round(peak, 1), "results": results}))


if __name__ == "__main__":
    main()
