"""Repository-wide pytest hooks: print how long each notebook took under nbval."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

_NOTEBOOK_SECONDS: dict[str, float] = defaultdict(float)
# Wall-clock goal per notebook in the smoke profile (see geolab.runtime.PROFILES).
SMOKE_BUDGET_S = 90.0


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _NOTEBOOK_SECONDS[path] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    if not _NOTEBOOK_SECONDS:
        return
    profile = os.environ.get("GEOLAB_PROFILE", "(default)")
    tr = terminalreporter
    tr.section(f"notebook durations (profile {profile})")
    for path, seconds in sorted(_NOTEBOOK_SECONDS.items()):
        flag = "  OVER the 90 s smoke budget" if profile == "smoke" and seconds > SMOKE_BUDGET_S else ""
        tr.write_line(f"{seconds:7.1f} s  {Path(path).name}{flag}")
    tr.write_line(f"{sum(_NOTEBOOK_SECONDS.values()):7.1f} s  total")
