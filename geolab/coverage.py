r"""Litter coverage in square metres from beach photos: mask + ground camera -> areas.

:func:`coverage_table` turns a label mask (train ids 0..7 of :mod:`geolab.data.beachlitter`)
and a :class:`~geolab.geometry.GroundCamera` into ground areas per class and the litter
coverage. :func:`coverage_interval` adds low/high values from the stated uncertainties of the
camera's inputs and from the segmentation error measured on validation scenes, and
:func:`sea_horizon` finds the sea/sky boundary in a mask to check the camera against.
:mod:`geolab.coverage_cli` runs it on a batch of photos (``geolab beach-coverage``)::

    geolab beach-coverage photos/*.jpg --model beachlitter_unet.pt \\
        --camera-height 1.5 --bottom-distance 3 --max-distance 15 --out results.csv

Coverage is ``litter area / beach area × 100`` where litter = artificial + natural litter and
beach = litter + sand (the ground a survey counts; sea, plants and installations excluded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from geolab.constants import IGNORE_INDEX
from geolab.data.beachlitter import ARTIFICIAL, CLASSES, NATURAL, PALETTE, SAND, TRAIN_ID
from geolab.geometry import GroundCamera

__all__ = [
    "AREA_COLUMNS",
    "INTERVAL_KEYS",
    "CameraUncertainty",
    "class_slug",
    "coverage_interval",
    "coverage_table",
    "overlay",
    "sea_horizon",
]

SEA = TRAIN_ID["sea"]
SKY = TRAIN_ID["sky"]


def class_slug(name: str) -> str:
    """``"Artificial Litter"`` -> ``"artificial_litter"``."""
    return name.lower().replace(" ", "_")


AREA_COLUMNS = [f"{class_slug(c)}_m2" for c in CLASSES]
#: Quantities that :func:`coverage_interval` bounds.
INTERVAL_KEYS = [
    "artificial_litter_m2",
    "natural_litter_m2",
    "litter_m2",
    "beach_m2",
    "coverage_pct",
]


def coverage_table(
    mask: Any,
    camera: GroundCamera,
    ignore_index: int = IGNORE_INDEX,
    max_distance_m: float | None = None,
) -> dict[str, float]:
    """Ground area of every class and the litter coverage of one label mask.

    Args:
        mask: ``(H, W)`` train ids 0..7 (numpy or torch); ``ignore_index`` pixels count nowhere.
        camera: The camera of the photo at the mask's size (see ``camera.with_size``).
        ignore_index: Label of unlabelled pixels.
        max_distance_m: Count only ground closer than this (metres, along ``Y``; None: all the
            ground up to the horizon). Pixels just below the horizon cover huge areas, so one
            wrong pixel there can swamp the sums; a limit such as 15 m keeps the measurement to
            the near beach (``geolab beach-coverage`` uses 15 m unless told otherwise).

    Returns:
        ``{"<class>_m2": area, ..., "litter_m2", "beach_m2", "coverage_pct"}``; areas in m²
        (pixels at or above the horizon add nothing), coverage in percent (NaN without beach).
    """
    m = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
    if m.shape != (camera.height, camera.width):
        raise ValueError(
            f"mask has shape {m.shape} but the camera is {camera.height} x {camera.width}; "
            f"use camera.with_size(width, height) for a resized mask"
        )
    area = np.nan_to_num(camera.pixel_area(), nan=0.0)
    if max_distance_m is not None:
        v, u = np.mgrid[0 : camera.height, 0 : camera.width]
        _, Y = camera.image_to_ground(u, v)
        area[~(Y <= max_distance_m)] = 0.0
    m = m.astype(np.int64)
    valid = (m >= 0) & (m < len(CLASSES)) & (m != ignore_index)
    sums = np.bincount(m[valid], weights=area[valid], minlength=len(CLASSES))[: len(CLASSES)]
    out = {col: float(s) for col, s in zip(AREA_COLUMNS, sums)}
    litter = float(sums[ARTIFICIAL] + sums[NATURAL])
    beach = litter + float(sums[SAND])
    out["litter_m2"] = litter
    out["beach_m2"] = beach
    out["coverage_pct"] = 100.0 * litter / beach if beach > 0 else math.nan
    return out


def overlay(image: Any, mask: Any, alpha: float = 0.45) -> np.ndarray:
    """Blend the class colours of a mask onto a photo; ignored pixels keep the photo.

    Args:
        image: ``(H, W, 3)`` RGB photo (0..255).
        mask: ``(H, W)`` train ids; ``IGNORE_INDEX`` pixels are left as they are.
        alpha: Weight of the class colour.

    Returns:
        ``(H, W, 3)`` uint8.
    """
    from geolab.plot import mask_to_rgb

    img = np.asarray(image, dtype=np.float64)
    m = np.asarray(mask)
    colour = mask_to_rgb(m, PALETTE).astype(np.float64)
    keep = (m == IGNORE_INDEX)[..., None]
    out = np.where(keep, img, (1 - alpha) * img + alpha * colour)
    return np.clip(out, 0, 255).astype(np.uint8)


def sea_horizon(
    mask: Any,
    sea: int = SEA,
    sky: int = SKY,
    min_columns: float = 0.1,
    max_residual_px: float = 2.0,
) -> tuple[float, float, int] | None:
    """Fit a straight line to the sea/sky boundary of a label mask.

    In every column where a sky pixel lies directly above a sea pixel, the boundary sits between
    them (row ``r − 0.5``; the topmost such place per column). A least-squares line through these
    points is refitted twice without points farther than ``max(max_residual_px, 3 × MAD)`` from it.

    Args:
        mask: ``(H, W)`` train ids.
        sea: Train id of the sea.
        sky: Train id of the sky.
        min_columns: Fewest columns (fraction of ``W``) with a boundary for a fit.
        max_residual_px: Smallest rejection distance in pixels.

    Returns:
        ``(row at the centre column (W−1)/2, slope dv/du, number of columns used)``, or None
        when too few columns show sea directly below sky (no horizon in the photo, or hidden
        behind land).
    """
    m = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {m.shape}")
    edge = (m[:-1] == sky) & (m[1:] == sea)  # (H-1, W): sky at r, sea at r+1
    has = edge.any(axis=0)
    if has.sum() < max(2, min_columns * m.shape[1]):
        return None
    cols = np.nonzero(has)[0].astype(float)
    rows = edge[:, has].argmax(axis=0) + 0.5
    keep = np.ones(cols.size, bool)
    cu = (m.shape[1] - 1) / 2
    for _ in range(3):
        slope, row = np.polyfit(cols[keep] - cu, rows[keep], 1)
        resid = np.abs(rows - (row + slope * (cols - cu)))
        mad = float(np.median(resid[keep]))
        new = resid <= max(max_residual_px, 3 * 1.4826 * mad)
        if new.sum() < 2 or (new == keep).all():
            break
        keep = new
    slope, row = np.polyfit(cols[keep] - cu, rows[keep], 1)
    return float(row), float(slope), int(keep.sum())


@dataclass(frozen=True)
class CameraUncertainty:
    """Stated uncertainties (one standard deviation) of the camera's inputs.

    Attributes:
        camera_height_m: Of the camera height, metres.
        bottom_distance_m: Of the bottom-edge distance, metres (when the tilt comes from it).
        horizon_row_px: Of the horizon row, pixels of the camera's image (when the tilt comes
            from the horizon).
        vfov_deg: Of the vertical field of view, degrees.
    """

    camera_height_m: float = 0.05
    bottom_distance_m: float = 0.2
    horizon_row_px: float = 2.0
    vfov_deg: float = 0.5

    def __post_init__(self) -> None:
        for name in (
            "camera_height_m",
            "bottom_distance_m",
            "horizon_row_px",
            "vfov_deg",
        ):
            if not getattr(self, name) >= 0:
                raise ValueError(f"uncertainty {name} must be >= 0, got {getattr(self, name)}")

    def scaled(self, factor: float) -> CameraUncertainty:
        """The same uncertainties for an image resized by ``factor`` (only the pixel term changes)."""
        return replace(self, horizon_row_px=self.horizon_row_px * factor)


def _perturbed(camera: GroundCamera, tilt_from: str, name: str, delta: float) -> GroundCamera | None:
    """The camera with one input moved by ``delta``; None when that camera is impossible."""
    h, db, vfov = camera.camera_height_m, camera.bottom_distance_m, camera.vfov_deg
    try:
        if tilt_from == "bottom":
            h2 = h + delta if name == "camera_height_m" else h
            db2 = db + delta if name == "bottom_distance_m" else db
            v2 = vfov + delta if name == "vfov_deg" else vfov
            return GroundCamera(camera.width, camera.height, v2, h2, db2, camera.roll_deg)
        row = camera.sea_horizon_v()  # levelled photo: slope 0
        h2 = h + delta if name == "camera_height_m" else h
        row2 = row + delta if name == "horizon_row_px" else row
        v2 = vfov + delta if name == "vfov_deg" else vfov
        cam = GroundCamera.from_horizon(camera.width, camera.height, v2, h2, row2, dip_height_m=h)
        return replace(cam, roll_deg=camera.roll_deg)
    except ValueError:
        return None


def coverage_interval(
    mask: Any,
    camera: GroundCamera,
    uncertainty: CameraUncertainty | None = None,
    tilt_from: str = "bottom",
    max_distance_m: float | None = None,
    segmentation_rel_error: float = 0.0,
    ignore_index: int = IGNORE_INDEX,
) -> dict[str, float]:
    """Low and high values of the litter areas and coverage of one mask.

    Each camera input ``p`` (height, bottom distance or horizon row, field of view) is moved by
    ``± σ_p`` and the mask measured again (pixel areas are analytic, so this costs six more
    :func:`coverage_table` calls). Upward and downward changes add in quadrature, separately:
    ``high = A + sqrt(Σ up_p² + (s·A)²)``, ``low = A − sqrt(Σ down_p² + (s·A)²)``, where the
    segmentation term ``s`` (a relative error of the litter area, measured on validation scenes)
    applies to the litter areas and the coverage, not to the beach area. A perturbed camera
    that cannot exist (bottom edge above the horizon) makes that side unbounded (inf).

    Args:
        mask: ``(H, W)`` train ids of the (levelled) photo.
        camera: Its camera.
        uncertainty: One-standard-deviation input errors (default :class:`CameraUncertainty`).
        tilt_from: ``"bottom"`` when the tilt came from the bottom-edge distance, ``"horizon"``
            when it came from the horizon row (:meth:`GroundCamera.from_horizon`).
        max_distance_m: As in :func:`coverage_table`.
        segmentation_rel_error: Relative error of a photo's litter area due to segmentation (e.g. 0.15).
        ignore_index: Label of unlabelled pixels.

    Returns:
        ``{"<key>_low": ..., "<key>_high": ...}`` for every key of :data:`INTERVAL_KEYS`
        (areas in m², coverage in percent).
    """
    if tilt_from not in ("bottom", "horizon"):
        raise ValueError(f"tilt_from must be 'bottom' or 'horizon', got {tilt_from!r}")
    if not segmentation_rel_error >= 0:
        raise ValueError(f"segmentation_rel_error must be >= 0, got {segmentation_rel_error}")
    sd = uncertainty or CameraUncertainty()
    base = coverage_table(mask, camera, ignore_index, max_distance_m)
    names = [
        "camera_height_m",
        "bottom_distance_m" if tilt_from == "bottom" else "horizon_row_px",
        "vfov_deg",
    ]
    up2 = {k: 0.0 for k in INTERVAL_KEYS}  # sums of squared upward / downward changes
    down2 = {k: 0.0 for k in INTERVAL_KEYS}
    for name in names:
        sigma = float(getattr(sd, name))
        if sigma == 0:
            continue
        up = {k: 0.0 for k in INTERVAL_KEYS}
        down = {k: 0.0 for k in INTERVAL_KEYS}
        for sign in (1.0, -1.0):
            cam = _perturbed(camera, tilt_from, name, sign * sigma)
            if cam is None:  # e.g. the bottom edge would look above the horizon
                up = {k: math.inf for k in INTERVAL_KEYS}
                continue
            other = coverage_table(mask, cam, ignore_index, max_distance_m)
            for k in INTERVAL_KEYS:
                d = other[k] - base[k]
                if not math.isnan(d):
                    up[k], down[k] = max(up[k], d), max(down[k], -d)
        for k in INTERVAL_KEYS:
            up2[k] += up[k] ** 2
            down2[k] += down[k] ** 2
    out: dict[str, float] = {}
    for k in INTERVAL_KEYS:
        seg = segmentation_rel_error * base[k] if k != "beach_m2" else 0.0
        seg = 0.0 if math.isnan(seg) else seg
        out[f"{k}_low"] = base[k] - math.sqrt(down2[k] + seg**2)
        out[f"{k}_high"] = base[k] + math.sqrt(up2[k] + seg**2)
        if k != "coverage_pct":
            out[f"{k}_low"] = max(0.0, out[f"{k}_low"])
    return out
