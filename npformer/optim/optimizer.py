"""Optimizer: parameter groups, per-parameter state, and a state_dict a checkpoint can store.

The layout is torch.optim's:

- ``optimizer.param_groups`` is a list of dicts, each ``{"params": [Parameter, ...], "lr": ...,
  <every other hyperparameter>}`` with torch's keys (torch's implementation switches
  ``foreach``, ``fused``, ``differentiable`` and, for Adam, ``capturable`` included: see
  ``_checks.implementation_flags``). Parameters given as ``(name, Tensor)`` pairs, as
  ``model.named_parameters()`` yields them, also record ``"param_names"``. A scheduler changes a
  group's hyperparameter by assigning to it (``group["lr"] = 3e-4``); the next ``step()`` reads
  the new value.
- ``optimizer.state[param]`` is a dict of that parameter's state (``"step"``, ``"exp_avg"``,
  ...), created on the first ``step()`` in which the parameter has a gradient. Tensors compare
  elementwise and so cannot be dict keys; :class:`ParamState` looks parameters up by identity.
- ``state_dict()`` refers to parameters by their index in the order of ``param_groups``
  (0, 1, ... over all groups together), so it holds only Python values and ndarrays::

      {"state": {0: {"step": 5, "exp_avg": ndarray, "exp_avg_sq": ndarray}, 1: {...}},
       "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}, ...]}

  ``step`` is a Python int (torch keeps a float tensor); arrays are the live state arrays, not
  copies (as torch). :func:`state_dict_to_arrays` splits it into flat named arrays plus a
  JSON-serialisable dict, e.g. for a safetensors file and a JSON header.

An optimizer subclass declares its ``defaults`` (hyperparameter -> default value, ``REQUIRED``
when it has none), checks a group's values in ``_check_group``, names its state in
``_state_keys(group)``, and updates ``param.data`` in place from ``param.grad`` in ``step()``.
"""
import math
import numbers

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..autograd.tensor import Tensor
from ..autograd.version import bump

__all__ = ["Optimizer", "ParamState", "REQUIRED", "state_dict_to_arrays", "state_dict_from_arrays"]


_SET_ERROR = ("optimizer parameters need to be organized in ordered collections, but the ordering of tensors "
              "in sets will change between runs (and state_dict refers to parameters by position). "
              "Please use a list instead.")


class _Required:
    def __repr__(self):
        return "<required parameter>"


#: The default of a hyperparameter that every group must give (there is no sensible default).
REQUIRED = _Required()


class ParamState:
    """``{parameter: state dict}`` keyed by identity, as ``torch.optim.Optimizer.state``.

    ``state[p]`` of a parameter without state is a new empty dict (a defaultdict, as torch).
    """

    def __init__(self):
        self._entries = {}          # id(param) -> (param, state dict)

    def __getitem__(self, param):
        entry = self._entries.get(id(param))
        if entry is None:
            entry = self._entries[id(param)] = (param, {})
        return entry[1]

    def __setitem__(self, param, value):
        self._entries[id(param)] = (param, value)

    def __delitem__(self, param):
        del self._entries[id(param)]

    def __contains__(self, param):
        return id(param) in self._entries

    def __len__(self):
        return len(self._entries)

    def __iter__(self):
        return (param for param, _ in self._entries.values())

    def get(self, param, default=None):
        entry = self._entries.get(id(param))
        return default if entry is None else entry[1]

    def items(self):
        return list(self._entries.values())

    def clear(self):
        self._entries.clear()

    def __repr__(self):
        return f"ParamState({len(self)} parameters)"


class Optimizer:
    """Base class: holds ``param_groups``, ``state`` and ``defaults``; subclasses implement step."""

    #: every state entry that is an array shaped like the parameter, and every one that is a
    #: count (``_state_keys(group)`` says which of them a group's parameters must have)
    _array_state = ()
    _scalar_state = ()

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = ParamState()
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            "but got a Tensor")
        if isinstance(params, dict):
            params = [params]
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_ERROR)
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group):
        """Add a group ``{"params": [...], <hyperparameter>: value, ...}``; missing
        hyperparameters take the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        if "params" not in group:
            raise ValueError("a parameter group needs a 'params' entry")
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_ERROR)
        else:
            params = list(params)
        # named parameters, as model.named_parameters() gives them: (name, Tensor) pairs
        names = [param[0] for param in params if isinstance(param, tuple)]
        if names:
            if len(names) != len(params) or not all(len(p) == 2 and isinstance(p[0], str) for p in params):
                raise ValueError("all optimizer params should be with/without names (name, Tensor). Some param "
                                 f"names are missing in parameter group {len(self.param_groups)}")
            params = [param[1] for param in params]
            group["param_names"] = names
        named = "param_names" in group
        if any(("param_names" in g) != named for g in self.param_groups):
            raise ValueError("all optimizer param groups should be with/without names. cannot add param group "
                             f"{'with' if named else 'without'} names to the optimizer")
        for index, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but parameter {index} of group "
                                f"{len(self.param_groups)} is a {type(param).__name__}")
            if not param.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (parameter {index} of group "
                                 f"{len(self.param_groups)})")
            if param._data.dtype.kind != "f":
                raise TypeError(f"optimizer can only optimize floating-point Tensors; parameter {index} of group "
                                f"{len(self.param_groups)} is {param._data.dtype}")
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"parameter group {len(self.param_groups)} contains a parameter twice; "
                             "it would be updated twice per step")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        group["params"] = params
        for name, default in self.defaults.items():
            if default is REQUIRED and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            group.setdefault(name, default)
        self._check_group(group, f"parameter group {len(self.param_groups)}")
        self.param_groups.append(group)

    def _check_group(self, group, where):
        """Check (and normalise) the hyperparameters of one group; raise ValueError naming ``where``."""

    def _state_keys(self, group):
        """The state entries every parameter of ``group`` has after its first step."""
        return ()

    # ------------------------------------------------------------------ grads and steps
    def zero_grad(self, set_to_none=True):
        """Drop every gradient (``set_to_none``, the default) or fill them with zeros."""
        for group in self.param_groups:
            for param in group["params"]:
                if set_to_none or param._grad is None:
                    param._grad = None
                else:
                    param._grad._data[...] = 0

    def step(self, closure=None):
        """One update of every parameter that has a gradient; ``closure`` (optional)
        re-evaluates the model and returns the loss, which step returns."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param._grad is None:
                    continue
                grad = param._grad._data
                if grad.shape != param._data.shape:
                    raise ValueError(f"the gradient of a parameter of shape {param._data.shape} has shape "
                                     f"{grad.shape}")
                if not param._data.flags.writeable:
                    # e.g. an array memory-mapped from a checkpoint: train a private copy
                    param._data = param._data.copy()
                self._update(param, grad, group, self.state[param])
                bump(param)             # a graph that saved the old values must not reuse them
        return loss

    def _update(self, param, grad, group, state):
        raise NotImplementedError(f"{type(self).__name__} is an Optimizer without an update rule: subclasses "
                                  f"define _update(param, grad, group, state)")

    # ------------------------------------------------------------------ state
    def state_dict(self):
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}`` with
        Python values and the live state arrays (copy them to keep a snapshot)."""
        index_of = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for param in group["params"]:
                index_of[id(param)] = len(index_of)
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for param, entry in self.state.items():
            if id(param) in index_of and entry:
                state[index_of[id(param)]] = dict(entry)
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and per-parameter state saved by :meth:`state_dict`.

        Everything is checked before anything changes: the number of groups, the number of
        parameters in each group, every state index, entry, step count and array shape. Arrays
        are copied and cast to their parameter's dtype; state keys may be ints or their decimal
        strings (as after a JSON round trip). The saved hyperparameters replace the current ones,
        as in torch.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' entries")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(g, dict) for g in saved_groups):
            raise ValueError(f"{name}.load_state_dict: 'param_groups' must be a list of dicts")
        if not isinstance(saved_state, dict):
            raise ValueError(f"{name}.load_state_dict: 'state' must be a dict")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")

        new_groups, params_of = [], {}
        for g, (saved, own) in enumerate(zip(saved_groups, self.param_groups)):
            indices = saved.get("params")
            if not isinstance(indices, (list, tuple)):
                raise ValueError(f"{name}.load_state_dict: parameter group {g} has no 'params' list")
            if len(indices) != len(own["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {g} has {len(indices)} parameters in the "
                                 f"state dict, {len(own['params'])} in this optimizer")
            group = dict(own)
            group.update({k: v for k, v in saved.items() if k != "params"})
            group["params"] = own["params"]
            self._check_group(group, f"{name}.load_state_dict: parameter group {g}")
            new_groups.append(group)
            for index, param in zip(indices, own["params"]):
                index = _index(index, f"{name}.load_state_dict: parameter group {g}")
                if index in params_of:
                    raise ValueError(f"{name}.load_state_dict: parameter index {index} appears twice in 'param_groups'")
                params_of[index] = (param, group, g)

        new_state = []
        for key, entry in saved_state.items():
            index = _index(key, f"{name}.load_state_dict: state")
            if index not in params_of:
                raise ValueError(f"{name}.load_state_dict: state for parameter {index}, which is in no parameter group")
            param, group, g = params_of[index]
            where = f"{name}.load_state_dict: state of parameter {index} (group {g})"
            new_state.append((param, self._load_entry(entry, param, group, where)))

        self.param_groups[:] = new_groups
        self.state.clear()
        for param, entry in new_state:
            self.state[param] = entry

    def _load_entry(self, entry, param, group, where):
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: expected a dict, got {type(entry).__name__}")
        expected, known = set(self._state_keys(group)), set(self._array_state) | set(self._scalar_state)
        missing, unexpected = sorted(expected - set(entry)), sorted(set(entry) - known)
        if missing or unexpected:
            parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {unexpected}"] if unexpected else [])
            raise ValueError(f"{where}: {', '.join(parts)} (expected {sorted(expected)})")
        loaded = {}
        for key, value in entry.items():
            if key in self._array_state:
                array = value._data if isinstance(value, Tensor) else value
                if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
                    raise ValueError(f"{where}: {key!r} must be a numeric ndarray, got {type(value).__name__}")
                if array.shape != param._data.shape:
                    raise ValueError(f"{where}: {key!r} has shape {array.shape}, the parameter has shape "
                                     f"{param._data.shape}")
                loaded[key] = np.array(array, dtype=param._data.dtype, copy=True)
            else:                                   # "step": a count
                loaded[key] = _count(value, f"{where}: {key!r}")
        return loaded

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for g, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {g}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _index(value, where):
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{where}: parameter index must be an int >= 0, got {value!r}")
    return int(value)


def _count(value, where):
    """A step count from an int, a NumPy scalar or 0-d array, or an integral float (torch)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_)):
        if math.isfinite(float(value)) and float(value) == int(value) and value >= 0:
            return int(value)
    raise ValueError(f"{where} must be a whole number >= 0, got {value!r}")


# ---------------------------------------------------------------- checkpoint form
def state_dict_to_arrays(state_dict, prefix="optimizer."):
    """Split an optimizer state_dict into ``(arrays, meta)`` for a checkpoint file:

    - ``arrays``: ``{"optimizer.state.<index>.<key>": ndarray}``, e.g. for safetensors;
    - ``meta``: the param groups and every non-array state value (step counts), JSON-ready.

    :func:`state_dict_from_arrays` puts them back together.
    """
    arrays, scalars = {}, {}
    for index, entry in state_dict["state"].items():
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"{prefix}state.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = _json_value(value)
    groups = [{k: _json_value(v) for k, v in g.items()} for g in state_dict["param_groups"]]
    return arrays, {"param_groups": groups, "state": scalars, "prefix": prefix}


def state_dict_from_arrays(arrays, meta):
    """The inverse of :func:`state_dict_to_arrays` (the result goes to ``load_state_dict``,
    which checks it)."""
    prefix = meta.get("prefix", "optimizer.")
    state = {}
    for index, entry in meta.get("state", {}).items():
        state.setdefault(int(index), {}).update(entry)
    head = prefix + "state."
    for name, array in arrays.items():
        if not name.startswith(head):
            continue
        index, _, key = name[len(head):].partition(".")
        if not index.isdigit() or not key:
            raise ValueError(f"optimizer state array {name!r}: expected '{head}<index>.<key>'")
        state.setdefault(int(index), {})[key] = array
    return {"state": dict(sorted(state.items())), "param_groups": [dict(g) for g in meta["param_groups"]]}


def _json_value(value):
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
