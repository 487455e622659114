"""torch.nn.functional's API: ``import npformer.nn.functional as F`` (the same functions as
``npformer.functional``).

Names, signatures, defaults, shapes and mask semantics are PyTorch's, so a script runs under
either library with the import changed (docs/pytorch.md). The ones that matter for speed or
stability (softmax, cross_entropy, layer_norm, attention, ...) are one fused op of
``npformer.ops`` each; the rest (most losses, some activations) compose differentiable ops.
"""
from .ops.activation import gelu, silu
from .ops.attention import attention_with_weights, scaled_dot_product_attention
from .ops.dropout import dropout
from .ops.elementwise import relu, sigmoid, tanh
from .ops.elementwise_loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from .ops.embedding import embedding
from .ops.linear import linear
from .ops.loss import cross_entropy, nll_loss
from .ops.norm import cosine_similarity, normalize
from .ops.normalization import layer_norm, rms_norm
from .ops.padding import pad
from .ops.piecewise import elu, glu, hardtanh, leaky_relu, logsigmoid, mish, relu6
from .ops.rotary import apply_rotary
from .ops.scatter import one_hot
from .ops.softmax import log_softmax, softmax
from .ops.softplus import softplus

__all__ = [
    "linear", "embedding", "dropout", "relu", "gelu", "silu", "sigmoid", "tanh", "softmax", "log_softmax",
    "layer_norm", "rms_norm", "cross_entropy", "nll_loss", "scaled_dot_product_attention",
    "attention_with_weights", "apply_rotary", "mse_loss", "binary_cross_entropy_with_logits",
    "pad", "one_hot", "normalize", "cosine_similarity", "softplus",
    "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "binary_cross_entropy", "elu", "glu", "hardtanh",
    "leaky_relu", "logsigmoid", "mish", "relu6",
]
