"""The one training loop of the course: :func:`fit`, :func:`evaluate`, :func:`predict`.

Contract (later chapters rely on it; keep it stable):

* **Batches** are ``(inputs, targets)`` pairs (tuple or list). ``inputs`` is a tensor;
  ``targets`` is a tensor (or any nesting of tensors the loss understands). ``loss_fn(outputs,
  targets)`` returns the *mean* loss of the batch; per-split losses are averaged over samples
  (each batch weighted by its size).
* **Metrics** are a mapping ``name -> metric``. A metric is either

  - a callable ``(outputs, targets) -> float``: averaged over samples, each batch weighted by
    its batch size (e.g. :func:`accuracy`), or
  - an object with ``reset()``, ``update(outputs, targets)`` and ``compute() -> float``:
    accumulated over the whole split (e.g. :class:`Accuracy`, or a confusion-matrix mIoU).

  For non-decomposable metrics (mIoU, F1, pixel accuracy with ignored pixels) use the second
  kind: the mean of per-batch values is not the value of the split.
* :func:`fit` returns a :class:`History`: a ``dict[str, list[float]]`` with one value per epoch
  under ``train_loss``, ``val_loss``, ``val_<metric>`` (``train_<metric>`` with
  ``train_metrics=True``), ``lr`` (learning rate of the first parameter group at the start of
  the epoch) and ``epoch_seconds``; attributes ``best_epoch`` (1-based) and ``best_score`` of
  the ``monitor``ed key. It plots with :func:`geolab.plot.plot_history`.
* **Mixed precision**: ``amp="auto"`` uses autocast (bfloat16 where supported, else float16
  with a gradient scaler) on CUDA only; ``True``/``False`` force it on/off.
* **Schedulers** step once per epoch after validation (``ReduceLROnPlateau`` receives the
  monitored value) or, with ``scheduler_step="batch"``, after every optimiser step (OneCycleLR).
* **Checkpoints**: with ``checkpoint=path`` the best epoch (by ``monitor``/``mode``) is written
  to ``path`` and every epoch to ``<path>.last``, atomically, as a dict of plain tensors and
  numbers (model, optimiser, scheduler, scaler, early stopping, epoch, history, best score and
  the random-number-generator states). ``resume=True`` continues from ``<path>.last``, so
  ``fit(epochs=4)`` equals ``fit(epochs=2)`` followed by ``fit(epochs=4, resume=True)`` on CPU.
  At the end the best weights are restored into the model (also with ``early_stopping`` and
  no checkpoint, from an in-memory copy). Every load uses ``torch.load(weights_only=True)``.
* :func:`save_checkpoint` / :func:`load_weights` / :func:`load_checkpoint` let a model trained
  in a notebook be loaded by a command-line tool later.
* :func:`make_loader` gives a ``DataLoader`` whose shuffling repeats for the same seed.
"""

from __future__ import annotations

import copy
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, Union, runtime_checkable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from geolab.constants import IGNORE_INDEX

__all__ = [
    "Accuracy",
    "CheckpointError",
    "EarlyStopping",
    "History",
    "StatefulMetric",
    "accuracy",
    "amp_settings",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_weights",
    "make_loader",
    "predict",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "geolab-checkpoint"
CHECKPOINT_VERSION = 1


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


@runtime_checkable
class StatefulMetric(Protocol):
    """A metric accumulated over a whole split (e.g. from a confusion matrix)."""

    def reset(self) -> None:
        """Forget everything seen so far."""

    def update(self, outputs: torch.Tensor, targets: Any) -> None:
        """Add one batch of model outputs and targets."""

    def compute(self) -> float:
        """Return the metric over everything seen since the last reset."""


MetricFn = Callable[[torch.Tensor, Any], float]
Metric = Union[MetricFn, StatefulMetric]


def _predicted_labels(outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class ids predicted from scores (class dim 1) and matching targets."""
    if outputs.ndim < 2:
        raise ValueError(
            f"accuracy expects outputs of shape (N, C) or (N, C, H, W) with classes on dim 1, "
            f"got {tuple(outputs.shape)}"
        )
    if outputs.shape[1] == 1:  # one logit per sample: binary, threshold at 0
        pred = (outputs[:, 0] > 0).long()
        if targets.ndim == outputs.ndim:
            targets = targets[:, 0]
    else:
        pred = outputs.argmax(dim=1)
    targets = targets.long()
    if pred.shape != targets.shape:
        raise ValueError(
            f"accuracy: targets of shape {tuple(targets.shape)} do not match outputs "
            f"{tuple(outputs.shape)}; expected targets (N,) or (N, H, W) of class ids"
        )
    return pred, targets


def accuracy(outputs: torch.Tensor, targets: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> float:
    """Fraction of correctly classified samples (or pixels).

    Args:
        outputs: Scores ``(N, C)`` or ``(N, C, H, W)`` (class dim 1); with ``C == 1`` the single
            logit is thresholded at 0 (binary classification).
        targets: Class ids ``(N,)`` or ``(N, H, W)`` (also ``(N, 1, ...)`` when ``C == 1``).
        ignore_index: Target value that is not counted (e.g. unlabelled pixels).

    Returns:
        Correct / counted, in 0..1 (``nan`` when nothing is counted).
    """
    pred, targets = _predicted_labels(outputs.detach(), targets.detach())
    valid = targets != ignore_index
    n = int(valid.sum())
    if n == 0:
        return float("nan")
    return float(((pred == targets) & valid).sum()) / n


class Accuracy:
    """Accuracy accumulated over a whole split (counts, not a mean of batch values).

    Same conventions as :func:`accuracy`; use this one for segmentation, where batches hold
    different numbers of labelled pixels.
    """

    def __init__(self, ignore_index: int = IGNORE_INDEX) -> None:
        self.ignore_index = ignore_index
        self.reset()

    def reset(self) -> None:
        """Forget everything seen so far."""
        self.correct = 0
        self.total = 0

    def update(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Count one batch."""
        pred, targets = _predicted_labels(outputs.detach(), targets.detach())
        valid = targets != self.ignore_index
        self.correct += int(((pred == targets) & valid).sum())
        self.total += int(valid.sum())

    def compute(self) -> float:
        """Correct / counted over everything since :meth:`reset` (``nan`` if nothing)."""
        return self.correct / self.total if self.total else float("nan")


def _is_stateful(metric: Any) -> bool:
    return all(callable(getattr(metric, name, None)) for name in ("reset", "update", "compute"))


def _check_metrics(metrics: Mapping[str, Metric] | None) -> dict[str, Metric]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must be a mapping name -> metric, e.g. {{'acc': accuracy}}, got {type(metrics).__name__}"
        )
    out: dict[str, Metric] = {}
    for name, metric in metrics.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"metric names must be non-empty strings, got {name!r}")
        if not (_is_stateful(metric) or callable(metric)):
            raise TypeError(
                f"metric {name!r} is neither a callable (outputs, targets) -> float nor an object "
                f"with reset(), update(outputs, targets) and compute()"
            )
        out[name] = metric
    return out


# --------------------------------------------------------------------------------------
# History and early stopping
# --------------------------------------------------------------------------------------


class History(dict):
    """Per-epoch training record: ``dict[str, list[float]]`` plus the best epoch.

    Attributes:
        best_epoch: 1-based epoch with the best ``monitor`` value (``None`` before any epoch).
        best_score: That value.
        monitor: The key that was monitored (e.g. ``"val_loss"``).
        mode: ``"min"`` or ``"max"``.
        amp: Whether mixed precision was used.
        stopped_early: Whether early stopping ended the run.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.best_epoch: int | None = None
        self.best_score: float | None = None
        self.monitor: str = "val_loss"
        self.mode: str = "min"
        self.amp: bool = False
        self.stopped_early: bool = False

    def to_dict(self) -> dict[str, list[float]]:
        """Plain ``dict`` copy (safe to store in a checkpoint)."""
        return {k: [float(v) for v in vals] for k, vals in self.items()}

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return max((len(v) for v in self.values()), default=0)


def _improved(score: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    if not math.isfinite(score):
        return False
    if best is None or not math.isfinite(best):
        return True
    return score < best - min_delta if mode == "min" else score > best + min_delta


class EarlyStopping:
    """Stop when the monitored value has not improved for ``patience`` epochs.

    The monitored key and its direction come from :func:`fit` (``monitor``, ``mode``).

    Args:
        patience: Epochs without improvement to tolerate (>= 1).
        min_delta: Smallest change that counts as an improvement (same units as the value).
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        if int(patience) < 1:
            raise ValueError(f"EarlyStopping: patience must be >= 1, got {patience}")
        if min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta}")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.reset()

    def reset(self) -> None:
        """Start afresh (called by :func:`fit` unless it resumes)."""
        self.best: float | None = None
        self.bad_epochs = 0
        self.should_stop = False

    def step(self, score: float, mode: str = "min") -> bool:
        """Record one epoch's value; return ``True`` when training should stop."""
        if _improved(score, self.best, mode, self.min_delta):
            self.best = float(score)
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        self.should_stop = self.bad_epochs >= self.patience
        return self.should_stop

    def state_dict(self) -> dict[str, Any]:
        """Plain state for checkpoints."""
        return {"best": self.best, "bad_epochs": self.bad_epochs, "should_stop": self.should_stop}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.best = state["best"]
        self.bad_epochs = int(state["bad_epochs"])
        self.should_stop = bool(state["should_stop"])

    def __repr__(self) -> str:
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta})"


# --------------------------------------------------------------------------------------
# Devices, batches, mixed precision
# --------------------------------------------------------------------------------------


def _device(device: str | torch.device | None) -> torch.device:
    from geolab.runtime import device as best_device

    return best_device(None if device is None else str(device))


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(o, device) for o in obj)
    if isinstance(obj, Mapping):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def _split_batch(batch: Any, where: str) -> tuple[torch.Tensor, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[0], torch.Tensor):
        return batch[0], batch[1]
    desc = type(batch).__name__
    if isinstance(batch, (tuple, list)):
        desc += f" of length {len(batch)}"
    raise TypeError(
        f"{where}: expected batches of (inputs, targets) with a tensor of inputs, got a {desc}. "
        f"Make the dataset's __getitem__ return (x, y), e.g. with torch.utils.data.TensorDataset(x, y)."
    )


def _batch_size(inputs: torch.Tensor) -> int:
    return int(inputs.shape[0]) if inputs.ndim else 1


def amp_settings(amp: bool | str, device: torch.device | str) -> tuple[bool, torch.dtype | None]:
    """Decide whether to use mixed precision, and with which dtype.

    Args:
        amp: ``"auto"`` (on for CUDA only), ``True`` or ``False``.
        device: The training device.

    Returns:
        ``(enabled, dtype)``: bfloat16 where the device supports it, else float16 on CUDA;
        ``(False, None)`` when off.
    """
    device = torch.device(device)
    if amp == "auto":
        enabled = device.type == "cuda"
    elif isinstance(amp, bool):
        enabled = amp
    else:
        raise ValueError(f"amp must be 'auto', True or False, got {amp!r}")
    if not enabled:
        return False, None
    if device.type == "cuda":
        return True, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return True, torch.bfloat16  # CPU / MPS autocast use bfloat16


def _make_scaler(device: torch.device, dtype: torch.dtype | None) -> Any:
    enabled = device.type == "cuda" and dtype == torch.float16
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda", enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)  # pragma: no cover - torch < 2.3


class _Autocast:
    """``torch.autocast`` that does nothing when disabled (no warnings on CPU)."""

    def __init__(self, device: torch.device, dtype: torch.dtype | None) -> None:
        self.ctx = torch.autocast(device.type, dtype=dtype) if dtype is not None else None

    def __enter__(self) -> None:
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


def _length(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:  # iterable without a length
        return None


def _float_outputs(outputs: Any) -> Any:
    if isinstance(outputs, torch.Tensor) and outputs.is_floating_point() and outputs.dtype != torch.float32:
        return outputs.float()
    return outputs


# --------------------------------------------------------------------------------------
# One pass over a split
# --------------------------------------------------------------------------------------


def _run_split(
    model: nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None,
    metrics: Mapping[str, Metric],
    device: torch.device,
    *,
    dtype: torch.dtype | None,
    train: bool = False,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: Any = None,
    scheduler: Any = None,
    grad_clip: float | None = None,
    progress: bool = False,
    desc: str = "",
    where: str = "evaluate",
    bar: Any = None,
) -> dict[str, float]:
    from tqdm.auto import tqdm

    for metric in metrics.values():
        if _is_stateful(metric):
            metric.reset()  # type: ignore[union-attr]
    sums = dict.fromkeys(metrics, 0.0)
    loss_sum, n_seen, n_batches = 0.0, 0, 0
    model.train(train)
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=_length(loader), desc=desc, leave=False, disable=not progress, unit="batch")
    else:  # one bar reused for every split and epoch of fit (creating widgets is slow in notebooks)
        bar.reset(total=_length(loader))
        bar.set_description(desc, refresh=False)
    try:
        grad_ctx = torch.enable_grad() if train else torch.no_grad()
        with grad_ctx:
            for batch in loader:
                inputs, targets = _split_batch(batch, where)
                inputs, targets = _to_device(inputs, device), _to_device(targets, device)
                bs = _batch_size(inputs)
                with _Autocast(device, dtype):
                    outputs = model(inputs)
                    loss = loss_fn(outputs, targets) if loss_fn is not None else None
                if train:
                    assert optimizer is not None and loss is not None
                    if not torch.isfinite(loss.detach()):
                        raise FloatingPointError(
                            f"{where}: the training loss became {loss.item()} at batch {n_batches + 1}; "
                            f"try a smaller learning rate or grad_clip"
                        )
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    if grad_clip is not None:
                        scaler.unscale_(optimizer)
                        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                    scaler.step(optimizer)
                    scaler.update()
                    if scheduler is not None:
                        scheduler.step()
                outputs = _float_outputs(outputs.detach() if isinstance(outputs, torch.Tensor) else outputs)
                if loss is not None:
                    loss_sum += float(loss.detach()) * bs
                for name, metric in metrics.items():
                    if _is_stateful(metric):
                        metric.update(outputs, targets)  # type: ignore[union-attr]
                    else:
                        sums[name] += float(metric(outputs, targets)) * bs  # type: ignore[operator]
                n_seen += bs
                n_batches += 1
                if loss is not None:
                    bar.set_postfix(loss=f"{loss_sum / n_seen:.4f}", refresh=False)
                bar.update(1)
    finally:
        if own_bar:
            bar.close()
    if n_batches == 0:
        raise ValueError(
            f"{where}: the loader yielded no batches (empty dataset, or drop_last=True with fewer "
            f"samples than batch_size)"
        )
    result: dict[str, float] = {}
    if loss_fn is not None:
        result["loss"] = loss_sum / n_seen
    for name, metric in metrics.items():
        if _is_stateful(metric):
            result[name] = float(metric.compute())  # type: ignore[union-attr]
        else:
            result[name] = sums[name] / n_seen
    return result


def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None = None,
    metrics: Mapping[str, Metric] | None = None,
    *,
    device: str | torch.device | None = None,
    amp: bool | str = False,
    progress: bool = False,
) -> dict[str, float]:
    """Loss and metrics of a model over a whole loader, without training.

    Args:
        model: Any ``nn.Module``; it is moved to ``device`` and put in eval mode.
        loader: Yields ``(inputs, targets)`` batches.
        loss_fn: Mean loss of a batch (optional).
        metrics: ``name -> metric`` (see the module docstring).
        device: Default: :func:`geolab.runtime.device`.
        amp: Mixed precision as in :func:`fit` (default off).
        progress: Show a batch progress bar.

    Returns:
        ``{"loss": ..., <metric>: ...}`` (``loss`` only with a ``loss_fn``).
    """
    dev = _device(device)
    model.to(dev)
    _, dtype = amp_settings(amp, dev)
    return _run_split(
        model, loader, loss_fn, _check_metrics(metrics), dev, dtype=dtype, progress=progress, desc="evaluate"
    )


def predict(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    device: str | torch.device | None = None,
    activation: Literal["softmax", "sigmoid"] | Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """Model outputs for every batch, concatenated along dim 0, on the CPU.

    Args:
        model: Any ``nn.Module`` returning a tensor ``(N, ...)``.
        loader: Yields tensors of inputs, or ``(inputs, targets)`` / ``[inputs, ...]`` batches.
        device: Default: :func:`geolab.runtime.device`.
        activation: ``"softmax"`` (over dim 1), ``"sigmoid"``, a callable, or ``None`` (raw
            outputs, e.g. logits).
        progress: Show a progress bar.

    Returns:
        Float tensor ``(N_total, ...)``.
    """
    from tqdm.auto import tqdm

    if activation is None:
        act: Callable[[torch.Tensor], torch.Tensor] | None = None
    elif activation == "softmax":
        act = lambda t: torch.softmax(t, dim=1)  # noqa: E731
    elif activation == "sigmoid":
        act = torch.sigmoid
    elif callable(activation):
        act = activation
    else:
        raise ValueError(f"activation must be None, 'softmax', 'sigmoid' or a callable, got {activation!r}")
    dev = _device(device)
    model.to(dev)
    model.eval()
    chunks: list[torch.Tensor] = []
    with torch.no_grad():
        for batch in tqdm(loader, desc="predict", leave=False, disable=not progress, unit="batch"):
            if isinstance(batch, torch.Tensor):
                inputs = batch
            elif isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], torch.Tensor):
                inputs = batch[0]
            else:
                raise TypeError(
                    f"predict: batches must be tensors or (inputs, targets) with tensor inputs, "
                    f"got {type(batch).__name__}"
                )
            out = model(inputs.to(dev))
            if act is not None:
                out = act(out)
            chunks.append(_float_outputs(out).cpu())
    if not chunks:
        raise ValueError("predict: the loader yielded no batches")
    return torch.cat(chunks)


# --------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read or does not fit the model/optimiser."""


_PLAIN = (int, float, bool, str, type(None), torch.Tensor)


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
        f"{where} is a {type(obj).__name__}; checkpoints hold only tensors, numbers, strings, "
        f"None and lists/tuples/dicts of them (so they load with weights_only=True). "
        f"Convert it first, e.g. with torch.as_tensor(...) or .tolist()."
    )


def _atomic_save(obj: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(dict(obj), tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_checkpoint(path: str | os.PathLike[str], model: nn.Module, **extra: Any) -> Path:
    """Save a model's weights (and plain extras) so that :func:`load_weights` can read them.

    Args:
        path: File to write (parent folders are created; written atomically).
        model: The model; its ``state_dict()`` is stored under ``"model"``.
        **extra: More entries, e.g. ``classes=["sand", "litter"]``, ``config={"hidden": [64]}``;
            only tensors, numbers, strings, ``None`` and lists/tuples/dicts of them.

    Returns:
        The path written.
    """
    reserved = {"format", "version", "model"} & set(extra)
    if reserved:
        raise ValueError(f"save_checkpoint: {sorted(reserved)} are reserved names; rename the extra entries")
    _check_plain(extra, "save_checkpoint extra")
    state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "model": model.state_dict(), **extra}
    path = Path(path)
    _atomic_save(state, path)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    Raises:
        FileNotFoundError: No such file.
        CheckpointError: The file is not a readable checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; train the model first (fit(..., checkpoint=...))")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file name
        raise CheckpointError(
            f"cannot read checkpoint {path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}. "
            f"Is it a file written by geolab.train (torch.save of tensors and numbers)? Delete it and retrain."
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a dict")
    return state


def _model_state(state: Mapping[str, Any], path: Path) -> Mapping[str, Any]:
    if "model" in state and isinstance(state["model"], Mapping):
        return state["model"]
    if state and all(isinstance(v, torch.Tensor) for v in state.values()):
        return state  # a bare state_dict
    raise CheckpointError(f"checkpoint {path} has no model weights (no 'model' entry and not a state_dict)")


def _load_model_state(model: nn.Module, state: Mapping[str, Any], path: Path) -> None:
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint {path} does not match the model {type(model).__name__}: "
            f"{str(exc).strip()}\nBuild the model with the same architecture as when it was saved."
        ) from exc


def load_weights(model: nn.Module, path: str | os.PathLike[str]) -> nn.Module:
    """Load weights saved by :func:`fit` or :func:`save_checkpoint` (or a bare state_dict).

    Args:
        model: A model of the same architecture; changed in place.
        path: The checkpoint file.

    Returns:
        The model (for chaining).

    Raises:
        FileNotFoundError / CheckpointError: with the file name and what to do.
    """
    path = Path(path)
    state = load_checkpoint(path)
    _load_model_state(model, _model_state(state, path), path)
    return model


# --------------------------------------------------------------------------------------
# Random-number-generator states (for exact resume)
# --------------------------------------------------------------------------------------


def _loader_generators(*loaders: Any) -> list[torch.Generator]:
    found: list[torch.Generator] = []
    for loader in loaders:
        if loader is None:
            continue
        candidates = [
            getattr(loader, "generator", None),
            getattr(getattr(loader, "sampler", None), "generator", None),
            getattr(getattr(getattr(loader, "batch_sampler", None), "sampler", None), "generator", None),
        ]
        for gen in candidates:
            if isinstance(gen, torch.Generator) and all(gen is not g for g in found):
                found.append(gen)
    return found


def _rng_state(generators: list[torch.Generator]) -> dict[str, Any]:
    np_state = np.random.get_state()
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
        "python": {
            "version": int(py_state[0]),
            "state": torch.tensor(py_state[1], dtype=torch.int64),
            "gauss": py_state[2],
        },
        "loaders": [g.get_state() for g in generators],
    }


def _set_rng_state(state: Mapping[str, Any], generators: list[torch.Generator], path: Path) -> None:
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
            f"checkpoint {path} was written with {len(saved)} seeded loader generator(s) but the "
            f"loaders now have {len(generators)}; build the loaders the same way (make_loader) to resume"
        )
    for gen, st in zip(generators, saved):
        gen.set_state(st)


# --------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------


def _current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def fit(
    model: nn.Module,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None,
    loss_fn: Callable[..., torch.Tensor],
    optimizer: torch.optim.Optimizer,
    epochs: int,
    *,
    device: str | torch.device | None = None,
    metrics: Mapping[str, Metric] | None = None,
    scheduler: Any = None,
    amp: bool | str = "auto",
    early_stopping: EarlyStopping | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    monitor: str = "val_loss",
    mode: Literal["min", "max"] = "min",
    progress: bool = True,
    grad_clip: float | None = None,
    train_metrics: bool = False,
    scheduler_step: Literal["epoch", "batch"] = "epoch",
    restore_best: bool | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return the per-epoch history.

    Args:
        model: The network; moved to ``device``. Its output goes to ``loss_fn`` and metrics.
        train_loader: Yields ``(inputs, targets)`` batches (shuffled; see :func:`make_loader`).
        val_loader: Same for validation, or ``None`` (then ``val_*`` monitors fall back to
            ``train_*``).
        loss_fn: ``(outputs, targets) -> mean loss`` (e.g. ``nn.CrossEntropyLoss(ignore_index=255)``).
        optimizer: Built on ``model.parameters()``.
        epochs: Total number of epochs (with ``resume``, including those already done).
        device: Default: :func:`geolab.runtime.device`.
        metrics: ``name -> metric`` evaluated on the validation split (see module docstring).
        scheduler: Learning-rate scheduler, stepped per epoch (or per batch, see
            ``scheduler_step``); ``ReduceLROnPlateau`` gets the monitored value.
        amp: ``"auto"`` (mixed precision on CUDA only), ``True`` or ``False``.
        early_stopping: :class:`EarlyStopping` watching ``monitor``.
        checkpoint: File for the best state; ``<checkpoint>.last`` gets the latest epoch.
        resume: Continue from ``<checkpoint>.last`` if it exists (else start afresh).
        monitor: History key deciding the best epoch (e.g. ``"val_loss"``, ``"val_acc"``).
        mode: ``"min"`` if smaller is better, ``"max"`` otherwise.
        progress: Show tqdm progress bars for epochs and batches.
        grad_clip: Clip the global gradient norm to this value.
        train_metrics: Also compute the metrics on the training batches (``train_<name>``,
            measured while the weights change during the epoch).
        scheduler_step: ``"epoch"`` or ``"batch"`` (for ``OneCycleLR``).
        restore_best: Load the best weights into the model at the end. Default: ``True`` when
            ``checkpoint`` or ``early_stopping`` is given, else ``False`` (keep the last weights).

    Returns:
        :class:`History` with one value per epoch for every key.
    """
    from tqdm.auto import tqdm

    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    epochs = int(epochs)
    if mode not in ("min", "max"):
        raise ValueError(f"fit: mode must be 'min' or 'max', got {mode!r}")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and scheduler_step == "batch":
        raise ValueError("fit: ReduceLROnPlateau needs scheduler_step='epoch'")
    if resume and checkpoint is None:
        raise ValueError("fit: resume=True needs checkpoint=<path> (the file written by the earlier run)")
    metric_map = _check_metrics(metrics)
    if val_loader is None and monitor.startswith("val_"):
        monitor = "train_" + monitor[4:]
        if monitor != "train_loss" and not train_metrics:
            raise ValueError(
                f"fit: monitor {('val_' + monitor[6:])!r} needs a val_loader (or train_metrics=True to monitor "
                f"{monitor!r})"
            )
    keys = ["train_loss"]
    if train_metrics:
        keys += [f"train_{n}" for n in metric_map]
    if val_loader is not None:
        keys += ["val_loss"] + [f"val_{n}" for n in metric_map]
    keys += ["lr", "epoch_seconds"]
    if monitor not in keys[:-1]:
        raise ValueError(f"fit: cannot monitor {monitor!r}; this run records {keys}")
    if restore_best is None:
        restore_best = checkpoint is not None or early_stopping is not None

    dev = _device(device)
    model.to(dev)
    use_amp, dtype = amp_settings(amp, dev)
    scaler = _make_scaler(dev, dtype)
    generators = _loader_generators(train_loader, val_loader)

    history = History({k: [] for k in keys})
    history.monitor, history.mode, history.amp = monitor, mode, use_amp
    best_state: dict[str, Any] | None = None  # in-memory best weights when there is no file
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    last_path = ckpt_path.with_name(ckpt_path.name + ".last") if ckpt_path is not None else None
    start = 0
    if early_stopping is not None:
        early_stopping.reset()

    if resume and last_path is not None and last_path.exists():
        state = load_checkpoint(last_path)
        for key in ("model", "optimizer", "epoch", "history", "rng"):
            if key not in state:
                raise CheckpointError(f"checkpoint {last_path} has no {key!r} entry; it was not written by fit()")
        _load_model_state(model, state["model"], last_path)
        try:
            optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {last_path}: the optimizer does not match: {exc}") from exc
        if scheduler is not None:
            if state.get("scheduler") is None:
                raise CheckpointError(f"checkpoint {last_path} has no scheduler state but fit got a scheduler")
            scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        if early_stopping is not None and state.get("early_stopping") is not None:
            early_stopping.load_state_dict(state["early_stopping"])
        saved_hist = state["history"]
        if set(saved_hist) != set(keys):
            raise CheckpointError(
                f"checkpoint {last_path} recorded {sorted(saved_hist)} but this run records {sorted(keys)}; "
                f"use the same metrics/val_loader as the interrupted run"
            )
        for k in keys:
            history[k] = [float(v) for v in saved_hist[k]]
        history.best_epoch = state.get("best_epoch")
        history.best_score = state.get("best_score")
        start = int(state["epoch"])
        _set_rng_state(state["rng"], generators, last_path)
        if restore_best and history.best_epoch is not None and ckpt_path is not None and not ckpt_path.exists():
            raise CheckpointError(f"resuming from {last_path} but the best checkpoint {ckpt_path} is missing")

    def snapshot(epoch: int) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler.is_enabled() else None,
            "early_stopping": early_stopping.state_dict() if early_stopping is not None else None,
            "epoch": epoch,
            "history": history.to_dict(),
            "best_epoch": history.best_epoch,
            "best_score": history.best_score,
            "monitor": monitor,
            "mode": mode,
            "rng": _rng_state(generators),
        }

    stop = early_stopping is not None and early_stopping.should_stop
    epoch_bar = tqdm(
        range(start, epochs), desc="epochs", initial=start, total=epochs, disable=not progress, unit="epoch"
    )
    batch_bar = tqdm(total=_length(train_loader), leave=False, disable=not progress, unit="batch")
    try:
        for epoch in epoch_bar:
            if stop:
                break
            t0 = time.perf_counter()
            lr = _current_lr(optimizer)
            train_res = _run_split(
                model,
                train_loader,
                loss_fn,
                metric_map if train_metrics else {},
                dev,
                dtype=dtype,
                train=True,
                optimizer=optimizer,
                scaler=scaler,
                scheduler=scheduler if scheduler_step == "batch" else None,
                grad_clip=grad_clip,
                progress=progress,
                desc=f"epoch {epoch + 1} train",
                where="fit (train_loader)",
                bar=batch_bar,
            )
            row = {f"train_{k}": v for k, v in train_res.items()}
            if val_loader is not None:
                val_res = _run_split(
                    model,
                    val_loader,
                    loss_fn,
                    metric_map,
                    dev,
                    dtype=dtype,
                    progress=progress,
                    desc=f"epoch {epoch + 1} val",
                    where="fit (val_loader)",
                    bar=batch_bar,
                )
                row.update({f"val_{k}": v for k, v in val_res.items()})
            row["lr"] = lr
            score = row[monitor]
            if scheduler is not None and scheduler_step == "epoch":
                if plateau:
                    scheduler.step(score)
                else:
                    scheduler.step()
            row["epoch_seconds"] = time.perf_counter() - t0
            for k in keys:
                history[k].append(float(row[k]))
            if _improved(score, history.best_score, mode):
                history.best_epoch, history.best_score = epoch + 1, float(score)
                if ckpt_path is not None:
                    _atomic_save(snapshot(epoch + 1), ckpt_path)
                elif restore_best:
                    best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            if early_stopping is not None:
                stop = early_stopping.step(score, mode)
                history.stopped_early = stop
            if last_path is not None:
                _atomic_save(snapshot(epoch + 1), last_path)
            postfix = {"train_loss": f"{row['train_loss']:.4f}"}
            if "val_loss" in row:
                postfix["val_loss"] = f"{row['val_loss']:.4f}"
            if monitor not in postfix:
                postfix[monitor] = f"{score:.4f}"
            epoch_bar.set_postfix(postfix, refresh=False)
    finally:
        batch_bar.close()
        epoch_bar.close()

    if restore_best and history.best_epoch is not None:
        if ckpt_path is not None:
            load_weights(model, ckpt_path)
        elif best_state is not None:
            model.load_state_dict(best_state)
    return history


# --------------------------------------------------------------------------------------
# Data loaders
# --------------------------------------------------------------------------------------


def _seed_worker(worker_id: int) -> None:  # pragma: no cover - runs in worker processes
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset[Any],
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
    **kwargs: Any,
) -> DataLoader[Any]:
    """A ``DataLoader`` whose shuffling (and worker seeding) repeats for the same ``seed``.

    Args:
        dataset: Any map-style dataset returning ``(inputs, targets)``.
        batch_size: Samples per batch (>= 1).
        shuffle: Reshuffle every epoch (training) or keep the order (evaluation).
        seed: Seed of the loader's own ``torch.Generator`` (independent of the global RNG).
        num_workers: Worker processes (0: load in the main process).
        **kwargs: Passed to ``DataLoader`` (e.g. ``drop_last``, ``pin_memory``, or a ``sampler``
            such as ``WeightedRandomSampler`` for imbalanced classes, with ``shuffle=False``).
    """
    if int(batch_size) < 1:
        raise ValueError(f"make_loader: batch_size must be >= 1, got {batch_size}")
    if seed < 0:
        raise ValueError(f"make_loader: seed must be non-negative, got {seed}")
    if shuffle and ("sampler" in kwargs or "batch_sampler" in kwargs):
        raise ValueError(
            "make_loader: a sampler decides the order itself; pass shuffle=False and give the sampler "
            "its own seeded generator, e.g. WeightedRandomSampler(w, n, generator=torch.Generator().manual_seed(0))"
        )
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return DataLoader(
        dataset,
        batch_size=int(batch_size),
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
        worker_init_fn=_seed_worker if num_workers > 0 else None,
        **kwargs,
    )
