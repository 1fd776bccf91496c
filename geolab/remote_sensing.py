"""Remote-sensing image tools: spectral indices, display composites, SAR speckle filtering, GSD.

* Normalised-difference indices: :func:`normalized_difference` and its named cases
  :func:`ndvi` (vegetation), :func:`ndwi` (open water) and :func:`nbr` (burned areas). Division
  is safe: where the denominator is zero the index is 0, without a warning.
* Display: :func:`percentile_stretch` and :func:`composite` (true- or false-colour images from
  any three bands).
* SAR: :func:`lee_filter` (the Lee speckle filter), :func:`equivalent_number_of_looks`,
  :func:`to_db`.
* Ground sampling distance: :func:`block_mean` (what a coarser sensor records over the same
  ground) and :func:`block_mode` (the majority label of each coarse pixel).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "block_mean",
    "block_mode",
    "composite",
    "equivalent_number_of_looks",
    "lee_filter",
    "nbr",
    "ndvi",
    "ndwi",
    "normalized_difference",
    "percentile_stretch",
    "to_db",
]


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b)``, elementwise, with 0 where ``a + b == 0`` (and no warning).

    Args:
        a: First array, e.g. a reflectance band.
        b: Second array, same (or broadcastable) shape.

    Returns:
        float array in ``[-1, 1]`` for non-negative inputs.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = a - b
    den = a + b
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape), dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def ndvi(nir: np.ndarray, red: np.ndarray) -> np.ndarray:
    """Normalised difference vegetation index ``(NIR - red) / (NIR + red)``.

    Green vegetation absorbs red light and reflects near infrared: NDVI is about 0.6-0.9 for
    dense healthy vegetation, 0.1-0.3 for bare soil and below 0 for water.
    """
    return normalized_difference(nir, red)


def ndwi(green: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """Normalised difference water index (McFeeters) ``(green - NIR) / (green + NIR)``; > 0 over open water."""
    return normalized_difference(green, nir)


def nbr(nir: np.ndarray, swir2: np.ndarray) -> np.ndarray:
    """Normalised burn ratio ``(NIR - SWIR2) / (NIR + SWIR2)`` with SWIR2 near 2.2 µm.

    High over healthy vegetation, low or negative over burned ground; the drop between a pre-
    and post-fire image (dNBR) maps burn severity.
    """
    return normalized_difference(nir, swir2)


def percentile_stretch(
    image: np.ndarray, low: float = 2.0, high: float = 98.0, *, per_band: bool = True
) -> np.ndarray:
    """Linearly map the ``low``-th..``high``-th percentiles to 0..1 and clip.

    Args:
        image: ``(height, width)`` or ``(height, width, channels)`` array.
        low: Percentile (0-100) mapped to 0.
        high: Percentile (0-100) mapped to 1.
        per_band: Stretch each channel on its own percentiles (colours change) or all channels
            with the same ones (colours keep their balance).

    Returns:
        float64 array of the same shape in ``[0, 1]``. A channel with no spread becomes 0.
    """
    if not 0 <= low < high <= 100:
        raise ValueError(f"percentile_stretch: need 0 <= low < high <= 100, got low={low}, high={high}")
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 2 or not per_band:
        lo, hi = np.percentile(x, [low, high])
        return _rescale(x, lo, hi)
    if x.ndim != 3:
        raise ValueError(f"percentile_stretch: expected (height, width[, channels]), got shape {x.shape}")
    return np.stack([percentile_stretch(x[..., c], low, high) for c in range(x.shape[-1])], axis=-1)


def _rescale(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi <= lo:
        return np.zeros_like(x)
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def composite(
    bands: np.ndarray,
    names: Sequence[str],
    rgb: tuple[str, str, str] = ("red", "green", "blue"),
    *,
    low: float = 2.0,
    high: float = 98.0,
    per_band: bool = False,
) -> np.ndarray:
    """A display image from three bands, stretched with :func:`percentile_stretch`.

    Args:
        bands: ``(n_bands, height, width)``.
        names: Name of each band, e.g. ``["blue", "green", "red", "nir", "swir1", "swir2"]``.
        rgb: Bands shown as red, green and blue. ``("red", "green", "blue")`` is true colour;
            ``("nir", "red", "green")`` the classic false colour (vegetation red);
            ``("swir2", "nir", "red")`` a SWIR composite (burns and bare soil stand out).
        low: Percentile mapped to 0 (see :func:`percentile_stretch`).
        high: Percentile mapped to 1.
        per_band: Stretch each band on its own percentiles (default: one stretch for all three,
            which keeps the colour balance).

    Returns:
        float ``(height, width, 3)`` in ``[0, 1]``.
    """
    names = list(names)
    if bands.ndim != 3 or bands.shape[0] != len(names):
        raise ValueError(f"composite: bands must be (n_bands={len(names)}, height, width), got {bands.shape}")
    missing = [n for n in rgb if n not in names]
    if missing:
        raise ValueError(f"composite: bands {missing} not among {names}")
    image = np.stack([bands[names.index(n)] for n in rgb], axis=-1)
    return percentile_stretch(image, low, high, per_band=per_band)


def to_db(intensity: np.ndarray, floor: float = 1e-10) -> np.ndarray:
    """Linear SAR intensity (sigma0) in decibels, ``10 log10(max(x, floor))``."""
    return 10.0 * np.log10(np.maximum(np.asarray(intensity, dtype=np.float64), floor))


def equivalent_number_of_looks(intensity: np.ndarray) -> float:
    """``mean² / variance`` of a homogeneous SAR intensity region (= L for L-look speckle)."""
    x = np.asarray(intensity, dtype=np.float64)
    var = x.var()
    return float(x.mean() ** 2 / var) if var > 0 else float("inf")


def lee_filter(intensity: np.ndarray, size: int = 7, looks: float = 1.0) -> np.ndarray:
    """Lee's local-statistics speckle filter for SAR intensity images.

    In each ``size`` x ``size`` window with mean m and variance v, the output is
    ``m + k (x - m)`` with ``k = max(0, (v - m² / L) / (v (1 + 1 / L)))``. Where the window is
    homogeneous (v near the speckle variance m²/L) k is near 0 and the filter averages; at edges
    and bright points v is large, k approaches 1 and the pixel is kept.

    Args:
        intensity: Linear intensity, ``(height, width)``, non-negative.
        size: Odd window side in pixels.
        looks: Number of looks L of the speckle (1 for single-look intensity).

    Returns:
        float64 ``(height, width)``. Borders use mirrored windows.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"lee_filter: size must be a positive odd integer, got {size}")
    if looks <= 0:
        raise ValueError(f"lee_filter: looks must be positive, got {looks}")
    x = np.asarray(intensity, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"lee_filter: expected a (height, width) image, got shape {x.shape}")
    mean = ndi.uniform_filter(x, size, mode="reflect")
    mean_sq = ndi.uniform_filter(x * x, size, mode="reflect")
    var = np.maximum(mean_sq - mean * mean, 0.0)
    cu2 = 1.0 / looks
    num = var - mean * mean * cu2
    den = var * (1.0 + cu2)
    k = np.zeros_like(x)
    np.divide(num, den, out=k, where=den > 0)
    k = np.clip(k, 0.0, 1.0)
    return mean + k * (x - mean)


def _check_factor(shape: tuple[int, ...], factor: int, name: str) -> tuple[int, int]:
    if factor < 1:
        raise ValueError(f"{name}: factor must be >= 1, got {factor}")
    height, width = shape[-2] // factor * factor, shape[-1] // factor * factor
    if height == 0 or width == 0:
        raise ValueError(f"{name}: image {shape[-2:]} is smaller than one {factor} x {factor} block")
    return height, width


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping ``factor`` x ``factor`` blocks over the last two axes.

    This is what a sensor with a ``factor`` times coarser ground sampling distance records (each
    coarse pixel integrates the light of its footprint). Rows and columns that do not fill a
    whole block are dropped.

    Args:
        image: ``(..., height, width)``.
        factor: Block side in pixels.

    Returns:
        ``(..., height // factor, width // factor)`` float64.
    """
    x = np.asarray(image, dtype=np.float64)
    height, width = _check_factor(x.shape, factor, "block_mean")
    x = x[..., :height, :width]
    new = x.shape[:-2] + (height // factor, factor, width // factor, factor)
    return x.reshape(new).mean(axis=(-3, -1))


def block_mode(labels: np.ndarray, factor: int, num_classes: int) -> np.ndarray:
    """Majority label of each ``factor`` x ``factor`` block (ties go to the smaller label).

    Args:
        labels: Integer labels ``(height, width)`` in ``[0, num_classes)``.
        factor: Block side in pixels.
        num_classes: Number of classes.

    Returns:
        ``(height // factor, width // factor)`` int64.
    """
    y = np.asarray(labels)
    if y.ndim != 2:
        raise ValueError(f"block_mode: expected (height, width) labels, got shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"block_mode: labels must lie in [0, {num_classes}), got {y.min()}..{y.max()}")
    one_hot = np.eye(num_classes)[y].transpose(2, 0, 1)
    fractions = block_mean(one_hot, factor)
    return fractions.argmax(axis=0)
