"""PyTorch's documented usage of its attention and Transformer modules, as a user would write it.

Each builder makes a module the way the torch.nn documentation shows (sizes are arguments so
tests stay small); each runner calls it the way the documentation does. The tests give both
libraries the same inputs and the same weights.
"""
import torch.nn as nn
import torch.nn.functional as F


# ------------------------------------------------------------------ nn.MultiheadAttention
def multihead_attention(embed_dim, num_heads, batch_first=False, bias=True, kdim=None, vdim=None):
    return nn.MultiheadAttention(embed_dim, num_heads, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first)


def run_multihead_attention(multihead_attn, query, key, value, key_padding_mask=None, attn_mask=None,
                            average_attn_weights=True, is_causal=False):
    attn_output, attn_output_weights = multihead_attn(query, key, value, key_padding_mask=key_padding_mask,
                                                      need_weights=True, attn_mask=attn_mask,
                                                      average_attn_weights=average_attn_weights,
                                                      is_causal=is_causal)
    return attn_output, attn_output_weights


def run_self_attention_no_weights(multihead_attn, x):
    attn_output, weights = multihead_attn(x, x, x, need_weights=False)
    assert weights is None
    return attn_output


# ------------------------------------------------------------------ the encoder
def encoder(d_model, nhead, num_layers, dim_feedforward=2048, activation="relu", batch_first=False,
            norm_first=False, final_norm=False):
    encoder_layer = nn.TransformerEncoderLayer(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward,
                                               dropout=0.0, activation=activation, batch_first=batch_first,
                                               norm_first=norm_first)
    norm = nn.LayerNorm(d_model) if final_norm else None
    return nn.TransformerEncoder(encoder_layer, num_layers=num_layers, norm=norm, enable_nested_tensor=False)


def encoder_layer(d_model, nhead, dim_feedforward=2048, batch_first=False, norm_first=False, activation="relu"):
    return nn.TransformerEncoderLayer(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=0.0,
                                      activation=activation, batch_first=batch_first, norm_first=norm_first)


def run_encoder(transformer_encoder, src, mask=None, src_key_padding_mask=None, is_causal=None):
    return transformer_encoder(src, mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)


def run_encoder_layer(layer, src, src_mask=None, src_key_padding_mask=None):
    return layer(src, src_mask=src_mask, src_key_padding_mask=src_key_padding_mask)


def causal_mask(size):
    return nn.Transformer.generate_square_subsequent_mask(size)


# ------------------------------------------------------------------ the decoder
def decoder_layer(d_model, nhead, dim_feedforward=2048, batch_first=False, norm_first=False):
    return nn.TransformerDecoderLayer(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=0.0,
                                      batch_first=batch_first, norm_first=norm_first)


def decoder(d_model, nhead, num_layers, dim_feedforward=2048, batch_first=False):
    layer = nn.TransformerDecoderLayer(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=0.0,
                                       batch_first=batch_first)
    return nn.TransformerDecoder(layer, num_layers=num_layers)


def run_decoder(module, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
    return module(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                  tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask)


# ------------------------------------------------------------------ nn.Transformer
def transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward, batch_first=False):
    return nn.Transformer(d_model=d_model, nhead=nhead, num_encoder_layers=num_encoder_layers,
                          num_decoder_layers=num_decoder_layers, dim_feedforward=dim_feedforward, dropout=0.0,
                          batch_first=batch_first)


def run_transformer(transformer_model, src, tgt, src_key_padding_mask=None, tgt_key_padding_mask=None):
    tgt_len = tgt.size(1) if transformer_model.batch_first else tgt.size(0)
    tgt_mask = transformer_model.generate_square_subsequent_mask(tgt_len)
    return transformer_model(src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=src_key_padding_mask,
                             tgt_key_padding_mask=tgt_key_padding_mask,
                             memory_key_padding_mask=src_key_padding_mask)


# ------------------------------------------------------------------ F.scaled_dot_product_attention
def sdpa(query, key, value, attn_mask=None, is_causal=False, scale=None):
    return F.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask, dropout_p=0.0,
                                          is_causal=is_causal, scale=scale)
