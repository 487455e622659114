"""npformer.linalg: the part of torch.linalg that npformer has (vector norms)."""
from .ops.norm import vector_norm

__all__ = ["vector_norm"]
