"""Run a program written for PyTorch on npformer by changing its import lines only.

A program under ``tests/compat/programs/`` is PyTorch code (``import torch``, ``import
torch.nn as nn``, ``from torch.nn import functional as F`` ...). ``npformer_source`` rewrites
each import of a ``torch`` module through one fixed table, ``MODULES``, and leaves every
other line alone; ``non_import_changes`` counts the lines that differ elsewhere (the tests
require 0). ``load_pair`` imports the original and the rewritten program as two separate
modules, so a test builds the same model in each, copies torch's weights into npformer's
with ``copy_state``, runs both and compares them with ``assert_close``.
"""
import ast
import difflib
import sys
import types
from pathlib import Path

import numpy as np

from tests.conftest import record_torch_error
from tests.helpers import relative_error

PROGRAMS = Path(__file__).parent / "programs"

# The whole translation: a torch module -> the npformer module with the same public names.
MODULES = {
    "torch": "npformer",
    "torch.nn": "npformer.nn",
    "torch.nn.functional": "npformer.nn.functional",
    "torch.nn.init": "npformer.nn.init",
    "torch.nn.utils": "npformer.nn.utils",
    "torch.optim": "npformer.optim",
    "torch.optim.lr_scheduler": "npformer.optim.lr_scheduler",
}


def _translate(module, where):
    if module not in MODULES:
        raise ValueError(f"{where}: module {module!r} is not in the import table {sorted(MODULES)}")
    return MODULES[module]


def _is_torch(module):
    return module == "torch" or (module or "").startswith("torch.")


def _rewrite_import(node, line, where):
    """One ``import a.b as c, d`` line, rewritten alias by alias."""
    if node.lineno != node.end_lineno:
        raise ValueError(f"{where}: an `import` statement spanning lines is not supported")
    names = []
    for alias in node.names:
        if not _is_torch(alias.name):
            names.append(alias.name if alias.asname is None else f"{alias.name} as {alias.asname}")
        elif alias.asname is not None:
            names.append(f"{_translate(alias.name, where)} as {alias.asname}")
        elif alias.name == "torch":
            names.append("npformer as torch")
        else:  # `import torch.nn` binds `torch`, and no single npformer import does the same
            raise ValueError(f"{where}: write `import {alias.name} as <name>` instead of `import {alias.name}`")
    indent = line[:len(line) - len(line.lstrip())]
    comment = line.partition("#")[2]
    return f"{indent}import {', '.join(names)}" + (f"  #{comment}" if comment else "")


def _rewrite_from(node, line, where):
    """``from torch.x import ...``: only the module name changes (the names may span lines)."""
    if node.level:
        return line
    old = node.module
    new = _translate(old, where)
    indent = line[:len(line) - len(line.lstrip())]
    prefix = f"{indent}from {old} import"
    if not line.startswith(prefix):
        raise ValueError(f"{where}: expected the line to start with {prefix.strip()!r}")
    return f"{indent}from {new} import" + line[len(prefix):]


def npformer_source(source, filename="<program>"):
    """The program with each torch import rewritten to npformer; line count unchanged."""
    lines = source.splitlines(keepends=True)
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import) and any(_is_torch(a.name) for a in node.names):
            rewrite = _rewrite_import
        elif isinstance(node, ast.ImportFrom) and _is_torch(node.module) and not node.level:
            rewrite = _rewrite_from
        else:
            continue
        index = node.lineno - 1
        ending = "\n" if lines[index].endswith("\n") else ""
        where = f"{filename}:{node.lineno}"
        lines[index] = rewrite(node, lines[index].rstrip("\n"), where) + ending
    return "".join(lines)


def _import_line_numbers(source):
    """1-based numbers of the lines that belong to an import statement."""
    numbers = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            numbers.update(range(node.lineno, node.end_lineno + 1))
    return numbers


def non_import_changes(original, rewritten):
    """The lines (1-based, in the original) that differ between the two sources and are not part
    of an import statement in both; a line inserted or deleted anywhere counts as well."""
    old, new = original.splitlines(), rewritten.splitlines()
    imports_old, imports_new = _import_line_numbers(original), _import_line_numbers(rewritten)
    changed = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag != "replace" or i2 - i1 != j2 - j1:
            changed.extend(range(i1 + 1, max(i2, i1 + 1) + 1))
            continue
        changed.extend(i + 1 for i, j in zip(range(i1, i2), range(j1, j2))
                       if not (i + 1 in imports_old and j + 1 in imports_new))
    return changed


_LOADED = {}


def load(program, library):
    """Import ``programs/<program>.py`` as written (library="torch") or rewritten
    (library="npformer"), as a fresh module registered under its own name."""
    if library not in ("torch", "npformer"):
        raise ValueError(f"library must be 'torch' or 'npformer', got {library!r}")
    key = (program, library)
    if key not in _LOADED:
        path = PROGRAMS / f"{program}.py"
        source = path.read_text(encoding="utf-8")
        if library == "npformer":
            source = npformer_source(source, str(path))
        name = f"compat_programs.{library}.{program}"
        module = types.ModuleType(name)
        module.__file__ = str(path)
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        try:
            exec(compile(source, f"{path} [{library}]", "exec"), module.__dict__)
        except BaseException:
            del sys.modules[name]
            raise
        _LOADED[key] = module
    return _LOADED[key]


def load_pair(program):
    """(torch module, npformer module) for one program, after checking that only imports differ."""
    path = PROGRAMS / f"{program}.py"
    source = path.read_text(encoding="utf-8")
    changed = non_import_changes(source, npformer_source(source, str(path)))
    if changed:
        raise AssertionError(f"{program}: non-import lines differ after the rewrite: {changed}")
    return load(program, "torch"), load(program, "npformer")


# --------------------------------------------------------------------------- comparing numbers
def to_numpy(value):
    """An ndarray from a torch tensor, an npformer Tensor, an ndarray or a Python number."""
    if hasattr(value, "detach") and hasattr(value, "cpu") and type(value).__module__.startswith("torch"):
        return value.detach().cpu().numpy()
    if hasattr(value, "_data"):  # npformer Tensor: its array, without going through autograd
        return np.asarray(value._data)
    return np.asarray(value)


def torch_state_as_arrays(torch_module):
    """torch's state_dict as {name: float64/int ndarray copy}, the form npformer loads."""
    return {name: value.detach().cpu().numpy().copy() for name, value in torch_module.state_dict().items()}


def copy_state(torch_module, npformer_module):
    """Load torch's state_dict into the npformer module (strict: every key on both sides)."""
    torch_keys = list(torch_module.state_dict())
    ours_keys = list(npformer_module.state_dict())
    if sorted(torch_keys) != sorted(ours_keys):
        only_torch = sorted(set(torch_keys) - set(ours_keys))
        only_ours = sorted(set(ours_keys) - set(torch_keys))
        raise AssertionError(f"state_dict keys differ: only in torch {only_torch}, only in npformer {only_ours}")
    npformer_module.load_state_dict(torch_state_as_arrays(torch_module))


def assert_close(what, ours, theirs, tolerance=1e-10):
    """relative_error(ours, theirs) <= tolerance, recorded for the parity summary."""
    ours, theirs = to_numpy(ours), to_numpy(theirs)
    error = relative_error(ours, theirs)
    record_torch_error(f"compat: {what}", error)
    assert error <= tolerance, f"{what}: relative error {error:.3e} > {tolerance:.0e}"
    return error


def assert_grads_close(what, npformer_module, torch_module, tolerance=1e-10):
    """Every parameter's gradient, by name; both modules list the same names."""
    ours = dict(npformer_module.named_parameters())
    theirs = dict(torch_module.named_parameters())
    assert list(ours) == list(theirs), f"{what}: parameter names differ: {list(ours)} vs {list(theirs)}"
    for name, parameter in theirs.items():
        assert parameter.grad is not None, f"{what}: torch has no gradient for {name}"
        assert ours[name].grad is not None, f"{what}: npformer has no gradient for {name}"
        assert_close(f"{what} grad {name}", ours[name].grad, parameter.grad, tolerance)


def assert_params_close(what, npformer_module, torch_module, tolerance=1e-10):
    ours = dict(npformer_module.named_parameters())
    for name, parameter in torch_module.named_parameters():
        assert_close(f"{what} {name}", ours[name], parameter, tolerance)
