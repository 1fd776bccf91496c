from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from geolab import runtime
from geolab.runtime import PROFILES, Profile, data_dir, device, profile, seed_everything


def test_profile_from_environment(clean_env):
    for name in ("smoke", "standard", "full"):
        clean_env.setenv("GEOLAB_PROFILE", name)
        assert profile().name == name
    clean_env.setenv("GEOLAB_PROFILE", "SMOKE")
    assert profile().name == "smoke"


def test_profile_default_depends_on_cuda(clean_env):
    clean_env.setattr(runtime, "_cuda_available", lambda: False)
    assert profile().name == "standard"
    clean_env.setattr(runtime, "_cuda_available", lambda: True)
    assert profile().name == "full"


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
