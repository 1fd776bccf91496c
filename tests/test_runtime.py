from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from geolab import runtime
from geolab.runtime import PROFILES, Profile, data_dir, device, profile, seed_everything
from tests.conftest import ROOT


def test_profile_from_environment(clean_env):
    for name in ("smoke", "standard", "full"):
        clean_env.setenv("GEOLAB_PROFILE", name)
        assert profile().name == name
    clean_env.setenv("GEOLAB_PROFILE", "SMOKE")
    assert profile().name == "smoke"


def test_profile_default_fits_the_device_and_the_lesson(clean_env):
    clean_env.setattr(runtime, "_needs_gpu", False)
    clean_env.setattr(runtime, "_cuda_available", lambda: False)
    assert profile().name == "standard"
    assert profile(needs_gpu=True).name == "standard", "no GPU: a GPU lesson runs at standard size"
    clean_env.setattr(runtime, "_cuda_available", lambda: True)
    assert profile(needs_gpu=False).name == "standard", "a CPU-bound lesson does not scale up on a GPU"
    assert profile().name == "standard", "the declaration is remembered"
    assert profile(needs_gpu=True).name == "full"
    assert profile().name == "full", "later calls in the same lesson give the same profile"
    assert profile("smoke").name == "smoke"
    clean_env.setenv("GEOLAB_PROFILE", "standard")
    assert profile(needs_gpu=True).name == "standard", "GEOLAB_PROFILE always wins"
    assert runtime.default_profile_name(True) == "full" and runtime.default_profile_name(False) == "standard"


def test_unknown_profile_lists_valid_names(clean_env):
    clean_env.setenv("GEOLAB_PROFILE", "quick")
    with pytest.raises(ValueError) as err:
        profile()
    msg = str(err.value)
    assert "'quick'" in msg and "GEOLAB_PROFILE" in msg
    for name in ("smoke", "standard", "full"):
        assert name in msg


def test_profile_is_frozen_and_sizes_grow():
    prof = profile("smoke")
    with pytest.raises(dataclasses.FrozenInstanceError):
        prof.epochs = 100  # type: ignore[misc]
    smoke, standard, full = PROFILES["smoke"], PROFILES["standard"], PROFILES["full"]
    for field in ("epochs", "n_train", "n_test", "image_size", "n_estimators", "iterations"):
        assert getattr(smoke, field) <= getattr(standard, field) <= getattr(full, field), field
    assert smoke.budget_s == 90 and standard.budget_s == 300 and full.budget_s is None


def test_pick_returns_value_for_profile():
    assert profile("smoke").pick(smoke=1, standard=2, full=3) == 1
    assert profile("full").pick(smoke=1, standard=2, full=3) == 3
    with pytest.raises(TypeError):
        profile("smoke").pick(smoke=1, standard=2)  # type: ignore[call-arg]


def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if hasattr(torch.backends, "mps"):
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device() == torch.device("cpu")
    if hasattr(torch.backends, "mps"):
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
        assert device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device() == torch.device("cuda")
    assert device("cpu") == torch.device("cpu")


def test_seed_everything_repeats_random_streams():
    def draw():
        return (np.random.rand(3), torch.rand(3), torch.nn.Linear(4, 2).weight.detach().clone())

    seed_everything(123)
    a = draw()
    seed_everything(123)
    b = draw()
    seed_everything(124)
    c = draw()
    for x, y in zip(a, b):
        assert np.array_equal(np.asarray(x), np.asarray(y))
    assert not np.array_equal(a[0], c[0])
    with pytest.raises(ValueError):
        seed_everything(-1)


def test_seed_everything_deterministic_flag():
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_data_dir_from_environment(clean_env, tmp_path):
    target = tmp_path / "data" / "here"
    clean_env.setenv("GEOLAB_DATA", str(target))
    assert data_dir() == target and target.is_dir()


def test_data_dir_default_is_user_cache(clean_env, tmp_path):
    clean_env.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = data_dir(create=False)
    assert isinstance(path, Path) and path.name == "geolab"


def test_profile_dataclass_fields_documented():
    doc = Profile.__doc__ or ""
    for field in dataclasses.fields(Profile):
        assert f"{field.name}:" in doc, field.name


def test_data_dir_is_a_fresh_temporary_folder():
    """The root conftest.py gives every pytest session its own data folder and torch cache."""
    import torch.hub

    tmp = Path(tempfile.gettempdir()).resolve()
    path = data_dir().resolve()
    assert tmp in path.parents, f"GEOLAB_DATA={path} is not a temporary folder"
    assert "geolab-pytest-" in str(path)
    (path / "probe.txt").write_text("written by the test suite")
    hub = Path(torch.hub.get_dir()).resolve()
    assert tmp in hub.parents, f"torch hub cache {hub} is not a temporary folder"


@pytest.mark.slow
def test_tests_and_notebooks_leave_home_untouched(tmp_path):
    """A test and a notebook run by pytest with HOME pointed to an empty folder leave it empty.

    Tools that keep their own state (IPython, Jupyter, matplotlib) are pointed elsewhere, so an
    empty HOME afterwards means neither geolab nor torch wrote to the user's cache.
    """
    home = tmp_path / "home"
    home.mkdir()
    other = tmp_path / "tools"
    drop = ("GEOLAB_DATA", "TORCH_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        HOME=str(home),
        GEOLAB_PROFILE="smoke",
        MPLCONFIGDIR=str(other / "mpl"),
        IPYTHONDIR=str(other / "ipython"),
        JUPYTER_CONFIG_DIR=str(other / "jupyter-config"),
        JUPYTER_DATA_DIR=str(other / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(other / "jupyter-runtime"),
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
           "tests/test_runtime.py::test_data_dir_is_a_fresh_temporary_folder", "notebooks/00_getting_started.ipynb"]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert not left, f"the run wrote into HOME: {left[:20]}"


def test_measured_run_times_ship_with_the_package_and_name_every_notebook():
    import json

    table = json.loads((Path(runtime.__file__).with_name("run_times.json")).read_text())
    stems = {nb.stem for nb in (ROOT / "notebooks").glob("*.ipynb")}
    assert stems <= set(table["notebooks"]), "record the new notebooks' times (tools/lesson_time.py --record)"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"run_times.json"' in pyproject, "run_times.json must be package data (Colab installs only the package)"


def test_profile_banner_states_the_profile_and_the_recorded_time(clean_env, monkeypatch):
    monkeypatch.setenv("GEOLAB_PROFILE", "standard")
    entry = runtime.measured_run_time("00_getting_started")
    assert entry is not None and entry["seconds"] > 0
    banner = runtime.profile_banner("00_getting_started").splitlines()
    assert banner[0].startswith("profile 'standard'")
    expected = f"{entry['seconds']:.0f} s" if entry["seconds"] < 120 else f"{entry['seconds'] / 60:.0f} min"
    assert f"about {expected} in 'standard'" in banner[1]
    assert runtime.measured_run_time("no_such_lesson") is None
    assert "has not been timed in 'standard'" in runtime.profile_banner("no_such_lesson")
