"""Multi-scale face detection: OpenCV's Haar cascade, our own cascade, and box post-processing.

Boxes are ``(x, y, w, h)`` in pixels throughout (OpenCV's convention): ``x`` is the column of
the left edge, ``y`` the row of the top edge.

* :func:`detect_faces` runs either OpenCV's bundled frontal-face cascade (``method="opencv"``)
  or a :class:`geolab.classic.cascade.Cascade` trained in the course (``method="geolab"``).
* :func:`image_pyramid` and :func:`detect_multiscale` scan a window over every position of a
  shrinking image, using the integral image so that a window costs a few look-ups per feature.
* :func:`group_rectangles` merges overlapping raw detections and drops those with too few
  neighbours, like ``cv2.groupRectangles``; :func:`non_max_suppression` keeps the best-scoring
  box among overlapping ones, like ``torchvision.ops.nms``; :func:`iou` measures overlap.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from geolab.classic.cascade import Cascade

__all__ = [
    "OPENCV_FACE_CASCADE",
    "GroupedBoxes",
    "detect_faces",
    "detect_multiscale",
    "group_rectangles",
    "image_pyramid",
    "iou",
    "load_opencv_cascade",
    "non_max_suppression",
    "opencv_cascade_path",
    "opencv_window_scores",
    "to_gray_uint8",
]

OPENCV_FACE_CASCADE = "haarcascade_frontalface_default.xml"


# --------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------
def to_gray_uint8(image: Any, name: str = "image") -> np.ndarray:
    """Convert an RGB, RGBA or grey image to a grey ``uint8`` array.

    Args:
        image: ``(H, W)``, ``(H, W, 3)`` (RGB, *not* OpenCV's BGR) or ``(H, W, 4)`` array;
            uint8 in 0..255, bool, or float in 0..1.
        name: Argument name used in error messages.

    Returns:
        ``(H, W)`` uint8 array.
    """
    import cv2

    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ValueError(f"{name} must be (H, W), (H, W, 3) RGB or (H, W, 4) RGBA; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype.kind == "f":
        if np.nanmin(arr) < 0.0 or np.nanmax(arr) > 1.0:
            raise ValueError(
                f"{name} is a float image with values outside 0..1 ({np.nanmin(arr):g}..{np.nanmax(arr):g}); "
                "pass uint8 (0..255) or rescale it to 0..1"
            )
        arr = np.rint(np.nan_to_num(arr) * 255.0).astype(np.uint8)
    elif arr.dtype != np.uint8:
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError(f"{name} has integer values outside 0..255; convert it to uint8 first")
        arr = arr.astype(np.uint8)
    if arr.ndim == 3:
        code = cv2.COLOR_RGB2GRAY if arr.shape[-1] == 3 else cv2.COLOR_RGBA2GRAY
        arr = cv2.cvtColor(np.ascontiguousarray(arr), code)
    return np.ascontiguousarray(arr)


def _as_boxes(boxes: Any, name: str = "boxes") -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == 4:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must be (K, 4) boxes (x, y, w, h); got shape {arr.shape}")
    return arr


# --------------------------------------------------------------------------------------
# Box geometry and post-processing
# --------------------------------------------------------------------------------------
def iou(box_a: Any, box_b: Any) -> np.ndarray | float:
    """Intersection over union of ``(x, y, w, h)`` boxes.

    Args:
        box_a: One box ``(4,)`` or boxes ``(N, 4)``.
        box_b: One box ``(4,)`` or boxes ``(M, 4)``.

    Returns:
        A float for two single boxes, otherwise the ``(N, M)`` matrix of IoUs (0 where both
        boxes are empty).
    """
    single = np.ndim(box_a) == 1 and np.ndim(box_b) == 1
    a = _as_boxes(box_a, "box_a")
    b = _as_boxes(box_b, "box_b")
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None, :]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None, :]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    out = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return float(out[0, 0]) if single else out


def non_max_suppression(boxes: Any, scores: Any, iou_threshold: float = 0.3) -> np.ndarray:
    """Greedy non-maximum suppression.

    Repeatedly keeps the highest-scoring box and drops every remaining box whose IoU with it
    exceeds ``iou_threshold``; same result as ``torchvision.ops.nms`` (after converting the
    boxes to corner form).

    Args:
        boxes: ``(K, 4)`` boxes ``(x, y, w, h)``.
        scores: ``(K,)`` scores, higher is better.
        iou_threshold: Boxes overlapping a kept box by more than this are discarded.

    Returns:
        Indices of the kept boxes, ``(k,)`` int64, in decreasing order of score.
    """
    b = _as_boxes(boxes)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(s) != len(b):
        raise ValueError(f"non_max_suppression got {len(b)} boxes but {len(s)} scores")
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    suppressed = np.zeros(len(b), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= iou(b[i : i + 1], b)[0] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


class GroupedBoxes(NamedTuple):
    """Result of :func:`group_rectangles`.

    Attributes:
        boxes: ``(G, 4)`` int32 averaged boxes ``(x, y, w, h)``.
        counts: ``(G,)`` number of raw boxes merged into each group (OpenCV's ``weights``).
        scores: ``(G,)`` highest raw score in each group (the counts when no scores were given).
    """

    boxes: np.ndarray
    counts: np.ndarray
    scores: np.ndarray


def _round_half_even(x: np.ndarray) -> np.ndarray:
    return np.rint(x).astype(np.int64)  # like OpenCV's cvRound (lrint)


def _partition(boxes: np.ndarray, eps: float, chunk: int = 512) -> np.ndarray:
    """Connected components of OpenCV's ``SimilarRects`` relation, labelled in order of first member."""
    n = len(boxes)
    x, y, w, h = (boxes[:, k].astype(np.float64) for k in range(4))
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for i0 in range(0, n, chunk):  # rows in chunks keep the memory at chunk x n
        sl = slice(i0, min(n, i0 + chunk))
        delta = eps * (np.minimum(w[sl, None], w[None, :]) + np.minimum(h[sl, None], h[None, :])) * 0.5
        similar = (
            (np.abs(x[sl, None] - x[None, :]) <= delta)
            & (np.abs(y[sl, None] - y[None, :]) <= delta)
            & (np.abs((x + w)[sl, None] - (x + w)[None, :]) <= delta)
            & (np.abs((y + h)[sl, None] - (y + h)[None, :]) <= delta)
        )
        for i, j in zip(*np.nonzero(similar)):
            i, j = int(i) + i0, int(j)
            if j <= i:
                continue
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(n)])
    _, first, labels = np.unique(roots, return_index=True, return_inverse=True)
    # renumber classes by the index of their first member (OpenCV's order)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[labels]


def group_rectangles(
    boxes: Any, min_neighbors: int, eps: float = 0.2, scores: Any | None = None
) -> GroupedBoxes:
    """Merge overlapping raw detections the way ``cv2.groupRectangles`` does.

    Boxes whose four edges all lie within ``eps`` times their mean size of each other are
    linked; each connected group is replaced by its average box. Groups of at most
    ``min_neighbors`` boxes are dropped (a true face is found at several nearby positions and
    scales, a false alarm usually only once), and so are small groups lying inside a larger,
    better-supported one.

    Args:
        boxes: ``(K, 4)`` raw boxes ``(x, y, w, h)`` (integers, as a detector returns them).
        min_neighbors: Keep groups with more than this many members. ``<= 0`` returns the
            boxes unchanged (each with count 1), as OpenCV does.
        eps: Relative tolerance of the similarity test (OpenCV's detector uses 0.2).
        scores: Optional ``(K,)`` scores; each group gets its members' maximum.

    Returns:
        :class:`GroupedBoxes` ``(boxes, counts, scores)`` in OpenCV's output order.
    """
    b = _as_boxes(boxes)
    if np.any(b != np.round(b)):
        raise ValueError("group_rectangles expects integer boxes; round them first")
    b = b.astype(np.int64)
    s = None if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
    if s is not None and len(s) != len(b):
        raise ValueError(f"group_rectangles got {len(b)} boxes but {len(s)} scores")
    if min_neighbors <= 0 or len(b) == 0:
        counts = np.ones(len(b), dtype=np.int64)
        return GroupedBoxes(b.astype(np.int32), counts, counts.astype(np.float64) if s is None else s.copy())
    labels = _partition(b, eps)
    n_cls = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=n_cls)
    sums = np.zeros((n_cls, 4), dtype=np.int64)
    np.add.at(sums, labels, b)
    inv = (np.float32(1.0) / counts.astype(np.float32)).astype(np.float32)
    avg = _round_half_even(sums.astype(np.float32) * inv[:, None])  # float arithmetic as in OpenCV
    best = np.full(n_cls, -np.inf)
    np.maximum.at(best, labels, counts[labels].astype(np.float64) if s is None else s)
    keep = []
    for i in range(n_cls):
        n1 = counts[i]
        if n1 <= min_neighbors:
            continue
        x1, y1, w1, h1 = avg[i]
        inside = False
        for j in range(n_cls):
            n2 = counts[j]
            if j == i or n2 <= min_neighbors:
                continue
            x2, y2, w2, h2 = avg[j]
            dx, dy = int(np.rint(w2 * eps)), int(np.rint(h2 * eps))
            if (
                x1 >= x2 - dx
                and y1 >= y2 - dy
                and x1 + w1 <= x2 + w2 + dx
                and y1 + h1 <= y2 + h2 + dy
                and (n2 > max(3, n1) or n1 < 3)
            ):
                inside = True
                break
        if not inside:
            keep.append(i)
    keep_arr = np.asarray(keep, dtype=np.int64)
    return GroupedBoxes(
        avg[keep_arr].astype(np.int32).reshape(-1, 4), counts[keep_arr].astype(np.int64), best[keep_arr]
    )


# --------------------------------------------------------------------------------------
# Image pyramid and sliding windows
# --------------------------------------------------------------------------------------
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
        min_size: ``(width, height)`` in pixels: levels smaller than this (e.g. the detector's
            window) are not produced.
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
    mw, mh = int(min_size[0]), int(min_size[1])
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


def detect_multiscale(
    image: Any,
    cascade: "Cascade",
    *,
    scale_factor: float = 1.1,
    min_size: tuple[int, int] = (24, 24),
    max_size: tuple[int, int] | None = None,
    step: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scan a trained geolab cascade over every position and scale of an image.

    The image is shrunk step by step (:func:`image_pyramid`); at each level the cascade's
    window slides over all positions (``step`` pixels apart) and only the features the
    cascade selected are evaluated, from the level's integral image, vectorised over windows.

    Args:
        image: RGB or grey image (see :func:`to_gray_uint8`).
        cascade: A fitted :class:`geolab.classic.cascade.Cascade`.
        scale_factor: Ratio between pyramid levels, > 1.
        min_size: Smallest box ``(w, h)`` in original pixels to report.
        max_size: Largest box ``(w, h)`` to report (default: no limit).
        step: Window stride in level pixels (default: 2 where a level pixel covers at most two
            original pixels, else 1, like OpenCV).

    Returns:
        ``(boxes, scores)``: ``(K, 4)`` int boxes ``(x, y, w, h)`` in original pixels and
        ``(K,)`` cascade scores (last-stage margins) of every accepted window.
    """
    gray = to_gray_uint8(image).astype(np.float64) / 255.0
    wh, ww = cascade.window_shape
    boxes, scores = [], []
    for scale, level in image_pyramid(gray, scale_factor, (ww, wh)):
        bw, bh = ww * scale, wh * scale
        if bw < min_size[0] or bh < min_size[1]:
            continue
        if max_size is not None and (bw > max_size[0] or bh > max_size[1]):
            break
        stride = step if step is not None else (1 if scale > 2.0 else 2)
        ys, xs, sc = cascade.scan(level, step=stride)
        if len(ys):
            box = np.stack(
                [np.rint(xs * scale), np.rint(ys * scale), np.full(len(xs), round(bw)), np.full(len(xs), round(bh))],
                axis=1,
            )
            boxes.append(box.astype(np.int64))
            scores.append(sc)
    if not boxes:
        return np.zeros((0, 4), dtype=np.int64), np.zeros(0)
    return np.concatenate(boxes), np.concatenate(scores)


# --------------------------------------------------------------------------------------
# OpenCV
# --------------------------------------------------------------------------------------
def opencv_cascade_path(name: str = OPENCV_FACE_CASCADE) -> Path:
    """Path of a Haar cascade XML bundled with OpenCV's Python wheels.

    Raises:
        FileNotFoundError: The file is absent (OpenCV >= 5 wheels no longer ship
            ``cv2.data.haarcascades``).
    """
    import cv2

    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder) / name if folder else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"OpenCV's cascade {name!r} was not found (cv2 {cv2.__version__}, cv2.data.haarcascades="
            f"{folder!r}). The XML files ship with opencv-python(-headless) < 5; install e.g. "
            "'opencv-python-headless<5' or pass the path of the XML file."
        )
    return path


@lru_cache(maxsize=8)
def _load_cascade(path: str) -> Any:
    import cv2

    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise ValueError(f"OpenCV could not read the cascade file {path}; is it a Haar cascade XML?")
    return classifier


def load_opencv_cascade(path: str | Path | None = None) -> Any:
    """Load (once, then cached) a ``cv2.CascadeClassifier``.

    Args:
        path: XML file; default: OpenCV's bundled ``haarcascade_frontalface_default.xml``.
    """
    if path is None:
        path = opencv_cascade_path()
    elif not Path(path).is_file():
        raise FileNotFoundError(f"cascade file {path} does not exist")
    return _load_cascade(str(path))


def opencv_window_scores(windows: Any, *, upscale: int = 4, pad: float = 0.25, cascade: Any = None) -> np.ndarray:
    """Score tight face crops with OpenCV's cascade, for ROC curves.

    OpenCV's cascade only answers "face here or not". To get a graded score for a small crop,
    the crop is enlarged ``upscale`` times, padded by ``pad`` of its size on every side (edge
    pixels repeated) so that a whole face fits OpenCV's window with its usual margin, and
    scanned with ``detectMultiScale3(..., minNeighbors=0, outputRejectLevels=True)``. The
    score is the number of raw windows the cascade accepts plus, as a tie-breaker in (0, 1),
    the best final-stage weight squashed by a logistic function; crops where nothing is
    accepted score 0.

    Args:
        windows: ``(N, h, w)`` grey crops, float in 0..1 or uint8.
        upscale: Enlargement factor (bilinear interpolation).
        pad: Padding on each side, as a fraction of the enlarged crop size.
        cascade: A ``cv2.CascadeClassifier`` (default: the bundled frontal-face cascade).

    Returns:
        ``(N,)`` float scores, higher means more face-like.
    """
    import cv2

    arr = np.asarray(windows)
    if arr.ndim != 3:
        raise ValueError(f"windows must be (N, h, w); got shape {arr.shape}")
    clf = load_opencv_cascade() if cascade is None else cascade
    out = np.zeros(len(arr))
    for i, win in enumerate(arr):
        g = to_gray_uint8(win, "windows[i]")
        big = cv2.resize(g, (g.shape[1] * upscale, g.shape[0] * upscale), interpolation=cv2.INTER_LINEAR)
        p = int(round(pad * big.shape[0]))
        big = cv2.copyMakeBorder(big, p, p, p, p, cv2.BORDER_REPLICATE)
        found, _, weights = clf.detectMultiScale3(
            big, scaleFactor=1.05, minNeighbors=0, minSize=(big.shape[0] // 3, big.shape[0] // 3), outputRejectLevels=True
        )
        if len(found):
            out[i] = len(found) + 1.0 / (1.0 + np.exp(-float(np.max(weights))))
    return out


# --------------------------------------------------------------------------------------
# The front door
# --------------------------------------------------------------------------------------
def detect_faces(
    image: Any,
    method: str = "opencv",
    *,
    scale_factor: float = 1.1,
    min_neighbors: int = 3,
    min_size: tuple[int, int] = (24, 24),
    max_size: tuple[int, int] | None = None,
    cascade: Any = None,
    step: int | None = None,
    eps: float = 0.2,
) -> np.ndarray:
    """Find faces in an image.

    Args:
        image: ``(H, W, 3)`` RGB (not BGR), ``(H, W, 4)`` RGBA or ``(H, W)`` grey image, uint8
            or float in 0..1.
        method: ``"opencv"``: OpenCV's Viola–Jones cascade
            ``haarcascade_frontalface_default.xml``; ``"geolab"``: a cascade trained with
            :class:`geolab.classic.cascade.Cascade` (pass it as ``cascade``).
        scale_factor: Ratio between successive scan scales (> 1; smaller is slower but finds
            more sizes).
        min_neighbors: Keep a detection only when more than this many raw windows agree.
        min_size: Smallest face ``(w, h)`` in pixels.
        max_size: Largest face ``(w, h)`` in pixels (default: no limit).
        cascade: For ``"opencv"`` an XML path or ``cv2.CascadeClassifier`` (default: the
            bundled frontal-face cascade); for ``"geolab"`` a fitted ``Cascade`` (required).
        step: ``"geolab"`` only: window stride in pixels of each pyramid level.
        eps: ``"geolab"`` only: grouping tolerance of :func:`group_rectangles`.

    Returns:
        ``(K, 4)`` int array of boxes ``(x, y, w, h)``; ``(0, 4)`` when nothing is found.
    """
    if not scale_factor > 1.0:
        raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
    gray = to_gray_uint8(image)
    if method == "opencv":
        if cascade is None or isinstance(cascade, (str, Path)):
            clf = load_opencv_cascade(cascade)
        else:
            clf = cascade
        kwargs: dict[str, Any] = {"minSize": tuple(int(v) for v in min_size)}
        if max_size is not None:
            kwargs["maxSize"] = tuple(int(v) for v in max_size)
        found = clf.detectMultiScale(gray, scaleFactor=scale_factor, minNeighbors=int(min_neighbors), **kwargs)
        return np.asarray(found, dtype=np.int64).reshape(-1, 4)
    if method == "geolab":
        if cascade is None or not hasattr(cascade, "scan"):
            raise ValueError(
                "detect_faces(method='geolab') needs a fitted geolab.classic.cascade.Cascade as cascade=; "
                "train one with Cascade(...).fit(faces, negatives) or load one with Cascade.load(path)"
            )
        raw, scores = detect_multiscale(
            gray, cascade, scale_factor=scale_factor, min_size=min_size, max_size=max_size, step=step
        )
        return group_rectangles(raw, min_neighbors, eps, scores).boxes.astype(np.int64).reshape(-1, 4)
    raise ValueError(f"method must be 'opencv' or 'geolab', got {method!r}")
