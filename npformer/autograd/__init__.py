"""The engine: Tensor, Function, backward, grad mode, seeded randomness and gradcheck.

Nothing here imports an op; ``npformer.ops`` builds on this package.
"""
from .broadcast import unbroadcast
from .dtypes import get_default_dtype, set_default_dtype
from .engine import backward, grad
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradcheck_parameters, gradcheck_report
from .random import Generator, default_generator, manual_seed
from .tensor import Tensor, tensor

__all__ = [
    "Tensor", "tensor", "Function", "backward", "grad", "no_grad", "enable_grad",
    "set_grad_enabled", "is_grad_enabled", "unbroadcast", "gradcheck", "gradcheck_report", "gradcheck_parameters",
    "GradcheckError", "Generator", "default_generator", "manual_seed", "get_default_dtype",
    "set_default_dtype",
]
