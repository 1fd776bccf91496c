"""Classification metrics: per-sample labels and scores, as scikit-learn defines them.

Label metrics take ``(y_true, y_pred)`` (the order of :mod:`sklearn.metrics`), score metrics
``(y_true, scores)``: ``y_true`` holds 0/1 labels (1 = positive) and ``scores`` any real
numbers, larger meaning "more positive" (probabilities, logits or margins). A sample is called
positive at threshold ``t`` when ``score >= t``. Inputs may be NumPy arrays, lists or torch
tensors; they are flattened.

For the confusion matrix of labels use :func:`geolab.metrics.confusion_matrix` (one function
for pixels and samples; note its order ``(predictions, targets, num_classes)``).

Every function is checked against scikit-learn in ``tests/test_metrics_classification.py``.
Where scikit-learn warns and returns a placeholder (no positive sample for a precision-recall
curve), these functions raise a :class:`ValueError` that says what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "AveragePrecision",
    "BinaryScores",
    "PrecisionAtRecall",
    "accuracy",
    "average_precision",
    "balanced_accuracy",
    "f1_score",
    "precision_at_recall",
    "precision_recall_curve",
    "threshold_at_recall",
]


def _flat(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x).reshape(-1)
    if a.size == 0:
        raise ValueError(f"{name} is empty: pass at least one sample")
    return a


def _pair(y_true: Any, y_other: Any, other: str) -> tuple[np.ndarray, np.ndarray]:
    t = _flat(y_true, "y_true")
    o = _flat(y_other, other)
    if t.shape != o.shape:
        raise ValueError(f"y_true has {t.size} samples but {other} has {o.size}: pass one {other} per sample")
    return t, o


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Share of samples whose predicted label equals the true label.

    Args:
        y_true: ``(N,)`` true labels.
        y_pred: ``(N,)`` predicted labels.

    Returns:
        Accuracy in ``[0, 1]`` (:func:`sklearn.metrics.accuracy_score`).
    """
    t, p = _pair(y_true, y_pred, "y_pred")
    return float(np.mean(t == p))


def _recall_by_class(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels (sorted union), true positives, true counts and predicted counts per label."""
    labels, inverse = np.unique(np.concatenate([t, p]), return_inverse=True)
    ti, pi = inverse[: t.size], inverse[t.size :]
    k = labels.size
    tp = np.bincount(ti[ti == pi], minlength=k)
    return labels, tp, np.bincount(ti, minlength=k), np.bincount(pi, minlength=k)


def balanced_accuracy(y_true: Any, y_pred: Any) -> float:
    """Mean recall over the classes that occur in ``y_true``.

    A classifier that always answers the majority class scores ``1 / K`` for ``K`` classes,
    whatever the imbalance. Classes only predicted, never true, are left out (as scikit-learn).

    Args:
        y_true: ``(N,)`` true labels.
        y_pred: ``(N,)`` predicted labels.

    Returns:
        Balanced accuracy in ``[0, 1]`` (:func:`sklearn.metrics.balanced_accuracy_score`).
    """
    t, p = _pair(y_true, y_pred, "y_pred")
    _, tp, true, _ = _recall_by_class(t, p)
    present = true > 0
    return float(np.mean(tp[present] / true[present]))


def f1_score(y_true: Any, y_pred: Any, *, average: str | None = "binary", pos_label: Any = 1) -> float | np.ndarray:
    """F1 score, the harmonic mean of precision and recall: ``2 TP / (2 TP + FP + FN)``.

    A class never true and never predicted cannot occur (classes are the labels seen); a class
    with ``2 TP + FP + FN = 0`` cannot either. A class with ``TP = 0`` scores 0
    (scikit-learn's ``zero_division=0``).

    Args:
        y_true: ``(N,)`` true labels.
        y_pred: ``(N,)`` predicted labels.
        average: ``"binary"`` (F1 of ``pos_label``), ``"macro"`` (unweighted mean over the
            labels), ``"weighted"`` (mean weighted by true counts), ``"micro"`` (from the pooled
            counts, equal to the accuracy for single-label data) or ``None`` (one score per
            label, labels sorted).
        pos_label: The positive label for ``average="binary"``.

    Returns:
        A float, or a ``(K,)`` array for ``average=None``
        (:func:`sklearn.metrics.f1_score` with ``zero_division=0``).

    Raises:
        ValueError: Unknown ``average``; ``average="binary"`` with more than two labels or a
            ``pos_label`` that is not one of them.
    """
    t, p = _pair(y_true, y_pred, "y_pred")
    labels, tp, true, pred = _recall_by_class(t, p)
    denom = true + pred  # = 2 TP + FP + FN
    f1 = np.divide(2.0 * tp, denom, out=np.zeros(labels.size), where=denom > 0)
    if average is None:
        return f1
    if average == "binary":
        if labels.size > 2:
            raise ValueError(
                f"f1_score: average='binary' needs two labels, found {labels.size} ({labels.tolist()}): "
                "pass average='macro', 'weighted' or 'micro'"
            )
        hit = np.flatnonzero(labels == pos_label)
        if hit.size == 0:
            if labels.size == 2:
                raise ValueError(f"f1_score: pos_label={pos_label!r} is not one of the labels {labels.tolist()}")
            return 0.0  # only one other label occurs: no positive, true or predicted
        return float(f1[hit[0]])
    if average == "macro":
        return float(f1.mean())
    if average == "weighted":
        return float(np.sum(f1 * true) / true.sum())
    if average == "micro":
        all_tp = tp.sum()
        return float(2.0 * all_tp / denom.sum())
    raise ValueError(f"f1_score: average must be 'binary', 'macro', 'weighted', 'micro' or None, got {average!r}")


def _binary_curve(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True and false positives at each distinct score, from the highest score down."""
    t, s = _pair(y_true, scores, "scores")
    uniq = np.unique(t)
    if not np.isin(uniq, [0, 1]).all() and not np.isin(uniq, [False, True]).all():
        raise ValueError(f"y_true must hold 0/1 (or bool) labels, found {uniq[:10].tolist()}: mark positives as 1")
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        raise ValueError("scores hold NaN or infinite values: check the model outputs")
    t = t.astype(np.int64)
    if t.sum() == 0:
        raise ValueError(
            "y_true has no positive sample, so recall (and precision-recall) is undefined: "
            "evaluate on a split that contains positives"
        )
    order = np.argsort(s, kind="mergesort")[::-1]
    s, t = s[order], t[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(t)[last_of_tie]
    fps = (last_of_tie + 1) - tps
    return tps, fps, s[last_of_tie]


def precision_recall_curve(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall at every distinct score used as a threshold.

    Args:
        y_true: ``(N,)`` 0/1 labels; at least one positive.
        scores: ``(N,)`` scores, larger = more positive.

    Returns:
        ``(precision, recall, thresholds)`` exactly as :func:`sklearn.metrics.precision_recall_curve`:
        ``thresholds`` ``(T,)`` increasing; ``precision[i]``, ``recall[i]`` are those of
        ``scores >= thresholds[i]``; the last entries ``precision = 1``, ``recall = 0``
        (no sample called positive) have no threshold.

    Raises:
        ValueError: No positive sample, labels other than 0/1, or non-finite scores.
    """
    tps, fps, thresholds = _binary_curve(y_true, scores)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def average_precision(y_true: Any, scores: Any) -> float:
    """Average precision: ``sum_i (R_i - R_{i-1}) P_i`` over the thresholds, highest first.

    The step-wise area under the precision-recall curve, without interpolation
    (:func:`sklearn.metrics.average_precision_score`). A random ranking scores about the
    share of positives.

    Args:
        y_true: ``(N,)`` 0/1 labels; at least one positive.
        scores: ``(N,)`` scores.
    """
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def _operating_point(y_true: Any, scores: Any, recall: float) -> tuple[float, float]:
    if not 0.0 <= float(recall) <= 1.0:
        raise ValueError(f"recall must lie in [0, 1], got {recall}")
    precision, rec, thresholds = precision_recall_curve(y_true, scores)
    precision, rec = precision[:-1], rec[:-1]  # points with a threshold
    ok = np.flatnonzero(rec >= recall)  # never empty: the lowest threshold has recall 1
    best = precision[ok].max()
    # among thresholds with the best precision, the one with the highest recall (the lowest)
    i = ok[precision[ok] == best].min()
    return float(best), float(thresholds[i])


def precision_at_recall(y_true: Any, scores: Any, recall: float = 0.8) -> float:
    """Best precision among the thresholds whose recall is at least ``recall``.

    Args:
        y_true: ``(N,)`` 0/1 labels; at least one positive.
        scores: ``(N,)`` scores.
        recall: Target recall in ``[0, 1]``.

    Returns:
        ``max(precision[i] for i with recall[i] >= recall)`` over the points of
        :func:`precision_recall_curve` that have a threshold.
    """
    return _operating_point(y_true, scores, recall)[0]


def threshold_at_recall(y_true: Any, scores: Any, recall: float = 0.8) -> float:
    """Threshold that achieves :func:`precision_at_recall`: call ``scores >= threshold`` positive.

    Choose it on a validation split and apply it, unchanged, to the test split. Where several
    thresholds share the best precision, the lowest of them (the highest recall) is returned.

    Args:
        y_true: ``(N,)`` 0/1 labels; at least one positive.
        scores: ``(N,)`` scores.
        recall: Target recall in ``[0, 1]``.

    Returns:
        One of the scores, as a float.
    """
    return _operating_point(y_true, scores, recall)[1]


def _scores_from_outputs(outputs: Any) -> np.ndarray:
    """Model outputs -> one score per sample: ``(N,)`` / ``(N, 1)`` logits as they are, ``(N, 2)`` as a margin."""
    out = outputs.detach().float().cpu().numpy() if hasattr(outputs, "detach") else np.asarray(outputs, dtype=float)
    if out.ndim == 2 and out.shape[1] == 2:
        return out[:, 1] - out[:, 0]  # the positive class's logit margin ranks like its softmax probability
    if out.ndim == 2 and out.shape[1] == 1:
        return out[:, 0]
    if out.ndim != 1:
        raise ValueError(
            f"outputs of shape {out.shape} are not binary scores: pass (N,) or (N, 1) logits, or (N, 2) class logits"
        )
    return out


class BinaryScores:
    """A ranking metric over a whole split, usable as a :func:`geolab.train.fit` metric.

    Ranking metrics such as the average precision are not means over batches, so this object
    collects the scores and targets of every batch (``reset`` / ``update`` / ``compute``) and
    applies ``fn(y_true, scores, **kwargs)`` to all of them at the end.

    Args:
        fn: A score function of this module, e.g. :func:`average_precision`.
        **kwargs: Passed to ``fn``, e.g. ``recall=0.8``.
    """

    def __init__(self, fn: Callable[..., float], **kwargs: Any) -> None:
        self.fn, self.kwargs = fn, kwargs
        self.scores: list[np.ndarray] = []
        self.targets: list[np.ndarray] = []

    def reset(self) -> None:
        """Forget everything seen."""
        self.scores, self.targets = [], []

    def update(self, outputs: Any, targets: Any) -> BinaryScores:
        """Add a batch: logits ``(N,)``, ``(N, 1)`` or ``(N, 2)`` and 0/1 targets ``(N,)``."""
        scores = _scores_from_outputs(outputs)
        t = _flat(targets, "targets")
        if t.size != scores.size:
            raise ValueError(f"{scores.size} scores for {t.size} targets: pass one output per sample")
        self.scores.append(scores)
        self.targets.append(t)
        return self

    def compute(self) -> float:
        """``fn`` over everything seen since the last reset."""
        if not self.scores:
            raise ValueError(f"{type(self).__name__}: no batch seen since the last reset")
        return float(self.fn(np.concatenate(self.targets), np.concatenate(self.scores), **self.kwargs))


class AveragePrecision(BinaryScores):
    """:func:`average_precision` over a split, as a training metric."""

    def __init__(self) -> None:
        super().__init__(average_precision)


class PrecisionAtRecall(BinaryScores):
    """:func:`precision_at_recall` over a split, as a training metric.

    Args:
        recall: Target recall.
    """

    def __init__(self, recall: float = 0.8) -> None:
        super().__init__(precision_at_recall, recall=recall)
