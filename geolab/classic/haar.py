"""Integral images, rectangle sums in four look-ups, and vectorised Haar-like features.

A Haar-like feature is the sum of the pixels under some rectangles minus the sum under
the neighbouring rectangles (Viola & Jones 2001). With an *integral image* (summed-area
table) any rectangle sum costs four look-ups, whatever its size.

:func:`haar_like_features` computes every feature of a window for many images at once
and returns exactly what ``skimage.feature.haar_like_feature`` returns image by image
(same feature set, same column order, same floating-point operations, hence bitwise
equal values), but vectorised over images and features and in bounded memory.

Feature enumeration (as in scikit-image): for each type, features are ordered by the top
row ``y``, then the left column ``x``, then the rectangle height ``dy``, then its width
``dx`` (all rectangles of one feature share the size ``dy x dx``). The value is the sum
over the rectangles with odd index minus the sum over those with even index:

* ``type-2-x``: rectangles left, right → ``right - left``;
* ``type-2-y``: top, bottom → ``bottom - top``;
* ``type-3-x``: left, middle, right → ``middle - (left + right)``;
* ``type-3-y``: top, middle, bottom → ``middle - (top + bottom)``;
* ``type-4``: top-left, top-right, bottom-right, bottom-left →
  ``(top-right + bottom-left) - (top-left + bottom-right)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = [
    "FEATURE_TYPES",
    "RECT_OFFSETS",
    "draw_haar_feature",
    "haar_feature_coords",
    "haar_feature_params",
    "haar_like_features",
    "integral_image",
    "integral_image_padded",
    "n_haar_features",
    "rect_sum",
]

FEATURE_TYPES: tuple[str, ...] = ("type-2-x", "type-2-y", "type-3-x", "type-3-y", "type-4")

# (rows, cols) of the grid of equal rectangles of each feature type, and (RECT_OFFSETS) the
# (row, col) offset of every rectangle in scikit-image's order, in units of the rectangle
# size (dy, dx); rectangles with odd index are added, those with even index subtracted.
_GRID: dict[str, tuple[int, int]] = {
    "type-2-x": (1, 2),
    "type-2-y": (2, 1),
    "type-3-x": (1, 3),
    "type-3-y": (3, 1),
    "type-4": (2, 2),
}
RECT_OFFSETS: dict[str, tuple[tuple[int, int], ...]] = {
    "type-2-x": ((0, 0), (0, 1)),
    "type-2-y": ((0, 0), (1, 0)),
    "type-3-x": ((0, 0), (0, 1), (0, 2)),
    "type-3-y": ((0, 0), (1, 0), (2, 0)),
    "type-4": ((0, 0), (0, 1), (1, 1), (1, 0)),
}

DEFAULT_CHUNK = 1 << 16


# --------------------------------------------------------------------------- integral image


def _work_dtype(dtype: np.dtype, name: str) -> np.dtype:
    """float64 for real floating images, int64 for integer/bool ones (as scikit-image)."""
    if dtype.kind == "f":
        return np.dtype(np.float64)
    if dtype.kind in "biu":
        return np.dtype(np.int64)
    raise TypeError(
        f"geolab.classic.haar: {name} has dtype {dtype}; pass a real image "
        "(bool, integer or float), e.g. image.astype(float)"
    )


def integral_image(img: ArrayLike) -> np.ndarray:
    """Summed-area table: ``S[..., m, n] = sum(img[..., :m+1, :n+1])``.

    Computed like ``skimage.transform.integral_image`` (cumulative sum down the rows,
    then along the columns), so the values are bitwise equal for a single image.

    Args:
        img: ``(H, W)`` image or ``(N, H, W)`` stack of images (each handled on its own;
            unlike scikit-image, the leading axis is *not* summed).

    Returns:
        Same shape as ``img``; dtype as scikit-image: float64 for floating images, and
        NumPy's cumulative-sum dtype for integer ones (uint64 for unsigned, int64 for
        signed and bool).
    """
    arr = np.asarray(img)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"geolab.classic.haar.integral_image: expected an (H, W) image or (N, H, W) stack, "
            f"got shape {arr.shape}"
        )
    dtype = _work_dtype(arr.dtype, "img")
    if arr.dtype.kind != "f":
        dtype = np.cumsum(np.zeros(1, dtype=arr.dtype)).dtype
    return _integral(arr, dtype)


def _integral(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return arr.cumsum(axis=-2, dtype=dtype).cumsum(axis=-1, dtype=dtype)


def integral_image_padded(img: ArrayLike) -> np.ndarray:
    """Integral image with a leading row and column of zeros.

    ``P[..., m, n] = sum(img[..., :m, :n])``, so the sum of ``img[r:r+h, c:c+w]`` is
    ``P[r+h, c+w] + P[r, c] - P[r, c+w] - P[r+h, c]`` with no boundary cases.

    Args:
        img: ``(H, W)`` or ``(N, H, W)``.

    Returns:
        ``(H+1, W+1)`` or ``(N, H+1, W+1)``; float64 for floating images, int64 for
        integer or bool ones (so that differences of look-ups never wrap around).
    """
    arr = np.asarray(img)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"geolab.classic.haar.integral_image_padded: expected an (H, W) image or (N, H, W) stack, "
            f"got shape {arr.shape}"
        )
    ii = _integral(arr, _work_dtype(arr.dtype, "img"))
    out = np.zeros((*ii.shape[:-2], ii.shape[-2] + 1, ii.shape[-1] + 1), dtype=ii.dtype)
    out[..., 1:, 1:] = ii
    return out


def rect_sum(ii: ArrayLike, r: ArrayLike, c: ArrayLike, h: ArrayLike, w: ArrayLike) -> np.ndarray:
    """Sum of the pixels of ``img[r:r+h, c:c+w]`` from its integral image, in four look-ups.

    ``sum = ii[r1, c1] + ii[r-1, c-1] - ii[r-1, c1] - ii[r1, c-1]`` with ``r1 = r+h-1``,
    ``c1 = c+w-1``; look-ups outside the image (row or column -1) count as 0.
    ``r, c, h, w`` broadcast against each other, so many rectangles are summed at once.

    Args:
        ii: Integral image ``(H, W)`` or stack ``(N, H, W)`` (from :func:`integral_image`).
        r: Top row(s) of the rectangles, in pixels.
        c: Left column(s).
        h: Height(s), at least 1.
        w: Width(s), at least 1.

    Returns:
        Array of shape ``ii.shape[:-2] + broadcast_shape(r, c, h, w)``.

    Raises:
        ValueError: A rectangle is empty or does not fit inside the image.
    """
    ii = np.asarray(ii)
    if ii.ndim not in (2, 3):
        raise ValueError(
            f"geolab.classic.haar.rect_sum: ii must be (H, W) or (N, H, W), got shape {ii.shape}"
        )
    r, c, h, w = np.broadcast_arrays(*(np.asarray(v) for v in (r, c, h, w)))
    for name, v in zip("rchw", (r, c, h, w)):
        if v.dtype.kind not in "iu":
            raise TypeError(f"geolab.classic.haar.rect_sum: {name} must be integers, got dtype {v.dtype}")
    r, c, h, w = (v.astype(np.intp) for v in (r, c, h, w))
    height, width = ii.shape[-2:]
    bad = (h < 1) | (w < 1) | (r < 0) | (c < 0) | (r + h > height) | (c + w > width)
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        raise ValueError(
            "geolab.classic.haar.rect_sum: rectangle "
            f"(r={r.ravel()[i]}, c={c.ravel()[i]}, h={h.ravel()[i]}, w={w.ravel()[i]}) is empty or "
            f"outside the {height}x{width} image"
        )
    r1, c1 = r + h - 1, c + w - 1
    r0, c0 = r - 1, c - 1
    top, left = r0 >= 0, c0 >= 0
    r0c, c0c = np.maximum(r0, 0), np.maximum(c0, 0)
    zero = np.zeros((), dtype=ii.dtype)
    # Same order of operations as scikit-image's integrate(): ((A + D) - B) - C.
    total = ii[..., r1, c1] + np.where(top & left, ii[..., r0c, c0c], zero)
    total = total - np.where(top, ii[..., r0c, c1], zero)
    total = total - np.where(left, ii[..., r1, c0c], zero)
    return total


# --------------------------------------------------------------------------- enumeration


def _feature_types(feature_type: str | Sequence[str] | None) -> list[str]:
    if feature_type is None:
        return list(FEATURE_TYPES)
    types = [feature_type] if isinstance(feature_type, str) else list(feature_type)
    if not types:
        raise ValueError("geolab.classic.haar: feature_type is an empty list; use None for all types")
    for t in types:
        if not isinstance(t, str) or t not in FEATURE_TYPES:
            raise ValueError(
                f"geolab.classic.haar: unknown feature type {t!r}; use one of {FEATURE_TYPES}, "
                "a list of them, or None for all"
            )
    return types


def _check_window(height: int, width: int) -> tuple[int, int]:
    for name, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"geolab.classic.haar: window {name} must be a positive integer, got {v!r}")
    return int(height), int(width)


def _params_one(height: int, width: int, ftype: str) -> np.ndarray:
    """(F, 4) int array of (y, x, dy, dx) in scikit-image's order for one type."""
    ky, kx = _GRID[ftype]
    y = np.arange(height)[:, None]
    dy = np.arange(1, height + 1)[None, :]
    x = np.arange(width)[:, None]
    dx = np.arange(1, width + 1)[None, :]
    ok_y = y + ky * dy <= height  # (y, dy)
    ok_x = x + kx * dx <= width  # (x, dx)
    mask = ok_y[:, None, :, None] & ok_x[None, :, None, :]  # (y, x, dy, dx)
    params = np.stack(np.nonzero(mask), axis=1).astype(np.int64)
    params[:, 2:] += 1  # dy, dx start at 1
    return params


def haar_feature_params(
    height: int, width: int, feature_type: str | Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Compact description of every Haar-like feature of a window, in scikit-image's order.

    Args:
        height: Window height in pixels.
        width: Window width in pixels.
        feature_type: One of :data:`FEATURE_TYPES`, a list of them, or None for all.

    Returns:
        ``params`` ``(F, 4)`` int64 array of ``(y, x, dy, dx)``: top-left corner of the
        feature and the size of each of its rectangles; ``types`` ``(F,)`` array of the
        type names.
    """
    height, width = _check_window(height, width)
    types = _feature_types(feature_type)
    blocks = [_params_one(height, width, t) for t in types]
    params = np.concatenate(blocks) if blocks else np.zeros((0, 4), np.int64)
    names = np.concatenate([np.full(len(b), t, dtype=object) for t, b in zip(types, blocks)])
    return params, names


def n_haar_features(height: int, width: int, feature_type: str | Sequence[str] | None = None) -> int:
    """Number of Haar-like features of a ``height x width`` window."""
    return len(haar_feature_params(height, width, feature_type)[0])


def _rectangles(y: int, x: int, dy: int, dx: int, ftype: str) -> list[list[tuple[int, int]]]:
    rects = []
    for oy, ox in RECT_OFFSETS[ftype]:
        r0, c0 = y + oy * dy, x + ox * dx
        rects.append([(r0, c0), (r0 + dy - 1, c0 + dx - 1)])
    return rects


def haar_feature_coords(
    height: int,
    width: int,
    feature_type: str | Sequence[str] | None = None,
    index: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rectangle coordinates of Haar-like features in scikit-image's format.

    Same output as ``skimage.feature.haar_like_feature_coord(width, height, feature_type)``
    (note the argument order here: height first), optionally for a few features only, so
    it can be passed to ``skimage.feature.draw_haar_like_feature``.

    Args:
        height: Window height in pixels.
        width: Window width in pixels.
        feature_type: One of :data:`FEATURE_TYPES`, a list of them, or None for all.
        index: Column indices (into the output of :func:`haar_like_features`) of the
            features wanted; default: all.

    Returns:
        ``coords`` ``(F,)`` object array; each item is a list of rectangles
        ``[(r0, c0), (r1, c1)]`` (inclusive corners); ``types`` ``(F,)`` object array.
    """
    params, names = haar_feature_params(height, width, feature_type)
    if index is not None:
        idx = np.atleast_1d(np.asarray(index))
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise TypeError("geolab.classic.haar.haar_feature_coords: index must be a 1-D array of integers")
        if len(idx) and (idx.min() < -len(params) or idx.max() >= len(params)):
            raise IndexError(
                f"geolab.classic.haar.haar_feature_coords: index out of range for {len(params)} features"
            )
        params, names = params[idx], names[idx]
    coords = np.empty(len(params), dtype=object)
    for i, ((y, x, dy, dx), t) in enumerate(zip(params.tolist(), names)):
        coords[i] = _rectangles(y, x, dy, dx, t)
    return coords, names


# --------------------------------------------------------------------------- features


def _check_images(images: ArrayLike) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim != 3:
        hint = " (for one image pass image[None])" if arr.ndim == 2 else ""
        raise ValueError(
            f"geolab.classic.haar.haar_like_features: images must be (N, H, W), got shape {arr.shape}{hint}"
        )
    if arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"geolab.classic.haar.haar_like_features: empty images of shape {arr.shape[1:]}")
    _work_dtype(arr.dtype, "images")
    return arr


def _eval_type(
    PT: np.ndarray, params: np.ndarray, ftype: str, row_len: int, work: np.ndarray
) -> np.ndarray:
    """Features of one type for a block of images.

    Args:
        PT: ``((H+1)*(W+1), n)`` flattened padded integral images, one image per column
            (so every look-up copies a contiguous row of ``n`` values).
        params: ``(f, 4)`` (y, x, dy, dx).
        ftype: Feature type.
        row_len: ``W + 1``.
        work: Scratch space ``(13, >= f, n)`` of PT's dtype, reused between calls (fresh
            temporaries of this size would be mapped and unmapped by the allocator each
            time, which costs more than the arithmetic).

    Returns:
        ``(f, n)`` view into ``work`` with the values, bitwise equal to scikit-image's.
    """
    ky, kx = _GRID[ftype]
    f = len(params)
    y, x, dy, dx = params.T
    base = y * row_len + x
    step_r = dy * row_len
    # Corners of the (ky+1) x (kx+1) grid of rectangle corners, each gathered once.
    G: list[list[np.ndarray]] = []
    for i in range(ky + 1):
        row: list[np.ndarray] = []
        for j in range(kx + 1):
            buf = work[len(G) * (kx + 1) + j][:f]
            np.take(PT, base + i * step_r + j * dx, axis=0, out=buf, mode="clip")  # valid indices; no buffering
            row.append(buf)
        G.append(row)

    def rsum(k: int, oy: int, ox: int) -> np.ndarray:
        # scikit-image's integrate(): ((A + D) - B) - C with A bottom-right, D top-left,
        # B top-right, C bottom-left corner of the padded table.
        s = work[9 + k, :f]
        np.add(G[oy + 1][ox + 1], G[oy][ox], out=s)
        s -= G[oy][ox + 1]
        s -= G[oy + 1][ox]
        return s

    rects = [rsum(k, oy, ox) for k, (oy, ox) in enumerate(RECT_OFFSETS[ftype])]
    if len(rects) == 2:
        return np.subtract(rects[1], rects[0], out=rects[1])
    if len(rects) == 3:
        neg = np.add(rects[0], rects[2], out=rects[0])
        return np.subtract(rects[1], neg, out=rects[1])
    pos = np.add(rects[1], rects[3], out=rects[1])
    neg = np.add(rects[0], rects[2], out=rects[0])
    return np.subtract(pos, neg, out=pos)


def haar_like_features(
    images: ArrayLike,
    feature_type: str | Sequence[str] | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    dtype: DTypeLike | None = None,
) -> np.ndarray:
    """All Haar-like features of whole images, vectorised over images and features.

    Row ``n`` equals ``skimage.feature.haar_like_feature(skimage.transform.integral_image(
    images[n]), 0, 0, W, H, feature_type=feature_type)`` exactly (same features, same
    order, same values).

    Args:
        images: ``(N, H, W)`` stack of grey images (bool, integer or float).
        feature_type: One of :data:`FEATURE_TYPES`, a list of them (features are
            concatenated in the list's order), or None for all five.
        chunk_size: At most this many values (images x features) are computed at once;
            the working memory is about ``13 * 8 * chunk_size`` bytes on top of the output.
        dtype: dtype of the returned array (default: float64 for float images, int64 for
            integer ones, as scikit-image). ``np.float32`` halves the memory; values are
            then rounded from the exact ones.

    Returns:
        ``(N, F)`` array; ``F = n_haar_features(H, W, feature_type)`` (190 736 for all
        five types on a 25x25 window).
    """
    arr = _check_images(images)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(
            f"geolab.classic.haar.haar_like_features: chunk_size must be a positive integer, got {chunk_size!r}"
        )
    n, height, width = arr.shape
    types = _feature_types(feature_type)
    blocks = [_params_one(height, width, t) for t in types]
    n_feat = sum(len(b) for b in blocks)
    work = _work_dtype(arr.dtype, "images")
    out = np.empty((n, n_feat), dtype=work if dtype is None else np.dtype(dtype))
    if n == 0 or n_feat == 0:
        return out
    row_len = width + 1
    # Images in blocks of at most 4096 (one column each), features in blocks that keep
    # every temporary (f_block x n_block values) within chunk_size.
    n_block = max(1, min(n, 4096, chunk_size // 16))
    f_block = max(1, chunk_size // n_block)
    for i0 in range(0, n, n_block):
        i1 = min(n, i0 + n_block)
        PT = np.ascontiguousarray(integral_image_padded(arr[i0:i1]).reshape(i1 - i0, -1).T)
        scratch = np.empty((13, f_block, i1 - i0), dtype=PT.dtype)
        col = 0
        for t, params in zip(types, blocks):
            for f0 in range(0, len(params), f_block):
                p = params[f0 : f0 + f_block]
                out[i0:i1, col + f0 : col + f0 + len(p)] = _eval_type(PT, p, t, row_len, scratch).T
            col += len(params)
    return out


# --------------------------------------------------------------------------- drawing


def draw_haar_feature(
    image: ArrayLike,
    index: int,
    feature_type: str | Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    alpha: float = 0.55,
    title: str | None = None,
) -> Axes:
    """Draw one Haar-like feature over an image.

    Rectangles whose sum is added are drawn white, those subtracted black (the usual
    picture of Viola & Jones).

    Args:
        image: ``(H, W)`` grey image the feature is defined on (the window).
        index: Column of the feature in ``haar_like_features(..., feature_type)``.
        feature_type: The ``feature_type`` used to compute the features.
        ax: Axes to draw into (default: a new figure).
        alpha: Opacity of the rectangles, 0..1.
        title: Axes title (default: the feature type and index).

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    img = np.asarray(image)
    if img.ndim != 2:
        raise ValueError(f"geolab.classic.haar.draw_haar_feature: image must be (H, W), got shape {img.shape}")
    coords, names = haar_feature_coords(img.shape[0], img.shape[1], feature_type, index=[int(index)])
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(img, cmap="gray")
    for k, ((r0, c0), (r1, c1)) in enumerate(coords[0]):
        colour = "white" if k % 2 == 1 else "black"
        ax.add_patch(
            Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, facecolor=colour, edgecolor="red",
                      alpha=alpha, linewidth=1)
        )
    ax.set_title(title if title is not None else f"{names[0]} #{int(index)}", fontsize=9)
    ax.axis("off")
    return ax
