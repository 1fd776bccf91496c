"""Geometry of the synthetic beach scenes: clipping litter to the frame, hidden areas, a sloping beach.

Used by :mod:`geolab.synth.beach`: :func:`clip_polygon` cuts a piece of litter to the part of
the ground seen inside the frame (:func:`frame_halfplanes`), :func:`visible_areas` subtracts what
later pieces cover, :func:`litter_area` sums the visible areas of a scene up to a distance, and
:class:`FieldView` is a camera over a beach that falls away towards the sea.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from geolab.data.beachlitter import ARTIFICIAL, CLASSES, DATASET_ID, NATURAL
from geolab.geometry import pinhole_project, polygon_area

__all__ = [
    "FieldView",
    "clip_polygon",
    "frame_halfplanes",
    "litter_area",
    "litter_outline",
    "litter_thickness",
    "rotate",
    "visible_areas",
]

ID = DATASET_ID


def clip_polygon(points: Any, halfplanes: Any) -> np.ndarray:
    """Clip a polygon to the convex region ``a·x + b·y + c >= 0`` of every half-plane (Sutherland–Hodgman).

    Args:
        points: ``(N, 2)`` vertices (any simple polygon, convex or not).
        halfplanes: ``(K, 3)`` rows ``(a, b, c)``.

    Returns:
        ``(M, 2)`` vertices of the clipped polygon (``M = 0`` when nothing is left). Its
        shoelace area is the exact area of the part inside the region.
    """
    poly = np.asarray(points, dtype=float).reshape(-1, 2)
    for a, b, c in np.asarray(halfplanes, dtype=float).reshape(-1, 3):
        if len(poly) == 0:
            break
        d = poly @ np.array([a, b]) + c
        out: list[np.ndarray] = []
        for i in range(len(poly)):
            j = (i + 1) % len(poly)
            if d[i] >= 0:
                out.append(poly[i])
            if (d[i] >= 0) != (d[j] >= 0):
                t = d[i] / (d[i] - d[j])
                out.append(poly[i] + t * (poly[j] - poly[i]))
        poly = np.array(out).reshape(-1, 2)
    return poly


def visible_areas(polygons: list[np.ndarray], cells: int = 200) -> list[float]:
    """Area of each polygon not covered by a later one (later pieces lie on top), in its unit squared.

    Each polygon's own area is exact (shoelace); the part hidden by later polygons is counted on
    a grid of about ``cells`` cells across the overlap's bounding box.
    """
    from matplotlib.path import Path as MplPath

    boxes = [np.r_[p.min(0), p.max(0)] if len(p) else np.full(4, np.nan) for p in polygons]
    out = []
    for i, p in enumerate(polygons):
        if len(p) < 3:
            out.append(0.0)
            continue
        area = polygon_area(p[:, 0], p[:, 1])
        bi = boxes[i]
        later = [
            q for q, bq in zip(polygons[i + 1 :], boxes[i + 1 :])
            if len(q) >= 3 and bq[0] < bi[2] and bq[2] > bi[0] and bq[1] < bi[3] and bq[3] > bi[1]
        ]  # fmt: skip
        if later:
            x0, y0, x1, y1 = (float(b) for b in bi)
            step = max(x1 - x0, y1 - y0) / cells
            gx, gy = np.meshgrid(np.arange(x0 + step / 2, x1, step), np.arange(y0 + step / 2, y1, step))
            pts = np.column_stack([gx.ravel(), gy.ravel()])
            inside = MplPath(p).contains_points(pts)
            hidden = np.zeros_like(inside)
            for q in later:
                hidden |= MplPath(q).contains_points(pts)
            area = max(0.0, area - float((inside & hidden).sum()) * step**2)
        out.append(area)
    return out


def frame_halfplanes(homography: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Ground half-planes ``(K, 3)`` of the points (in front of the camera) seen inside an image polygon.

    ``corners`` is the convex image polygon ``(K, 2)``; each edge's image line ``l`` becomes the
    ground line ``Hᵀ l``, oriented so that the polygon's centre is inside.
    """
    centre = np.r_[corners.mean(0), 1.0]
    rows = []
    for k in range(len(corners)):
        p, q = np.r_[corners[k], 1.0], np.r_[corners[(k + 1) % len(corners)], 1.0]
        line = np.cross(p, q)
        if line @ centre < 0:
            line = -line
        g = homography.T @ line
        rows.append(g / max(np.abs(g[:2]).max(), 1e-12))
    return np.array(rows)


def litter_area(meta: dict[str, Any], max_distance_m: float | None = None) -> dict[str, float]:
    """True visible ground area (m²) of each litter class of a scene, optionally only up to a distance.

    Args:
        meta: The metadata of :func:`render_scene` (or one entry of :func:`read_meta`).
        max_distance_m: Count only ground with ``Y <=`` this many metres ahead of the camera's
            foot (as ``max_distance_m`` of :func:`geolab.coverage.coverage_table` does); None: all.

    Returns:
        ``{"Artificial Litter": m², "Natural Litter": m²}``; equals ``meta["true_area_m2"]``
        when ``max_distance_m`` is None.
    """
    art_name, nat_name = CLASSES[ARTIFICIAL], CLASSES[NATURAL]
    objs = meta["objects"]
    if max_distance_m is None:
        return dict(meta["true_area_m2"])
    polys = [
        clip_polygon(o.get("visible_polygon_m", o["polygon_m"]), [(0.0, -1.0, float(max_distance_m))]) for o in objs
    ]
    areas = visible_areas(polys)
    out = {art_name: 0.0, nat_name: 0.0}
    for o, a in zip(objs, areas):
        out[art_name if o["class_id"] == ID["artificial"] else nat_name] += a
    return out


class FieldView:
    """A level, unrolled camera over a beach that falls away ahead (``Z = −slope·min(Y, flat_from)``).

    It has the methods of :class:`GroundCamera` that :func:`render_scene` uses, for a canvas of
    ``width × height`` pixels with focal length ``focal_px`` and the principal point at its centre.
    ``world_to_image`` takes heights above the local ground.
    """

    def __init__(self, width: int, height: int, focal_px: float, camera_height_m: float, tilt_deg: float,
                 slope: float, flat_from_m: float = 35.0) -> None:  # fmt: skip
        self.width, self.height = int(width), int(height)
        self.focal_px, self.camera_height_m = float(focal_px), float(camera_height_m)
        self.tilt_deg, self.slope, self.flat_from_m = float(tilt_deg), float(slope), float(flat_from_m)
        f = self.focal_px
        self.K = np.array([[f, 0.0, (self.width - 1) / 2], [0.0, f, (self.height - 1) / 2], [0.0, 0.0, 1.0]])
        t = math.radians(self.tilt_deg)
        s, c = math.sin(t), math.cos(t)
        self.R = np.array([[1.0, 0.0, 0.0], [0.0, -s, -c], [0.0, c, -s]])
        self.horizon_v = (self.height - 1) / 2 - f * math.tan(t)
        self.bottom_distance_m = 1.0  # set by the caller once the frame is known

    @property
    def homography(self) -> np.ndarray:
        """Beach plane ``(X, Y, 1)`` (horizontal coordinates) to canvas pixels."""
        R = self.R
        return self.K @ np.column_stack([R[:, 0], R @ np.array([0.0, 1.0, -self.slope]),
                                         -R @ np.array([0.0, 0.0, self.camera_height_m])])  # fmt: skip

    def ground_z(self, Y: Any) -> np.ndarray:
        """Height (metres) of the ground at distance ``Y`` ahead."""
        return -self.slope * np.minimum(np.asarray(Y, float), self.flat_from_m)

    def world_to_image(self, X: Any, Y: Any, Z: Any = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Canvas pixels ``(u, v)`` of points ``Z`` metres above the ground at ``(X, Y)``; NaN behind the camera."""
        return pinhole_project(self.K, self.R, X, Y, self.ground_z(Y) + np.asarray(Z, float) - self.camera_height_m)

    def ground_to_image(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Canvas pixels of ground points ``(X, Y)`` (horizontal coordinates, metres)."""
        return self.world_to_image(X, Y, 0.0)

    def image_to_ground(self, u: Any, v: Any) -> tuple[np.ndarray, np.ndarray]:
        """Horizontal ground coordinates ``(X, Y)`` (metres) seen by canvas pixels; NaN where no ground."""
        u, v = np.broadcast_arrays(np.asarray(u, float), np.asarray(v, float))
        f, (cx, cy) = self.focal_px, self.K[:2, 2]
        d = np.stack([(u - cx) / f, (v - cy) / f, np.ones_like(u)], axis=-1) @ self.R  # world directions
        dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
        h, k, far = self.camera_height_m, self.slope, self.flat_from_m
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = -h / (dz + k * dy)  # hit on the sloping beach
            t2 = (-k * far - h) / dz  # hit on the level ground beyond
        on1 = (dz + k * dy < 0) & (t1 * dy <= far)
        on2 = ~on1 & (dz < 0)
        t = np.where(on1, t1, np.where(on2, t2, np.nan))
        return t * dx, t * dy


def rotate(points: np.ndarray, angle: float) -> np.ndarray:
    """Turn ``(N, 2)`` points by ``angle`` radians about the origin."""
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def litter_outline(kind: str, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Outline ``(N, 2)`` in metres of one litter piece, centred at the origin, long axis along x."""
    if kind == "bottle":
        L, W = rng.uniform(0.25, 0.45) * scale, rng.uniform(0.08, 0.13) * scale
        n = 0.3 * L
        return np.array(
            [[-L / 2, -W / 2], [L / 2 - n, -W / 2], [L / 2 - 0.4 * n, -W / 5], [L / 2, -W / 5],
             [L / 2, W / 5], [L / 2 - 0.4 * n, W / 5], [L / 2 - n, W / 2], [-L / 2, W / 2]]
        )  # fmt: skip
    if kind == "can":
        L, W = rng.uniform(0.14, 0.22) * scale, rng.uniform(0.08, 0.11) * scale
        return np.array([[-L / 2, -W / 2], [L / 2, -W / 2], [L / 2, W / 2], [-L / 2, W / 2]])
    if kind == "fragment":
        k = int(rng.integers(5, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(0.07, 0.2) * scale * rng.uniform(0.6, 1.0, k)
        return np.column_stack([r * np.cos(ang) * rng.uniform(1.0, 1.8), r * np.sin(ang)])
    if kind == "float":
        k = 14
        ang = np.linspace(0, 2 * np.pi, k, endpoint=False)
        a, b = rng.uniform(0.15, 0.3) * scale, rng.uniform(0.12, 0.22) * scale
        return np.column_stack([a * np.cos(ang), b * np.sin(ang)])
    if kind == "driftwood":
        L, W = rng.uniform(0.6, 2.0) * scale, rng.uniform(0.12, 0.3) * scale
        k = 8
        x = np.linspace(-L / 2, L / 2, k)
        bend = rng.uniform(-0.15, 0.15) * L * (1 - (2 * x / L) ** 2)
        w = W / 2 * rng.uniform(0.7, 1.0, k)
        w[0] *= 0.7
        w[-1] *= 0.5
        return np.concatenate([np.column_stack([x, bend - w]), np.column_stack([x, bend + w])[::-1]])
    if kind == "seaweed":
        L, W = rng.uniform(0.5, 1.5) * scale, rng.uniform(0.25, 0.6) * scale
        k = 16
        ang = np.linspace(0, 2 * np.pi, k, endpoint=False)
        r = rng.uniform(0.65, 1.0, k)
        return np.column_stack([L / 2 * r * np.cos(ang), W / 2 * r * np.sin(ang)])
    if kind == "lumber":  # a sawn board: straight edges, constant width
        L, W = rng.uniform(0.6, 1.8) * scale, rng.uniform(0.08, 0.2) * scale
        return np.array([[-L / 2, -W / 2], [L / 2, -W / 2], [L / 2, W / 2], [-L / 2, W / 2]])
    if kind == "slat":  # one board of a broken pallet
        L, W = rng.uniform(0.8, 1.2) * scale, rng.uniform(0.08, 0.14) * scale
        return np.array([[-L / 2, -W / 2], [L / 2, -W / 2], [L / 2, W / 2], [-L / 2, W / 2]])
    if kind == "twig":  # small driftwood of a wrack line
        L, W = rng.uniform(0.15, 0.5) * scale, rng.uniform(0.02, 0.05) * scale
        return np.array(
            [[-L / 2, -W / 3], [0.0, -W / 2], [L / 2, -W / 4], [L / 2, W / 4], [0.0, W / 2], [-L / 2, W / 3]]
        )
    if kind == "wrack":  # a clump of seaweed and debris on the high-water mark
        k = 10
        ang = np.linspace(0, 2 * np.pi, k, endpoint=False)
        r = rng.uniform(0.05, 0.18) * scale * rng.uniform(0.6, 1.0, k)
        return np.column_stack([1.6 * r * np.cos(ang), r * np.sin(ang)])
    raise ValueError(f"unknown litter kind {kind!r}")


def litter_thickness(kind: str, width_m: float, rng: np.random.Generator) -> float:
    """Height (metres) of a piece of litter of this kind and width in a field scene."""
    if kind in ("bottle", "can", "float", "driftwood", "twig"):  # round
        return float(rng.uniform(0.3, 0.7)) * width_m  # partly buried in the sand
    if kind in ("lumber", "slat"):  # boards
        return float(rng.uniform(0.015, 0.05))
    return float(rng.uniform(0.005, 0.03))  # fragments, films, seaweed, wrack: nearly flat
