"""Test configuration: deterministic Hypothesis, float64 helpers, the torch error ledger."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# CI is deterministic: the same examples every run, no example database, no deadline (a
# shared 2-core machine must not turn a slow example into a failure). HYPOTHESIS_PROFILE=dev
# explores fresh random examples locally.
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# The worst float64 relative error of npformer against torch, over all cross-checks of a run,
# printed at the end so that the figure can be quoted.
TORCH_ERRORS = {}


def record_torch_error(what, error):
    TORCH_ERRORS[what] = max(TORCH_ERRORS.get(what, 0.0), float(error))


def pytest_terminal_summary(terminalreporter):
    if not TORCH_ERRORS:
        return
    terminalreporter.write_sep("-", "parity with torch / transformers (relative error)")
    for dtype in ("float64", "float32"):
        errors = {what: e for what, e in TORCH_ERRORS.items() if ("float32" in what) == (dtype == "float32")}
        if errors:
            what, worst = max(errors.items(), key=lambda item: item[1])
            terminalreporter.write_line(f"{dtype}: {len(errors)} comparisons, worst {worst:.2e} ({what})")
    if os.environ.get("NPFORMER_PARITY_REPORT"):
        for what, error in sorted(TORCH_ERRORS.items()):
            terminalreporter.write_line(f"  {error:9.2e}  {what}")
