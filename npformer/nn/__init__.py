"""npformer.nn: Module, Parameter, layers, attention, positional encodings and Transformer blocks."""
from . import init
from .attention import KVCache, MultiHeadAttention
from .layers import GELU, Dropout, Embedding, Identity, LayerNorm, Linear, ReLU, RMSNorm, SiLU, Tanh
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .positional import (ALiBi, LearnedPositionalEmbedding, RotaryEmbedding, SinusoidalPositionalEmbedding,
                         T5RelativePositionBias)
from .shapes import shapes_only
from .transformer import (BlockCache, FeedForward, TransformerBlock, TransformerDecoder, TransformerEncoder,
                          TransformerStack)
