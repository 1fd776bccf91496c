"""Callbacks: everything optional in training, outside the loop.

:func:`geolab.train.fit` calls each callback at five moments, always with the
:class:`~geolab.train.FitState` (model, optimiser, history, loaders, ...):

========================================  ==================================================
``on_fit_start(state)``                   before the first epoch (a resuming checkpoint
                                          restores everything here)
``on_epoch_start(state, epoch)``          ``epoch`` counts from 0
``on_batch_end(state, batch_index, loss)`` after each optimiser step; ``loss`` is a float
``on_epoch_end(state, epoch, logs)``      after validation; ``logs`` is this epoch's row of
                                          the history (``train_loss``, ``val_loss``, ...)
``on_fit_end(state)``                     after the last epoch
========================================  ==================================================

Callbacks run in the order given, except that a larger ``order`` attribute runs later
(:class:`Checkpoint` has ``order = 100``, so it saves the state *after* the schedulers and
early stopping have acted). A callback that keeps state worth resuming has
``state_dict()``/``load_state_dict()``; :class:`Checkpoint` stores it.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch

from geolab.train import distributed
from geolab.train.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CheckpointError,
    atomic_save,
    load_checkpoint,
    load_weights,
    loader_generators,
    rng_state,
    set_rng_state,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from geolab.train.loop import FitState

__all__ = ["Callback", "Checkpoint", "EarlyStopping", "LRScheduler"]


class Callback:
    """Base class with a no-op method for every moment; override the ones you need."""

    order: int = 0

    def on_fit_start(self, state: FitState) -> None:
        """Before the first epoch."""

    def on_epoch_start(self, state: FitState, epoch: int) -> None:
        """Before epoch ``epoch`` (from 0)."""

    def on_batch_end(self, state: FitState, batch_index: int, loss: float) -> None:
        """After the optimiser step of one training batch."""

    def on_epoch_end(self, state: FitState, epoch: int, logs: Mapping[str, float]) -> None:
        """After the epoch's validation; ``logs`` holds its values."""

    def on_fit_end(self, state: FitState) -> None:
        """After the last epoch."""


def _check_mode(mode: str, who: str) -> str:
    if mode not in ("min", "max"):
        raise ValueError(f"{who}: mode must be 'min' or 'max', got {mode!r}")
    return mode


def _monitored(logs: Mapping[str, float], monitor: str, who: str) -> float:
    if monitor not in logs:
        raise KeyError(
            f"{who} monitors {monitor!r}, but this run records {sorted(logs)}; pass monitor= one of those "
            "(val_* keys need a val_loader, val_<name> a metric called <name>)"
        )
    return float(logs[monitor])


def _improved(score: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    if not math.isfinite(score):
        return False
    if best is None or not math.isfinite(best):
        return True
    return score < best - min_delta if mode == "min" else score > best + min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Args:
        monitor: History key, e.g. ``"val_loss"`` or ``"val_acc"``.
        patience: Epochs without improvement to tolerate (>= 1).
        mode: ``"min"`` if smaller is better, ``"max"`` otherwise.
        min_delta: Smallest change that counts as an improvement.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, mode: Literal["min", "max"] = "min",
                 min_delta: float = 0.0) -> None:
        if isinstance(patience, bool) or int(patience) != patience or patience < 1:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 1, got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = _check_mode(mode, "EarlyStopping")
        self.on_fit_start(None)  # type: ignore[arg-type]

    def on_fit_start(self, state: FitState) -> None:
        """Start afresh."""
        self.best: float | None = None
        self.bad_epochs = 0
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, state: FitState, epoch: int, logs: Mapping[str, float]) -> None:
        """Count epochs without improvement; ask ``fit`` to stop after ``patience`` of them."""
        score = _monitored(logs, self.monitor, "EarlyStopping")
        if _improved(score, self.best, self.mode, self.min_delta):
            self.best, self.bad_epochs = score, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            state.should_stop = True
            self.stopped_epoch = epoch + 1

    def state_dict(self) -> dict[str, Any]:
        """Plain state for checkpoints."""
        return {"best": self.best, "bad_epochs": self.bad_epochs, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.best, self.bad_epochs, self.stopped_epoch = state["best"], int(state["bad_epochs"]), state["stopped_epoch"]


class LRScheduler(Callback):
    """Step a ``torch.optim.lr_scheduler`` every epoch (after validation) or every batch.

    Args:
        scheduler: Built on the optimiser given to ``fit``.
        interval: ``"epoch"`` (e.g. ``StepLR``, ``CosineAnnealingLR``) or ``"batch"`` (``OneCycleLR``).
        monitor: The value ``ReduceLROnPlateau`` watches (default ``"val_loss"``).
    """

    def __init__(self, scheduler: Any, interval: Literal["epoch", "batch"] = "epoch",
                 monitor: str = "val_loss") -> None:
        if interval not in ("epoch", "batch"):
            raise ValueError(f"LRScheduler: interval must be 'epoch' or 'batch', got {interval!r}")
        self.plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
        if self.plateau and interval == "batch":
            raise ValueError("LRScheduler: ReduceLROnPlateau watches a validation value, so it needs interval='epoch'")
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor

    def on_batch_end(self, state: FitState, batch_index: int, loss: float) -> None:
        """Step a per-batch schedule."""
        if self.interval == "batch":
            self.scheduler.step()

    def on_epoch_end(self, state: FitState, epoch: int, logs: Mapping[str, float]) -> None:
        """Step a per-epoch schedule (``ReduceLROnPlateau`` gets the monitored value)."""
        if self.interval != "epoch":
            return
        if self.plateau:
            self.scheduler.step(_monitored(logs, self.monitor, "LRScheduler(ReduceLROnPlateau)"))
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state."""
        return dict(self.scheduler.state_dict())

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the scheduler's state."""
        self.scheduler.load_state_dict(dict(state))


class Checkpoint(Callback):
    """Keep the best epoch's weights, save the latest state, and resume exactly.

    With a ``path``, the best epoch (by ``monitor``) is written to ``path`` and every epoch to
    :attr:`last_path` (``<stem>.last<suffix>``), atomically and by rank 0 only. Both hold the
    model, optimiser, gradient scaler, the other callbacks' states, the epoch, the history and
    every random-number generator, so ``resume=True`` continues a run exactly where
    :attr:`last_path` left it: 2 epochs + resuming for a 3rd gives the same weights as 3 epochs
    in one go (on the CPU). Without a path the best weights are kept in memory only.

    Args:
        path: File for the best epoch, or ``None`` (keep it in memory).
        monitor: History key deciding the best epoch, e.g. ``"val_loss"`` or ``"val_acc"``.
        mode: ``"min"`` if smaller is better, ``"max"`` otherwise.
        restore_best: Load the best weights into the model when training ends.
        resume: Continue from :attr:`last_path` if it exists (else start afresh).

    Attributes:
        best_epoch: 1-based epoch with the best value (``None`` before any).
        best_score: That value.
    """

    order = 100  # after schedulers and early stopping, so the saved state includes their step

    def __init__(self, path: str | os.PathLike[str] | None = None, monitor: str = "val_loss",
                 mode: Literal["min", "max"] = "min", restore_best: bool = True, resume: bool = False) -> None:
        if resume and path is None:
            raise ValueError("Checkpoint: resume=True needs a path (the file the interrupted run wrote)")
        self.path = Path(path) if path is not None else None
        self.last_path = self.path.with_name(f"{self.path.stem}.last{self.path.suffix}") if self.path else None
        self.monitor, self.mode = monitor, _check_mode(mode, "Checkpoint")
        self.restore_best, self.resume = restore_best, resume
        self.best_epoch: int | None = None
        self.best_score: float | None = None
        self._best_weights: dict[str, torch.Tensor] | None = None

    def _stateful(self, state: FitState) -> list[Any]:
        return [c for c in state.callbacks if c is not self and hasattr(c, "state_dict")]

    def _snapshot(self, state: FitState) -> dict[str, Any]:
        loaders = loader_generators(state.train_loader, state.val_loader)
        return {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "scaler": state.scaler.state_dict() if state.scaler is not None else None,
            "callbacks": [{"type": type(c).__name__, "state": c.state_dict()} for c in self._stateful(state)],
            "epoch": state.epoch, "should_stop": state.should_stop,
            "history": {k: list(v) for k, v in state.history.items()},
            "best_epoch": self.best_epoch, "best_score": self.best_score, "monitor": self.monitor, "mode": self.mode,
            "rng": rng_state(loaders),
        }

    def _write(self, state: FitState, path: Path) -> None:
        if state.rank == 0:
            atomic_save(self._snapshot(state), path)
        distributed.barrier()  # nobody reads the file before it is complete

    def on_fit_start(self, state: FitState) -> None:
        """Start afresh, or restore everything from :attr:`last_path` when resuming."""
        self.best_epoch, self.best_score, self._best_weights = None, None, None
        if not (self.resume and self.last_path is not None and self.last_path.exists()):
            return
        path = self.last_path
        saved = load_checkpoint(path)
        missing = {"model", "optimizer", "epoch", "history", "rng", "callbacks"} - set(saved)
        if missing:
            raise CheckpointError(f"checkpoint {path} lacks {sorted(missing)}: it was not written by Checkpoint; "
                                  "delete it or resume=False")
        load_weights(state.model, path)
        try:
            state.optimizer.load_state_dict(saved["optimizer"])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {path}: the optimiser does not match ({exc}); build the same "
                                  "optimiser as in the interrupted run") from exc
        if state.scaler is not None and saved.get("scaler"):
            state.scaler.load_state_dict(saved["scaler"])
        stateful = self._stateful(state)
        if [c["type"] for c in saved["callbacks"]] != [type(c).__name__ for c in stateful]:
            raise CheckpointError(
                f"checkpoint {path} saved callbacks {[c['type'] for c in saved['callbacks']]} but this run has "
                f"{[type(c).__name__ for c in stateful]}; pass the same callbacks to resume"
            )
        for callback, entry in zip(stateful, saved["callbacks"], strict=True):
            callback.load_state_dict(entry["state"])
        state.history.clear()
        state.history.update({k: [float(v) for v in vals] for k, vals in saved["history"].items()})
        state.epoch, state.should_stop = int(saved["epoch"]), bool(saved["should_stop"])
        self.best_epoch, self.best_score = saved["best_epoch"], saved["best_score"]
        set_rng_state(saved["rng"], loader_generators(state.train_loader, state.val_loader), path)
        if self.restore_best and self.best_epoch is not None and self.path is not None and not self.path.exists():
            raise CheckpointError(f"resuming from {path} but the best checkpoint {self.path} is missing; "
                                  "restore it or pass restore_best=False")

    def on_epoch_end(self, state: FitState, epoch: int, logs: Mapping[str, float]) -> None:
        """Save the best epoch (and the latest one)."""
        score = _monitored(logs, self.monitor, "Checkpoint")
        if _improved(score, self.best_score, self.mode):
            self.best_epoch, self.best_score = epoch + 1, score
            if self.path is not None:
                self._write(state, self.path)
            elif self.restore_best:
                self._best_weights = copy.deepcopy({k: v.detach().cpu() for k, v in state.model.state_dict().items()})
        if self.last_path is not None:
            self._write(state, self.last_path)

    def on_fit_end(self, state: FitState) -> None:
        """Load the best weights into the model (every process)."""
        if not self.restore_best or self.best_epoch is None:
            return
        if self.path is not None:
            load_weights(state.model, self.path)
        elif self._best_weights is not None:
            state.model.load_state_dict(self._best_weights)
