"""One stage of a cascade: boosted stumps on chosen Haar features, and the rule that sizes it.

A stage is a small AdaBoost classifier whose threshold is lowered until it keeps a target share
of the faces; stumps are added until that threshold lets through at most a target share of the
non-faces (Viola & Jones 2001). :class:`geolab.classic.cascade.Cascade` chains stages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from geolab.classic.adaboost import stump_predict
from geolab.classic.windows import FeatureGeometry

__all__ = ["Stage", "choose_stage_size"]


@dataclass
class Stage:
    """One boosted stage of a cascade.

    Attributes:
        features: ``(T,)`` column indices into the full Haar feature set of the window.
        params: ``(T, 4)`` ``(y, x, dy, dx)`` of those features.
        types: ``(T,)`` their type names.
        thresholds: ``(T,)`` stump thresholds.
        polarities: ``(T,)`` stump polarities (+1 or -1).
        alphas: ``(T,)`` stump weights.
        threshold: The stage accepts a window when ``score >= threshold``.
        geometry: Rectangles of the features (derived from ``params`` and ``types``).
    """

    features: np.ndarray
    params: np.ndarray
    types: np.ndarray
    thresholds: np.ndarray
    polarities: np.ndarray
    alphas: np.ndarray
    threshold: float
    geometry: FeatureGeometry = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.geometry = FeatureGeometry.from_params(self.params, list(self.types))

    def score(self, values: np.ndarray) -> np.ndarray:
        """Weighted vote ``sum_t alpha_t * (2 h_t - 1)`` ``(N,)`` for feature values ``(N, T)``."""
        return (2.0 * stump_predict(values, self.thresholds, self.polarities) - 1.0) @ self.alphas

    @property
    def n_features(self) -> int:
        """Number of weak classifiers (features) in the stage."""
        return len(self.features)


def choose_stage_size(
    partial: np.ndarray, n_pos: int, detection_rate: float, false_positive_rate: float
) -> tuple[int, float]:
    """Smallest number of stumps whose stage meets the targets, and its threshold.

    Args:
        partial: ``(N, T)`` staged decision functions (column ``t`` after ``t + 1`` stumps);
            the first ``n_pos`` rows are faces, the rest non-faces.
        n_pos: Number of faces.
        detection_rate: Share of the faces the stage must keep.
        false_positive_rate: Share of the non-faces it may let through.

    Returns:
        ``(size, threshold)``: the threshold keeps ``detection_rate`` of the faces; ``size`` is
        the first one whose false-positive rate meets the target (else all ``T`` stumps).
    """
    k_miss = int(math.floor((1.0 - detection_rate) * n_pos + 1e-9))
    size = partial.shape[1]
    for t in range(partial.shape[1]):
        thr = np.sort(partial[:n_pos, t])[k_miss]
        if np.mean(partial[n_pos:, t] >= thr) <= false_positive_rate:
            size = t + 1
            break
    return size, float(np.sort(partial[:n_pos, size - 1])[k_miss])
