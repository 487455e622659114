"""The PyTorch GPT the benchmarks compare npformer against: GPT-2's block without biases
(pre-norm, causal attention through F.scaled_dot_product_attention, a 4x GELU MLP), learned
positions and an LM head tied to the token embedding, as nanoGPT's model.py with bias=False.

    TorchGPT({"d_model": 128, "n_heads": 4, "n_layers": 4, "block": 64, "vocab": 65, "gelu": "none"})

``gelu`` is torch's ``approximate`` ("tanh" when absent, as GPT-2). Imported only by the
benchmarks, never by npformer; torch is imported when a model is built.
"""


def TorchGPT(c):
    import torch
    from torch import nn
    from torch.nn import functional as F

    approximate = c.get("gelu", "tanh")

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            d = c["d_model"]
            self.ln1, self.ln2 = nn.LayerNorm(d, bias=False), nn.LayerNorm(d, bias=False)
            self.qkv, self.proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
            self.up, self.down = nn.Linear(d, 4 * d, bias=False), nn.Linear(4 * d, d, bias=False)

        def forward(self, x):                                   # (B, T, d) -> (B, T, d)
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q, k, v = (z.view(b, t, c["n_heads"], d // c["n_heads"]).transpose(1, 2) for z in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)           # (B, H, T, d/H)
            x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
            return x + self.down(F.gelu(self.up(self.ln2(x)), approximate=approximate))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(c["vocab"], c["d_model"]), nn.Embedding(c["block"], c["d_model"])
            self.blocks = nn.ModuleList(Block() for _ in range(c["n_layers"]))
            self.ln_f = nn.LayerNorm(c["d_model"], bias=False)
            self.head = nn.Linear(c["d_model"], c["vocab"], bias=False)
            self.head.weight = self.wte.weight

        def forward(self, ids):                                 # (B, T) -> logits (B, T, vocab)
            x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    return GPT()
