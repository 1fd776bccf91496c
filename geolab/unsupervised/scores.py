"""Scores of an unsupervised segmentation against true regions (label ids need not match)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["adjusted_rand_index", "contingency", "matched_iou"]


def _pair(true: Any, pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(true), np.asarray(pred)
    if t.shape != p.shape:
        raise ValueError(f"true labels {t.shape} and predicted labels {p.shape} differ in shape")
    if t.dtype.kind not in "uib" or p.dtype.kind not in "uib":
        raise ValueError(f"labels must be integers, got {t.dtype} and {p.dtype}")
    return t.ravel(), p.ravel()


def adjusted_rand_index(true: Any, pred: Any) -> float:
    """Adjusted Rand index of two ``(H, W)`` label maps (scikit-learn): 1 = same partition, ~0 = chance."""
    from sklearn.metrics import adjusted_rand_score

    t, p = _pair(true, pred)
    return float(adjusted_rand_score(t, p))


def contingency(true: Any, pred: Any) -> np.ndarray:
    """Pixel counts ``(n_true, n_pred)`` of every (true region, predicted label) pair; ids are renumbered."""
    t, p = _pair(true, pred)
    _, ti = np.unique(t, return_inverse=True)
    _, pi = np.unique(p, return_inverse=True)
    n_t, n_p = int(ti.max()) + 1, int(pi.max()) + 1
    return np.bincount(ti * n_p + pi, minlength=n_t * n_p).reshape(n_t, n_p)


def matched_iou(true: Any, pred: Any) -> tuple[float, np.ndarray]:
    """Mean IoU after matching predicted labels to true regions one-to-one (Hungarian method).

    The matching maximises the summed IoU (``scipy.optimize.linear_sum_assignment``); a true
    region left without a partner (more regions than labels) scores 0, surplus predicted
    labels are ignored.

    Returns:
        ``(mIoU, iou_per_true_region)``.
    """
    from scipy.optimize import linear_sum_assignment

    cm = contingency(true, pred).astype(np.float64)
    union = cm.sum(1, keepdims=True) + cm.sum(0, keepdims=True) - cm
    iou = cm / np.maximum(union, 1.0)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    per_region = np.zeros(cm.shape[0])
    per_region[rows] = iou[rows, cols]
    return float(per_region.mean()), per_region
