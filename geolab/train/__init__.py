"""The course's training loop, small enough to read after lesson 03.

``fit`` runs ``fit_epoch`` once per epoch and then ``evaluate`` on the validation split;
``fit_epoch`` is lesson 03's loop (forward and loss, zero the gradients, backward, step).
Everything optional is a callback.

Modules (every public name is importable as ``geolab.train.NAME``):

* :mod:`geolab.train.loop`: :func:`fit`, :func:`fit_epoch`, :func:`evaluate`, :func:`predict`,
  :func:`make_loader`, the steps :func:`supervised_step` / :func:`unsupervised_step`,
  :class:`FitState`, :class:`History`.
* :mod:`geolab.train.callbacks`: :class:`Callback`, :class:`Checkpoint`,
  :class:`EarlyStopping`, :class:`LRScheduler`.
* :mod:`geolab.train.checkpoint`: :func:`save_checkpoint`, :func:`load_checkpoint`,
  :func:`load_weights`, :class:`CheckpointError`: the one checkpoint format.
* :mod:`geolab.train.metrics`: :func:`accuracy`, :class:`Accuracy`.
* :mod:`geolab.train.distributed`: rank / world size / barrier / all-reduce helpers for
  ``torchrun``.

Contract (later chapters rely on it):

* **Step.** ``step(model, batch, loss_fn) -> (loss, outputs, targets)`` says what one batch
  means. :func:`supervised_step` (the default) takes ``(inputs, targets)`` and calls
  ``loss_fn(outputs, targets)``; :func:`unsupervised_step` takes ``inputs`` (or
  ``(inputs,)``), calls ``loss_fn(outputs)`` and returns ``targets=None`` (metrics are then
  skipped). ``loss_fn`` returns the *mean* loss of the batch; losses are averaged over samples.
* **Metrics** are a mapping ``name -> metric``: either a callable ``(outputs, targets) ->
  float``, averaged over samples with each batch weighted by its size (e.g. :func:`accuracy`),
  or an object with ``reset()``, ``update(outputs, targets)`` and ``compute() -> float``,
  accumulated over the whole split (e.g. :class:`Accuracy`, a confusion-matrix mIoU). Use the
  second kind when the split's value is not the mean of batch values (mIoU, F1).
* **History.** :func:`fit` returns a :class:`History`, a ``dict[str, list[float]]`` with one
  value per epoch: ``train_loss``, ``val_loss``, ``val_<metric>``, ``lr``, ``epoch_seconds``.
* **Callbacks** (:class:`Callback`): ``on_fit_start(state)``, ``on_epoch_start(state, epoch)``,
  ``on_batch_end(state, batch_index, loss)``, ``on_epoch_end(state, epoch, logs)``,
  ``on_fit_end(state)``; ``state`` is the :class:`FitState` (``model``, ``optimizer``,
  ``device``, ``history``, ``epoch``, ``train_loader`` (assign to change the data from the next
  epoch), ``should_stop``, ``rank``, ``world_size``).
* **Mixed precision**: ``amp="auto"`` autocasts on CUDA (bfloat16, or float16 with a
  ``torch.amp.GradScaler`` on older GPUs); ``True`` also on the CPU (bfloat16).
* **Checkpoints**: one format (a dict of plain tensors and numbers with the weights under
  ``"model"``), always read with ``torch.load(weights_only=True)``; every problem raises
  :class:`CheckpointError` naming the file and the fix.
* **Several GPUs or machines**: the same ``fit`` call runs under ``torchrun --nproc_per_node N``
  (DistributedDataParallel, a DistributedSampler per process, losses summed over processes,
  only rank 0 prints and writes). See the book's appendix on distributed training.
"""

from __future__ import annotations

from geolab.train import distributed
from geolab.train.callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler
from geolab.train.checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from geolab.train.loop import (
    FitState,
    History,
    Step,
    amp_dtype,
    evaluate,
    fit,
    fit_epoch,
    make_loader,
    predict,
    supervised_step,
    unsupervised_step,
)
from geolab.train.metrics import Accuracy, accuracy

__all__ = [
    "Accuracy",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "EarlyStopping",
    "FitState",
    "History",
    "LRScheduler",
    "Step",
    "accuracy",
    "amp_dtype",
    "distributed",
    "evaluate",
    "fit",
    "fit_epoch",
    "load_checkpoint",
    "load_weights",
    "make_loader",
    "predict",
    "save_checkpoint",
    "supervised_step",
    "unsupervised_step",
]
