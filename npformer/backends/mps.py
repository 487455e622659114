"""``torch.backends.mps``: Apple's GPU backend is not available to npformer."""


def is_available():
    return False


def is_built():
    return False
