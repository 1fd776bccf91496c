"""Multi-scale face detection: OpenCV's Haar cascade, our own cascade, and box post-processing.

Boxes are ``(x, y, w, h)`` in pixels throughout (OpenCV's convention): ``x`` is the column of
the left edge, ``y`` the row of the top edge.

* :func:`detect_faces` runs either OpenCV's bundled frontal-face cascade (``method="opencv"``)
  or a :class:`geolab.classic.cascade.Cascade` trained in the course (``method="geolab"``).
* :func:`detect_multiscale` scans a window over every position of a shrinking image
  (:func:`~geolab.classic.windows.image_pyramid`), using the integral image so that a window
  costs a few look-ups per feature.
* :func:`group_rectangles` merges overlapping raw detections and drops those with too few
  neighbours (``cv2.groupRectangles``); :func:`non_max_suppression` keeps the best-scoring
  box among overlapping ones (``torchvision.ops.nms``); :func:`iou` measures overlap
  (``torchvision.ops.box_iou``). Lesson 02 builds IoU and NMS by hand and checks them
  against these; lesson 01 does the same for the grouping.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from geolab.classic.windows import image_pyramid

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
# Box geometry and post-processing (torchvision.ops and OpenCV; lesson 02 builds them by hand)
# --------------------------------------------------------------------------------------
def _xyxy(boxes: np.ndarray) -> Any:
    """``(K, 4)`` ``(x, y, w, h)`` -> float64 tensor of corners ``(x1, y1, x2, y2)``."""
    import torch

    t = torch.as_tensor(boxes, dtype=torch.float64)
    return torch.cat([t[:, :2], t[:, :2] + t[:, 2:]], dim=1)


def iou(box_a: Any, box_b: Any) -> np.ndarray | float:
    """Intersection over union of ``(x, y, w, h)`` boxes (``torchvision.ops.box_iou``).

    Args:
        box_a: One box ``(4,)`` or boxes ``(N, 4)``.
        box_b: One box ``(4,)`` or boxes ``(M, 4)``.

    Returns:
        A float for two single boxes, otherwise the ``(N, M)`` matrix of IoUs (0 where both
        boxes are empty).
    """
    from torchvision.ops import box_iou

    single = np.ndim(box_a) == 1 and np.ndim(box_b) == 1
    a = _as_boxes(box_a, "box_a")
    b = _as_boxes(box_b, "box_b")
    out = np.nan_to_num(box_iou(_xyxy(a), _xyxy(b)).numpy(), nan=0.0) if len(a) and len(b) else np.zeros((len(a), len(b)))
    return float(out[0, 0]) if single else out


def non_max_suppression(boxes: Any, scores: Any, iou_threshold: float = 0.3) -> np.ndarray:
    """Greedy non-maximum suppression (``torchvision.ops.nms``).

    Repeatedly keeps the highest-scoring box and drops every remaining box whose IoU with it
    exceeds ``iou_threshold``.

    Args:
        boxes: ``(K, 4)`` boxes ``(x, y, w, h)``.
        scores: ``(K,)`` scores, higher is better.
        iou_threshold: Boxes overlapping a kept box by more than this are discarded.

    Returns:
        Indices of the kept boxes, ``(k,)`` int64, in decreasing order of score.
    """
    import torch
    from torchvision.ops import nms

    b = _as_boxes(boxes)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(s) != len(b):
        raise ValueError(f"non_max_suppression got {len(b)} boxes but {len(s)} scores")
    if not len(b):
        return np.zeros(0, dtype=np.int64)
    return nms(_xyxy(b), torch.as_tensor(s), float(iou_threshold)).numpy().astype(np.int64)


class GroupedBoxes(NamedTuple):
    """Result of :func:`group_rectangles`.

    Attributes:
        boxes: ``(G, 4)`` int32 averaged boxes ``(x, y, w, h)``.
        counts: ``(G,)`` number of raw boxes merged into each group (OpenCV's ``weights``).
    """

    boxes: np.ndarray
    counts: np.ndarray


def group_rectangles(boxes: Any, min_neighbors: int, eps: float = 0.2) -> GroupedBoxes:
    """Merge overlapping raw detections with ``cv2.groupRectangles``.

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

    Returns:
        :class:`GroupedBoxes` ``(boxes, counts)`` in OpenCV's output order.
    """
    import cv2

    b = _as_boxes(boxes)
    if np.any(b != np.round(b)):
        raise ValueError("group_rectangles expects integer boxes; round them first")
    if np.abs(b).max(initial=0) >= 2**31:
        raise ValueError("group_rectangles: box coordinates must fit in int32")
    if min_neighbors <= 0 or len(b) == 0:
        return GroupedBoxes(b.astype(np.int32).reshape(-1, 4), np.ones(len(b), dtype=np.int64))
    rects, weights = cv2.groupRectangles(b.astype(np.int32).tolist(), int(min_neighbors), float(eps))
    return GroupedBoxes(
        np.asarray(rects, dtype=np.int32).reshape(-1, 4), np.asarray(weights, dtype=np.int64).reshape(-1)
    )


# --------------------------------------------------------------------------------------
# Sliding windows over an image pyramid
# --------------------------------------------------------------------------------------
def detect_multiscale(
    image: Any,
    cascade: Cascade,
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
        min_size: Smallest box ``(height, width)`` in original pixels to report.
        max_size: Largest box ``(height, width)`` to report (default: no limit).
        step: Window stride in level pixels (default: 2 where a level pixel covers at most two
            original pixels, else 1, like OpenCV).

    Returns:
        ``(boxes, scores)``: ``(K, 4)`` int boxes ``(x, y, w, h)`` in original pixels and
        ``(K,)`` cascade scores (last-stage margins) of every accepted window.
    """
    gray = to_gray_uint8(image).astype(np.float64) / 255.0
    wh, ww = cascade.window_shape_
    boxes, scores = [], []
    for scale, level in image_pyramid(gray, scale_factor, (ww, wh)):
        bw, bh = ww * scale, wh * scale
        if bh < min_size[0] or bw < min_size[1]:
            continue
        if max_size is not None and (bh > max_size[0] or bw > max_size[1]):
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
        min_size: Smallest face ``(height, width)`` in pixels.
        max_size: Largest face ``(height, width)`` in pixels (default: no limit).
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
        kwargs: dict[str, Any] = {"minSize": (int(min_size[1]), int(min_size[0]))}  # OpenCV: (w, h)
        if max_size is not None:
            kwargs["maxSize"] = (int(max_size[1]), int(max_size[0]))
        found = clf.detectMultiScale(gray, scaleFactor=scale_factor, minNeighbors=int(min_neighbors), **kwargs)
        return np.asarray(found, dtype=np.int64).reshape(-1, 4)
    if method == "geolab":
        if cascade is None or not hasattr(cascade, "scan") or not cascade.is_trained():
            raise ValueError(
                "detect_faces(method='geolab') needs a fitted geolab.classic.cascade.Cascade as cascade=; "
                "train one with Cascade(...).fit(faces, negatives) or load one with Cascade.load(path)"
            )
        raw, _ = detect_multiscale(
            gray, cascade, scale_factor=scale_factor, min_size=min_size, max_size=max_size, step=step
        )
        return group_rectangles(raw, min_neighbors, eps).boxes.astype(np.int64).reshape(-1, 4)
    raise ValueError(f"method must be 'opencv' or 'geolab', got {method!r}")
