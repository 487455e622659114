"""The house's floors (docs/architecture.md): each part of npformer imports only parts on lower
floors, or its own package. An import inside a function (a lazy one) may reach up only where
this table says why; every other upward import fails here with the line that makes it.
"""
import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "npformer"

# bottom to top; a part may import parts on lower floors (and itself)
FLOORS = [
    {"autograd", "io", "runtime", "backends"},      # the engine; file formats and the machine, NumPy only
    {"ops", "cuda"},                                 # one Function per op; torch.cuda's CPU answers
    {"functional", "linalg"},                        # torch-shaped function APIs over ops
    {"nn"},                                          # Module, layers, attention, blocks
    {"models", "optim"},                             # model families; optimizers over parameters
    {"tokenizers", "generation", "testing"},         # text <-> ids; decoding; gradient-check cases
    {"interop", "data"},                             # Hugging Face folders; corpora and batches
    {"train"},                                       # the training loop
    {"tasks"},                                       # what `npformer train` can train
    {"__init__"},                                    # the package's public names
    {"cli"},                                         # `npformer ...` commands
    {"__main__"},                                    # python -m npformer
]
FLOOR = {part: level for level, parts in enumerate(FLOORS) for part in parts}

# (importing part, imported part): why the lazy import may reach up
LAZY_UPWARD = {
    ("autograd", "ops"): "Tensor's operators and in-place writes run ops, which are built on the engine",
    ("models", "generation"): "GenerationMixin: model.generate() runs npformer.generation on use",
    ("models", "interop"): "PretrainedMixin / from_pretrained: the conversion tables sit a floor above",
    ("train", "tasks"): "the trainer resolves a task name given on the command line",
}


def _part(module):
    """'npformer.nn.layers' -> 'nn'; 'npformer' -> '__init__'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path):
    """(line, imported module, lazy) for every npformer import in the file."""
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    package_parts = list(relative.parts)[:-1]          # npformer/nn/layers.py and npformer/nn/__init__.py: npformer.nn
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        lazy = id(node) not in top_level
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[:len(package_parts) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("npformer"):
                continue
            if node.module is None or target == "npformer":     # from .. import functional: the names are modules
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    is_module = (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists() or \
                        (PACKAGE.parent / candidate.replace(".", "/")).is_dir()
                    yield node.lineno, candidate if is_module else target, lazy
            else:
                yield node.lineno, target, lazy
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("npformer"):
                    yield node.lineno, alias.name, lazy


def _violations():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        module = ".".join(relative.parts)
        part = _part(module)
        if part not in FLOOR:
            found.append(f"{path.relative_to(PACKAGE.parent)}: '{part}' has no floor in tests/test_layering.py")
            continue
        for line, target, lazy in _imports(path):
            other = _part(target)
            if other == part:
                continue
            if other not in FLOOR:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: imports {target}, which has no floor")
                continue
            if FLOOR[other] < FLOOR[part]:
                continue
            if lazy and (part, other) in LAZY_UPWARD:
                continue
            kind = "a lazy import" if lazy else "an import"
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {kind} of {target} reaches up from "
                         f"'{part}' (floor {FLOOR[part]}) to '{other}' (floor {FLOOR[other]})")
    return found


def test_every_import_stays_on_its_floor_or_below():
    violations = _violations()
    assert not violations, "\n".join(violations)


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
    """The check can fail: a module of ops importing nn is reported."""
    fake = tmp_path / "npformer"
    (fake / "ops").mkdir(parents=True)
    (fake / "nn").mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "ops" / "__init__.py").write_text("")
    (fake / "nn" / "__init__.py").write_text("")
    (fake / "nn" / "layers.py").write_text("")
    (fake / "ops" / "bad.py").write_text("from ..nn.layers import Linear\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["PACKAGE"]), "PACKAGE", fake)
    assert any("ops/bad.py:1" in v and "'nn'" in v for v in _violations())


@pytest.mark.parametrize("pair", sorted(LAZY_UPWARD))
def test_each_allowed_lazy_import_is_still_needed(pair):
    """An exception nobody uses any more is taken out of the table."""
    part, other = pair
    used = False
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if _part(module) != part:
            continue
        used = used or any(lazy and _part(target) == other for _, target, lazy in _imports(path))
    assert used, f"no lazy import from {part} to {other} remains: remove it from LAZY_UPWARD"
