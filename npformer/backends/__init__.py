"""``torch.backends`` as seen by a program on npformer: no GPU library (cuDNN) and no Apple GPU
(MPS) is available; cudnn's switches exist so seed-setting code can assign them."""
from . import cudnn, mps

__all__ = ["cudnn", "mps"]
