"""Shared fixtures for the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


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
