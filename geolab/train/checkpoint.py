"""The course's one checkpoint format, and the one way to read it back.

A checkpoint is a ``dict`` of plain data saved with ``torch.save``::

    {"format": "geolab-checkpoint", "version": 1, "model": <state_dict>, ...extras}

Extras are tensors, numbers, strings, ``None`` and lists/tuples/dicts of them, so every file
loads with ``torch.load(weights_only=True)`` (no pickled code runs). Writes are atomic: a
temporary file is written and renamed, so an interrupted run never leaves a half-written file.

* :func:`save_checkpoint` writes one; :func:`load_checkpoint` reads any such file (or a bare
  ``state_dict``); :func:`load_weights` puts the weights into a model.
* Every problem raises :class:`CheckpointError` (a ``ValueError``), whose message names the
  file and says what to do; a missing file raises its subclass that is also a
  ``FileNotFoundError``.
* :func:`rng_state` / :func:`set_rng_state` capture the random-number generators (torch,
  CUDA, NumPy, Python and the loaders' own generators) as plain tensors, for exact resume.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "CheckpointNotFoundError",
    "atomic_save",
    "load_checkpoint",
    "load_weights",
    "loader_generators",
    "model_state",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
    "unwrap",
]

CHECKPOINT_FORMAT = "geolab-checkpoint"
CHECKPOINT_VERSION = 1
_PLAIN = (int, float, bool, str, type(None), torch.Tensor)


class CheckpointError(ValueError):
    """A checkpoint file cannot be read or does not fit; the message names the file and the fix."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist."""


def unwrap(model: nn.Module) -> nn.Module:
    """The model itself, without a ``DistributedDataParallel``/``DataParallel`` wrapper."""
    return model.module if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)) else model


def _check_plain(obj: Any, where: str) -> None:
    if isinstance(obj, _PLAIN):
        return
    if isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: checkpoint dict keys must be str or int, got {key!r}")
            _check_plain(value, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where} is a {type(obj).__name__}; checkpoints hold only tensors, numbers, strings, None and "
        "lists/tuples/dicts of them (so they load with weights_only=True). Convert it first, e.g. with "
        "torch.as_tensor(...) or .tolist()."
    )


def atomic_save(obj: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """``torch.save`` a dict of plain data to ``path`` via a temporary file and a rename."""
    path = Path(path)
    _check_plain(dict(obj), f"checkpoint {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(dict(obj), tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def save_checkpoint(path: str | os.PathLike[str], model: nn.Module, **extra: Any) -> Path:
    """Save a model's weights (and plain extras) in the course's checkpoint format.

    Args:
        path: File to write (parent folders are created; the write is atomic).
        model: The model (a ``DistributedDataParallel`` wrapper is unwrapped); its
            ``state_dict()`` goes under ``"model"``.
        **extra: More entries, e.g. ``classes=["sand", "litter"]``, ``image_size=[128, 128]``;
            only tensors, numbers, strings, ``None`` and lists/tuples/dicts of them.

    Returns:
        The path written.
    """
    reserved = {"format", "version", "model"} & set(extra)
    if reserved:
        raise ValueError(f"save_checkpoint: {sorted(reserved)} are reserved names; rename the extra entries")
    _check_plain(extra, "save_checkpoint extra")
    state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "model": unwrap(model).state_dict(), **extra}
    return atomic_save(state, path)


def load_checkpoint(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint (or any dict of tensors) with ``torch.load(weights_only=True)``.

    Args:
        path: The file.
        map_location: Where to put the tensors (default: the CPU).

    Returns:
        The stored dict.

    Raises:
        CheckpointNotFoundError: No such file (also a ``FileNotFoundError``).
        CheckpointError: The file is not a readable checkpoint (corrupt, truncated, or holding
            pickled objects other than plain data).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(
            f"checkpoint {path} does not exist; train the model first (e.g. fit(..., callbacks=[Checkpoint(path)]) "
            "or save_checkpoint(path, model)), or correct the path"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise CheckpointError(
            f"cannot read checkpoint {path} ({type(exc).__name__}: {first}). It is not a file of plain tensors and "
            "numbers as geolab writes them (it may be truncated, or pickle other objects). Delete it and train or "
            "download it again."
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(state).__name__}, not a dict; save models with "
            "geolab.train.save_checkpoint(path, model)"
        )
    return state


def model_state(state: Mapping[str, Any], path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """The weights in a loaded checkpoint: its ``"model"`` entry, or the dict itself if it is a state_dict."""
    if isinstance(state.get("model"), Mapping):
        return state["model"]
    if isinstance(state.get("state_dict"), Mapping):  # files of geolab.segmentation.save_model before 2026-11
        return state["state_dict"]
    if state and all(isinstance(v, torch.Tensor) for v in state.values()):
        return state
    raise CheckpointError(
        f"checkpoint {path} has no model weights (no 'model' entry and not a state_dict; it holds {sorted(state)}); "
        "save models with geolab.train.save_checkpoint(path, model)"
    )


def load_weights(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Load the weights of a checkpoint (or a bare state_dict file) into ``model``.

    Args:
        model: A model of the same architecture; changed in place (a wrapper is unwrapped).
        path: The file.

    Returns:
        The model (for chaining).

    Raises:
        CheckpointError: The file is unreadable or its weights do not fit the model.
    """
    state = load_checkpoint(path)
    target = unwrap(model)
    try:
        target.load_state_dict(model_state(state, path))
    except (RuntimeError, KeyError, ValueError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        detail = " ".join(str(exc).split())
        detail = detail if len(detail) <= 300 else detail[:300] + " ..."
        raise CheckpointError(
            f"checkpoint {path} does not match the model {type(target).__name__} ({detail}). "
            "Build the model with the same architecture and arguments as when it was saved."
        ) from exc
    return model


# ---------------------------------------------------------------- random-number generators


def loader_generators(*loaders: Any) -> list[torch.Generator]:
    """The distinct ``torch.Generator`` objects that decide the order of these loaders."""
    found: list[torch.Generator] = []
    for loader in loaders:
        if loader is None:
            continue
        sampler = getattr(loader, "sampler", None)
        batch_sampler = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
        for gen in (getattr(loader, "generator", None), getattr(sampler, "generator", None),
                    getattr(batch_sampler, "generator", None)):
            if isinstance(gen, torch.Generator) and all(gen is not g for g in found):
                found.append(gen)
    return found


def rng_state(generators: Iterable[torch.Generator] = ()) -> dict[str, Any]:
    """Every random-number generator's state as plain tensors and numbers (for checkpoints)."""
    np_state: tuple[Any, ...] = tuple(np.random.get_state())
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "name": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": int(py_state[0]), "state": torch.tensor(py_state[1], dtype=torch.int64),
                   "gauss": py_state[2]},
        "loaders": [g.get_state() for g in generators],
    }


def set_rng_state(state: Mapping[str, Any], generators: list[torch.Generator], path: str | os.PathLike[str]) -> None:
    """Restore :func:`rng_state` (``path`` only names the file in errors)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():  # pragma: no cover - no GPU in CI
        torch.cuda.set_rng_state_all(state["cuda"])
    npst = state["numpy"]
    np.random.set_state(
        (npst["name"], npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"], npst["cached_gaussian"])
    )
    pyst = state["python"]
    random.setstate((pyst["version"], tuple(int(v) for v in pyst["state"].tolist()), pyst["gauss"]))
    saved = state["loaders"]
    if len(saved) != len(generators):
        raise CheckpointError(
            f"checkpoint {path} was written with {len(saved)} seeded loader generator(s) but the loaders now have "
            f"{len(generators)}; build the loaders the same way (make_loader with a seed) to resume"
        )
    for gen, st in zip(generators, saved, strict=True):
        gen.set_state(st)
