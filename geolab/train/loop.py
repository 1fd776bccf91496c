"""The training loop: :func:`fit` runs :func:`fit_epoch` once per epoch, then validates.

:func:`fit_epoch` is lesson 03's hand-written loop, for any model and data: for each batch,
forward and loss (the ``step``), zero the gradients, backward, optimiser step. Everything
optional (checkpoints, early stopping, learning-rate schedules, hard-negative re-sampling)
is a callback (:mod:`geolab.train.callbacks`) called at named moments.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from geolab.train import distributed
from geolab.train.metrics import Metric, split_metrics

if TYPE_CHECKING:
    from geolab.train.callbacks import Callback

__all__ = [
    "FitState",
    "History",
    "Step",
    "amp_dtype",
    "batch_size",
    "evaluate",
    "fit",
    "fit_epoch",
    "make_loader",
    "predict",
    "supervised_step",
    "to_device",
    "unsupervised_step",
]

#: ``step(model, batch, loss_fn) -> (loss, outputs, targets)``: what one batch means.
Step = Callable[[nn.Module, Any, Any], "tuple[torch.Tensor | None, Any, Any]"]


# ----------------------------------------------------------------------------- steps


def supervised_step(model: nn.Module, batch: Any, loss_fn: Callable[..., torch.Tensor] | None) -> tuple[
        torch.Tensor | None, Any, Any]:
    """One labelled batch ``(inputs, targets)``: ``outputs = model(inputs)``, ``loss_fn(outputs, targets)``.

    Returns:
        ``(loss, outputs, targets)``; ``loss`` is ``None`` without a ``loss_fn``.
    """
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        desc = type(batch).__name__ + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        raise TypeError(
            f"supervised_step expects batches of (inputs, targets), got a {desc}. Make the dataset return (x, y) "
            "(e.g. TensorDataset(x, y)), or pass step=unsupervised_step for a loss without targets."
        )
    inputs, targets = batch
    outputs = model(inputs)
    return (loss_fn(outputs, targets) if loss_fn is not None else None), outputs, targets


def unsupervised_step(model: nn.Module, batch: Any, loss_fn: Callable[..., torch.Tensor] | None) -> tuple[
        torch.Tensor | None, Any, None]:
    """One batch without targets (``inputs`` or ``(inputs,)``): ``loss_fn(model(inputs))``.

    For losses that need no labels, such as a clustering or reconstruction loss. Metrics are
    skipped (there are no targets).
    """
    inputs = batch[0] if isinstance(batch, (tuple, list)) and len(batch) == 1 else batch
    outputs = model(inputs)
    return (loss_fn(outputs) if loss_fn is not None else None), outputs, None


# ----------------------------------------------------------------------------- helpers


def to_device(obj: Any, device: torch.device) -> Any:
    """Move tensors (also inside tuples, lists and dicts) to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(o, device) for o in obj)
    if isinstance(obj, Mapping):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


def batch_size(batch: Any) -> int:
    """Number of samples in a batch: the length of its first tensor (1 if there is none)."""
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 1
    if isinstance(batch, (list, tuple)) and batch:
        return batch_size(batch[0])
    if isinstance(batch, Mapping) and batch:
        return batch_size(next(iter(batch.values())))
    return 1


def amp_dtype(amp: bool | str, device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for mixed precision, or ``None`` for full float32.

    Args:
        amp: ``"auto"`` (on for CUDA only), ``True`` or ``False``.
        device: The training device.

    Returns:
        ``torch.bfloat16`` where the device supports it (CPU, recent GPUs), ``torch.float16`` on
        older GPUs (then :func:`fit` adds a ``torch.amp.GradScaler``), ``None`` when off.
    """
    device = torch.device(device)
    if amp == "auto":
        enabled = device.type == "cuda"
    elif isinstance(amp, bool):
        enabled = amp
    else:
        raise ValueError(f"amp must be 'auto', True or False, got {amp!r}")
    if not enabled:
        return None
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.float16
    return torch.bfloat16


def _autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def _as_float(outputs: Any) -> Any:
    if isinstance(outputs, torch.Tensor) and outputs.is_floating_point() and outputs.dtype != torch.float32:
        return outputs.float()
    return outputs


def _device(device: str | torch.device | None) -> torch.device:
    from geolab.runtime import device as best_device

    return best_device(None if device is None else str(device))


def _bar(loader: Iterable[Any], show: bool, desc: str) -> Any:
    """A batch progress bar, updated by hand (wrapping a loader in tqdm would iterate it twice)."""
    from tqdm.auto import tqdm

    try:
        total: int | None = len(loader)  # type: ignore[arg-type]
    except TypeError:  # an iterable without a length
        total = None
    return tqdm(total=total, desc=desc, leave=False, disable=not show, unit="batch")


class History(dict):
    """What :func:`fit` returns: ``dict[str, list[float]]`` with one value per epoch.

    Keys: ``train_loss``, ``val_loss`` and ``val_<metric>`` (with a validation loader),
    ``lr`` (learning rate of the first parameter group at the start of the epoch) and
    ``epoch_seconds``. Plot it with :func:`geolab.plot.plot_history`.
    """

    def append(self, logs: Mapping[str, float]) -> None:
        """Record one epoch."""
        for key, value in logs.items():
            self.setdefault(key, []).append(float(value))

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return max((len(v) for v in self.values()), default=0)

    def best(self, monitor: str = "val_loss", mode: str = "min") -> tuple[int, float]:
        """``(epoch, value)`` of the best ``monitor`` value; epochs count from 1."""
        if monitor not in self:
            raise KeyError(f"History has no {monitor!r}; it records {sorted(self)}")
        values = np.asarray(self[monitor], dtype=float)
        i = int(np.nanargmin(values) if mode == "min" else np.nanargmax(values))
        return i + 1, float(values[i])


@dataclass
class FitState:
    """Everything a callback may read or change while :func:`fit` runs.

    Attributes:
        model: The model being trained (never the DistributedDataParallel wrapper).
        optimizer: Its optimiser.
        device: Where it computes.
        history: Epochs recorded so far.
        epoch: Number of epochs completed (a resuming :class:`~geolab.train.Checkpoint` sets it).
        train_loader: Assign a new loader to change the training data from the next epoch
            on (e.g. re-sampled hard negatives).
        val_loader: Validation loader, or ``None``.
        should_stop: Set it to ``True`` to end training after this epoch.
        rank: This process (0 in a single process); only rank 0 writes files.
        world_size: Number of processes.
        network: What is called in training: ``model``, or its DistributedDataParallel wrapper.
        callbacks: The callbacks, in the order they are called.
        amp_dtype: Autocast dtype, or ``None`` for float32.
        scaler: ``torch.amp.GradScaler`` for float16 on CUDA, else ``None``.
        grad_clip: Global gradient-norm limit, or ``None``.
        progress: Whether rank 0 shows progress bars.
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    history: History = field(default_factory=History)
    epoch: int = 0
    train_loader: Iterable[Any] = ()
    val_loader: Iterable[Any] | None = None
    should_stop: bool = False
    rank: int = 0
    world_size: int = 1
    network: nn.Module | None = None
    callbacks: list[Callback] = field(default_factory=list)
    amp_dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None
    grad_clip: float | None = None
    progress: bool = False


# ----------------------------------------------------------------------------- the loop


def fit_epoch(state: FitState, loss_fn: Callable[..., torch.Tensor], step: Step = supervised_step) -> float:
    """Train for one pass over ``state.train_loader``; return the mean training loss.

    The loop of lesson 03: forward and loss, zero the gradients, backward, step. The loss is
    averaged over samples (each batch weighted by its size) and over all processes.
    """
    net = state.network if state.network is not None else state.model
    optimizer = state.optimizer
    net.train()
    loss_sum, seen = 0.0, 0
    bar = _bar(state.train_loader, state.progress and state.rank == 0, f"epoch {state.epoch + 1}")
    for i, batch in enumerate(state.train_loader):
        batch = to_device(batch, state.device)
        with _autocast(state.device, state.amp_dtype):
            loss, _, _ = step(net, batch, loss_fn)  # forward and loss
        if loss is None or not torch.isfinite(loss.detach()):
            raise FloatingPointError(
                f"the training loss is {loss} at batch {i + 1} of epoch {state.epoch + 1}; "
                "try a smaller learning rate or grad_clip"
            )
        optimizer.zero_grad(set_to_none=True)
        if state.scaler is None:
            loss.backward()
            if state.grad_clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), state.grad_clip)
            optimizer.step()
        else:  # float16 on CUDA: scale the loss so that small gradients do not underflow
            state.scaler.scale(loss).backward()
            state.scaler.unscale_(optimizer)
            if state.grad_clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), state.grad_clip)
            state.scaler.step(optimizer)
            state.scaler.update()
        n, value = batch_size(batch), loss.item()
        loss_sum += value * n
        seen += n
        bar.update(1)
        for callback in state.callbacks:
            callback.on_batch_end(state, i, value)
    bar.close()
    total_loss, total_seen = distributed.all_reduce_sum([loss_sum, seen], state.device).tolist()
    if total_seen == 0:
        raise ValueError("fit: the training loader yielded no batches (an empty dataset, or drop_last)")
    return total_loss / total_seen


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
    callbacks: Sequence[Callback] = (),
    step: Step | None = None,
    amp: bool | str = "auto",
    grad_clip: float | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs, validating after each; return the history.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) the same call trains data-parallel: the process
    group is started, the model wrapped in ``DistributedDataParallel``, the training loader
    split with a ``DistributedSampler``, and only rank 0 shows progress and writes files.
    Validation runs on every process over the whole validation split.

    Args:
        model: The network; moved to ``device``.
        train_loader: Training batches (shuffled; see :func:`make_loader`).
        val_loader: Validation batches, or ``None``.
        loss_fn: Mean loss of a batch, e.g. ``nn.CrossEntropyLoss()`` (its arguments: see ``step``).
        optimizer: Built on ``model.parameters()``.
        epochs: Total number of epochs (a resumed run counts those already done).
        device: Default: :func:`geolab.runtime.device` (``cuda:LOCAL_RANK`` under torchrun).
        metrics: ``name -> metric`` computed on the validation split, recorded as ``val_<name>``.
        callbacks: :class:`~geolab.train.Callback` objects (checkpoints, early stopping, ...).
        step: What one batch means: :func:`supervised_step` (default) or
            :func:`unsupervised_step`, or your own ``(model, batch, loss_fn) -> (loss, outputs, targets)``.
        amp: Mixed precision: ``"auto"`` (CUDA only), ``True`` or ``False`` (see :func:`amp_dtype`).
        grad_clip: Clip the global gradient norm to this value.
        progress: Show progress bars (rank 0 only).

    Returns:
        :class:`History` with one value per epoch under every key.
    """
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    step = step if step is not None else supervised_step
    split_metrics(metrics)  # fail early on a bad metric
    dev, started_group = distributed.init_from_env(_device(device))
    model.to(dev)
    network = model
    if distributed.is_distributed():
        network = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
        if isinstance(train_loader, DataLoader):
            train_loader = distributed.distributed_loader(train_loader)
    dtype = amp_dtype(amp, dev)
    state = FitState(
        model=model, optimizer=optimizer, device=dev, train_loader=train_loader, val_loader=val_loader,
        rank=distributed.rank(), world_size=distributed.world_size(), network=network,
        callbacks=sorted(callbacks, key=lambda c: getattr(c, "order", 0)), amp_dtype=dtype,
        scaler=torch.amp.GradScaler("cuda") if dtype == torch.float16 else None,
        grad_clip=grad_clip, progress=progress,
    )
    from tqdm.auto import tqdm

    try:
        for callback in state.callbacks:
            callback.on_fit_start(state)
        bar = tqdm(total=int(epochs), initial=state.epoch, desc="epochs", unit="epoch",
                   disable=not (progress and state.rank == 0))
        while state.epoch < epochs and not state.should_stop:
            epoch, start = state.epoch, time.perf_counter()
            for callback in state.callbacks:
                callback.on_epoch_start(state, epoch)
            if state.world_size > 1 and isinstance(state.train_loader, DataLoader):  # also a loader set by a callback
                state.train_loader = distributed.distributed_loader(state.train_loader)
            sampler: Any = getattr(state.train_loader, "sampler", None)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)  # a new shuffle every epoch, the same on every process
            lr = float(optimizer.param_groups[0]["lr"])
            logs = {"train_loss": fit_epoch(state, loss_fn, step)}
            if val_loader is not None:
                scores = evaluate(model, val_loader, loss_fn, metrics=metrics, device=dev, step=step, amp=amp)
                logs.update({f"val_{key}": value for key, value in scores.items()})
            logs |= {"lr": lr, "epoch_seconds": time.perf_counter() - start}
            state.history.append(logs)
            state.epoch = epoch + 1
            for callback in state.callbacks:
                callback.on_epoch_end(state, epoch, logs)
            bar.update(1)
            bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k.endswith("loss")}, refresh=False)
        bar.close()
        for callback in state.callbacks:
            callback.on_fit_end(state)
    finally:
        if started_group:
            distributed.barrier()
            torch.distributed.destroy_process_group()
    return state.history


def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None = None,
    *,
    metrics: Mapping[str, Metric] | None = None,
    device: str | torch.device | None = None,
    step: Step | None = None,
    amp: bool | str = False,
    progress: bool = False,
) -> dict[str, float]:
    """Loss and metrics of ``model`` over a whole loader, without training.

    Args:
        model: Any ``nn.Module``; moved to ``device`` and put in eval mode.
        loader: Batches as ``step`` expects them.
        loss_fn: Mean loss of a batch (optional).
        metrics: ``name -> metric`` (callables are averaged over samples, stateful metrics
            accumulate over the split; skipped for batches without targets).
        device: Default: :func:`geolab.runtime.device`.
        step: :func:`supervised_step` (default) or :func:`unsupervised_step` or your own.
        amp: Mixed precision as in :func:`fit` (default off).
        progress: Show a progress bar.

    Returns:
        ``{"loss": ..., <metric>: ...}`` (``loss`` only with a ``loss_fn``).
    """
    fns, stateful = split_metrics(metrics)
    step = step if step is not None else supervised_step
    dev = _device(device)
    dtype = amp_dtype(amp, dev)
    model.to(dev).eval()
    for metric in stateful.values():
        metric.reset()
    sums = dict.fromkeys(fns, 0.0)
    loss_sum, seen, labelled = 0.0, 0, 0
    bar = _bar(loader, progress, "evaluate")
    with torch.no_grad():
        for batch in loader:
            bar.update(1)
            batch = to_device(batch, dev)
            with _autocast(dev, dtype):
                loss, outputs, targets = step(model, batch, loss_fn)
            n = batch_size(batch)
            seen += n
            if loss is not None:
                loss_sum += loss.item() * n
            if targets is not None:
                outputs = _as_float(outputs)
                labelled += n
                for name, fn in fns.items():
                    sums[name] += float(fn(outputs, targets)) * n
                for metric in stateful.values():
                    metric.update(outputs, targets)
    bar.close()
    if seen == 0:
        raise ValueError("evaluate: the loader yielded no batches (empty dataset?)")
    result = {"loss": loss_sum / seen} if loss_fn is not None else {}
    if labelled:
        result |= {name: total / labelled for name, total in sums.items()}
        result |= {name: float(metric.compute()) for name, metric in stateful.items()}
    return result


def predict(
    model: nn.Module, loader: Iterable[Any], *, device: str | torch.device | None = None, progress: bool = False
) -> torch.Tensor:
    """Model outputs for every batch, concatenated along dim 0, as float32 on the CPU.

    Args:
        model: Returns a tensor ``(N, ...)``.
        loader: Yields tensors of inputs or ``(inputs, ...)`` tuples (targets are ignored).
        device: Default: :func:`geolab.runtime.device`.
        progress: Show a progress bar.

    Returns:
        ``(N_total, ...)`` tensor, e.g. logits ``(N, C)``.
    """
    dev = _device(device)
    model.to(dev).eval()
    chunks: list[torch.Tensor] = []
    bar = _bar(loader, progress, "predict")
    with torch.no_grad():
        for batch in loader:
            bar.update(1)
            inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
            if not isinstance(inputs, torch.Tensor):
                raise TypeError(f"predict: batches must be tensors or (inputs, ...) tuples, got {type(batch).__name__}")
            chunks.append(_as_float(model(inputs.to(dev))).cpu())
    bar.close()
    if not chunks:
        raise ValueError("predict: the loader yielded no batches")
    return torch.cat(chunks)


# ----------------------------------------------------------------------------- data loaders


def _seed_worker(worker_id: int) -> None:  # pragma: no cover - runs in worker processes
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset[Any], batch_size: int, *, shuffle: bool, seed: int, num_workers: int = 0, **kwargs: Any
) -> DataLoader[Any]:
    """A ``DataLoader`` whose shuffling (and worker seeding) repeats for the same ``seed``.

    Args:
        dataset: Any map-style dataset.
        batch_size: Samples per batch (>= 1); under torchrun, per process.
        shuffle: Reshuffle every epoch (training) or keep the order (evaluation).
        seed: Seed of the loader's own ``torch.Generator`` (independent of the global RNG).
        num_workers: Worker processes (0: load in the main process).
        **kwargs: Passed to ``DataLoader`` (e.g. ``drop_last``, ``pin_memory``, ``collate_fn``, or a
            ``sampler`` such as ``WeightedRandomSampler`` with ``shuffle=False``).
    """
    if int(batch_size) < 1:
        raise ValueError(f"make_loader: batch_size must be >= 1, got {batch_size}")
    if seed < 0:
        raise ValueError(f"make_loader: seed must be non-negative, got {seed}")
    if shuffle and ("sampler" in kwargs or "batch_sampler" in kwargs):
        raise ValueError(
            "make_loader: a sampler decides the order itself; pass shuffle=False and give the sampler its own "
            "seeded generator, e.g. WeightedRandomSampler(w, n, generator=torch.Generator().manual_seed(0))"
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
