"""Metrics for :func:`geolab.train.fit` and :func:`geolab.train.evaluate`.

A metric is either a callable ``(outputs, targets) -> float`` (averaged over samples, each
batch weighted by its size; e.g. :func:`accuracy`) or an object with ``reset()``,
``update(outputs, targets)`` and ``compute() -> float`` (accumulated over the whole split;
e.g. :class:`Accuracy`, or a confusion-matrix mIoU). Use the second kind for metrics whose
value over a split is not the mean of batch values (mIoU, F1, accuracy with ignored pixels).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import torch

from geolab.constants import IGNORE_INDEX

__all__ = ["Accuracy", "Metric", "StatefulMetric", "accuracy", "split_metrics"]


@runtime_checkable
class StatefulMetric(Protocol):
    """A metric accumulated over a whole split (e.g. from a confusion matrix)."""

    def reset(self) -> None:
        """Forget everything seen so far."""

    def update(self, outputs: torch.Tensor, targets: Any) -> None:
        """Count one batch."""

    def compute(self) -> float:
        """The value over everything since :meth:`reset`."""


MetricFn = Callable[[torch.Tensor, Any], float]
Metric = MetricFn | StatefulMetric


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


def split_metrics(metrics: Mapping[str, Metric] | None) -> tuple[dict[str, MetricFn], dict[str, StatefulMetric]]:
    """Sort ``name -> metric`` into callables and stateful objects (checked once, not per batch).

    Raises:
        TypeError: ``metrics`` is not a mapping of non-empty names to metrics.
    """
    if metrics is None:
        return {}, {}
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must be a mapping name -> metric, e.g. {{'acc': accuracy}}, got {type(metrics).__name__}"
        )
    fns: dict[str, MetricFn] = {}
    stateful: dict[str, StatefulMetric] = {}
    for name, metric in metrics.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"metric names must be non-empty strings, got {name!r}")
        if isinstance(metric, StatefulMetric):
            stateful[name] = metric
        elif callable(metric):
            fns[name] = metric
        else:
            raise TypeError(
                f"metric {name!r} is neither a callable (outputs, targets) -> float nor an object with "
                "reset(), update(outputs, targets) and compute()"
            )
    return fns, stateful
