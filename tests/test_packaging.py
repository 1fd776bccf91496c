"""Packaging facts: dependency sets agree, OpenCV still ships the Haar cascades, Colab installs work."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import cv2
import pytest
import tomllib
import yaml

from tests.conftest import ROOT

_spec = importlib.util.spec_from_file_location("sync_environment", ROOT / "tools" / "sync_environment.py")
sync_environment = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_environment)


def test_opencv_ships_haar_cascades():
    xml = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    assert os.path.exists(xml), "OpenCV must be < 5: version 5 wheels dropped cv2.data.haarcascades"
    assert not cv2.CascadeClassifier(xml).empty()
    assert int(cv2.__version__.split(".")[0]) < 5


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_requirement_is_pinned_in_constraints():
    pins = sync_environment.constraints()
    for req in sync_environment.project_requirements():
        assert sync_environment.requirement_name(req) in pins, req


def test_environment_yml_names_the_same_packages():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert {re.split(r"[=<> ]", d)[0] for d in conda} == {"python", "pip"}
    pip_part = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    names = {sync_environment.requirement_name(p) for p in pip_part if not p.startswith("-e")}
    expected = {sync_environment.requirement_name(r) for r in sync_environment.project_requirements()}
    assert names == expected
    pins = sync_environment.constraints()
    for p in pip_part:
        if "==" in p:
            name, ver = p.split("==")
            assert pins[sync_environment.canonical(name)] == ver, p


def test_environment_yml_is_generated_from_current_files():
    assert (ROOT / "environment.yml").read_text() == sync_environment.render(), (
        "environment.yml is stale: run python tools/sync_environment.py"
    )


def test_pyproject_basics():
    project = _pyproject()["project"]
    assert project["requires-python"] == ">=3.10"
    assert project["scripts"]["geolab"] == "geolab.cli:main"
    deps = " ".join(project["dependencies"])
    assert "opencv-python-headless>=4.8,<5" in deps
    for extra in ("book", "dev"):
        assert project["optional-dependencies"][extra]
    pytest_cfg = _pyproject()["tool"]["pytest"]["ini_options"]
    assert "_build" in pytest_cfg["norecursedirs"] and pytest_cfg["testpaths"] == ["tests"]


def test_client_layout_exists():
    for name in ("book", "notebooks", "geolab", "tests", "environment.yml", "_config.yml", "README.md",
                 "_toc.yml", "pyproject.toml", "Makefile", ".ci/run", "references.bib"):
        assert (ROOT / name).exists(), name
    assert "make test" in (ROOT / ".ci" / "run").read_text()


COLAB_RUNNER = r'''
"""Run notebook cells the way Colab does: IPython with google.colab imported."""
import importlib.util
import json
import sys
import types
from pathlib import Path

google = types.ModuleType("google")
google.colab = types.ModuleType("google.colab")
sys.modules["google"], sys.modules["google.colab"] = google, google.colab
assert importlib.util.find_spec("geolab") is None, "geolab must not be importable before the bootstrap"

from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
for index, path in enumerate(sys.argv[1:]):
    cells = [c for c in json.loads(Path(path).read_text())["cells"] if c["cell_type"] == "code"]
    bootstrap, first = ("".join(c["source"]) for c in cells[:2])
    for label, source in (("bootstrap", bootstrap), ("first code cell", first)):
        print(f"--- {Path(path).name}: {label}", flush=True)
        result = shell.run_cell(source)
        if not result.success:
            print(f"FAILED: {Path(path).name} {label}", flush=True)
            result.raise_error()
    if index == 0:
        import geolab

        print(f"GEOLAB_FILE={geolab.__file__}", flush=True)
'''


def _copy_package(dest: Path) -> Path:
    """The files pip needs to build geolab, copied from this checkout."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "geolab", dest / "geolab", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


@pytest.mark.slow
def test_colab_bootstrap_installs_geolab_in_a_fresh_environment(tmp_path):
    """Each notebook's bootstrap + first code cell, run as on Colab, in a venv that lacks geolab.

    The venv sees this environment's packages (torch, ...) through a path file, the way Colab
    comes with them preinstalled, but not geolab: neither its editable install nor the
    checkout is on the path. GEOLAB_REPO_URL points the bootstrap at a copy of this checkout;
    pip runs without an index, so nothing is downloaded.
    """
    pytest.importorskip("IPython")
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("setuptools (a dev extra) is needed to build geolab without network")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # A plain path line: the directory joins sys.path, its own .pth files (the editable geolab) do not run.
    Path(site, "colab_preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    repo = _copy_package(tmp_path / "checkout")
    runner = tmp_path / "colab_runner.py"
    runner.write_text(COLAB_RUNNER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
    env.update(GEOLAB_REPO_URL=str(repo), GEOLAB_PROFILE="smoke", MPLBACKEND="Agg",
               PIP_NO_INDEX="1",
               # pip reads this variable inverted: "0" means --no-build-isolation (build with our setuptools).
               PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1")
    notebooks = sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))
    result = subprocess.run([str(python), str(runner), *notebooks], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=900)
    log = result.stdout[-4000:] + result.stderr[-4000:]
    assert result.returncode == 0, log
    assert f"Installing geolab from {repo}" in result.stdout and "Installed geolab" in result.stdout, log
    installed = Path(re.search(r"GEOLAB_FILE=(.+)", result.stdout).group(1).strip())
    assert venv in installed.parents, f"geolab was imported from {installed}, not from the fresh environment"
    assert result.stdout.count("geolab is already installed; nothing to do.") == len(notebooks) - 1, log
