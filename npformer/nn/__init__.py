"""npformer.nn: Module, Parameter, layers, attention, positional encodings and Transformer blocks."""
# ruff: noqa: F401 -- the imports below are npformer.nn's public names (torch.nn's, where torch has them)
from . import functional, init, utils
from .attention import AttentionHeads, KVCache
from .layers import (
                     ELU,
                     GELU,
                     GLU,
                     Dropout,
                     Embedding,
                     Flatten,
                     Hardtanh,
                     Identity,
                     LayerNorm,
                     LeakyReLU,
                     Linear,
                     LogSigmoid,
                     LogSoftmax,
                     Mish,
                     ReLU,
                     ReLU6,
                     RMSNorm,
                     Sigmoid,
                     SiLU,
                     Softmax,
                     Softplus,
                     Tanh,
                     Unflatten,
)
from .loss import (
                     BCELoss,
                     BCEWithLogitsLoss,
                     CrossEntropyLoss,
                     HuberLoss,
                     KLDivLoss,
                     L1Loss,
                     MSELoss,
                     NLLLoss,
                     SmoothL1Loss,
)
from .module import Module, ModuleDict, ModuleList, Parameter, ParameterDict, ParameterList, Sequential
from .multihead_attention import MultiheadAttention
from .positional import (
                     ALiBi,
                     LearnedPositionalEmbedding,
                     RotaryEmbedding,
                     SinusoidalPositionalEmbedding,
                     T5RelativePositionBias,
)
from .pytorch_transformer import (
                     Transformer,
                     TransformerDecoder,
                     TransformerDecoderLayer,
                     TransformerEncoder,
                     TransformerEncoderLayer,
)
from .shapes import shapes_only
from .transformer import (
                     BlockCache,
                     DecoderStack,
                     EncoderStack,
                     FeedForward,
                     StackCache,
                     TransformerBlock,
                     TransformerStack,
)
