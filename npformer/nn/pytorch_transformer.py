"""PyTorch's Transformer modules: TransformerEncoderLayer, TransformerEncoder,
TransformerDecoderLayer, TransformerDecoder and Transformer, with PyTorch's constructors,
forward signatures, return values, state-dict keys and initialisation.

npformer's own blocks (TransformerBlock, EncoderStack, DecoderStack in nn/transformer.py) are
what the model families use; these exist so that PyTorch code runs unchanged. A layer is

    post-norm (norm_first=False):  x = norm1(x + sa(x));        x = norm2(x + ff(x))
    pre-norm  (norm_first=True):   x = x + sa(norm1(x));        x = x + ff(norm2(x))
    sa(x) = dropout1(self_attn(x, x, x))       ff(x) = dropout2(linear2(dropout(act(linear1(x)))))

and a decoder layer puts mha(x) = dropout2(multihead_attn(x, memory, memory)) (with norm2)
between the two, its feed-forward block then using norm3 and dropout3. Masks follow
MultiheadAttention's conventions (boolean True = not allowed; float = added). Layouts are
(S, N, E) by default, (N, S, E) with ``batch_first``, (S, E) unbatched.

The ``*is_causal`` arguments are PyTorch's hints that the given mask is the causal one; the
stacks detect a causal mask themselves when the hint is None.

TransformerEncoder, in eval mode with no gradient needed, mirrors the numbers of PyTorch's
nested-tensor path: when its conditions hold (see ``_pads_with_zeros``), the outputs at padded
positions are zeros before the final norm, as PyTorch's are.
"""
import copy
import warnings

import numpy as np

from .. import functional as F
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from . import init
from .layers import GELU, Dropout, LayerNorm, Linear, ReLU
from .module import Module, ModuleList
from .multihead_attention import MultiheadAttention, check_device, factory_dtype


def _activation(activation):
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return activation


def _relu_or_gelu(activation):
    """PyTorch's activation_relu_or_gelu: 1 for relu, 2 for gelu, 0 for anything else."""
    if activation is F.relu or isinstance(activation, ReLU):
        return 1
    if activation is F.gelu or isinstance(activation, GELU):
        return 2
    return 0


def _sequence_length(x, batch_first):
    return x.shape[0] if x.ndim == 2 else x.shape[1 if batch_first else 0]


def _is_causal_mask(mask, is_causal, size):
    """The hint if given; else whether ``mask`` is exactly the (size, size) causal mask, boolean
    (True above the diagonal) or float (-inf above the diagonal, 0 elsewhere)."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None:
        return False
    data = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if data.shape != (size, size):
        return False
    above = np.triu(np.ones((size, size), dtype=bool), 1)
    if data.dtype == np.bool_:
        return bool(np.array_equal(data, above))
    return bool(np.array_equal(data, np.where(above, -np.inf, 0.0)))


class TransformerEncoderLayer(Module):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device)
        dtype = factory_dtype(dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        activation = _activation(activation)
        self.activation_relu_or_gelu = _relu_or_gelu(activation)
        self.activation = activation

    def extra_repr(self):
        return f"norm_first={self.norm_first}"

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device)
        dtype = factory_dtype(dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def extra_repr(self):
        return f"norm_first={self.norm_first}"

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal=False):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


def _clones(module, n):
    """n independent deep copies: every layer starts with the same values, as in PyTorch."""
    return ModuleList(copy.deepcopy(module) for _ in range(n))


class TransformerEncoder(Module):
    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why_not = _why_not_nested(encoder_layer)
        if enable_nested_tensor and why_not:
            warnings.warn(f"enable_nested_tensor is True, but self.use_nested_tensor is False because {why_not}",
                          stacklevel=2)
            self.use_nested_tensor = False

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        first = self.layers[0]
        batch_first = first.self_attn.batch_first
        is_causal = _is_causal_mask(mask, is_causal, _sequence_length(src, batch_first))
        kept = self._pads_with_zeros(src, mask, src_key_padding_mask)
        if kept is not None:
            src_key_padding_mask = Tensor._make(~kept, False, None, 0)
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        if kept is not None:
            output = output * Tensor._make(kept[:, :, None].astype(output.dtype), False, None, 0)
        return output if self.norm is None else self.norm(output)

    def _pads_with_zeros(self, src, mask, src_key_padding_mask):
        """The positions kept, (N, S), when PyTorch would run its nested-tensor path (which
        leaves zeros at padded positions), else None. Its conditions: built with nested tensors
        enabled (see _why_not_nested), eval mode, batched input, a padding mask and no attn
        mask, no gradient needed, and, with ``mask_check``, each row's kept positions a prefix
        (left-aligned). Without ``mask_check`` PyTorch assumes that they are: row i is its first
        n_i positions, n_i the number kept, whichever positions the mask marks."""
        first = self.layers[0]
        if (not self.use_nested_tensor or first.training or src.ndim != 3 or src_key_padding_mask is None
                or mask is not None):
            return None
        tensors = [src] + [p for p in (first.self_attn.in_proj_weight, first.self_attn.in_proj_bias,
                                       first.self_attn.out_proj.weight, first.self_attn.out_proj.bias,
                                       first.norm1.weight, first.norm1.bias, first.norm2.weight, first.norm2.bias,
                                       first.linear1.weight, first.linear1.bias, first.linear2.weight,
                                       first.linear2.bias) if p is not None]
        if is_grad_enabled() and any(t.requires_grad for t in tensors):
            return None
        padding = src_key_padding_mask._data if isinstance(src_key_padding_mask, Tensor) else np.asarray(
            src_key_padding_mask)
        kept = ~padding if padding.dtype == np.bool_ else padding == 0
        if kept.shape != src.shape[:2]:
            return None                                   # the layers will report the shape
        prefix = np.arange(kept.shape[1])[None, :] < kept.sum(axis=1)[:, None]        # (N, S)
        if self.mask_check and not np.array_equal(kept, prefix):
            return None                                   # not left-aligned: the masked path
        return prefix


def _why_not_nested(layer):
    """Why PyTorch's TransformerEncoder would not use nested tensors with this layer ('' if it would)."""
    if not isinstance(layer, TransformerEncoderLayer):
        return "encoder_layer was not TransformerEncoderLayer"
    if layer.norm_first:
        return "encoder_layer.norm_first was True"
    if not layer.self_attn.batch_first:
        return "encoder_layer.self_attn.batch_first was not True(use batch_first for better inference performance)"
    if not layer.self_attn._qkv_same_embed_dim:
        return "encoder_layer.self_attn._qkv_same_embed_dim was not True"
    if layer.self_attn.in_proj_bias is None:
        return "encoder_layer.self_attn was passed bias=False"
    if not layer.activation_relu_or_gelu:
        return "encoder_layer.activation_relu_or_gelu was not True"
    if layer.norm1.eps != layer.norm2.eps:
        return "encoder_layer.norm1.eps was not equal to encoder_layer.norm2.eps"
    if layer.self_attn.num_heads % 2 == 1:
        return "encoder_layer.self_attn.num_heads is odd"
    return ""


class TransformerDecoder(Module):
    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        if not isinstance(decoder_layer, Module):
            raise TypeError(f"decoder_layer must be a Module, got {type(decoder_layer).__name__}")
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        batch_first = self.layers[0].self_attn.batch_first
        tgt_is_causal = _is_causal_mask(tgt_mask, tgt_is_causal, _sequence_length(tgt, batch_first))
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation=F.relu, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device)
        dtype = factory_dtype(dtype)
        layer_options = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                         norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*layer_options, dtype=dtype), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*layer_options, dtype=dtype), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        batched = src.ndim == 3
        batch_dim = 0 if self.batch_first else 1
        if batched and (tgt.ndim != 3 or src.shape[batch_dim] != tgt.shape[batch_dim]):
            raise RuntimeError(f"the batch number of src and tgt must be equal (shapes {src.shape} and {tgt.shape}, "
                               f"batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model={self.d_model} "
                               f"(shapes {src.shape} and {tgt.shape})")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The (sz, sz) causal float mask: -inf above the diagonal (future keys), 0 elsewhere."""
        check_device(device)
        return Tensor(np.triu(np.full((sz, sz), -np.inf, dtype=factory_dtype(dtype)), 1))

    def _reset_parameters(self):
        """Xavier-uniform for every parameter of two or more dims, as PyTorch's Transformer."""
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
