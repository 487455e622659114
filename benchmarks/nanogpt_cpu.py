"""Reproduce nanoGPT's CPU "baby GPT" on character-level Tiny Shakespeare with npformer.

nanoGPT (README, "I only have a macbook"):

    python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
        --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
        --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0

which, with the config's learning_rate 1e-3, min_lr 1e-4, beta2 0.99, warmup_iters 100,
eval_interval 250 and train.py's defaults (weight_decay 0.1, grad_clip 1.0, bias False,
beta1 0.9, every 2-D weight decayed), reaches a validation loss of about 1.88.

    python benchmarks/nanogpt_cpu.py --data ../shared/data/tinyshakespeare.txt

prints the evaluation curve, the wall time, and one JSON object on its last line.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from npformer.train import TrainConfig, Trainer  # noqa: E402

NANOGPT = dict(n_layers=4, n_heads=4, d_model=128, block_size=64, dropout=0.0, bias=False, activation="gelu",
               batch_size=12,
               max_steps=2000, lr=1e-3, min_lr=1e-4, warmup_steps=100, lr_decay_steps=2000, weight_decay=0.1,
               decay_embeddings=True, beta1=0.9, beta2=0.99, grad_clip=1.0, eval_interval=250, eval_steps=20,
               tokenizer="char", model="gpt")
TARGET = 1.90                    # nanoGPT reports about 1.88


class CurvePrinter:
    def __init__(self):
        self.curve = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: None

    def evaluation(self, result):
        self.curve.append({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()})
        print(f"step {result['step']:>5}  train {result['train_loss']:.4f}  val {result['val_loss']:.4f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="Tiny Shakespeare as a text file")
    parser.add_argument("--steps", type=int, default=NANOGPT["max_steps"], help="for a quick trial only")
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()
    options = dict(NANOGPT, data=args.data, max_steps=args.steps, lr_decay_steps=args.steps, seed=args.seed,
                   samples=0, checkpoint_interval=0)
    printer = CurvePrinter()
    with tempfile.TemporaryDirectory() as out_dir:
        trainer = Trainer(TrainConfig(**options, out_dir=out_dir), log=printer)
        print(f"nanoGPT's baby GPT: {trainer.model.num_parameters():,} parameters, {args.steps} steps of "
              f"{12 * 64} characters", flush=True)
        started = time.perf_counter()
        final = trainer.fit()
        seconds = time.perf_counter() - started
    verdict = "meets" if final["val_loss"] <= TARGET else "misses"
    print(f"final val loss {final['val_loss']:.4f} ({verdict} the target {TARGET}; nanoGPT: ~1.88) in {seconds:.0f} s "
          f"({seconds / args.steps * 1e3:.1f} ms/step including evaluation)")
    print(json.dumps({"benchmark": "nanogpt_cpu", "steps": args.steps, "val_loss": final["val_loss"],
                      "train_loss": final["train_loss"], "seconds": round(seconds, 1), "target": TARGET,
                      "curve": printer.curve}))


if __name__ == "__main__":
    main()
