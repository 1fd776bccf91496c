"""Ground-plane camera geometry: from a tilted photo of flat ground to areas in square metres.

A camera stands at height ``h`` above flat ground, pitched down by a tilt ``θ`` (no roll),
and takes a ``W × H`` pixel image with vertical field of view ``φ``. Coordinates:

* **ground** ``(X, Y)`` in metres: ``X`` to the right, ``Y`` forward (away from the camera),
  the camera's foot at ``(0, 0)``;
* **image** ``(u, v)`` in pixels: ``u`` to the right, ``v`` down, pixel centres at integers,
  so the image spans ``-0.5 .. W-0.5`` and the principal point is ``((W-1)/2, (H-1)/2)``.

The focal length in pixels is ``f = (H/2) / tan(φ/2)``. Knowing the ground distance ``D_b`` to
the point seen at the bottom edge of the image fixes the tilt: ``θ = atan(h / D_b) − φ/2``.
A ground point maps to the image by the homography ``H = K [r1 r2 t]``; ``H⁻¹`` maps pixels back
to the ground, and one pixel covers ``|det H⁻¹| / w³`` square metres, where ``w`` is the third
component of ``H⁻¹ (u, v, 1)``. Pixels with ``w ≤ 0`` look at or above the horizon and see no
ground (their area is NaN).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ExifError", "GroundCamera", "polygon_area"]

_EXIF_IFD = 0x8769
_TAG_FOCAL_LENGTH = 0x920A  # 37386
_TAG_FOCAL_35MM = 0xA405  # 41989
_TAG_FP_XRES = 0xA20E  # 41486
_TAG_FP_YRES = 0xA20F  # 41487
_TAG_FP_UNIT = 0xA210  # 41488
_TAG_EXIF_W = 0xA002  # 40962
_TAG_EXIF_H = 0xA003  # 40963
_UNIT_MM = {1: None, 2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}  # EXIF resolution unit -> mm per unit


class ExifError(ValueError):
    """A photo lacks the EXIF tags needed to know its field of view."""


def polygon_area(x: Any, y: Any) -> float:
    """Area of a simple polygon by the shoelace formula.

    Args:
        x: ``(N,)`` vertex x coordinates (any unit).
        y: ``(N,)`` vertex y coordinates (same unit).

    Returns:
        Unsigned area in that unit squared.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _ratio(value: Any) -> float:
    """EXIF rationals come as IFDRational, tuples or numbers."""
    if isinstance(value, tuple) and len(value) == 2:
        return float(value[0]) / float(value[1])
    return float(value)


@dataclass(frozen=True)
class GroundCamera:
    """A pinhole camera looking down at flat ground.

    Args:
        width: Image width ``W`` in pixels.
        height: Image height ``H`` in pixels.
        vfov_deg: Vertical field of view ``φ`` in degrees.
        camera_height_m: Height ``h`` of the camera above the ground in metres.
        bottom_distance_m: Ground distance ``D_b`` in metres from the camera's foot to the point
            seen at the bottom edge of the image.
    """

    width: int
    height: int
    vfov_deg: float
    camera_height_m: float
    bottom_distance_m: float

    def __post_init__(self) -> None:
        if int(self.width) != self.width or int(self.height) != self.height or self.width < 1 or self.height < 1:
            raise ValueError(f"width and height must be positive integers, got {self.width} x {self.height}")
        if not 0.0 < self.vfov_deg < 180.0:
            raise ValueError(f"vfov_deg must be in (0, 180) degrees, got {self.vfov_deg}")
        if self.camera_height_m <= 0:
            raise ValueError(f"camera_height_m must be > 0 metres, got {self.camera_height_m}")
        if self.bottom_distance_m <= 0:
            raise ValueError(f"bottom_distance_m must be > 0 metres, got {self.bottom_distance_m}")
        if self.tilt_deg <= -90 + 1e-6 or self.tilt_deg >= 90:
            raise ValueError(f"camera tilt {self.tilt_deg:.1f}° is impossible; check vfov and distances")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_focal_length(
        cls,
        width: int,
        height: int,
        focal_mm: float,
        sensor_height_mm: float,
        camera_height_m: float,
        bottom_distance_m: float,
    ) -> GroundCamera:
        """Build from the lens focal length and the sensor height (both in mm).

        ``φ = 2 atan(sensor_height / (2 focal))``; the sensor height is the side that spans the
        image's ``height`` pixels.
        """
        if focal_mm <= 0 or sensor_height_mm <= 0:
            raise ValueError(f"focal_mm and sensor_height_mm must be > 0, got {focal_mm}, {sensor_height_mm}")
        vfov = math.degrees(2 * math.atan(sensor_height_mm / (2 * focal_mm)))
        return cls(int(width), int(height), vfov, camera_height_m, bottom_distance_m)

    @classmethod
    def from_exif(cls, photo: Any, camera_height_m: float, bottom_distance_m: float) -> GroundCamera:
        """Build from a photo's EXIF tags.

        Uses ``FocalLength`` with ``FocalPlaneYResolution`` (+ ``FocalPlaneResolutionUnit``),
        else ``FocalLengthIn35mmFilm`` (35 mm equivalent, defined on the 43.27 mm diagonal).

        Args:
            photo: Path of the photo or an open ``PIL.Image``.
            camera_height_m: Camera height in metres.
            bottom_distance_m: Ground distance to the bottom edge in metres.

        Raises:
            ExifError: The tags are missing; the message says which and how to pass
                the field of view instead.
        """
        from PIL import Image

        name = str(photo) if isinstance(photo, (str, os.PathLike)) else getattr(photo, "filename", "") or "<image>"
        if isinstance(photo, (str, os.PathLike)):
            with Image.open(Path(photo)) as im:
                exif = im.getexif()
                size = im.size
        else:
            exif = photo.getexif()
            size = photo.size
        width, height = size
        sub = exif.get_ifd(_EXIF_IFD)
        tags = {**dict(exif), **dict(sub)}
        hint = (
            f"Pass the vertical field of view instead: GroundCamera({width}, {height}, vfov_deg=..., ...) "
            f"or `geolab beach-coverage --vfov-deg ...`."
        )
        focal = tags.get(_TAG_FOCAL_LENGTH)
        yres = tags.get(_TAG_FP_YRES)
        if focal is not None and yres is not None and _ratio(yres) > 0:
            unit = int(tags.get(_TAG_FP_UNIT, 2))
            mm = _UNIT_MM.get(unit)
            if mm is None:
                raise ExifError(f"{name}: FocalPlaneResolutionUnit={unit} has no physical unit. {hint}")
            # FocalPlaneYResolution counts pixels of the *original* image per unit length.
            orig_h = int(tags.get(_TAG_EXIF_H, height)) or height
            orig_w = int(tags.get(_TAG_EXIF_W, width)) or width
            # If the photo was rotated or resized, use the side that matches the image's height.
            if (orig_w, orig_h) != (width, height) and (orig_h, orig_w) == (width, height):
                orig_h = orig_w
            sensor_h = orig_h / _ratio(yres) * mm
            return cls.from_focal_length(width, height, _ratio(focal), sensor_h, camera_height_m, bottom_distance_m)
        f35 = tags.get(_TAG_FOCAL_35MM)
        if f35 is not None and float(f35) > 0:
            diag35 = math.hypot(36.0, 24.0)
            sensor_h = diag35 * height / math.hypot(width, height)
            vfov = math.degrees(2 * math.atan(sensor_h / (2 * float(f35))))
            return cls(width, height, vfov, camera_height_m, bottom_distance_m)
        missing = []
        if focal is None:
            missing.append("FocalLength")
        if yres is None:
            missing.append("FocalPlaneYResolution")
        missing.append("FocalLengthIn35mmFilm")
        raise ExifError(f"{name}: EXIF lacks {' and '.join(missing)}, so the field of view is unknown. {hint}")

    def with_size(self, width: int, height: int) -> GroundCamera:
        """The same camera for a resized image (same vertical field of view and distances)."""
        return GroundCamera(int(width), int(height), self.vfov_deg, self.camera_height_m, self.bottom_distance_m)

    # ------------------------------------------------------------------ intrinsics / extrinsics
    @property
    def focal_px(self) -> float:
        """Focal length ``f = (H/2)/tan(φ/2)`` in pixels."""
        return (self.height / 2) / math.tan(math.radians(self.vfov_deg) / 2)

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view in degrees."""
        return math.degrees(2 * math.atan((self.width / 2) / self.focal_px))

    @property
    def tilt_deg(self) -> float:
        """Downward pitch ``θ = atan(h / D_b) − φ/2`` in degrees."""
        return math.degrees(math.atan2(self.camera_height_m, self.bottom_distance_m)) - self.vfov_deg / 2

    @property
    def K(self) -> np.ndarray:  # noqa: N802 - the usual name
        """``(3, 3)`` intrinsic matrix."""
        f = self.focal_px
        return np.array([[f, 0.0, (self.width - 1) / 2], [0.0, f, (self.height - 1) / 2], [0.0, 0.0, 1.0]])

    @property
    def R(self) -> np.ndarray:  # noqa: N802
        """``(3, 3)`` world→camera rotation (rows: camera x right, y down, z forward in world)."""
        t = math.radians(self.tilt_deg)
        s, c = math.sin(t), math.cos(t)
        return np.array([[1.0, 0.0, 0.0], [0.0, -s, -c], [0.0, c, -s]])

    @property
    def center(self) -> np.ndarray:
        """Camera centre ``(0, 0, h)`` in world metres."""
        return np.array([0.0, 0.0, self.camera_height_m])

    @property
    def homography(self) -> np.ndarray:
        """``(3, 3)`` matrix mapping ground ``(X, Y, 1)`` to image ``(u, v, 1)`` (up to scale)."""
        R = self.R
        t = -R @ self.center
        return self.K @ np.column_stack([R[:, 0], R[:, 1], t])

    @property
    def horizon_v(self) -> float:
        """Image row of the horizon (may lie outside the image)."""
        return (self.height - 1) / 2 - self.focal_px * math.tan(math.radians(self.tilt_deg))

    # ------------------------------------------------------------------ mappings
    def world_to_image(self, X: Any, Y: Any, Z: Any = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Project world points (metres) to pixels; points behind the camera give NaN.

        Args:
            X: World x in metres (array, broadcast with ``Y`` and ``Z``).
            Y: World y in metres.
            Z: Height in metres, up from the ground.

        Returns:
            ``(u, v)`` arrays of that shape.
        """
        X, Y, Z = np.broadcast_arrays(np.asarray(X, float), np.asarray(Y, float), np.asarray(Z, float))
        P = np.stack([X, Y, Z - self.camera_height_m], axis=-1) @ self.R.T
        z = P[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.K[0, 0] * P[..., 0] / z + self.K[0, 2]
            v = self.K[1, 1] * P[..., 1] / z + self.K[1, 2]
        bad = z <= 0
        return np.where(bad, np.nan, u), np.where(bad, np.nan, v)

    def ground_to_image(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Map ground points ``(X, Y)`` in metres to pixels ``(u, v)`` with the homography.

        Points behind the camera (not visible) give NaN.
        """
        X, Y = np.broadcast_arrays(np.asarray(X, float), np.asarray(Y, float))
        Hm = self.homography
        p = np.stack([X, Y, np.ones_like(X)], axis=-1) @ Hm.T
        with np.errstate(divide="ignore", invalid="ignore"):
            u, v = p[..., 0] / p[..., 2], p[..., 1] / p[..., 2]
        bad = p[..., 2] <= 0
        return np.where(bad, np.nan, u), np.where(bad, np.nan, v)

    def image_to_ground(self, u: Any, v: Any) -> tuple[np.ndarray, np.ndarray]:
        """Map pixels ``(u, v)`` to ground ``(X, Y)`` in metres; NaN at and above the horizon."""
        u, v = np.broadcast_arrays(np.asarray(u, float), np.asarray(v, float))
        Hinv = np.linalg.inv(self.homography)
        p = np.stack([u, v, np.ones_like(u)], axis=-1) @ Hinv.T
        w = p[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            X, Y = p[..., 0] / w, p[..., 1] / w
        bad = w <= 0
        return np.where(bad, np.nan, X), np.where(bad, np.nan, Y)

    def pixel_area(self) -> np.ndarray:
        """Ground area seen by each pixel, ``|det H⁻¹| / w³``.

        Returns:
            ``(H, W)`` float array in m² per pixel; NaN at and above the horizon.
        """
        Hinv = np.linalg.inv(self.homography)
        det = abs(np.linalg.det(Hinv))
        v, u = np.mgrid[0 : self.height, 0 : self.width].astype(float)
        w = Hinv[2, 0] * u + Hinv[2, 1] * v + Hinv[2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            area = det / w**3
        return np.where(w > 0, area, np.nan)

    def ground_area(self, mask: Any) -> float:
        """Ground area in m² of the ``True`` pixels of a ``(H, W)`` mask (horizon and above count 0)."""
        mask = np.asarray(mask)
        if mask.shape != (self.height, self.width):
            raise ValueError(
                f"mask has shape {mask.shape} but the camera is {self.height} x {self.width} pixels; "
                f"use camera.with_size({mask.shape[1] if mask.ndim == 2 else '?'}, "
                f"{mask.shape[0] if mask.ndim >= 1 else '?'}) for a resized mask"
            )
        return float(np.nansum(self.pixel_area()[mask.astype(bool)]))

    def ground_extent(self, max_distance_m: float | None = None) -> tuple[float, float, float, float]:
        """Bounds ``(x_min, x_max, y_min, y_max)`` in metres of the visible ground.

        Args:
            max_distance_m: Farthest ``Y`` to include (default: ``3 × bottom_distance_m``, capped
                just before the horizon).
        """
        y_max = 3 * self.bottom_distance_m if max_distance_m is None else float(max_distance_m)
        u, v = np.meshgrid(np.linspace(-0.5, self.width - 0.5, 65), np.linspace(-0.5, self.height - 0.5, 65))
        X, Y = self.image_to_ground(u, v)
        ok = np.isfinite(Y)
        if not ok.any():
            raise ValueError("the camera sees no ground (the whole image is above the horizon)")
        y_max = min(y_max, float(Y[ok].max()))
        sel = ok & (Y <= y_max + 1e-9)
        half = float(np.abs(X[sel]).max())
        return (-half, half, self.bottom_distance_m, y_max)

    def top_down(
        self,
        image: Any,
        metres_per_pixel: float,
        extent: tuple[float, float, float, float] | None = None,
        interpolation: str | None = None,
        fill: float | int = 0,
    ) -> np.ndarray:
        """Bird's-eye view of the ground by ``cv2.warpPerspective``.

        Output pixel ``(j, i)`` shows ground ``X = x_min + (j + 0.5)·m``, ``Y = y_max − (i + 0.5)·m``
        (far ground at the top, the camera below the bottom edge).

        Args:
            image: ``(H, W)`` or ``(H, W, C)`` array of this camera's size.
            metres_per_pixel: Ground size ``m`` of one output pixel.
            extent: ``(x_min, x_max, y_min, y_max)`` in metres (default :meth:`ground_extent`).
            interpolation: ``"linear"`` or ``"nearest"``; default nearest for integer or boolean
                ``(H, W)`` masks, linear otherwise.
            fill: Value of output pixels that see nothing.

        Returns:
            ``(ceil((y_max−y_min)/m), ceil((x_max−x_min)/m)[, C])`` array of the input dtype.
        """
        import cv2

        arr = np.asarray(image)
        if arr.shape[:2] != (self.height, self.width):
            raise ValueError(f"image has shape {arr.shape} but the camera is {self.height} x {self.width} pixels")
        if metres_per_pixel <= 0:
            raise ValueError(f"metres_per_pixel must be > 0, got {metres_per_pixel}")
        x0, x1, y0, y1 = self.ground_extent() if extent is None else extent
        if x1 <= x0 or y1 <= y0:
            raise ValueError(f"extent must be (x_min, x_max, y_min, y_max) with min < max, got {extent}")
        m = float(metres_per_pixel)
        out_w, out_h = math.ceil((x1 - x0) / m), math.ceil((y1 - y0) / m)
        if interpolation is None:
            is_mask = arr.ndim == 2 and (arr.dtype == bool or arr.dtype.kind in "iu")
            interpolation = "nearest" if is_mask else "linear"
        flags = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[interpolation]
        A = np.array([[m, 0.0, x0 + 0.5 * m], [0.0, -m, y1 - 0.5 * m], [0.0, 0.0, 1.0]])
        M = self.homography @ A  # output pixel -> input pixel
        src = arr.astype(np.uint8) if arr.dtype == bool else arr
        if src.dtype == np.int64 or src.dtype == np.int32:
            src = src.astype(np.float32) if flags == cv2.INTER_LINEAR else src.astype(np.int32)
            if flags == cv2.INTER_NEAREST and src.max(initial=0) < 2**15 and src.min(initial=0) >= -(2**15):
                src = src.astype(np.int16)
        out = cv2.warpPerspective(
            src, M, (out_w, out_h), flags=flags | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=fill
        )
        # ground behind the camera would wrap around: blank it
        ys = y1 - (np.arange(out_h) + 0.5) * m
        t = math.radians(self.tilt_deg)
        depth = ys * math.cos(t) + self.camera_height_m * math.sin(t)
        out[depth <= 0] = fill
        return out.astype(arr.dtype)
