"""npformer.nn.utils, as torch.nn.utils: gradient clipping and flattening parameters to a vector.

    from npformer.nn.utils import clip_grad_norm_
    total_norm = clip_grad_norm_(model.parameters(), max_norm=1.0)   # a 0-d Tensor

This package sits on the ``nn`` floor: it uses the engine and the ops, never models or optim.
"""
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters"]
