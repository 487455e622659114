"""Forward + backward of the fused ops at GPT-small shapes, npformer against torch eager.

    python benchmarks/ops.py [--threads N] [--repeats R] [--choices]

Shapes: B=8, T=256, C=384, H=6 (head dim 64). Each row times one forward and one backward
(upstream gradient of ones, gradients of every input), median of R runs after a warm-up,
both libraries in the same process on the same inputs with the same thread count. A ratio
above 1 means npformer is slower. The last line is one JSON object with every figure.

``--choices`` times, instead, the implementation choices that npformer/ops' docstrings justify
by speed, in NumPy alone (no torch): each row runs the way the code does it and the
alternative it rejected on the same arrays, and the ratio above 1 is how much slower the
alternative is. A second table gives the cost of npformer.ops.special's erf and erfc.
"""
import argparse
import json
import os
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--threads", type=int, default=os.cpu_count())
parser.add_argument("--repeats", type=int, default=7)
parser.add_argument("--choices", action="store_true",
                    help="time the implementation choices of npformer/ops (NumPy only) instead of npformer vs torch")
args = parser.parse_args()
# BLAS reads its thread count when NumPy loads, so set it before the import.
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = str(args.threads)

import numpy as np  # noqa: E402

try:
    import npformer as nf
    import npformer.functional as F
    from npformer import nn
    from npformer.ops import activation, embedding, rows, special
except ImportError:
    sys.exit("benchmarks/ops.py times the installed npformer: pip install -e . in the repository")

if not args.choices:
    try:
        import torch
    except ImportError:
        sys.exit("benchmarks/ops.py compares with torch: pip install torch==2.13.0 (or run it with --choices)")
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

        def heads(w):
            return (x_ @ w.T).view(B, T, H, C // H).transpose(1, 2)

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


# ---------------------------------------------------------------------------- --choices
# Each maker returns (the way npformer's code does it, the alternative it rejected), two
# zero-argument callables over the same float32 arrays.

def gelu_cdf():
    """GELU's Phi for float32 input: the float32 erfc formula, or the float64-accurate erfc."""
    x = rng.standard_normal((B * T, 4 * C)).astype(np.float32)                  # the MLP's hidden layer
    return (lambda: activation.normal_cdf_float32(x),
            lambda: 0.5 * special.erfc(-activation.SQRT_HALF * x))


def gelu_cdf_sign():
    """Phi(x) from p = Phi(-|x|): a branch-free multiply by (x >= 0), or np.where on the signs."""
    x = rng.standard_normal((B * T, 4 * C)).astype(np.float32)
    p = rng.uniform(0, 0.5, x.shape).astype(np.float32)
    scratch = np.empty_like(x)

    def branch_free():
        flip = np.multiply(p, np.float32(-2), out=scratch)
        flip += np.float32(1)
        flip *= x >= 0
        flip += p
        return flip
    return branch_free, lambda: np.where(x >= 0, 1 - p, p)


def gelu_tanh_blocks(direction, other_block):
    """The tanh GELU's kernels run over blocks of activation.BLOCK elements, or ``other_block``
    (None: the whole array in one pass)."""
    x = rng.standard_normal((B * T, 4 * C)).astype(np.float32)
    grad = rng.standard_normal(x.shape).astype(np.float32)
    _, t = activation._blockwise(activation._gelu_tanh_forward, x.shape, x.dtype, 2, (x,))

    def kernel():
        if direction == "forward":
            return activation._blockwise(activation._gelu_tanh_forward, x.shape, x.dtype, 2, (x,))
        return activation._blockwise(activation._gelu_tanh_backward, x.shape, x.dtype, 1, (grad, x, t), scratch=1)

    def with_block(size):
        def run():
            chosen, activation.BLOCK = activation.BLOCK, size
            try:
                return kernel()
            finally:
                activation.BLOCK = chosen
        return run
    return kernel, with_block(other_block or x.size)


def relu_backward():
    """ReLU's backward: the gradient times the mask (z > 0), or np.where(z > 0, grad, 0)."""
    z = np.maximum(rng.standard_normal((B * T, 4 * C)).astype(np.float32), np.float32(0))
    grad = rng.standard_normal(z.shape).astype(np.float32)
    return lambda: grad * (z > 0), lambda: np.where(z > 0, grad, np.float32(0))


def attention_mask():
    """A boolean attn_mask on the scores (B, H, T, T): added as a small 0/-inf array that
    broadcasts, or a masked copy of the scores with np.where."""
    scores = rng.standard_normal((B, H, T, T)).astype(np.float32)
    allowed = np.tril(np.ones((T, T), dtype=bool))

    def additive():
        scores[...] += np.where(allowed, 0, -np.inf).astype(scores.dtype)      # in place, as the op does
    return additive, lambda: np.where(allowed, scores, np.float32(-np.inf))


def embedding_backward(vocab, tokens=B * T, width=C):
    """Embedding's backward, (tokens, width) rows into a (vocab, width) gradient: sorting the
    ids and summing runs with np.add.reduceat, or np.add.at."""
    ids = rng.integers(0, vocab, tokens)
    grads = rng.standard_normal((tokens, width)).astype(np.float32)

    def add_at():
        out = np.zeros((vocab, width), dtype=np.float32)
        np.add.at(out, ids, grads)
        return out
    return lambda: embedding.scatter_rows(ids, grads, vocab), add_at


def row_sums(shape):
    """Sums over the last axis: a matrix-vector product with ones in BLAS, or np.sum."""
    x = rng.standard_normal(shape).astype(np.float32)
    return lambda: rows.row_sums(x), lambda: np.sum(x, axis=-1, keepdims=True)


def row_max(shape):
    """Maxima over the last axis: np.fmax.reduce, or np.max (which tracks NaN)."""
    x = rng.standard_normal(shape).astype(np.float32)
    return lambda: rows.row_max(x), lambda: np.max(x, axis=-1, keepdims=True)


CHOICES = [
    ("gelu Phi, float32: float32 formula | float64-accurate erfc", "activation.py", gelu_cdf),
    ("gelu Phi sign: branch-free | np.where", "activation.py", gelu_cdf_sign),
    ("tanh gelu forward: 128K blocks | whole array", "activation.py", lambda: gelu_tanh_blocks("forward", None)),
    ("tanh gelu backward: 128K blocks | whole array", "activation.py", lambda: gelu_tanh_blocks("backward", None)),
    ("tanh gelu backward: 128K blocks | 8K blocks", "activation.py", lambda: gelu_tanh_blocks("backward", 1 << 13)),
    ("relu backward: grad * mask | np.where", "elementwise.py", relu_backward),
    ("attention bool mask: add 0/-inf | np.where copy", "attention.py", attention_mask),
    ("embedding backward V=65 (2048, 384): reduceat | add.at", "embedding.py", lambda: embedding_backward(65)),
    ("embedding backward V=50257 (2048, 384): reduceat | add.at", "embedding.py", lambda: embedding_backward(50257)),
    ("embedding backward V=50257 (8192, 768): reduceat | add.at", "embedding.py",
     lambda: embedding_backward(50257, 8192, 768)),
    ("row sums (2048, 384): BLAS | np.sum", "rows.py", lambda: row_sums((B * T, C))),
    ("row max (3072, 64): fmax.reduce | np.max", "rows.py", lambda: row_max((3072, 64))),
    ("row max (12288, 256): fmax.reduce | np.max", "rows.py", lambda: row_max((B * H * T, T))),
]


def erf_costs():
    """(name, figure, unit): ns per element of erf and erfc on 10^6 float64 values, and the
    one-off cost of the tables built on the first call."""
    n = 10 ** 6
    samples = {"N(0, 1)": rng.standard_normal(n), "U(-7, 7)": rng.uniform(-7, 7, n)}
    costs = [(f"{fn.__name__} of {label}", median_ms(lambda: fn(x), args.repeats) * 1e6 / n, "ns per element")
             for label, x in samples.items() for fn in (special.erf, special.erfc)]

    def build_tables():
        special._tables.cache_clear()
        special._tables()
    costs.append(("erf/erfc tables, built on the first call", median_ms(build_tables, args.repeats), "ms"))
    return costs


def main_choices():
    print(f"implementation choices of npformer/ops, float32, {args.threads} threads, median of {args.repeats}; "
          f"numpy {np.__version__}")
    header = f"{'choice: chosen | alternative':<60} {'file':<14} {'chosen ms':>10} {'alt ms':>9} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    choices = {}
    for name, where, make in CHOICES:
        chosen, alternative = make()
        chosen_ms, alternative_ms = median_ms(chosen, args.repeats), median_ms(alternative, args.repeats)
        choices[name] = {"file": where, "chosen_ms": round(chosen_ms, 3), "alternative_ms": round(alternative_ms, 3),
                         "ratio": round(alternative_ms / chosen_ms, 3)}
        print(f"{name:<60} {where:<14} {chosen_ms:>10.2f} {alternative_ms:>9.2f} {alternative_ms / chosen_ms:>7.2f}")
    print()
    costs = {}
    for name, figure, unit in erf_costs():
        costs[name] = {"value": round(figure, 2), "unit": unit}
        print(f"{name:<60} {figure:>8.1f} {unit}")
    print(json.dumps({"benchmark": "ops_choices", "threads": args.threads, "repeats": args.repeats,
                      "numpy": np.__version__, "choices": choices, "costs": costs}))


def main():
    if args.choices:
        return main_choices()
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
