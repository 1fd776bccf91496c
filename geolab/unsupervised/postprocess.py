"""Label maps after segmentation.

Renumbering, connected components, merging to a target number of segments, colours, and
index PNG files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "connected_components",
    "label_colours",
    "merge_to_n_segments",
    "read_label_png",
    "relabel_sequential",
    "write_label_png",
]


def relabel_sequential(labels: Any) -> np.ndarray:
    """Renumber a label map to 0..k-1 in order of first appearance (row-major).

    Args:
        labels: ``(H, W)`` integer labels.

    Returns:
        ``(H, W)`` int64 labels.
    """
    arr = np.asarray(labels)
    if arr.dtype.kind not in "uib":
        raise ValueError(f"labels must be integers, got {arr.dtype}")
    flat = arr.ravel()
    _uniq, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # rank of each unique value by first appearance
    return order[inverse].reshape(arr.shape).astype(np.int64)


def connected_components(labels: Any, connectivity: int = 1) -> np.ndarray:
    """Give every connected region of every label its own label (0..k-1).

    Args:
        labels: ``(H, W)`` integer labels.
        connectivity: 1 (4-neighbours) or 2 (8-neighbours).
    """
    from skimage.measure import label as cc_label

    arr = np.asarray(labels).astype(np.int64)
    regions = cc_label(arr + 1, background=0, connectivity=connectivity)
    return relabel_sequential(regions)


def merge_to_n_segments(labels: Any, image: Any, n_segments: int) -> np.ndarray:
    """Merge labels until ``n_segments`` remain, joining labels of the closest mean colour first.

    Ward-linkage agglomerative clustering (scikit-learn) of the labels' mean colours (each
    label counts once, whatever its size); label maps with few enough labels are only renumbered.

    Args:
        labels: ``(H, W)`` integer labels.
        image: ``(H, W, C)`` or ``(H, W)`` image the labels belong to.
        n_segments: Target number of labels (>= 1).

    Returns:
        ``(H, W)`` int64 labels 0..n_segments-1 (or fewer if there were fewer).
    """
    if n_segments < 1:
        raise ValueError(f"n_segments must be >= 1, got {n_segments}")
    lab = relabel_sequential(labels)
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[:2] != lab.shape:
        raise ValueError(f"labels {lab.shape} and image {img.shape[:2]} differ in (height, width)")
    k = int(lab.max()) + 1
    if k <= n_segments:
        return lab
    from sklearn.cluster import AgglomerativeClustering

    counts = np.bincount(lab.ravel(), minlength=k).astype(np.float64)
    means = np.stack([np.bincount(lab.ravel(), weights=img[..., c].ravel(), minlength=k) / counts
                      for c in range(img.shape[2])], axis=1)
    merged = AgglomerativeClustering(n_clusters=n_segments, linkage="ward").fit_predict(means)
    return relabel_sequential(merged[lab])


def label_colours(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 3)`` uint8 distinct-looking colours (tab20 first, then seeded random ones)."""
    import matplotlib

    base = (np.asarray(matplotlib.colormaps["tab20"](np.arange(20)))[:, :3] * 255).round().astype(np.uint8)
    if n <= len(base):
        return base[:n].copy()
    rng = np.random.default_rng(seed)
    extra = rng.integers(0, 256, size=(n - len(base), 3), dtype=np.uint8)
    return np.concatenate([base, extra])


def write_label_png(path: str | os.PathLike[str], labels: Any) -> Path:
    """Write labels as an 8-bit (<= 256 labels) or 16-bit index PNG, atomically.

    Args:
        path: Output ``.png`` file (parent folders are created).
        labels: ``(H, W)`` non-negative integer labels.
    """
    from PIL import Image

    arr = np.asarray(labels)
    if arr.ndim != 2 or arr.dtype.kind not in "ui" or (arr.size and arr.min() < 0):
        raise ValueError(f"labels must be a (H, W) array of non-negative integers, got {arr.dtype} {arr.shape}")
    if arr.size and arr.max() > 65535:
        raise ValueError(f"{int(arr.max()) + 1} labels do not fit a 16-bit PNG; merge them first")
    dtype = np.uint8 if (not arr.size or arr.max() < 256) else np.uint16
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.png")
    try:
        Image.fromarray(arr.astype(dtype)).save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_label_png(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an index PNG (8- or 16-bit, or palette mode) as ``(H, W)`` int64 labels.

    Raises:
        FileNotFoundError / ValueError: naming the file and what it should be.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label image {path} does not exist")
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise ValueError(f"{path} is a {im.mode} image; label maps must be single-band index PNGs "
                                 f"(mode L, P or I;16), one integer id per pixel")
            arr = np.asarray(im)
    except UnidentifiedImageError as exc:
        raise ValueError(f"{path} is not a readable image; save the labels as a PNG") from exc
    return arr.astype(np.int64)
