"""Segmentation metrics: a confusion matrix accumulated over a split and what follows from it.

The same :func:`confusion_matrix` counts per-sample class labels (any shape is flattened);
note its argument order ``(predictions, targets, num_classes)``, the order of the training
metrics, where :mod:`sklearn.metrics` takes ``(y_true, y_pred)``.

Everything here starts from one ``(C, C)`` confusion matrix ``cm`` whose row ``i`` counts
the pixels whose *true* class is ``i`` and whose column ``j`` counts the pixels *predicted*
as ``j`` (the convention of :func:`sklearn.metrics.confusion_matrix`). For class ``c``:

* true positives ``TP = cm[c, c]``, false negatives ``FN = cm[c].sum() - TP``, false
  positives ``FP = cm[:, c].sum() - TP``;
* IoU (Jaccard index) ``TP / (TP + FP + FN)``, precision ``TP / (TP + FP)``, recall
  ``TP / (TP + FN)`` (the "share of litter pixels detected" of Hidaka et al. 2022);
* mIoU: the mean IoU over the classes that occur (in the truth or the prediction); a class
  absent from both has an undefined (NaN) IoU and is left out of the mean.

Pixels whose true label is ``ignore_index`` (255 in the course) are not counted at all.

:class:`ConfusionMatrix` has ``reset() / update(outputs, targets) / compute()``, so it can be
passed to :func:`geolab.train.fit` as a metric (``compute`` returns the mIoU);
:class:`ClassIoU` and :class:`ClassRecall` do the same for one class or a merged group.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from geolab.constants import IGNORE_INDEX

__all__ = [
    "ClassIoU",
    "ClassRecall",
    "ConfusionMatrix",
    "MeanIoU",
    "confusion_matrix",
    "format_table",
    "group_scores",
    "iou_per_class",
    "mean_iou",
    "merge_classes",
    "merge_mapping",
    "per_class_table",
    "pixel_accuracy",
    "precision_per_class",
    "recall_per_class",
]


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _labels_from(outputs: Any, targets: Any) -> tuple[Any, Any]:
    """Turn logits ``(N, C, H, W)`` into label maps ``(N, H, W)``; pass label maps through."""
    out_ndim = len(outputs.shape)
    tgt_ndim = len(targets.shape)
    if out_ndim == tgt_ndim + 1:  # scores with a class axis at position 1
        if hasattr(outputs, "argmax") and hasattr(outputs, "detach"):
            outputs = outputs.argmax(dim=1)
        else:
            outputs = np.asarray(outputs).argmax(axis=1)
    elif out_ndim != tgt_ndim:
        raise ValueError(
            f"outputs of shape {tuple(outputs.shape)} do not fit targets of shape {tuple(targets.shape)}: "
            "pass logits (N, C, H, W) with targets (N, H, W), or two label maps of the same shape"
        )
    if tuple(outputs.shape) != tuple(targets.shape):
        raise ValueError(
            f"predicted labels {tuple(outputs.shape)} and targets {tuple(targets.shape)} differ in shape"
        )
    return outputs, targets


def confusion_matrix(
    predictions: Any, targets: Any, num_classes: int, ignore_index: int | None = IGNORE_INDEX
) -> np.ndarray:
    """Count (true class, predicted class) pairs of pixels.

    Args:
        predictions: Predicted class ids, any shape (NumPy array or torch tensor), or logits
            with one more axis than ``targets`` (class axis 1, e.g. ``(N, C, H, W)``).
        targets: True class ids ``0..num_classes-1``; pixels equal to ``ignore_index``
            are skipped.
        num_classes: Number of classes ``C``.
        ignore_index: Target value to skip (``None``: skip nothing).

    Returns:
        ``(C, C)`` int64 matrix; rows are true classes, columns predicted classes.

    Raises:
        ValueError: Shapes differ, or an id lies outside ``0..C-1`` (other than ``ignore_index``
            in the targets).
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    predictions, targets = _labels_from(predictions, targets)
    if hasattr(targets, "detach") and hasattr(predictions, "detach"):
        import torch

        t = targets.reshape(-1).long()
        p = predictions.reshape(-1).long().to(t.device)
        if ignore_index is not None:
            keep = t != ignore_index
            t, p = t[keep], p[keep]
        if t.numel():
            lo_t, hi_t = int(t.min()), int(t.max())
            lo_p, hi_p = int(p.min()), int(p.max())
            _check_range(lo_t, hi_t, lo_p, hi_p, num_classes, ignore_index)
        counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
        return counts.cpu().numpy().astype(np.int64).reshape(num_classes, num_classes)
    tn = _to_numpy(targets).reshape(-1).astype(np.int64)
    pn = _to_numpy(predictions).reshape(-1).astype(np.int64)
    if ignore_index is not None:
        keep_n = tn != ignore_index
        tn, pn = tn[keep_n], pn[keep_n]
    if tn.size:
        _check_range(int(tn.min()), int(tn.max()), int(pn.min()), int(pn.max()), num_classes, ignore_index)
    counts_n = np.bincount(tn * num_classes + pn, minlength=num_classes * num_classes)
    return counts_n.astype(np.int64).reshape(num_classes, num_classes)


def _check_range(lo_t: int, hi_t: int, lo_p: int, hi_p: int, c: int, ignore_index: int | None) -> None:
    if lo_t < 0 or hi_t >= c:
        raise ValueError(
            f"targets hold ids from {lo_t} to {hi_t}, outside 0..{c - 1} and not the ignore_index "
            f"{ignore_index}: check num_classes or map unknown labels to {ignore_index}"
        )
    if lo_p < 0 or hi_p >= c:
        raise ValueError(f"predictions hold ids from {lo_p} to {hi_p}, outside 0..{c - 1}: check num_classes")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _square(cm: Any) -> np.ndarray:
    cm = np.asarray(getattr(cm, "matrix", cm))
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"a confusion matrix must be square (C, C), got shape {cm.shape}")
    return cm


def iou_per_class(cm: Any) -> np.ndarray:
    """IoU ``TP / (TP + FP + FN)`` of every class; NaN for a class absent from truth and prediction.

    Args:
        cm: ``(C, C)`` confusion matrix (or a :class:`ConfusionMatrix`).

    Returns:
        ``(C,)`` float64 array.
    """
    cm = _square(cm)
    tp = np.diag(cm)
    return _ratio(tp, cm.sum(0) + cm.sum(1) - tp)


def precision_per_class(cm: Any) -> np.ndarray:
    """Precision ``TP / (TP + FP)`` of every class; NaN for a class never predicted. Shape ``(C,)``."""
    cm = _square(cm)
    return _ratio(np.diag(cm), cm.sum(0))


def recall_per_class(cm: Any) -> np.ndarray:
    """Recall ``TP / (TP + FN)`` of every class; NaN for a class absent from the truth. Shape ``(C,)``."""
    cm = _square(cm)
    return _ratio(np.diag(cm), cm.sum(1))


def mean_iou(cm: Any) -> float:
    """Mean IoU over the classes with a defined IoU (NaN if there is none)."""
    iou = iou_per_class(cm)
    return float(np.nanmean(iou)) if np.isfinite(iou).any() else math.nan


def pixel_accuracy(cm: Any) -> float:
    """Share of counted pixels that are classified correctly (NaN for an empty matrix)."""
    cm = _square(cm)
    total = cm.sum()
    return float(np.trace(cm) / total) if total else math.nan


def merge_mapping(num_classes: int, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Old class id -> new class id when the classes of each group become one class.

    Classes in no group stay on their own. The new classes are ordered by the smallest old id
    they contain, so merging ``[0, 4]`` of 8 classes gives new classes
    ``[{0, 4}, {1}, {2}, {3}, {5}, {6}, {7}]``.

    Args:
        num_classes: Number of old classes.
        groups: Lists of old class ids; a class may appear in at most one group.

    Returns:
        ``(num_classes,)`` int64 array.
    """
    owner = list(range(num_classes))
    seen: set[int] = set()
    for group in groups:
        members = [int(c) for c in group]
        if not members:
            raise ValueError("merge_classes: a group is empty")
        for c in members:
            if not 0 <= c < num_classes:
                raise ValueError(f"merge_classes: class {c} is outside 0..{num_classes - 1}")
            if c in seen:
                raise ValueError(f"merge_classes: class {c} appears in more than one group")
            seen.add(c)
        first = min(members)
        for c in members:
            owner[c] = first
    firsts = sorted(set(owner))
    new_id = {f: i for i, f in enumerate(firsts)}
    return np.array([new_id[o] for o in owner], dtype=np.int64)


def merge_classes(cm: Any, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Confusion matrix after merging groups of classes (see :func:`merge_mapping` for the order).

    Merging artificial and natural litter (train ids 0 and 4) makes a confusion between them
    count as correct, as in the "merged litter" figures of Hidaka et al. (2022).

    Args:
        cm: ``(C, C)`` confusion matrix or :class:`ConfusionMatrix`.
        groups: Lists of class ids to merge, e.g. ``[[0, 4]]``.

    Returns:
        ``(C', C')`` int64 matrix with ``C' = C - sum(len(g) - 1)``.
    """
    cm = _square(cm)
    mapping = merge_mapping(cm.shape[0], groups)
    k = int(mapping.max()) + 1
    onehot = np.zeros((cm.shape[0], k), dtype=np.int64)
    onehot[np.arange(cm.shape[0]), mapping] = 1
    return onehot.T @ cm.astype(np.int64) @ onehot


def group_scores(cm: Any, members: Sequence[int]) -> dict[str, float]:
    """IoU, precision and recall of a group of classes treated as one class.

    Args:
        cm: ``(C, C)`` confusion matrix or :class:`ConfusionMatrix`.
        members: Class ids forming the group, e.g. ``[0, 4]`` for merged litter.

    Returns:
        ``{"iou", "precision", "recall", "support"}``; support is the number of true pixels.
    """
    cm = _square(cm)
    idx = np.asarray(list(members), dtype=np.int64)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= cm.shape[0]:
        raise ValueError(f"members {list(members)} must be class ids in 0..{cm.shape[0] - 1}")
    tp = cm[np.ix_(idx, idx)].sum()
    true = cm[idx].sum()
    pred = cm[:, idx].sum()

    def r(a: float, b: float) -> float:
        return float(a / b) if b > 0 else math.nan

    return {"iou": r(tp, true + pred - tp), "precision": r(tp, pred), "recall": r(tp, true), "support": float(true)}


class ConfusionMatrix:
    """Confusion matrix accumulated over the batches of a split.

    Usable as a :func:`geolab.train.fit` metric: ``reset()``, ``update(outputs, targets)``
    with logits ``(N, C, H, W)`` (or label maps ``(N, H, W)``) and targets ``(N, H, W)``,
    and ``compute()`` returning the mIoU.

    Args:
        num_classes: Number of classes ``C``.
        ignore_index: Target value not counted (default 255).

    Attributes:
        matrix: ``(C, C)`` int64 counts, rows true classes, columns predicted classes.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = IGNORE_INDEX) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def reset(self) -> None:
        """Set every count to zero."""
        self.matrix[:] = 0

    def update(self, outputs: Any, targets: Any) -> ConfusionMatrix:
        """Add one batch; returns ``self`` so calls can be chained."""
        self.matrix += confusion_matrix(outputs, targets, self.num_classes, self.ignore_index)
        return self

    def compute(self) -> float:
        """The mIoU of everything seen since the last reset."""
        return mean_iou(self.matrix)

    def iou(self) -> np.ndarray:
        """Per-class IoU ``(C,)``."""
        return iou_per_class(self.matrix)

    def precision(self) -> np.ndarray:
        """Per-class precision ``(C,)``."""
        return precision_per_class(self.matrix)

    def recall(self) -> np.ndarray:
        """Per-class recall ``(C,)``."""
        return recall_per_class(self.matrix)

    def miou(self) -> float:
        """Mean IoU over the classes that occur."""
        return mean_iou(self.matrix)

    def accuracy(self) -> float:
        """Pixel accuracy."""
        return pixel_accuracy(self.matrix)

    def merged(self, groups: Sequence[Sequence[int]]) -> ConfusionMatrix:
        """A new :class:`ConfusionMatrix` with the groups merged (see :func:`merge_classes`)."""
        merged = merge_classes(self.matrix, groups)
        out = ConfusionMatrix(merged.shape[0], self.ignore_index)
        out.matrix = merged
        return out

    def normalized(self, by: str = "true") -> np.ndarray:
        """Rows (``by="true"``: recall on the diagonal) or columns (``"pred"``) scaled to sum 1."""
        if by == "true":
            return _ratio(self.matrix, self.matrix.sum(1, keepdims=True))
        if by == "pred":
            return _ratio(self.matrix, self.matrix.sum(0, keepdims=True))
        raise ValueError(f"by must be 'true' or 'pred', got {by!r}")

    def __repr__(self) -> str:
        pixels = int(self.matrix.sum())
        return f"ConfusionMatrix(num_classes={self.num_classes}, pixels={pixels}, mIoU={self.miou():.4f})"


class MeanIoU(ConfusionMatrix):
    """The mIoU as a :func:`geolab.train.fit` metric (same as :class:`ConfusionMatrix`)."""


class ClassIoU(ConfusionMatrix):
    """IoU of one class, or of a group of classes merged into one, as a training metric.

    Args:
        num_classes: Number of classes.
        members: One class id or a list of ids (e.g. ``[0, 4]`` for merged litter).
        ignore_index: Target value not counted.
    """

    def __init__(self, num_classes: int, members: int | Sequence[int], ignore_index: int | None = IGNORE_INDEX) -> None:
        super().__init__(num_classes, ignore_index)
        self.members = [int(members)] if isinstance(members, (int, np.integer)) else [int(m) for m in members]
        group_scores(self.matrix, self.members)  # validates the ids

    def compute(self) -> float:
        """IoU of the class or group."""
        return group_scores(self.matrix, self.members)["iou"]


class ClassRecall(ClassIoU):
    """Recall (share of true pixels found) of one class or a merged group, as a training metric."""

    def compute(self) -> float:
        """Recall of the class or group."""
        return group_scores(self.matrix, self.members)["recall"]


def per_class_table(
    cm: Any,
    class_names: Sequence[str],
    merged: Mapping[str, Sequence[int]] | None = None,
) -> list[dict[str, Any]]:
    """Rows of a per-class result table like the paper's: IoU, precision, recall, support.

    Args:
        cm: ``(C, C)`` confusion matrix or :class:`ConfusionMatrix`.
        class_names: ``C`` names.
        merged: Extra rows for merged groups, e.g. ``{"Litter (merged)": [0, 4]}``.

    Returns:
        One dict per class (keys ``class``, ``iou``, ``precision``, ``recall``, ``support``
        (true pixels) and ``share`` (of all counted pixels)), then one per merged group, then a
        ``"mean (mIoU)"`` row whose ``iou`` is the mIoU and whose precision/recall are the
        NaN-aware means over the classes.
    """
    cm = _square(cm)
    if len(class_names) != cm.shape[0]:
        raise ValueError(f"{len(class_names)} class names for a {cm.shape[0]}-class confusion matrix")
    total = cm.sum()
    iou, prec, rec = iou_per_class(cm), precision_per_class(cm), recall_per_class(cm)
    rows: list[dict[str, Any]] = []
    for c, name in enumerate(class_names):
        support = int(cm[c].sum())
        rows.append(
            {
                "class": str(name),
                "iou": float(iou[c]),
                "precision": float(prec[c]),
                "recall": float(rec[c]),
                "support": support,
                "share": float(support / total) if total else math.nan,
            }
        )
    for name, members in (merged or {}).items():
        s = group_scores(cm, members)
        rows.append(
            {
                "class": str(name),
                "iou": s["iou"],
                "precision": s["precision"],
                "recall": s["recall"],
                "support": int(s["support"]),
                "share": float(s["support"] / total) if total else math.nan,
            }
        )

    def nanmean(a: np.ndarray) -> float:
        return float(np.nanmean(a)) if np.isfinite(a).any() else math.nan

    rows.append(
        {
            "class": "mean (mIoU)",
            "iou": mean_iou(cm),
            "precision": nanmean(prec),
            "recall": nanmean(rec),
            "support": int(total),
            "share": 1.0 if total else math.nan,
        }
    )
    return rows


def format_table(rows: Sequence[Mapping[str, Any]], percent: bool = True) -> str:
    """Format :func:`per_class_table` rows as a fixed-width text table.

    Args:
        rows: Dicts with the keys ``class``, ``iou``, ``precision``, ``recall``, ``share``.
        percent: Show scores as percentages (otherwise as fractions).
    """
    width = max([len("class")] + [len(str(r["class"])) for r in rows])

    def fmt(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "—".rjust(9)
        return f"{100 * v:8.1f}%" if percent else f"{v:9.3f}"

    head = f"{'class':<{width}}  {'IoU':>9}  {'precision':>9}  {'recall':>9}  {'pixels':>9}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{str(r['class']):<{width}}  {fmt(r['iou'])}  {fmt(r['precision'])}  "
            f"{fmt(r['recall'])}  {fmt(r.get('share'))}"
        )
    return "\n".join(lines)
