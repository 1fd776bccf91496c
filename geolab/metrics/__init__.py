"""Metrics of the course: segmentation (pixels, from a confusion matrix) and classification.

Every public name of the submodules is importable from here, e.g.
``geolab.metrics.mean_iou`` or ``geolab.metrics.precision_at_recall``:

* :mod:`geolab.metrics.segmentation`: :func:`confusion_matrix` and what follows from it
  (IoU, precision, recall, merged classes, per-class tables) and training-metric adapters
  (:class:`ConfusionMatrix`, :class:`MeanIoU`, :class:`ClassIoU`, :class:`ClassRecall`).
  :func:`confusion_matrix` also serves per-sample class labels (any shape is flattened).
* :mod:`geolab.metrics.classification`: accuracy, balanced accuracy, F1, the
  precision-recall curve, average precision and operating points at a target recall, and
  split-wide training metrics (:class:`AveragePrecision`, :class:`PrecisionAtRecall`).
"""

from __future__ import annotations

from geolab.constants import IGNORE_INDEX
from geolab.metrics.classification import (
    AveragePrecision,
    BinaryScores,
    PrecisionAtRecall,
    accuracy,
    average_precision,
    balanced_accuracy,
    f1_score,
    precision_at_recall,
    precision_recall_curve,
    threshold_at_recall,
)
from geolab.metrics.segmentation import (
    ClassIoU,
    ClassRecall,
    ConfusionMatrix,
    MeanIoU,
    confusion_matrix,
    format_table,
    group_scores,
    iou_per_class,
    mean_iou,
    merge_classes,
    merge_mapping,
    per_class_table,
    pixel_accuracy,
    precision_per_class,
    recall_per_class,
)

__all__ = [
    "IGNORE_INDEX",
    "AveragePrecision",
    "BinaryScores",
    "PrecisionAtRecall",
    "ClassIoU",
    "ClassRecall",
    "ConfusionMatrix",
    "MeanIoU",
    "accuracy",
    "average_precision",
    "balanced_accuracy",
    "confusion_matrix",
    "f1_score",
    "format_table",
    "group_scores",
    "iou_per_class",
    "mean_iou",
    "merge_classes",
    "merge_mapping",
    "per_class_table",
    "pixel_accuracy",
    "precision_at_recall",
    "precision_per_class",
    "precision_recall_curve",
    "recall_per_class",
    "threshold_at_recall",
]
