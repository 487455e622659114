"""``torch.cuda`` as it answers on a machine without a GPU: npformer runs on the CPU with NumPy.

Programs that pick their device with ``torch.cuda.is_available()`` and seed with
``torch.cuda.manual_seed_all(seed)`` run unchanged: no GPU is reported, and seeding a GPU
that is not there does nothing (as in torch). Anything that needs a GPU is refused.
"""
from .autograd.device import NO_ACCELERATOR


def is_available():
    """False: npformer has no GPU backend."""
    return False


def device_count():
    """0: no GPU is visible to npformer."""
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Seed the current GPU's generator: there is none, so nothing happens (as in torch)."""
    int(seed)


def manual_seed_all(seed):
    """Seed every GPU's generator: there are none, so nothing happens (as in torch)."""
    int(seed)


def empty_cache():
    """Release cached GPU memory: there is none, so nothing happens (as in torch)."""


def synchronize(device=None):
    raise RuntimeError(f"cuda.synchronize: {NO_ACCELERATOR}")


def current_device():
    raise RuntimeError(f"cuda.current_device: {NO_ACCELERATOR}")
