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

__all__ = [
    "linear", "embedding", "dropout", "relu", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax",
    "layer_norm", "rms_norm", "cross_entropy", "nll_loss", "scaled_dot_product_attention",
    "attention_with_weights", "apply_rotary",
]
