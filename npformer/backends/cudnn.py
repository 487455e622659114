"""``torch.backends.cudnn``: cuDNN is a GPU library, so it is never available here. The flags
programs set for reproducibility (``deterministic = True``, ``benchmark = False``) can be
assigned and read; npformer's NumPy computations are deterministic whatever they say."""
enabled = True
deterministic = False
benchmark = False
allow_tf32 = True


def is_available():
    return False


def version():
    """None: no cuDNN is loaded (as torch answers without one)."""
    return None
