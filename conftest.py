"""Repository-wide pytest hooks for the unit tests and for nbval over the notebooks.

* Every pytest session gets a fresh, empty data folder (``GEOLAB_DATA``) and torch cache
  (``TORCH_HOME``), so no test and no notebook reads from or writes to the user's cache
  (``~/.cache/geolab``, ``~/.cache/torch``). nbval kernels inherit the environment.
* Under nbval, each notebook's run time is printed at the end, and a notebook whose
  metadata says ``geolab: {full_needs_gpu: true}`` is reported as SKIPPED, with the reason,
  when it would run in the ``full`` profile on a machine without a CUDA GPU.
* With ``GEOLAB_TIMES_OUT=file.json`` set, the notebook times are also written to that file
  (profile, cores, GPU, failed notebooks) for ``tools/lesson_time.py --record``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

_NOTEBOOK_SECONDS: dict[str, float] = defaultdict(float)
_SKIPPED_NOTEBOOKS: dict[str, str] = {}
_FAILED_NOTEBOOKS: set[str] = set()
# Wall-clock goal per notebook in the smoke profile (see geolab.runtime.PROFILES).
SMOKE_BUDGET_S = 90.0

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="geolab-pytest-"))
os.environ["GEOLAB_DATA"] = str(_SESSION_DIR / "data")
os.environ["TORCH_HOME"] = str(_SESSION_DIR / "torch")


def pytest_sessionstart(session: pytest.Session) -> None:
    out = os.environ.get("GEOLAB_TIMES_OUT")
    if out:  # never leave a previous session's times behind
        Path(out).unlink(missing_ok=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def _notebook_metadata(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text()).get("metadata", {})
    except (OSError, ValueError):
        return {}
    return dict(meta.get("geolab", {}))


def _active_profile() -> str:
    from geolab.runtime import profile

    return profile().name


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def gpu_skip_reason(path: Path) -> str | None:
    """Why a notebook must not run here, or ``None``: its full sizes need a GPU and none is present."""
    if not _notebook_metadata(path).get("full_needs_gpu"):
        return None
    if _active_profile() != "full" or _cuda_available():
        return None
    return (f"{path.name}: its full profile is sized for a GPU (notebook metadata geolab.full_needs_gpu) "
            "and this machine has no CUDA GPU; run it on a GPU, or in the standard profile here")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reasons: dict[Path, str | None] = {}
    for item in items:
        path = Path(str(item.fspath))
        if path.suffix != ".ipynb":
            continue
        if path not in reasons:
            reasons[path] = gpu_skip_reason(path)
        reason = reasons[path]
        if reason:
            _SKIPPED_NOTEBOOKS[path.name] = reason.split(": ", 1)[1]
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _NOTEBOOK_SECONDS[path] += report.duration
        if report.failed:
            _FAILED_NOTEBOOKS.add(Path(path).name)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _NOTEBOOK_SECONDS and not _SKIPPED_NOTEBOOKS:
        return
    profile = os.environ.get("GEOLAB_PROFILE", "(default)")
    tr = terminalreporter
    tr.section(f"notebook durations (profile {profile})")
    for path, seconds in sorted(_NOTEBOOK_SECONDS.items()):
        name = Path(path).name
        if name in _SKIPPED_NOTEBOOKS:
            continue
        flag = "  OVER the 90 s smoke budget" if profile == "smoke" and seconds > SMOKE_BUDGET_S else ""
        tr.write_line(f"{seconds:7.1f} s  {name}{flag}")
    for name, reason in sorted(_SKIPPED_NOTEBOOKS.items()):
        tr.write_line(f"SKIPPED  {name}: {reason}")
    total = sum(s for p, s in _NOTEBOOK_SECONDS.items() if Path(p).name not in _SKIPPED_NOTEBOOKS)
    tr.write_line(f"{total:7.1f} s  total")
    out = os.environ.get("GEOLAB_TIMES_OUT")
    if out:
        _write_times(Path(out), int(exitstatus))


def _write_times(out: Path, exitstatus: int) -> None:
    """Write the notebook times of this session as JSON (read by tools/lesson_time.py --record)."""
    import datetime

    import torch

    seconds = {Path(p).name: round(s, 1) for p, s in _NOTEBOOK_SECONDS.items()
               if Path(p).name not in _SKIPPED_NOTEBOOKS}
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    # Without an explicit GEOLAB_PROFILE each lesson picks its own default (GPU lessons get full on
    # CUDA), so one label would be wrong: record None and let tools/lesson_time.py refuse it.
    profile = os.environ.get("GEOLAB_PROFILE", "").strip().lower() or None
    record = {"profile": profile, "exitstatus": exitstatus, "seconds": seconds,
              "failed": sorted(_FAILED_NOTEBOOKS), "skipped": sorted(_SKIPPED_NOTEBOOKS),
              "cores": os.cpu_count(), "gpu": gpu, "date": datetime.date.today().isoformat()}
    out.write_text(json.dumps(record, indent=1) + "\n")
