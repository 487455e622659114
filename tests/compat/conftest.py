"""Shared fixtures for the compatibility programs: both libraries in float64, seeded."""
import numpy as np
import pytest

import npformer


@pytest.fixture
def float64():
    """torch and npformer both make float64 tensors from Python floats for the test's duration;
    the previous defaults are restored afterwards. Returns the torch module."""
    torch = pytest.importorskip("torch", reason="torch is not installed: pip install -e '.[crosscheck]'")
    torch_before, ours_before = torch.get_default_dtype(), npformer.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    npformer.set_default_dtype(np.float64)
    torch.manual_seed(0)
    npformer.manual_seed(0)
    try:
        yield torch
    finally:
        torch.set_default_dtype(torch_before)
        npformer.set_default_dtype(ours_before)
