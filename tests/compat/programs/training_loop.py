"""A plain PyTorch training loop: a small token classifier, cross-entropy, gradient clipping,
a warmup schedule through LambdaLR, and the usual zero_grad / backward / step."""
import torch
import torch.nn as nn
from torch import optim


class TokenClassifier(nn.Module):
    """Embed tokens, one pre-norm GELU MLP block, mean-pool over time, classify."""

    def __init__(self, vocab_size, d_model, n_classes):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.dropout = nn.Dropout(0.0)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, tokens):
        x = self.embed(tokens)                    # (B, T, d_model)
        x = x + self.dropout(self.mlp(self.norm(x)))
        return self.head(x.mean(dim=1))           # (B, n_classes)


def make_batches(token_rows, labels, batch_size):
    tokens = torch.tensor(token_rows, dtype=torch.long)
    targets = torch.tensor(labels, dtype=torch.long)
    return [(tokens[i:i + batch_size], targets[i:i + batch_size]) for i in range(0, len(labels), batch_size)]


def make_optimizer(model, kind, lr):
    if kind == "adamw":
        return optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
    if kind == "adam":
        return optim.Adam(model.parameters(), lr=lr)
    if kind == "sgd":
        return optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=1e-4)
    raise ValueError(f"unknown optimizer {kind!r}")


def train(model, batches, steps, kind="adamw", lr=1e-2, warmup=4, max_norm=0.5, label_smoothing=0.0):
    """Train for `steps` steps; returns per step the loss, the gradient norm before clipping and
    the learning rate used."""
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    optimizer = make_optimizer(model, kind, lr)
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    losses, norms, lrs = [], [], []
    model.train()
    for step in range(steps):
        tokens, targets = batches[step % len(batches)]
        optimizer.zero_grad()
        logits = model(tokens)
        loss = criterion(logits, targets)
        loss.backward()
        total_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        norms.append(total_norm.item())
    return losses, norms, lrs


@torch.no_grad()
def accuracy(model, batches):
    model.eval()
    correct = total = 0
    for tokens, targets in batches:
        predictions = model(tokens).argmax(dim=-1)
        correct += (predictions == targets).sum().item()
        total += targets.numel()
    return correct / total
