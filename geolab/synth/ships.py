"""Synthetic sea scenes with ships and icebergs, and their bounding boxes, for object detection.

Stands in for: small optical satellite or aerial chips of open sea (a few metres per pixel) in
which vessels (long, thin, bright, with a dark wake-free hull outline) and floating ice (round,
bright, bluish) must be found: the ship-detection task of the remote-sensing surveys.

How it is made: a dark blue sea with smooth brightness variation, fine wave noise and sun
glint speckles; ships are axis-aligned bright rectangles (horizontal or vertical) with a darker
outline, icebergs bright discs with a soft edge; objects never overlap.

Where it breaks down: ships are axis-aligned (real ones point anywhere: rotated boxes), there
are no wakes, coasts, clouds or harbours, and every object is clearly brighter than the sea.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = ["CLASSES", "SeaScene", "render_sea_scene"]

CLASSES: tuple[str, ...] = ("ship", "iceberg")
"""Object classes; a box's label is the index in this tuple."""


@dataclass
class SeaScene:
    """One scene.

    Attributes:
        image: float32 ``(3, height, width)`` RGB in ``[0, 1]``.
        boxes: float32 ``(n, 4)`` boxes ``(x1, y1, x2, y2)`` in pixels (x2, y2 exclusive).
        labels: int64 ``(n,)`` indices into :data:`CLASSES`.
    """

    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray


def render_sea_scene(
    size: tuple[int, int] = (64, 64),
    *,
    seed: int = 0,
    max_objects: int = 4,
    ship_length: tuple[int, int] = (9, 17),
    ship_width: tuple[int, int] = (3, 5),
    iceberg_radius: tuple[float, float] = (2.5, 5.0),
    noise: float = 0.03,
) -> SeaScene:
    """Render a sea scene with 1..``max_objects`` ships and icebergs.

    Args:
        size: ``(height, width)`` in pixels.
        seed: Seed of every random choice.
        max_objects: Upper bound of objects per scene.
        ship_length: Range ``[low, high)`` of ship lengths in pixels.
        ship_width: Range ``[low, high)`` of ship widths in pixels.
        iceberg_radius: Range of iceberg radii in pixels.
        noise: Standard deviation of the pixel noise.

    Returns:
        A :class:`SeaScene`.
    """
    height, width = (int(v) for v in size)
    rng = np.random.default_rng(seed)
    base = ndi.gaussian_filter(rng.standard_normal((height, width)), 8, mode="wrap")
    base = 0.05 * base / (base.std() + 1e-12)
    sea = np.array([0.05, 0.18, 0.32])[:, None, None] * (1 + base)[None]
    waves = ndi.gaussian_filter(rng.standard_normal((height, width)), 0.8)
    sea = sea + 0.03 * waves[None]
    glint = rng.random((height, width)) < 0.004
    sea[:, glint] += 0.35
    image = sea.copy()
    occupied = np.zeros((height, width), dtype=bool)
    boxes: list[list[float]] = []
    labels: list[int] = []
    yy, xx = np.mgrid[0:height, 0:width]
    n_objects = int(rng.integers(1, max_objects + 1))
    for _ in range(n_objects * 10):
        if len(boxes) == n_objects:
            break
        kind = int(rng.integers(len(CLASSES)))
        if kind == 0:
            length = int(rng.integers(*ship_length))
            breadth = int(rng.integers(*ship_width))
            h, w = (breadth, length) if rng.random() < 0.5 else (length, breadth)
        else:
            radius = float(rng.uniform(*iceberg_radius))
            h = w = int(np.ceil(2 * radius))
        if h + 2 > height or w + 2 > width:
            continue
        y0 = int(rng.integers(1, height - h))
        x0 = int(rng.integers(1, width - w))
        if occupied[max(0, y0 - 2) : y0 + h + 2, max(0, x0 - 2) : x0 + w + 2].any():
            continue
        occupied[y0 : y0 + h, x0 : x0 + w] = True
        if kind == 0:
            hull = np.array([0.55, 0.55, 0.55]) + rng.uniform(-0.1, 0.2)
            image[:, y0 : y0 + h, x0 : x0 + w] = 0.2
            image[:, y0 + 1 : y0 + h - 1, x0 + 1 : x0 + w - 1] = hull[:, None, None]
            if h > w:  # superstructure: a brighter block on deck
                m = y0 + h // 3
                image[:, m : m + 2, x0 + 1 : x0 + w - 1] = 0.9
            else:
                m = x0 + w // 3
                image[:, y0 + 1 : y0 + h - 1, m : m + 2] = 0.9
        else:
            cy, cx = y0 + h / 2 - 0.5, x0 + w / 2 - 0.5
            d = np.hypot(yy - cy, xx - cx)
            alpha = np.clip(radius + 0.5 - d, 0, 1)
            ice = np.array([0.8, 0.9, 0.95])[:, None, None]
            image = (1 - alpha)[None] * image + alpha[None] * ice
        boxes.append([x0, y0, x0 + w, y0 + h])
        labels.append(kind)
    image = image + rng.normal(0, noise, image.shape)
    return SeaScene(
        image=np.clip(image, 0, 1).astype(np.float32),
        boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        labels=np.array(labels, dtype=np.int64),
    )
