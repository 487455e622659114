"""Module: a tree of layers that owns Parameters, buffers and sub-modules, as torch.nn.Module.

Assigning a Parameter, a Module or None-for-one-of-those to an attribute registers it under
that name; ``state_dict`` flattens the tree into dotted names ("blocks.0.attn.q_proj.weight").
Values live in the instance ``__dict__`` like any attribute, so reading ``self.weight`` in a
forward pass costs nothing extra; three ordered dicts remember which names are what.
"""
from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd.dtypes import as_dtype
from ..autograd.tensor import Tensor

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A leaf tensor that a Module registers as trainable (requires_grad=True by default).

    It wraps the given array without copying, so init functions can fill it in place.
    """

    def __init__(self, data, requires_grad=True):
        array = data.data if isinstance(data, Tensor) else np.asarray(data)
        super().__init__(0.0)
        self.data = array
        self.requires_grad = requires_grad

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call Module.__init__() in {type(self).__name__}.__init__ before assigning {name!r}")
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"buffer {name!r} must be a Tensor or None, not {type(value).__name__}")
            self._buffers[name] = value
        elif name in self._parameters or name in self._modules:
            if value is not None:
                kind = "parameter" if name in self._parameters else "module"
                raise TypeError(f"cannot assign a {type(value).__name__} to {kind} {name!r}; "
                                f"assign a {'Parameter' if kind == 'parameter' else 'Module'} or None")
            (self._parameters if name in self._parameters else self._modules)[name] = None
        object.__setattr__(self, name, value)

    def _forget(self, name):
        """Drop ``name`` from the registries unless it is re-assigned with the same kind."""
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if name in self._buffers:
            del self._buffers[name]
            self._non_persistent.discard(name)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is None:
            self._forget(name)
            object.__setattr__(self, name, None)
            self._parameters[name] = None
            return
        setattr(self, name, param if isinstance(param, Parameter) else Parameter(param))

    def register_buffer(self, name, value, persistent=True):
        """A tensor that belongs to the module's state but is not trained (e.g. a fixed table)."""
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value)
        self._forget(name)
        self._buffers[name] = value
        if not persistent:
            self._non_persistent.add(name)
        object.__setattr__(self, name, value)

    def register_module(self, name, module):
        setattr(self, name, module)

    add_module = register_module

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix="", memo=None, remove_duplicate=True):
        """(dotted name, module) for self and every descendant; a module reachable by two names
        comes once unless ``remove_duplicate=False``."""
        if remove_duplicate:
            memo = set() if memo is None else memo
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(prefix + ("." if prefix else "") + name, memo, remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs; a parameter shared by two modules comes once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, param in module._parameters.items():
                if param is None or (remove_duplicate and id(param) in seen):
                    continue
                seen.add(id(param))
                yield module_prefix + ("." if module_prefix else "") + name, param

    def parameters(self, recurse=True):
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True):
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield module_prefix + ("." if module_prefix else "") + name, buffer

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def num_parameters(self):
        return sum(p.data.size for p in self.parameters())

    def apply(self, fn):
        """Call ``fn`` on every sub-module, children first, then on self (as PyTorch)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad[...] = 0

    def requires_grad_(self, requires_grad=True):
        for param in self.parameters():
            param.requires_grad = requires_grad
        return self

    def to(self, dtype):
        """Cast every floating parameter and buffer to ``dtype`` in place (gradients dropped)."""
        dtype = as_dtype(dtype)
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.data.dtype.kind == "f":
                tensor.data = tensor.data.astype(dtype)
                tensor.grad = None
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ------------------------------------------------------------------ state
    def state_dict(self, prefix=""):
        """Dotted name -> ndarray (shared, not copied) for every parameter and persistent buffer.

        A parameter or module shared by two places appears under both names, as in PyTorch.
        """
        state = OrderedDict()
        for module_prefix, module in self.named_modules(prefix.rstrip("."), remove_duplicate=False):
            dot = module_prefix + ("." if module_prefix else "")
            for name, param in module._parameters.items():
                if param is not None:
                    state[dot + name] = param.data
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    state[dot + name] = buffer.data
        return state

    def _state_tensors(self):
        tensors = OrderedDict()
        for module_prefix, module in self.named_modules(remove_duplicate=False):
            dot = module_prefix + ("." if module_prefix else "")
            for name, param in module._parameters.items():
                if param is not None:
                    tensors[dot + name] = param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    tensors[dot + name] = buffer
        return tensors

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters and buffers, each cast to its dtype.

        With ``strict``, any missing key, unexpected key or shape mismatch raises one error that
        lists them all; without it, shapes must still match, and the missing and unexpected
        keys are returned.
        """
        own = self._state_tensors()
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        mismatched = []
        for name, tensor in own.items():
            if name in state_dict:
                shape = tuple(np.shape(_array(state_dict[name])))
                if shape != tensor.data.shape:
                    mismatched.append(f"{name}: checkpoint {shape}, model {tensor.data.shape}")
        if mismatched or (strict and (missing or unexpected)):
            lines = [f"load_state_dict into {type(self).__name__} failed:"]
            if missing:
                lines.append("  missing keys: " + ", ".join(missing))
            if unexpected:
                lines.append("  unexpected keys: " + ", ".join(unexpected))
            if mismatched:
                lines.append("  shape mismatches: " + "; ".join(mismatched))
            raise RuntimeError("\n".join(lines))
        for name, tensor in own.items():
            if name in state_dict:
                value = np.asarray(_array(state_dict[name]))
                if tensor.data.flags.writeable:
                    np.copyto(tensor.data, value, casting="unsafe")    # in place: ties stay tied
                else:
                    tensor.data = value.astype(tensor.data.dtype)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        children = [(name, child) for name, child in self._modules.items() if child is not None]
        if not children:
            return f"{type(self).__name__}({extra})"
        lines = [f"{type(self).__name__}("]
        if extra:
            lines.append("  " + extra)
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


def _array(value):
    return value.data if isinstance(value, Tensor) else value


class ModuleList(Module):
    """A list of modules, registered under "0", "1", ..."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(Module):
    """Modules applied one after another."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                setattr(self, name, module)
        else:
            for index, module in enumerate(modules):
                setattr(self, str(index), module)

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleDict(Module):
    """Modules by name."""

    def __init__(self, modules=None):
        super().__init__()
        for name, module in (modules or {}).items():
            setattr(self, name, module)

    def __getitem__(self, name):
        return self._modules[name]

    def __setitem__(self, name, module):
        setattr(self, name, module)

    def __contains__(self, name):
        return name in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def items(self):
        return self._modules.items()

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()
