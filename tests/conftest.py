"""Shared fixtures and markers for the unit tests.

The repository's root ``conftest.py`` already points ``GEOLAB_DATA`` and ``TORCH_HOME`` at a
fresh temporary folder for the whole session, so no test reads or writes the user's cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# Tests in modules owned by other chapters that took over ~5 s on the shared 2-core machine;
# marked here (by test function name) so that `pytest -m "not slow"` gives a quick run.
SLOW_TESTS = {
    "test_backbone_architecture_without_weights",
    "test_accuracy_close_to_sklearn_on_haar_features",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if getattr(item, "originalname", item.name) in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Remove geolab's environment variables for the duration of a test."""
    for var in ("GEOLAB_PROFILE", "GEOLAB_DATA"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def root() -> Path:
    return ROOT


os.environ.setdefault("MPLBACKEND", "Agg")


# Lines added by tests/test_full_profile.py: parameters and memory of the GPU lessons' full setting.
FULL_PROFILE_REPORT: list[str] = []


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if FULL_PROFILE_REPORT:
        terminalreporter.section("GPU lessons in the full profile (one training step on the CPU)")
        for line in FULL_PROFILE_REPORT:
            terminalreporter.write_line(line)
