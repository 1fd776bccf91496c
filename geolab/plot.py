"""Plots the course draws again and again: image grids, label overlays, training curves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

__all__ = ["image_grid", "mask_to_rgb", "overlay_mask", "plot_history", "to_display"]


def to_display(image: Any) -> np.ndarray:
    """Turn an image into an array matplotlib shows as intended.

    Args:
        image: NumPy array ``(H, W)``, ``(H, W, C)`` or a torch tensor ``(C, H, W)`` /
            ``(H, W)``; uint8 in 0..255 or float in 0..1.

    Returns:
        ``(H, W)`` or ``(H, W, 3|4)`` array.
    """
    if hasattr(image, "detach"):  # torch tensor, channels first
        arr = image.detach().cpu().numpy()
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4):
            arr = np.moveaxis(arr, 0, -1)
    else:
        arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected an image of 2 or 3 dimensions, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if arr.ndim == 3 and arr.dtype.kind == "f":
        arr = np.clip(arr, 0.0, 1.0)
    return arr


def image_grid(
    images: Sequence[Any],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    cmap: str = "gray",
    size: float = 2.5,
    suptitle: str | None = None,
) -> Figure:
    """Show several images side by side with optional titles.

    Args:
        images: Images accepted by :func:`to_display`.
        titles: One title per image.
        ncols: Columns of the grid (default: up to 6).
        cmap: Colour map for single-channel images.
        size: Size of one panel in inches.
        suptitle: Title of the whole figure.
    """
    n = len(images)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    if titles is not None and len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} images")
    ncols = ncols or min(n, 6)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        arr = to_display(images[i])
        ax.imshow(arr, cmap=cmap if arr.ndim == 2 else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def mask_to_rgb(mask: np.ndarray, palette: Sequence[Sequence[int]], ignore_index: int = 255) -> np.ndarray:
    """Colour a label mask.

    Args:
        mask: ``(H, W)`` integer class ids.
        palette: RGB colour (0..255) per class id.
        ignore_index: Id drawn black (not a class).

    Returns:
        ``(H, W, 3)`` uint8 image.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {mask.shape}")
    pal = np.zeros((256, 3), dtype=np.uint8)
    colours = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if len(colours) > 255:
        raise ValueError("at most 255 classes can be drawn")
    pal[: len(colours)] = colours
    ids = mask.astype(np.int64)
    bad = ((ids < 0) | (ids >= len(colours))) & (ids != ignore_index)
    if bad.any():
        raise ValueError(
            f"mask holds ids {sorted(np.unique(ids[bad]).tolist())[:10]} outside the palette "
            f"of {len(colours)} colours"
        )
    ids = np.where(ids == ignore_index, 255, ids)
    return pal[ids]


def overlay_mask(
    image: Any,
    mask: np.ndarray,
    palette: Sequence[Sequence[int]],
    class_names: Sequence[str] | None = None,
    alpha: float = 0.5,
    ignore_index: int = 255,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw a label mask over an image, with a legend of the classes present.

    Args:
        image: RGB image ``(H, W, 3)`` (or anything :func:`to_display` accepts).
        mask: ``(H, W)`` class ids, same size as the image.
        palette: RGB colour per class id.
        class_names: Name per class id for the legend.
        alpha: Opacity of the mask, 0..1.
        ignore_index: Id left transparent.
        ax: Axes to draw into (default: a new figure).
        title: Axes title.
    """
    img = to_display(image)
    mask = np.asarray(mask)
    if img.shape[:2] != mask.shape:
        raise ValueError(f"image {img.shape[:2]} and mask {mask.shape} differ in size")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6 * mask.shape[0] / max(mask.shape[1], 1)))
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    rgba = np.zeros((*mask.shape, 4), dtype=np.float32)
    rgba[..., :3] = mask_to_rgb(mask, palette, ignore_index) / 255.0
    rgba[..., 3] = np.where(mask == ignore_index, 0.0, alpha)
    ax.imshow(rgba)
    present = [int(c) for c in np.unique(mask) if c != ignore_index]
    handles = [
        Patch(
            color=np.asarray(palette[c]) / 255.0,
            label=class_names[c] if class_names is not None else str(c),
        )
        for c in present
    ]
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.8)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def plot_history(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    size: tuple[float, float] = (4.0, 3.0),
) -> Figure:
    """Plot per-epoch training curves.

    ``train_<name>`` and ``val_<name>`` share one panel; any other key gets its own.

    Args:
        history: Mapping from a metric name to one value per epoch, as returned by
            :func:`geolab.train.fit`.
        keys: Metric names to draw (default: all).
        size: Size of one panel in inches.
    """
    keys = list(keys) if keys is not None else [k for k, v in history.items() if len(v)]
    panels: dict[str, list[str]] = {}
    for key in keys:
        if key not in history:
            raise KeyError(f"history has no {key!r}; it has {sorted(history)}")
        base = key.split("_", 1)[1] if key.startswith(("train_", "val_")) else key
        panels.setdefault(base, []).append(key)
    if not panels:
        raise ValueError("history is empty")
    fig, axes = plt.subplots(1, len(panels), figsize=(size[0] * len(panels), size[1]), squeeze=False)
    for ax, (base, members) in zip(axes.flat, panels.items()):
        for key in members:
            values = list(history[key])
            ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_title(base)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
