"""Classical unsupervised segmentations with the call shape of :func:`geolab.unsupervised.segment`.

Each takes an ``(H, W, C)`` (or ``(H, W)``) image and keyword settings and returns an
``(H, W)`` int64 label map numbered 0..k-1. Defaults are the documented settings used in the
lesson's comparison table:

* :func:`kmeans_segment`: k-means (scikit-learn) on colour and position, 8 clusters, position
  weighted 0.5 against colours in 0..1;
* :func:`slic_segment`: SLIC superpixels (scikit-image) as in scikit-image's gallery comparison
  of segmentations: 250 segments, compactness 10, sigma 1;
* :func:`felzenszwalb_segment`: graph-based segmentation (scikit-image) with the gallery's
  scale 100, sigma 0.5, min_size 50.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from geolab.unsupervised.postprocess import relabel_sequential

__all__ = ["BASELINES", "felzenszwalb_segment", "kmeans_segment", "slic_segment"]


def _float_image(image: Any) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {arr.shape}")
    if arr.dtype.kind in "ui":
        return arr.astype(np.float64) / float(np.iinfo(arr.dtype).max)
    return arr.astype(np.float64)


def kmeans_segment(image: Any, *, n_segments: int = 8, position_weight: float = 0.5, seed: int = 0) -> np.ndarray:
    """k-means on per-pixel features (colour in 0..1, row/height and column/width times ``position_weight``).

    Args:
        image: ``(H, W, C)`` or ``(H, W)``.
        n_segments: k, the number of clusters.
        position_weight: Weight of the pixel position against the colours.
        seed: Seed of k-means' initialisation.
    """
    from sklearn.cluster import KMeans

    img = _float_image(image)
    height, width, _ = img.shape
    yy, xx = np.mgrid[0:height, 0:width]
    feats = np.concatenate([img.reshape(-1, img.shape[2]),
                            position_weight * np.stack([yy.ravel() / height, xx.ravel() / width], axis=1)], axis=1)
    labels = KMeans(n_clusters=n_segments, n_init=4, random_state=seed).fit_predict(feats)
    return relabel_sequential(labels.reshape(height, width))


def slic_segment(image: Any, *, n_segments: int = 250, compactness: float = 10.0, sigma: float = 1.0,
                 seed: int = 0) -> np.ndarray:
    """SLIC superpixels (scikit-image); ``seed`` is unused (SLIC is deterministic)."""
    from skimage.segmentation import slic

    img = _float_image(image)
    labels = slic(img, n_segments=n_segments, compactness=compactness, sigma=sigma, start_label=0,
                  channel_axis=-1, convert2lab=img.shape[2] == 3)
    return relabel_sequential(labels)


def felzenszwalb_segment(image: Any, *, scale: float = 100.0, sigma: float = 0.5, min_size: int = 50,
                         seed: int = 0) -> np.ndarray:
    """Felzenszwalb–Huttenlocher graph-based segmentation (scikit-image); ``seed`` is unused."""
    from skimage.segmentation import felzenszwalb

    img = _float_image(image)
    labels = felzenszwalb(img, scale=scale, sigma=sigma, min_size=min_size, channel_axis=-1)
    return relabel_sequential(labels)


#: Name -> baseline function, for comparison tables.
BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "k-means (colour + position)": kmeans_segment,
    "SLIC": slic_segment,
    "Felzenszwalb": felzenszwalb_segment,
}
