"""Forward + backward of the fused ops at GPT-small shapes, npformer against torch eager.

    python benchmarks/ops.py [--threads N] [--repeats R]

Shapes: B=8, T=256, C=384, H=6 (head dim 64). Each row times one forward and one backward
(upstream gradient of ones, gradients of every input), median of R runs after a warm-up,
both libraries in the same process on the same inputs with the same thread count. A ratio
above 1 means npformer is slower. The last line is one JSON object with every figure.
"""
import argparse
import json
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=os.cpu_count())
parser.add_argument("--repeats", type=int, default=7)
args = parser.parse_args()
# BLAS reads its thread count when NumPy loads, so set it before the import.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(args.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import npformer as nf  # noqa: E402
import npformer.functional as F  # noqa: E402
from npformer import nn  # noqa: E402

try:
    import torch
except ImportError:
    sys.exit("benchmarks/ops.py compares with torch: pip install torch==2.13.0")
torch.set_num_threads(args.threads)

B, T, C, H = 8, 256, 384, 6
rng = np.random.default_rng(0)


def median_ms(fn, repeats):
    fn()                                                     # warm-up (allocations, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def leaves(arrays, lib):
    if lib == "npformer":
        return [nf.tensor(a, requires_grad=True) for a in arrays]
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def run(forward, arrays, lib):
    """One timed step: forward, then backward from an upstream gradient of ones. The inputs
    and the upstream gradient are made once, outside the timing, as in a training step where
    they come from the previous layer."""
    inputs = leaves(arrays, lib)
    upstream = {}

    def step():
        for t in inputs:
            t.grad = None
        out = forward(*inputs)
        if lib == "npformer":
            if "g" not in upstream:
                upstream["g"] = np.ones(out.shape, dtype=np.float32)
            out.backward(upstream["g"])
        else:
            if "g" not in upstream:
                upstream["g"] = torch.ones_like(out)
            out.backward(upstream["g"])
    return step


def attention_block():
    """The self-attention sub-layer: q/k/v projections, causal attention over 6 heads, output projection."""
    x = rng.standard_normal((B, T, C)).astype(np.float32)
    nf.manual_seed(0)
    ours = nn.AttentionHeads(C, H, bias=False)
    theirs_qkv = [torch.tensor(ours.state_dict()[f"{n}.weight"].numpy().copy(), requires_grad=True)
                  for n in ("q_proj", "k_proj", "v_proj", "out_proj")]

    def npformer_block(x_):
        return ours(x_, is_causal=True)

    def torch_block(x_):
        wq, wk, wv, wo = theirs_qkv
        heads = lambda w: (x_ @ w.T).view(B, T, H, C // H).transpose(1, 2)
        out = torch.nn.functional.scaled_dot_product_attention(heads(wq), heads(wk), heads(wv), is_causal=True)
        return out.transpose(1, 2).reshape(B, T, C) @ wo.T

    ours_step, theirs_step = run(npformer_block, [x], "npformer"), run(torch_block, [x], "torch")

    def npformer_step():
        ours.zero_grad()
        ours_step()

    def torch_step():
        for w in theirs_qkv:
            w.grad = None
        theirs_step()

    return npformer_step, torch_step


def scaled_dot_product_attention():
    q, k, v = (rng.standard_normal((B, H, T, C // H)).astype(np.float32) for _ in range(3))
    return (run(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), [q, k, v], "npformer"),
            run(lambda a, b, c: torch.nn.functional.scaled_dot_product_attention(a, b, c, is_causal=True),
                [q, k, v], "torch"))


def layer_norm():
    x = rng.standard_normal((B, T, C)).astype(np.float32)
    w, b = np.ones(C, np.float32), np.zeros(C, np.float32)
    return (run(lambda a, g, s: F.layer_norm(a, (C,), g, s), [x, w, b], "npformer"),
            run(lambda a, g, s: torch.nn.functional.layer_norm(a, (C,), g, s), [x, w, b], "torch"))


def softmax_cross_entropy(vocab):
    def make():
        logits = rng.standard_normal((B * T, vocab)).astype(np.float32)
        target = rng.integers(0, vocab, B * T)
        return (run(lambda z: F.cross_entropy(z, nf.tensor(target)), [logits], "npformer"),
                run(lambda z: torch.nn.functional.cross_entropy(z, torch.from_numpy(target)), [logits], "torch"))
    return make


def softmax():
    x = rng.standard_normal((B, H, T, T)).astype(np.float32)
    return (run(lambda a: F.softmax(a, -1), [x], "npformer"),
            run(lambda a: torch.nn.functional.softmax(a, -1), [x], "torch"))


CASES = [
    ("attention block (B8 T256 C384 H6, causal)", attention_block),
    ("scaled_dot_product_attention (causal)", scaled_dot_product_attention),
    ("softmax (B, H, T, T)", softmax),
    ("layer_norm (B, T, C)", layer_norm),
    ("softmax cross-entropy, vocab 65", softmax_cross_entropy(65)),
    ("softmax cross-entropy, vocab 50257", softmax_cross_entropy(50257)),
]


def main():
    print(f"forward + backward, float32, {args.threads} threads, median of {args.repeats}; "
          f"numpy {np.__version__}, torch {torch.__version__}")
    header = f"{'op':<44} {'npformer ms':>12} {'torch ms':>10} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    figures = {}
    for name, make in CASES:
        ours, theirs = make()
        ours_ms, theirs_ms = median_ms(ours, args.repeats), median_ms(theirs, args.repeats)
        figures[name] = {"npformer_ms": round(ours_ms, 3), "torch_ms": round(theirs_ms, 3),
                         "ratio": round(ours_ms / theirs_ms, 3)}
        print(f"{name:<44} {ours_ms:>12.2f} {theirs_ms:>10.2f} {ours_ms / theirs_ms:>7.2f}")
    print(json.dumps({"benchmark": "ops", "threads": args.threads, "repeats": args.repeats, "results": figures}))


if __name__ == "__main__":
    main()
