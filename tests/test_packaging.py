"""Packaging facts: dependency sets agree, and OpenCV still ships the Haar cascades."""

from __future__ import annotations

import importlib.util
import os
import re

import cv2
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
