"""Grad mode: whether operations are recorded for backward. Thread-local, as in PyTorch."""
import functools
import threading


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled():
    return _mode.enabled


class set_grad_enabled:
    """Context manager (or decorator) that turns recording on or off, restoring it on exit."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._previous = []

    def __enter__(self):
        self._previous.append(_mode.enabled)
        _mode.enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        _mode.enabled = self._previous.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(self.mode):
                return func(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """``with no_grad():`` runs ops without building a graph (inference, parameter updates)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """``with enable_grad():`` turns recording back on inside a ``no_grad`` region."""

    def __init__(self):
        super().__init__(True)
