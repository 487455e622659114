"""npformer.nn.functional: the same module of functions as npformer.functional, under PyTorch's
name, so that ``import npformer.nn.functional as F`` works as ``import torch.nn.functional as F``.

Every name resolves to npformer.functional's own object (``npformer.nn.functional.softmax is
npformer.functional.softmax``), including names added there later.
"""
from .. import functional as _functional
from ..functional import *  # noqa: F401,F403

__all__ = list(_functional.__all__)


def __getattr__(name):
    try:
        return getattr(_functional, name)
    except AttributeError:
        raise AttributeError(f"module 'npformer.nn.functional' has no attribute {name!r}") from None


def __dir__():
    return sorted(set(globals()) | set(dir(_functional)))
