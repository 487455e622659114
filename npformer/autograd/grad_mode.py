"""Grad mode: whether operations are recorded for backward. Thread-local, as in PyTorch."""
import functools
import threading


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled():
    return _mode.enabled


class set_grad_enabled:
    """Turns recording on or off: as a context manager or decorator it restores the previous
    mode on exit. As in torch, calling ``set_grad_enabled(False)`` on its own also switches the
    mode at once (``torch.set_grad_enabled(False)`` at the top of an inference script)."""

    def __init__(self, mode):
        if not isinstance(mode, (bool, int)):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
        self.mode = bool(mode)
        self._previous = []
        self._before_call = None
        if type(self) is set_grad_enabled:       # no_grad() etc. switch only on entry
            self._before_call = _mode.enabled
            _mode.enabled = self.mode

    def __enter__(self):
        if self._before_call is not None:        # the mode was switched by the call itself
            self._previous.append(self._before_call)
            self._before_call = None
        else:
            self._previous.append(_mode.enabled)
        _mode.enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        _mode.enabled = self._previous.pop()
        return False

    def __call__(self, func):
        if self._before_call is not None:        # used as a decorator: undo the call's switch
            _mode.enabled = self._before_call
            self._before_call = None
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _Switch(mode):
                return func(*args, **kwargs)
        return wrapper


class _Switch:
    """Set the mode for a ``with`` block and restore it after (the decorators' worker)."""

    __slots__ = ("mode", "previous")

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.previous = _mode.enabled
        _mode.enabled = self.mode

    def __exit__(self, *exc_info):
        _mode.enabled = self.previous
        return False


class _BareDecorator:
    """Lets a no-argument mode also decorate without parentheses, as torch allows:
    ``@no_grad`` as well as ``@no_grad()``."""

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is None:
            return self
        if not callable(func):
            raise TypeError(f"{cls.__name__}() takes no arguments (or a function to decorate), got "
                            f"{type(func).__name__}")
        self.__init__()
        return self(func)


class no_grad(_BareDecorator, set_grad_enabled):
    """``with no_grad():`` runs ops without building a graph (inference, parameter updates)."""

    def __init__(self, func=None):
        set_grad_enabled.__init__(self, False)


class enable_grad(_BareDecorator, set_grad_enabled):
    """``with enable_grad():`` turns recording back on inside a ``no_grad`` region."""

    def __init__(self, func=None):
        set_grad_enabled.__init__(self, True)


class inference_mode(set_grad_enabled):
    """``torch.inference_mode(mode=True)``: here the same as ``no_grad()`` (mode=False: as
    ``enable_grad()``). torch additionally marks tensors made inside as "inference tensors" that
    autograd later refuses; npformer has no such tensors. Works bare (``@inference_mode``) too."""

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode) and not isinstance(mode, bool):
            self.__init__(True)
            return self(mode)
        return self

    def __init__(self, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            mode = True
        super().__init__(not mode)
        self.inference = bool(mode)

    def __enter__(self):
        _inference.stack.append(self.inference)
        return super().__enter__()

    def __exit__(self, *exc_info):
        _inference.stack.pop()
        return super().__exit__(*exc_info)

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(self.inference):
                return func(*args, **kwargs)
        return wrapper


class _InferenceStack(threading.local):
    def __init__(self):
        self.stack = []


_inference = _InferenceStack()


def is_inference_mode_enabled():
    """True inside ``inference_mode()`` (the innermost one, if nested)."""
    return bool(_inference.stack and _inference.stack[-1])
