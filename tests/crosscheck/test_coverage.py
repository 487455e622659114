"""Every registered op is compared with PyTorch by one of the cross-check files (or is listed
with the reason it cannot be, and what checks it instead). Each file names the ops it covers
in a module-level ``COVERS``."""
import importlib
import pkgutil

import pytest

pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

import tests.crosscheck as crosscheck  # noqa: E402
from npformer.autograd.function import Function  # noqa: E402


def test_every_registered_op_is_cross_checked():
    covered = set()
    for module in pkgutil.iter_modules(crosscheck.__path__):
        if module.name.startswith("test_") and module.name != "test_coverage":
            covered |= set(getattr(importlib.import_module(f"tests.crosscheck.{module.name}"), "COVERS", ()))
    missing = sorted(set(Function.registry) - covered)
    assert not missing, f"ops without a torch cross-check: {missing}"
