"""Images made of regions with known labels, for scoring unsupervised segmentation.

Stands in for: scenes whose parts differ in colour and texture (a beach of sand, sea and sky;
fields in a satellite tile; rock facies in a core photo), where the "right" segmentation is
known exactly. Each image has a textured background and a few random polygons and ellipses,
each with its own colour and one of four textures (flat, stripes, checks, mottled), plus
Gaussian noise.

Breaks down: real boundaries are rarely this sharp, real regions are not one texture each,
and real images have shading and perspective; true regions here are defined by how they were
drawn, whereas a person might merge or split them differently.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TEXTURES", "make_shapes", "make_shapes_set"]

#: Textures a region can have.
TEXTURES = ("flat", "stripes", "checks", "mottled")


def _texture(kind: str, rng: np.random.Generator, shape: tuple[int, int], colour: np.ndarray) -> np.ndarray:
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    second = np.clip(colour + rng.choice([-1.0, 1.0], size=3) * rng.uniform(40, 70, size=3), 0, 255)
    if kind == "flat":
        mix = np.zeros(shape)
    elif kind == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(4, 7)
        mix = (np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period) > 0).astype(float)
    elif kind == "checks":
        period = int(rng.integers(3, 6))
        mix = (((yy // period) + (xx // period)) % 2).astype(float)
    elif kind == "mottled":
        from scipy.ndimage import gaussian_filter

        noise = gaussian_filter(rng.standard_normal(shape), 2.0)
        mix = np.clip(0.5 + noise / (4 * noise.std() + 1e-9), 0, 1)
    else:  # pragma: no cover - guarded by make_shapes
        raise ValueError(kind)
    return colour * (1 - mix[..., None]) + second * mix[..., None]


def _polygon_mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    from skimage.draw import ellipse, polygon

    height, width = shape
    mask = np.zeros(shape, dtype=bool)
    cy, cx = rng.uniform(0.15, 0.85) * height, rng.uniform(0.15, 0.85) * width
    radius = rng.uniform(0.15, 0.3) * min(height, width)
    if rng.random() < 0.5:
        rr, cc = ellipse(cy, cx, radius, radius * rng.uniform(0.5, 1.0), shape=shape, rotation=rng.uniform(0, np.pi))
    else:  # star-convex random polygon
        n = int(rng.integers(4, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = radius * rng.uniform(0.6, 1.2, n)
        rr, cc = polygon(cy + radii * np.sin(angles), cx + radii * np.cos(angles), shape=shape)
    mask[rr, cc] = True
    return mask


def make_shapes(
    shape: tuple[int, int] = (128, 128),
    *,
    n_shapes: int = 4,
    noise: float = 8.0,
    min_area: float = 0.02,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One image of textured regions and its true label map.

    Args:
        shape: ``(height, width)`` in pixels.
        n_shapes: Polygons/ellipses drawn over the background (later ones on top).
        noise: Standard deviation of the Gaussian noise, in 8-bit grey levels.
        min_area: Smallest area of a drawn shape as a fraction of the image (a shape is
            redrawn up to 20 times to reach it; later shapes may still cover part of it).
        seed: Seed; the same seed gives the same image.

    Returns:
        ``image`` ``(H, W, 3)`` uint8 and ``labels`` ``(H, W)`` int64, 0 = background,
        1..k-1 = visible shapes in drawing order.
    """
    height, width = shape
    if height < 8 or width < 8:
        raise ValueError(f"shape must be at least (8, 8) (height, width), got {shape}")
    if n_shapes < 0 or noise < 0:
        raise ValueError(f"n_shapes and noise must be >= 0, got {n_shapes}, {noise}")
    rng = np.random.default_rng(seed)
    # colours far apart: draw hues around the wheel with a random offset
    n_regions = n_shapes + 1
    hues = (rng.uniform() + np.arange(n_regions) / n_regions) % 1.0
    rng.shuffle(hues)
    import colorsys

    colours = np.array([colorsys.hsv_to_rgb(h, rng.uniform(0.35, 0.8), rng.uniform(0.45, 0.9)) for h in hues]) * 255
    kinds = rng.choice(len(TEXTURES), size=n_regions)
    image = _texture(TEXTURES[kinds[0]], rng, shape, colours[0])
    labels = np.zeros(shape, dtype=np.int64)
    for k in range(1, n_regions):
        mask = np.zeros(shape, dtype=bool)
        for _ in range(20):
            mask = _polygon_mask(rng, shape)
            if mask.mean() >= min_area:
                break
        tex = _texture(TEXTURES[kinds[k]], rng, shape, colours[k])
        image[mask] = tex[mask]
        labels[mask] = k
    image = image + rng.normal(0.0, noise, size=image.shape)
    # renumber the visible regions 0..k-1 in drawing order (a shape may be fully covered)
    uniq = np.unique(labels)
    lookup = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    lookup[uniq] = np.arange(len(uniq))
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), lookup[labels]


def make_shapes_set(
    n: int, shape: tuple[int, int] = (128, 128), *, seed: int = 0, **kwargs: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` images from :func:`make_shapes` with seeds derived from ``seed`` (deterministic).

    Args:
        n: Number of images.
        shape: ``(height, width)`` of each.
        seed: Base seed.
        **kwargs: More arguments of :func:`make_shapes` (``n_shapes``, ``noise``, ``min_area``).
    """
    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=n)
    return [make_shapes(shape, seed=int(s), **kwargs) for s in seeds]  # type: ignore[arg-type]
