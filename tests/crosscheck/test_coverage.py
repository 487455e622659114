"""Every registered op is compared with PyTorch by one of the cross-check files (or is listed
with the reason it cannot be, and what checks it instead)."""
import pytest

pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")

from npformer.autograd.function import Function  # noqa: E402
from tests.crosscheck import test_functional_vs_torch, test_primitives_vs_torch  # noqa: E402


def test_every_registered_op_is_cross_checked():
    covered = set(test_primitives_vs_torch.COVERS) | set(test_functional_vs_torch.COVERS)
    try:
        from tests.crosscheck import test_positional_vs_hf
        covered |= set(getattr(test_positional_vs_hf, "COVERS", ()))
    except ImportError:
        pass
    missing = sorted(set(Function.registry) - covered)
    assert not missing, f"ops without a torch cross-check: {missing}"
