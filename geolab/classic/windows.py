"""Features of detector windows: normalisation, integral-image pairs, chosen Haar features, pyramids.

The pieces shared by training (:mod:`geolab.classic.cascade`, :mod:`geolab.classic.sampling`)
and detection (:mod:`geolab.classic.detect`) live here, below both, so that neither imports
the other.

Windows are normalised to zero mean and unit standard deviation before their features are
computed, so that lighting does not matter. For a window ``w`` this gives exactly the
features ``haar_like_features(normalize_windows(w))``, but a detector computes them from one
integral image of a whole picture and one of its square (:class:`IntegralPair`), without
cutting windows out: a feature with signed rectangle area ``A`` is
``(raw - mean * A) / std``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from geolab.classic.haar import RECT_OFFSETS, integral_image_padded

__all__ = [
    "FeatureGeometry",
    "IntegralPair",
    "image_pyramid",
    "integral_pair",
    "normalize_windows",
    "window_features",
    "window_stats",
]


def normalize_windows(windows: Any, min_std: float = 0.02) -> np.ndarray:
    """Shift and scale each window to mean 0 and standard deviation 1.

    Args:
        windows: ``(N, h, w)`` grey windows, values in 0..1.
        min_std: Standard deviations below this (flat windows) are replaced by it.

    Returns:
        ``(N, h, w)`` float64 array.
    """
    arr = np.asarray(windows, dtype=np.float64)
    if arr.ndim != 3:
        raise ValueError(f"windows must be (N, h, w); got shape {arr.shape}")
    mean = arr.mean(axis=(1, 2), keepdims=True)
    std = np.sqrt(np.maximum((arr**2).mean(axis=(1, 2), keepdims=True) - mean**2, 0.0))
    return (arr - mean) / np.maximum(std, min_std)


class IntegralPair(NamedTuple):
    """Flattened padded integral images of an image (or stack) and of its square.

    Attributes:
        flat: ``((H + 1) * (W + 1) * N,)`` float64 summed-area table of the pixels.
        flat2: Same for the squared pixels (for window standard deviations).
        row_len: ``W + 1``, the stride of one row in ``flat``.
    """

    flat: np.ndarray
    flat2: np.ndarray
    row_len: int


def integral_pair(image: Any) -> IntegralPair:
    """The integral image of a grey image (or ``(N, H, W)`` stack) and of its square.

    Args:
        image: ``(H, W)`` or ``(N, H, W)`` grey values (0..1).

    Returns:
        :class:`IntegralPair`; for a stack, image ``n`` starts at ``n * (H + 1) * (W + 1)``.
    """
    g = np.asarray(image, dtype=np.float64)
    if g.ndim not in (2, 3):
        raise ValueError(f"image must be a grey (H, W) image or (N, H, W) stack; got shape {g.shape}")
    return IntegralPair(
        integral_image_padded(g).reshape(-1), integral_image_padded(g * g).reshape(-1), g.shape[-1] + 1
    )


@dataclass(frozen=True)
class FeatureGeometry:
    """Rectangles of a set of Haar features, ready for look-ups in an integral image.

    Attributes:
        r0: ``(F, 4)`` top row of each rectangle (features with fewer than four rectangles
            are padded with rectangles of sign 0).
        c0: ``(F, 4)`` left column.
        dy: ``(F, 4)`` height.
        dx: ``(F, 4)`` width.
        sign: ``(F, 4)`` +1 (added), -1 (subtracted) or 0 (padding).
        signed_area: ``(F,)`` sum of sign times area, in pixels.
    """

    r0: np.ndarray
    c0: np.ndarray
    dy: np.ndarray
    dx: np.ndarray
    sign: np.ndarray
    signed_area: np.ndarray

    @staticmethod
    def from_params(params: np.ndarray, types: Sequence[str]) -> FeatureGeometry:
        """Geometry of features ``(F, 4)`` ``(y, x, dy, dx)`` of the given type names ``(F,)``."""
        params = np.asarray(params, dtype=np.int64).reshape(-1, 4)
        f = len(params)
        r0 = np.zeros((f, 4), np.int64)
        c0 = np.zeros((f, 4), np.int64)
        sign = np.zeros((f, 4), np.float64)
        for i, t in enumerate(types):
            for k, (oy, ox) in enumerate(RECT_OFFSETS[str(t)]):
                r0[i, k] = params[i, 0] + oy * params[i, 2]
                c0[i, k] = params[i, 1] + ox * params[i, 3]
                sign[i, k] = 1.0 if k % 2 else -1.0
        dy = np.repeat(params[:, 2:3], 4, axis=1)
        dx = np.repeat(params[:, 3:4], 4, axis=1)
        area = sign.sum(axis=1) * params[:, 2] * params[:, 3]
        return FeatureGeometry(r0, c0, dy, dx, sign, area.astype(np.float64))

    def raw_values(self, flat: np.ndarray, base: np.ndarray, row_len: int) -> np.ndarray:
        """Raw feature values ``(M, F)`` of windows whose top-left corner is at flat index ``base``."""
        o00 = self.r0 * row_len + self.c0
        o01 = o00 + self.dx
        o10 = o00 + self.dy * row_len
        o11 = o10 + self.dx
        b = np.asarray(base)[:, None, None]
        rect = flat[b + o11] - flat[b + o01] - flat[b + o10] + flat[b + o00]  # (M, F, 4)
        return np.einsum("mfk,fk->mf", rect, self.sign)

    def values(
        self,
        pair: IntegralPair,
        base: np.ndarray,
        stats: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Feature values ``(M, F)`` of windows at flat indices ``base``, normalised with ``stats``.

        Args:
            pair: Integral images of the picture (or stack) and of its square.
            base: ``(M,)`` flat index of each window's top-left corner.
            stats: ``(mean, std)`` ``(M,)`` of the windows (from :func:`window_stats`); None
                for the raw values.
        """
        raw = self.raw_values(pair.flat, base, pair.row_len)
        if stats is None:
            return raw
        mean, std = stats
        return (raw - mean[:, None] * self.signed_area[None, :]) / std[:, None]


def window_stats(
    pair: IntegralPair, base: np.ndarray, window_shape: tuple[int, int], min_std: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (floored) standard deviation of windows from an :class:`IntegralPair`.

    Args:
        pair: Integral images of the picture and of its square.
        base: ``(M,)`` flat index of each window's top-left corner.
        window_shape: ``(height, width)`` of the windows in pixels.
        min_std: Floor of the standard deviation.

    Returns:
        ``(mean, std)``, each ``(M,)``.
    """
    h, w = window_shape
    row_len = pair.row_len
    o = np.array([h * row_len + w, w, h * row_len, 0])
    idx = np.asarray(base)[:, None] + o[None, :]
    corners = np.array([1.0, -1.0, -1.0, 1.0])
    n = float(h * w)
    mean = (pair.flat[idx] @ corners) / n
    std = np.sqrt(np.maximum((pair.flat2[idx] @ corners) / n - mean**2, 0.0))
    return mean, np.maximum(std, min_std)


def window_features(
    windows: Any,
    params: np.ndarray,
    types: Sequence[str],
    *,
    normalize: bool = True,
    min_std: float = 0.02,
    chunk: int = 2048,
) -> np.ndarray:
    """A chosen subset of Haar-like features of many windows.

    Args:
        windows: ``(N, h, w)`` grey windows in 0..1.
        params: ``(F, 4)`` ``(y, x, dy, dx)`` of the features, as from
            :func:`geolab.classic.haar.haar_feature_params`.
        types: ``(F,)`` feature type names.
        normalize: Compute the features of :func:`normalize_windows` (windows) instead.
        min_std: Floor of the standard deviation when normalising.
        chunk: Windows processed at once.

    Returns:
        ``(N, F)`` float64; equals the matching columns of
        ``haar_like_features(normalize_windows(windows))`` (or of the raw windows).
    """
    arr = np.asarray(windows, dtype=np.float64)
    if arr.ndim != 3:
        raise ValueError(f"windows must be (N, h, w); got shape {arr.shape}")
    n, h, w = arr.shape
    geo = FeatureGeometry.from_params(params, list(types))
    out = np.empty((n, len(geo.r0)))
    size = (h + 1) * (w + 1)
    for i0 in range(0, n, chunk):
        part = arr[i0 : i0 + chunk]
        pair = integral_pair(part)
        base = np.arange(len(part)) * size
        stats = window_stats(pair, base, (h, w), min_std) if normalize else None
        out[i0 : i0 + chunk] = geo.values(pair, base, stats)
    return out


def image_pyramid(
    image: Any,
    scale_factor: float = 1.25,
    min_size: tuple[int, int] = (24, 24),
    max_levels: int | None = None,
) -> list[tuple[float, np.ndarray]]:
    """Repeatedly shrink an image by ``scale_factor``.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` array.
        scale_factor: Ratio between two successive levels, > 1.
        min_size: ``(height, width)`` in pixels: levels smaller than this (e.g. the
            detector's window) are not produced.
        max_levels: Stop after this many levels.

    Returns:
        List of ``(scale, level)`` pairs, starting with ``(1.0, image)``; ``scale`` is the
        number of original pixels per level pixel, so a level box maps back by multiplying
        its coordinates by ``scale``.
    """
    import cv2

    if not scale_factor > 1.0:
        raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C); got shape {arr.shape}")
    mh, mw = int(min_size[0]), int(min_size[1])
    height, width = arr.shape[:2]
    levels: list[tuple[float, np.ndarray]] = []
    scale = 1.0
    while True:
        w, h = int(round(width / scale)), int(round(height / scale))
        if w < mw or h < mh or (max_levels is not None and len(levels) >= max_levels):
            break
        level = arr if scale == 1.0 else cv2.resize(arr, (w, h), interpolation=cv2.INTER_LINEAR)
        levels.append((scale, level))
        scale *= scale_factor
    return levels
