"""The torch.nn.functional-shaped API: ``import npformer.functional as F``.

Names, argument names, shapes and mask semantics follow PyTorch, so a short script runs under
either library with the import changed. Each function is one fused op of ``npformer.ops``.
"""
from .ops.activation import gelu, silu
from .ops.attention import attention_with_weights, scaled_dot_product_attention
from .ops.dropout import dropout
from .ops.elementwise import relu, sigmoid, tanh
from .ops.embedding import embedding
from .ops.linear import linear
from .ops.loss import cross_entropy, nll_loss
from .ops.normalization import layer_norm, rms_norm
from .ops.rotary import apply_rotary
from .ops.softmax import log_softmax, softmax



def mse_loss(input, target, reduction="mean"):
    """mean (or sum, or none) of (input - target)^2, composed from primitives."""
    squared = (input - target) ** 2
    if reduction == "none":
        return squared
    return squared.sum() if reduction == "sum" else squared.mean()


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """-[y log s(x) + (1 - y) log(1 - s(x))], s the sigmoid, composed from primitives in the
    stable form max(x, 0) - x y + log(1 + e^-|x|), which never overflows."""
    loss = relu(input) - input * target + (1.0 + (-input.abs()).exp()).log()
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


__all__ = [
    "linear", "embedding", "dropout", "relu", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax",
    "layer_norm", "rms_norm", "cross_entropy", "nll_loss", "scaled_dot_product_attention",
    "attention_with_weights", "apply_rotary", "mse_loss", "binary_cross_entropy_with_logits",
]
