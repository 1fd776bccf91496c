"""Run-time settings shared by every notebook: device, seeds, run profile and data folder.

Notebooks never branch on "am I in CI?". They ask :func:`profile` for the sizes of the
current run profile, chosen by the ``GEOLAB_PROFILE`` environment variable:

* ``smoke``: CI and quick checks; every notebook runs in at most 90 s on 2 CPU cores.
* ``standard``: the default; meaningful results in at most 5 min per notebook on a CPU.
* ``full``: paper-scale runs on a Colab-class GPU.

One rule picks the default when ``GEOLAB_PROFILE`` is not set: a lesson whose heavy work runs
on the GPU declares it once, ``profile(needs_gpu=True)``, and gets ``full`` when CUDA is
available. Every other lesson gets ``standard`` on any machine, because its heavy work
(Haar features, boosting, CPU-pinned steps) would not get faster on a GPU, only bigger.
``GEOLAB_PROFILE`` always wins.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "PROFILES",
    "Profile",
    "data_dir",
    "default_profile_name",
    "device",
    "measured_run_time",
    "profile",
    "profile_banner",
    "seed_everything",
]

T = TypeVar("T")

PROFILE_ENV = "GEOLAB_PROFILE"
DATA_ENV = "GEOLAB_DATA"

# What the running lesson declared with profile(needs_gpu=...): one kernel runs one lesson,
# so later calls to profile() without the argument give the same profile.
_needs_gpu: bool = False


@dataclass(frozen=True)
class Profile:
    """Sizes of one run profile.

    Attributes:
        name: ``"smoke"``, ``"standard"`` or ``"full"``.
        budget_s: Wall-clock goal for one notebook in seconds (``None``: no goal).
        epochs: Training epochs for a typical small model.
        n_train: Training examples for a typical synthetic data set.
        n_test: Held-out examples for evaluation.
        image_size: Side length in pixels of generated images.
        batch_size: Mini-batch size.
        n_estimators: Rounds or members of classical ensembles (AdaBoost, forests).
        iterations: Optimisation steps for per-image methods (e.g. clustering).
        description: One line for people.
    """

    name: str
    budget_s: float | None
    epochs: int
    n_train: int
    n_test: int
    image_size: int
    batch_size: int
    n_estimators: int
    iterations: int
    description: str

    def pick(self, *, smoke: T, standard: T, full: T) -> T:
        """Return the value given for this profile.

        For chapter-specific sizes that have no field here, e.g.
        ``profile().pick(smoke=200, standard=2000, full=20000)``.
        """
        return {"smoke": smoke, "standard": standard, "full": full}[self.name]


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        budget_s=90.0,
        epochs=2,
        n_train=256,
        n_test=128,
        image_size=64,
        batch_size=32,
        n_estimators=60,
        iterations=30,
        description="CI and quick checks: each notebook <= 90 s on 2 CPU cores",
    ),
    "standard": Profile(
        name="standard",
        budget_s=300.0,
        epochs=15,
        n_train=2000,
        n_test=500,
        image_size=128,
        batch_size=32,
        n_estimators=200,
        iterations=300,
        description="the default: meaningful results in <= 5 min per notebook on a CPU",
    ),
    "full": Profile(
        name="full",
        budget_s=None,
        epochs=60,
        n_train=20000,
        n_test=5000,
        image_size=256,
        batch_size=64,
        n_estimators=500,
        iterations=1000,
        description="paper-scale runs on a Colab-class GPU (default for GPU lessons when CUDA is present)",
    ),
}


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def profile(name: str | None = None, *, needs_gpu: bool | None = None) -> Profile:
    """Return the active run profile.

    Args:
        name: Profile name; default: ``$GEOLAB_PROFILE``, else :func:`default_profile_name`.
        needs_gpu: Declare (once, in the lesson's first code cell) that the lesson's heavy
            work runs on the GPU, so its default is ``full`` when CUDA is available. Later
            calls without the argument remember the declaration. ``None``: keep it.

    Raises:
        ValueError: The name is not one of ``smoke``, ``standard``, ``full``.
    """
    global _needs_gpu
    if needs_gpu is not None:
        _needs_gpu = bool(needs_gpu)
    if name is None:
        name = os.environ.get(PROFILE_ENV, "").strip()
        source = f"${PROFILE_ENV}"
    else:
        source = "the argument"
    if not name:
        return PROFILES[default_profile_name(_needs_gpu)]
    key = name.lower()
    if key not in PROFILES:
        valid = ", ".join(PROFILES)
        raise ValueError(
            f"Unknown run profile {name!r} (from {source}). Valid profiles: {valid}. "
            f"For example: export {PROFILE_ENV}=smoke"
        )
    return PROFILES[key]


def default_profile_name(needs_gpu: bool) -> str:
    """The profile a lesson gets when ``GEOLAB_PROFILE`` is not set.

    Args:
        needs_gpu: The lesson's heavy work runs on the GPU.

    Returns:
        ``"full"`` for a GPU lesson on a machine with CUDA, otherwise ``"standard"``.
    """
    return "full" if needs_gpu and _cuda_available() else "standard"


def device(prefer: str | None = None) -> "torch.device":
    """Return the best available torch device: CUDA, then Apple MPS, then CPU.

    Args:
        prefer: Force a device string such as ``"cpu"`` or ``"cuda:1"``.
    """
    import torch

    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices) so that a run can be repeated.

    Args:
        seed: Any non-negative integer.
        deterministic: Also ask torch for deterministic kernels (slower on GPU; on CPU
            results are already repeatable for the same seed).
    """
    import numpy as np
    import torch

    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def data_dir(create: bool = True) -> Path:
    """Folder where data sets and downloaded files live.

    ``$GEOLAB_DATA`` if set, otherwise the user cache folder (e.g. ``~/.cache/geolab``).

    Args:
        create: Create the folder if it does not exist.
    """
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_cache_dir("geolab", appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def measured_run_time(lesson: str, profile_name: str | None = None) -> dict[str, Any] | None:
    """How long a lesson's notebook took to run in a profile, as recorded with the course.

    The figures come from ``geolab/run_times.json``, written by ``tools/lesson_time.py --record``
    from real runs (never typed by hand).

    Args:
        lesson: Notebook name without extension, e.g. ``"08_beachlitter_segmentation"``.
        profile_name: Profile; default: the active one (:func:`profile`).

    Returns:
        ``{"seconds", "conditions", "date", "cores"}``, or ``None`` when it was not measured.
    """
    import json

    name = profile_name or profile().name
    table = json.loads(Path(__file__).with_name("run_times.json").read_text())
    entry = table["notebooks"].get(lesson, {}).get(name)
    return dict(entry) if entry else None


def profile_banner(lesson: str) -> str:
    """Two lines for the top of a lesson: the active profile and its measured run time there.

    Args:
        lesson: Notebook name without extension, e.g. ``"08_beachlitter_segmentation"``.
    """
    prof = profile()
    lines = [f"profile {prof.name!r}: {prof.description} (set GEOLAB_PROFILE to change it)"]
    entry = measured_run_time(lesson, prof.name)
    if entry is None:
        where = "a GPU" if prof.name == "full" and _needs_gpu else "the course's reference machine"
        lines.append(f"this notebook has not been timed in {prof.name!r} on {where} yet")
    else:
        seconds = float(entry["seconds"])
        span = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"
        conditions = str(entry["conditions"])
        machine = str(entry["gpu"]) if entry.get("gpu") else f"{entry.get('cores') or '?'}-core CPU"
        note = {"idle": "nothing else running", "loaded": "other jobs shared the CPU, so an overestimate"}
        lines.append(f"this notebook ran in about {span} in {prof.name!r} on a {machine} "
                     f"({note.get(conditions.split(',')[0], conditions)}, {entry['date']}); yours may differ")
    return "\n".join(lines)


def describe() -> dict[str, Any]:
    """Summarise the runtime (profile, device, data folder) for printing."""
    prof = profile()
    return {"profile": prof.name, "device": str(device()), "data_dir": str(data_dir(create=False))}
