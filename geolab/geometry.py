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

Instead of ``D_b``, the sea horizon seen in the photo fixes the tilt
(:meth:`GroundCamera.from_horizon`): the horizon's row gives ``θ`` to about ``φ/H`` per pixel, and its
slope gives the camera's roll, which :meth:`GroundCamera.level` removes by turning the photo.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from geolab.photos import ExifError, exif_field_of_view

__all__ = ["ExifError", "GroundCamera", "pinhole_project", "polygon_area", "sea_horizon_dip_deg"]

_EARTH_RADIUS_M = 6_371_000.0
#: Coefficient of terrestrial refraction (standard atmosphere), which lifts the sea horizon a little.
REFRACTION_K = 0.13


def sea_horizon_dip_deg(eye_height_m: float, refraction_k: float = REFRACTION_K) -> float:
    """How far the visible sea horizon lies below the true horizontal, in degrees.

    ``dip = sqrt(2 h (1 − k) / R)`` radians for an eye ``h`` metres above the sea, Earth radius
    ``R`` and refraction coefficient ``k``: about 0.04° at 1.5 m, i.e. one or two pixels of a
    phone photo.
    """
    if eye_height_m < 0:
        raise ValueError(f"eye_height_m must be >= 0 metres, got {eye_height_m}")
    return math.degrees(math.sqrt(2 * eye_height_m * (1 - refraction_k) / _EARTH_RADIUS_M))


def pinhole_project(K: np.ndarray, R: np.ndarray, X: Any, Y: Any, Z: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of world points through a pinhole camera at the origin (points behind it give NaN).

    Args:
        K: ``(3, 3)`` intrinsic matrix (focal lengths and principal point in pixels).
        R: ``(3, 3)`` rotation from world axes (``X`` right, ``Y`` forward, ``Z`` up) to camera axes.
        X: World ``X`` in metres, relative to the camera; arrays broadcast together.
        Y: World ``Y`` in metres, relative to the camera.
        Z: World ``Z`` in metres, relative to the camera (negative below it).

    Returns:
        ``(u, v)`` arrays of the broadcast shape.
    """
    X, Y, Z = np.broadcast_arrays(np.asarray(X, float), np.asarray(Y, float), np.asarray(Z, float))
    P = np.stack([X, Y, Z], axis=-1) @ R.T
    z = P[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = K[0, 0] * P[..., 0] / z + K[0, 2]
        v = K[1, 1] * P[..., 1] / z + K[1, 2]
    bad = z <= 0
    return np.where(bad, np.nan, u), np.where(bad, np.nan, v)


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
        roll_deg: Roll of the original photo (its horizon's angle, positive when the horizon
            falls to the right). The camera model itself has no roll: it describes the photo
            after :meth:`level` has turned it by this angle. 0 for a level photo.
    """

    width: int
    height: int
    vfov_deg: float
    camera_height_m: float
    bottom_distance_m: float
    roll_deg: float = 0.0

    def __post_init__(self) -> None:
        if int(self.width) != self.width or int(self.height) != self.height or self.width < 1 or self.height < 1:
            raise ValueError(f"width and height must be positive integers, got {self.width} x {self.height}")
        if not 0.0 < self.vfov_deg < 180.0:
            raise ValueError(f"vfov_deg must be in (0, 180) degrees, got {self.vfov_deg}")
        if self.camera_height_m <= 0:
            raise ValueError(f"camera_height_m must be > 0 metres, got {self.camera_height_m}")
        if self.bottom_distance_m <= 0:
            raise ValueError(f"bottom_distance_m must be > 0 metres, got {self.bottom_distance_m}")
        if not -45.0 < self.roll_deg < 45.0:
            raise ValueError(
                f"roll_deg must be in (-45, 45) degrees, got {self.roll_deg}; is the photo turned upright?"
            )
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
        """Build from a photo's EXIF tags, for the photo turned upright by its EXIF orientation.

        The field of view comes from ``FocalLengthIn35mmFilm`` first, else from ``FocalLength``
        and the sensor size (``FocalPlaneX/YResolution``); see :func:`geolab.photos.exif_field_of_view`.

        Args:
            photo: Path of the photo or an open ``PIL.Image``.
            camera_height_m: Camera height in metres.
            bottom_distance_m: Ground distance to the bottom edge in metres.

        Raises:
            ExifError: The tags are missing; the message says which and how to pass
                the field of view instead.
        """
        from PIL import Image

        if isinstance(photo, (str, os.PathLike)):
            with Image.open(Path(photo)) as im:
                exif, size, name = im.getexif(), im.size, str(photo)
        else:
            exif, size, name = (
                photo.getexif(),
                photo.size,
                getattr(photo, "filename", "") or "<image>",
            )
        fov = exif_field_of_view(exif, (size[1], size[0]), name=name)
        turned = int(exif.get(0x0112, 1) or 1) in (5, 6, 7, 8)
        width, height = (size[1], size[0]) if turned else size
        return cls(int(width), int(height), fov.vfov_deg, camera_height_m, bottom_distance_m)

    @classmethod
    def from_horizon(
        cls,
        width: int,
        height: int,
        vfov_deg: float,
        camera_height_m: float,
        horizon_row: float,
        horizon_slope: float = 0.0,
        dip_height_m: float | None = None,
    ) -> GroundCamera:
        """Build from the sea horizon seen in the photo instead of the bottom-edge distance.

        The horizon is the line ``v = horizon_row + horizon_slope · (u − (W−1)/2)``. Its slope
        is the camera's roll ``ρ = atan(slope)``; turning the photo by ``ρ`` about its centre
        (:meth:`level`) makes it level at row ``v₀ = c + (horizon_row − c) · cos ρ`` with
        ``c = (H−1)/2``. The visible sea horizon lies a small dip ``δ`` below the horizontal
        (:func:`sea_horizon_dip_deg`), so the tilt is ``θ = atan((c − v₀) / f) + δ`` and the
        bottom-edge distance follows as ``D_b = h / tan(θ + φ/2)``.

        Args:
            width: Image width ``W`` in pixels.
            height: Image height ``H`` in pixels.
            vfov_deg: Vertical field of view ``φ`` in degrees.
            camera_height_m: Camera height above the ground in metres.
            horizon_row: Row (pixels, fractional allowed) where the horizon crosses the centre column.
            horizon_slope: ``dv/du`` of the horizon (rows per column, positive falling to the right).
            dip_height_m: Eye height above the sea for the dip (default: ``camera_height_m``;
                0 turns the dip off, e.g. for a horizon drawn on flat ground).

        Returns:
            The camera of the levelled photo, with ``roll_deg = ρ``.

        Raises:
            ValueError: The horizon is too low for the bottom edge to see the ground.
        """
        if not 0.0 < vfov_deg < 180.0:
            raise ValueError(f"vfov_deg must be in (0, 180) degrees, got {vfov_deg}")
        if not camera_height_m > 0:
            raise ValueError(f"camera_height_m must be > 0 metres, got {camera_height_m}")
        roll = math.atan(float(horizon_slope))
        c = (height - 1) / 2
        level_row = c + (float(horizon_row) - c) * math.cos(roll)
        f = (height / 2) / math.tan(math.radians(vfov_deg) / 2)
        dip = sea_horizon_dip_deg(camera_height_m if dip_height_m is None else dip_height_m)
        tilt = math.degrees(math.atan2(c - level_row, f)) + dip
        bottom_angle = math.radians(tilt + vfov_deg / 2)
        if not 0.0 < bottom_angle < math.pi / 2:
            where = "at or above the horizon" if bottom_angle <= 0 else "behind the camera's foot"
            raise ValueError(
                f"a horizon at row {horizon_row:.1f} of a {height}-pixel-high photo with a {vfov_deg:.1f}° field of "
                f"view puts the bottom edge {where}; check the row (counted from the top of the upright photo) "
                "and the field of view"
            )
        return cls(int(width), int(height), float(vfov_deg), camera_height_m,
                   camera_height_m / math.tan(bottom_angle), math.degrees(roll))  # fmt: skip

    def with_size(self, width: int, height: int) -> GroundCamera:
        """The same camera for a resized image (same field of view, distances and roll)."""
        return replace(self, width=int(width), height=int(height))

    def sea_horizon_v(self, dip_height_m: float | None = None) -> float:
        """Row of the visible sea horizon in the levelled photo (the dip below :attr:`horizon_v`).

        Args:
            dip_height_m: Eye height above the sea (default: the camera height).
        """
        dip = sea_horizon_dip_deg(self.camera_height_m if dip_height_m is None else dip_height_m)
        return (self.height - 1) / 2 - self.focal_px * math.tan(math.radians(self.tilt_deg - dip))

    def level(self, image: Any, fill: float = 0, interpolation: str | None = None) -> np.ndarray:
        """Turn an image of the original (rolled) photo by ``roll_deg`` so its horizon is level.

        The image turns about its centre ``((W−1)/2, (H−1)/2)`` and keeps its size; corners that
        come from outside the photo get ``fill``.

        Args:
            image: ``(H, W)`` or ``(H, W, C)`` array of this camera's size.
            fill: Value for pixels from outside the photo (e.g. 255, the ignore label, for masks).
            interpolation: ``"linear"`` or ``"nearest"``; default nearest for integer or boolean
                ``(H, W)`` masks, linear otherwise.

        Returns:
            The levelled image, same shape and dtype (the input itself when ``roll_deg`` is 0).
        """
        import cv2

        arr = np.asarray(image)
        if arr.shape[:2] != (self.height, self.width):
            raise ValueError(f"image has shape {arr.shape} but the camera is {self.height} x {self.width}")
        if self.roll_deg == 0.0:
            return arr
        if interpolation is None:
            interpolation = "nearest" if arr.ndim == 2 and (arr.dtype == bool or arr.dtype.kind in "iu") else "linear"
        flags = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[interpolation]
        M = cv2.getRotationMatrix2D(((self.width - 1) / 2, (self.height - 1) / 2), self.roll_deg, 1.0)
        src = arr.astype(np.uint8) if arr.dtype == bool else arr
        if src.dtype.kind in "iu" and src.dtype.itemsize > 2:
            src = src.astype(np.float32)
        out = cv2.warpAffine(src, M, (self.width, self.height), flags=flags, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(fill,) * 4)  # fmt: skip
        return out.astype(arr.dtype)

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
    def K(self) -> np.ndarray:
        """``(3, 3)`` intrinsic matrix."""
        f = self.focal_px
        return np.array(
            [
                [f, 0.0, (self.width - 1) / 2],
                [0.0, f, (self.height - 1) / 2],
                [0.0, 0.0, 1.0],
            ]
        )

    @property
    def R(self) -> np.ndarray:
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
            X: World ``X`` (right) in metres; arrays broadcast together.
            Y: World ``Y`` (forward) in metres.
            Z: Height above the ground in metres.

        Returns:
            ``(u, v)`` arrays of that shape.
        """
        return pinhole_project(self.K, self.R, X, Y, np.asarray(Z, float) - self.camera_height_m)

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
        u, v = np.meshgrid(
            np.linspace(-0.5, self.width - 0.5, 65),
            np.linspace(-0.5, self.height - 0.5, 65),
        )
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
        fill: float = 0,
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
            src,
            M,
            (out_w, out_h),
            flags=flags | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=fill,
        )
        # ground behind the camera would wrap around: blank it
        ys = y1 - (np.arange(out_h) + 0.5) * m
        t = math.radians(self.tilt_deg)
        depth = ys * math.cos(t) + self.camera_height_m * math.sin(t)
        out[depth <= 0] = fill
        return out.astype(arr.dtype)
