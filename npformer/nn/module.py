"""Module and Parameter, with torch.nn.Module's semantics.

Assigning a Parameter, a Module or None-for-one-of-those to an attribute registers it under
that name; ``state_dict`` flattens the tree into dotted names ("blocks.0.attn.q_proj.weight").
Values live in the instance ``__dict__`` like any attribute, so reading ``self.weight`` in a
forward pass costs nothing extra; three ordered dicts (``_parameters``, ``_buffers``,
``_modules``) remember which names are what, as in PyTorch, and every method here keeps the
two in step. ``__getattr__`` only runs when a name is in neither: it looks in the registries
(code that writes ``module._parameters[name]`` directly, as some PyTorch utilities do), then
raises PyTorch's AttributeError.

What follows PyTorch exactly (checked in tests/crosscheck/test_module_vs_torch.py): names and
order of ``named_parameters``/``named_buffers``/``named_modules``/``state_dict``, tied
parameters listed once but saved under every name, the errors of assigning the wrong kind of
value to a registered name, ``load_state_dict``'s checks and its ``(missing_keys,
unexpected_keys)`` result, ``to``/``float``/``double``/``half``/``type`` casting floating
tensors (gradients too) in place, ``repr``, ``deepcopy``. One deliberate difference:
``load_state_dict`` checks everything before it writes anything, so a failed load leaves the
module as it was (PyTorch copies the tensors that fit, then raises).
"""
import operator
from collections import OrderedDict, abc, namedtuple

import numpy as np

from ..autograd.device import check_device, is_device
from ..autograd.dtypes import as_dtype, get_default_dtype
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..autograd.version import bump, counter_of


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: compares equal to a ``(missing, unexpected)`` tuple."""
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


IncompatibleKeys = _IncompatibleKeys


def _typename(value):
    """The type as PyTorch's error messages print it ("numpy.ndarray", "npformer.Tensor")."""
    if isinstance(value, Tensor):
        return "npformer." + type(value).__name__
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable when assigned as an attribute.

    ``Parameter(t)`` shares ``t``'s memory (and its version counter), as in PyTorch; it is a
    leaf even when ``t`` is not. ``Parameter()`` is an empty float tensor. An ndarray is
    wrapped without copying, so init functions can fill it in place.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            array = np.empty((0,), dtype=get_default_dtype())
        elif isinstance(data, Tensor):
            array = data._data
        elif isinstance(data, np.ndarray):
            array = data
        else:
            raise TypeError(f"Parameter(data): data must be a Tensor (or an ndarray), not {_typename(data)}")
        super().__init__(0.0)
        self._data = array
        if isinstance(data, Tensor):
            self._version_counter = counter_of(data)        # writes through either are seen by both
        self.requires_grad = requires_grad

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        """A new Parameter with copied values and the same requires_grad; the gradient is not
        copied (as PyTorch's Parameter.__deepcopy__)."""
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self._data.copy(), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self._data, self._requires_grad))


def _rebuild_parameter(array, requires_grad):
    return Parameter(array, requires_grad)


def _addindent(text, spaces):
    """Indent every line but the first by ``spaces`` (blank lines stay empty), as torch's repr."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line if line.strip() else "" for line in lines[1:])


def _parse_to(args, kwargs):
    """(dtype or None) from Module.to's forms: to(device=None, dtype=None, non_blocking=False),
    to(dtype, non_blocking=False), to(tensor, non_blocking=False); a device is checked."""
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "memory_format", "copy"}
    if unknown:
        raise TypeError(f"to() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    if len(args) > 3:
        raise TypeError(f"to() takes at most 3 positional arguments ({len(args)} given)")
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    args = list(args)
    if args and isinstance(args[0], Tensor):
        tensor = args.pop(0)
        dtype = tensor._data.dtype
    elif args and (is_device(args[0]) or not _is_dtype(args[0])):
        device = args.pop(0)
        if args and _is_dtype(args[0]):
            dtype = args.pop(0)
    elif args:
        dtype = args.pop(0)
    if args and not isinstance(args[0], bool):
        raise TypeError(f"to(): expected non_blocking (a bool) after the device/dtype, got {_typename(args[0])}")
    check_device(device, "Module.to")
    if dtype is not None:
        dtype = as_dtype(dtype)
        if dtype.kind not in "fc":
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                            f"dtype={dtype}")
    return dtype


def _is_dtype(value):
    if isinstance(value, (np.dtype, type)) and not isinstance(value, str):
        try:
            np.dtype(value)
            return True
        except TypeError:
            return False
    return False


class Module:
    """The base class of every layer and model, as torch.nn.Module."""

    _version = 1            # saved in state_dict metadata, as PyTorch's
    training: bool

    def __init__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword argument "
                            f"'{next(iter(kwargs))}'")
        if args:
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument but {len(args) + 1} were "
                            f"given")
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _get_name(self):
        return type(self).__name__

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        state = self.__dict__
        params = state.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError(f"cannot assign parameters before Module.__init__() call "
                                     f"(call super().__init__() first in {type(self).__name__}.__init__)")
            self._forget(name, keep=self._parameters)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"(nn.Parameter or None expected)")
            self.register_parameter(name, None)
        else:
            modules = state.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError(f"cannot assign module before Module.__init__() call "
                                         f"(call super().__init__() first in {type(self).__name__}.__init__)")
                self._forget(name, keep=modules)
                modules[name] = value
            elif modules is not None and name in modules:
                if value is not None:
                    raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                    f"(nn.Module or None expected)")
                modules[name] = None
            else:
                buffers = state.get("_buffers")
                if buffers is not None and name in buffers:
                    if value is not None and not isinstance(value, Tensor):
                        raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                        f"(Tensor or None expected)")
                    buffers[name] = value
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only reached when ``name`` is not in __dict__ nor on the class.
        state = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            values = state.get(registry)
            if values is not None and name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        state = self.__dict__
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)
            return
        state.pop(name, None)

    def __dir__(self):
        names = set(dir(type(self))) | set(self.__dict__) | set(self._parameters) | set(self._modules) \
            | set(self._buffers)
        return sorted(name for name in names if not name[:1].isdigit())

    def _forget(self, name, keep):
        """Drop ``name`` from the other registries and the instance dict, before it is registered
        in ``keep`` (where it keeps its place if it was there: re-assigning does not reorder)."""
        for registry in (self._parameters, self._modules, self._buffers):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers_set.discard(name)
        self.__dict__.pop(name, None)

    def _check_name(self, name, kind, registry):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError(f"{kind} name can't contain \".\", got: {name}")
        if name == "":
            raise KeyError(f"{kind} name can't be empty string \"\"")
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name, param):
        """Add a parameter (an nn.Parameter, or None to declare an absent one) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            f"(nn.Parameter or None required)")
        if param is not None and param._node is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             f"created explicitly. To express '{name}' as a function of another Tensor, compute "
                             f"the value in the forward() method.")
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that belongs to the module's state but is not trained (e.g. a fixed table).

        Persistent buffers are saved in ``state_dict``; non-persistent ones are not. A buffer
        set to None is skipped by both.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            f"(Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        """Add a child module (or None) under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if "_modules" not in self.__dict__:
            raise AttributeError("cannot assign module before Module.__init__() call")
        self._check_name(name, "module", self._modules)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    def register_module(self, name, module):
        self.add_module(name, module)

    def _set_modules(self, items):
        """Replace every child by ``items`` ((name, module) pairs), keeping __dict__ in step
        (the containers renumber their children with it)."""
        for name in list(self._modules):
            self.__dict__.pop(name, None)
        self._modules.clear()
        for name, module in items:
            self._modules[name] = module
            object.__setattr__(self, name, module)

    def get_submodule(self, target):
        """The module at the dotted path ``target`` ("" is self)."""
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def set_submodule(self, target, module, strict=False):
        """Put ``module`` at the dotted path ``target`` (its parent must exist)."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_parameter(self, target):
        """The Parameter at the dotted path ``target``."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        """The buffer at the dotted path ``target``."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(module, name)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for self and every descendant, depth first; a module reachable
        by two names comes once unless ``remove_duplicate=False``."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self, remove_duplicate=True):
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs; a parameter shared by two modules comes once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def num_parameters(self):
        """npformer's own: how many numbers the parameters hold (tied ones counted once)."""
        return sum(p._data.size for p in self.parameters())

    def apply(self, fn):
        """Call ``fn`` on every sub-module, children first, then on self (as PyTorch)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (``set_to_none``), or zero it in place."""
        for param in self.parameters():
            if param._grad is None:
                continue
            if set_to_none:
                param._grad = None
            elif param._grad._data.flags.writeable:
                param._grad._data[...] = 0
            else:
                param._grad._data = np.zeros_like(param._grad._data)

    # ------------------------------------------------------------------ casting and devices
    def _cast(self, dtype_of):
        """Give every parameter and buffer (and gradient) the dtype ``dtype_of(array)`` returns.

        Parameters keep their identity (their array is replaced, as PyTorch sets ``param.data``),
        so optimizers and tied weights still hold them; buffers are replaced by new tensors.
        """
        for module in self.modules():
            for param in module._parameters.values():
                if param is None:
                    continue
                dtype = dtype_of(param._data)
                if dtype != param._data.dtype:
                    param._data = param._data.astype(dtype)
                    if param._grad is not None:
                        param._grad = Tensor._make(param._grad._data.astype(dtype), False, None, 0)
            for name, buffer in list(module._buffers.items()):
                if buffer is None:
                    continue
                dtype = dtype_of(buffer._data)
                if dtype != buffer._data.dtype:
                    new = Tensor._make(buffer._data.astype(dtype), buffer._requires_grad and dtype.kind == "f",
                                       None, 0)
                    module._buffers[name] = new
                    object.__setattr__(module, name, new)
        return self

    def to(self, *args, **kwargs):
        """Cast the floating parameters and buffers: ``to(dtype)``, ``to(device, dtype)``,
        ``to(device=..., dtype=...)``, ``to(tensor)``. The only device is the CPU."""
        dtype = _parse_to(args, kwargs)
        if dtype is None:
            return self
        return self._cast(lambda array: dtype if array.dtype.kind in "fc" else array.dtype)

    def cpu(self):
        return self

    def cuda(self, device=None):
        check_device("cuda", "Module.cuda")          # always refused: there is no GPU here
        return self

    def float(self):
        return self._cast(lambda array: np.dtype(np.float32) if array.dtype.kind == "f" else array.dtype)

    def double(self):
        return self._cast(lambda array: np.dtype(np.float64) if array.dtype.kind == "f" else array.dtype)

    def half(self):
        return self._cast(lambda array: np.dtype(np.float16) if array.dtype.kind == "f" else array.dtype)

    def bfloat16(self):
        raise TypeError("bfloat16 is not available: NumPy has no bfloat16 dtype; use half() or float()")

    def type(self, dst_type):
        """Cast every parameter and buffer, integer ones too, to ``dst_type``."""
        dtype = as_dtype(dst_type)
        return self._cast(lambda array: dtype)

    # ------------------------------------------------------------------ state
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        """This module's own parameters and persistent buffers (not its children's)."""
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buffer if keep_vars else buffer.detach()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """Dotted name -> Tensor for every parameter and persistent buffer.

        The tensors are detached and share memory with the module (``keep_vars=True`` gives
        the Parameters themselves). A parameter or module shared by two places appears under
        both names, as in PyTorch. ``destination``, ``prefix`` and ``keep_vars`` may also be
        given positionally, in that order (deprecated in PyTorch).
        """
        if args:
            destination = args[0] if destination is None else destination
            prefix = args[1] if len(args) > 1 and prefix == "" else prefix
            keep_vars = args[2] if len(args) > 2 and keep_vars is False else keep_vars
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        metadata = getattr(destination, "_metadata", None)
        if metadata is not None:
            metadata[prefix[:-1]] = {"version": self._version}
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _state_entries(self, prefix=""):
        """(key, owning module, local name, tensor, is parameter) for every entry state_dict has."""
        for name, param in self._parameters.items():
            if param is not None:
                yield prefix + name, self, name, param, True
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                yield prefix + name, self, name, buffer, False
        for name, child in self._modules.items():
            if child is not None:
                yield from child._state_entries(prefix + name + ".")

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy the tensors of ``state_dict`` (Tensors or ndarrays) into the parameters and
        buffers, each cast to the dtype it has; returns ``(missing_keys, unexpected_keys)``.

        With ``strict`` a missing or unexpected key is an error; shapes must match either way.
        Every problem is reported in one RuntimeError, before anything is written. With
        ``assign=True`` the module takes the given tensors themselves (their dtype, their
        memory), keeping each parameter's requires_grad.
        """
        if not isinstance(state_dict, abc.Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        entries = list(self._state_entries())
        own = {entry[0] for entry in entries}
        missing = [entry[0] for entry in entries if entry[0] not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        errors, values = [], {}
        for key, module, name, tensor, is_param in entries:
            if key not in state_dict:
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                array = value._data
            elif isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array__"):
                array = np.asarray(value)
            else:
                errors.append(f'While copying the parameter named "{key}", expected a Tensor or an ndarray '
                              f"from checkpoint but received {type(value)}")
                continue
            if tensor._data.ndim == 0 and array.shape == (1,):
                array = array.reshape(())               # PyTorch 0.3's one-element tensors
            if array.shape != tensor._data.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} from "
                              f"checkpoint, the shape in current model is {tuple(tensor._data.shape)}.")
                continue
            if assign and is_param and tensor._requires_grad and array.dtype.kind not in "fc":
                errors.append(f"{key}: assign=True would give the parameter dtype {array.dtype}, which cannot "
                              f"require gradients")
                continue
            values[key] = (value, array)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected)
                              + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for key, module, name, tensor, is_param in entries:
                if key not in values:
                    continue
                value, array = values[key]
                if assign:
                    source = value if isinstance(value, Tensor) else Tensor._make(array, False, None, 0)
                    if is_param:
                        source = source if isinstance(source, Parameter) else Parameter(source)
                        source.requires_grad = tensor._requires_grad
                        module._parameters[name] = source
                    else:
                        module._buffers[name] = source
                    object.__setattr__(module, name, source)
                elif tensor._data.flags.writeable:
                    np.copyto(tensor._data, array, casting="unsafe")    # in place: ties stay tied
                    bump(tensor)
                else:                                                  # a shapes_only() placeholder
                    tensor._data = np.array(array, dtype=tensor._data.dtype)
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        """One line (or several) describing the module's settings, shown by ``repr``."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(child), 2) for name, child in self._modules.items()]
        text = self._get_name() + "("
        if extra_lines or child_lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(extra_lines + child_lines) + "\n"
        return text + ")"


def state_arrays(module, prefix=""):
    """npformer's own, for code that wants NumPy: ``module.state_dict()`` with each value the
    ndarray itself (shared, not copied) rather than a Tensor."""
    return OrderedDict((key, value._data) for key, value in module.state_dict(prefix=prefix).items())


# ---------------------------------------------------------------------------- containers
def _index(container, idx):
    """A valid non-negative position from an int (negative counts from the end)."""
    idx = operator.index(idx)
    size = len(container)
    if not -size <= idx < size:
        raise IndexError(f"index {idx} is out of range")
    return idx % size


class ModuleList(Module):
    """A list of modules, registered under "0", "1", ... (so their parameters are found)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(self, idx))]

    def __setitem__(self, idx, module):
        setattr(self, str(_index(self, idx)), module)

    def __delitem__(self, idx):
        items = list(self._modules.values())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[_index(self, idx)]
        self._set_modules((str(i), module) for i, module in enumerate(items))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        combined = ModuleList()
        for module in list(self) + list(other):
            combined.append(module)
        return combined

    def __dir__(self):
        return [name for name in super().__dir__() if not name.isdigit()]

    def insert(self, index, module):
        """Insert ``module`` before position ``index`` (as list.insert)."""
        if not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        items = list(self._modules.values())
        items.insert(index, module)
        self._set_modules((str(i), m) for i, m in enumerate(items))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def extend(self, modules):
        if not isinstance(modules, abc.Iterable):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def __repr__(self):
        """Runs of identical children print once, as "(0-11): 12 x Block(...)" (as PyTorch)."""
        reprs = [repr(module) for module in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []                                            # [first index, last index, text]
        for i, text in enumerate(reprs):
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        lines = []
        for first, last, text in runs:
            line = f"({first}): {text}" if first == last else f"({first}-{last}): {last - first + 1} x {text}"
            lines.append(_addindent(line, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another; ``Sequential(OrderedDict(name=module, ...))`` names them."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(args):
                self.add_module(str(index), module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(self, idx)]

    def __setitem__(self, idx, module):
        setattr(self, list(self._modules)[_index(self, idx)], module)

    def __delitem__(self, idx):
        names = list(self._modules)
        for name in (names[idx] if isinstance(idx, slice) else [names[_index(self, idx)]]):
            delattr(self, name)
        self._set_modules((str(i), module) for i, module in enumerate(list(self._modules.values())))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __dir__(self):
        return [name for name in super().__dir__() if not name.isdigit()]

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        combined = Sequential()
        for module in list(self) + list(other):
            combined.append(module)
        return combined

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        for module in list(other):
            self.append(module)
        return self

    def __mul__(self, times):
        if not isinstance(times, int) or isinstance(times, bool):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and {type(times)}")
        if times <= 0:
            raise ValueError(f"Non-positive multiplication factor {times} for {type(self)}")
        combined = Sequential()
        for _ in range(times):
            for module in self:
                combined.append(module)
        return combined

    __rmul__ = __mul__

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index, module):
        if not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        size = len(self)
        if not -size <= index <= size:
            raise IndexError(f"Index out of range: {index}")
        items = list(self._modules.values())
        items.insert(index + size if index < 0 else index, module)
        self._set_modules((str(i), m) for i, m in enumerate(items))
        return self

    def extend(self, sequential):
        for module in sequential:
            self.append(module)
        return self

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleDict(Module):
    """Modules by name, in insertion order."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        self._set_modules(())

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def update(self, modules):
        if not isinstance(modules, abc.Iterable):
            raise TypeError(f"ModuleDict.update should be called with an iterable of key/value pairs, but got "
                            f"{type(modules).__name__}")
        if isinstance(modules, (abc.Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        for j, pair in enumerate(modules):
            if not isinstance(pair, abc.Iterable):
                raise TypeError(f"ModuleDict update sequence element #{j} should be Iterable; is "
                                f"{type(pair).__name__}")
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length {len(pair)}; 2 is required")
            self[pair[0]] = pair[1]


def _container_line(key, value):
    if isinstance(value, Tensor):
        size = "x".join(str(s) for s in value.shape)
        kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
        return f"  ({key}): {kind} containing: [{value.dtype} of size {size}]"
    return f"  ({key}): Object of type: {type(value).__name__}"


class ParameterList(Module):
    """A list of parameters, registered under "0", "1", ...; a Tensor put in becomes a Parameter."""

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            out = type(self)()
            for i in range(*idx.indices(len(self))):
                out.append(self[i])
            return out
        return getattr(self, str(_index(self, idx)))

    def __setitem__(self, idx, param):
        if isinstance(param, Tensor) and not isinstance(param, Parameter):
            param = Parameter(param)
        setattr(self, str(_index(self, idx)), param)

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values):
        return self.extend(values)

    def __dir__(self):
        return [name for name in super().__dir__() if not name.isdigit()]

    def append(self, value):
        index = len(self)
        self._size += 1
        self[index] = value
        return self

    def extend(self, values):
        if not isinstance(values, abc.Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return "\n".join(_container_line(i, value) for i, value in enumerate(self))

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """Parameters by (string) name, in insertion order; a Tensor put in becomes a Parameter."""

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _attr(key):
        if not isinstance(key, str):
            raise TypeError(f"Index given to ParameterDict cannot be used as a key as it is not a string "
                            f"(type is '{type(key).__name__}')")
        return key

    def __getitem__(self, key):
        return getattr(self, self._attr(key))

    def __setitem__(self, key, value):
        attr = self._attr(key)
        self._keys[key] = None
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        setattr(self, attr, value)

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, self._attr(key))

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(list(self._keys))

    def __contains__(self, key):
        return key in self._keys

    def copy(self):
        return ParameterDict(OrderedDict((key, self[key]) for key in self._keys))

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self):
        for key in list(self._keys):
            del self[key]

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def popitem(self):
        key = next(reversed(list(self._keys)))
        return key, self.pop(key)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def fromkeys(self, keys, default=None):
        return ParameterDict((key, default) for key in keys)

    def keys(self):
        return self._keys.keys()

    def items(self):
        return ((key, self[key]) for key in self._keys)

    def values(self):
        return (self[key] for key in self._keys)

    def update(self, parameters):
        if not isinstance(parameters, abc.Iterable):
            raise TypeError(f"ParametersDict.update should be called with an iterable of key/value pairs, but got "
                            f"{type(parameters).__name__}")
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, abc.Mapping):
            pairs = sorted(parameters.items())              # a plain dict is sorted by key, as PyTorch does
        else:
            pairs = []
            for j, pair in enumerate(parameters):
                if not isinstance(pair, abc.Iterable):
                    raise TypeError(f"ParameterDict update sequence element #{j} should be Iterable; is "
                                    f"{type(pair).__name__}")
                if len(pair) != 2:
                    raise ValueError(f"ParameterDict update sequence element #{j} has length {len(pair)}; "
                                     f"2 is required")
                pairs.append(tuple(pair))
        for key, value in pairs:
            self[key] = value

    def extra_repr(self):
        return "\n".join(_container_line(key, value) for key, value in self.items())

    def __call__(self, input):
        raise RuntimeError("ParameterDict should not be called.")

    def __or__(self, other):
        result = self.copy()
        result.update(other)
        return result

    def __ror__(self, other):
        result = other.copy()
        result.update(self)
        return result

    def __ior__(self, other):
        self.update(other)
        return self
