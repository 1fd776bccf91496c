"""Reading survey photos: EXIF orientation, field of view, time and GPS position; the cameras CSV.

Phones and cameras store most photos in the sensor's own (landscape) pixel order and record in
the EXIF ``Orientation`` tag how to turn them upright. :func:`read_photo` applies that turn
(``PIL.ImageOps.exif_transpose``), so a portrait photo is segmented and measured upright, and
collects what a survey record needs: the vertical field of view, the time the photo was taken and
where.

The vertical field of view of the *upright* photo comes from, in this order:

1. ``FocalLengthIn35mmFilm``: the 35-mm-equivalent focal length ``f35``, defined on the
   43.27 mm diagonal of a 36 × 24 mm frame. For a ``W × H`` photo the vertical extent of the
   equivalent frame is ``43.27 · H / hypot(W, H)`` mm, so the field of view is independent of
   how the photo was resized.
2. ``FocalLength`` with ``FocalPlaneX/YResolution`` (pixels per unit of the sensor) and the
   ``ExifImageWidth/Height`` those resolutions refer to: the sensor side that spans the upright
   photo's height, divided by the focal length. This route breaks when software resized the
   photo but kept stale resolution tags, so it serves as a cross-check: when both routes
   exist and differ by more than ``tolerance_deg``, a warning says so.

``DigitalZoomRatio`` (> 1) crops the sensor: the sensor route multiplies the focal length by
it. Cameras differ in whether ``FocalLengthIn35mmFilm`` includes the digital zoom; when the
sensor route exists, the interpretation that agrees with it is taken, else the tag is assumed to
include the zoom (with a warning).
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CAMERA_COLUMNS",
    "ExifError",
    "FieldOfView",
    "Photo",
    "PhotoError",
    "exif_field_of_view",
    "exif_gps",
    "exif_time",
    "read_cameras",
    "read_photo",
    "upright",
    "vfov_for_orientation",
]

TAG_ORIENTATION = 0x0112
TAG_DATETIME = 0x0132
IFD_EXIF = 0x8769
IFD_GPS = 0x8825
TAG_DATETIME_ORIGINAL = 0x9003
TAG_OFFSET_TIME_ORIGINAL = 0x9011
TAG_FOCAL_LENGTH = 0x920A
TAG_EXIF_WIDTH = 0xA002
TAG_EXIF_HEIGHT = 0xA003
TAG_FP_XRES = 0xA20E
TAG_FP_YRES = 0xA20F
TAG_FP_UNIT = 0xA210
TAG_DIGITAL_ZOOM = 0xA404
TAG_FOCAL_35MM = 0xA405
#: mm per EXIF resolution unit (1 = no unit).
UNIT_MM = {1: None, 2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}
#: Diagonal of the 36 × 24 mm frame on which 35-mm-equivalent focal lengths are defined.
DIAGONAL_35MM = math.hypot(36.0, 24.0)
#: EXIF orientations that turn the stored pixels by 90° (width and height swap).
SWAPPING_ORIENTATIONS = (5, 6, 7, 8)


#: Optional per-photo columns of the cameras CSV (besides ``photo``).
CAMERA_COLUMNS = (
    "camera_height_m", "bottom_distance_m", "horizon_row", "horizon_slope", "vfov_deg",
    "camera_height_sd_m", "bottom_distance_sd_m", "horizon_row_sd_px", "vfov_sd_deg",
)  # fmt: skip


class ExifError(ValueError):
    """A photo lacks the EXIF tags needed to know its field of view."""


class PhotoError(ValueError):
    """A photo cannot be read."""


@dataclass(frozen=True)
class FieldOfView:
    """Vertical field of view of an upright photo and where it came from.

    Attributes:
        vfov_deg: Vertical field of view in degrees.
        source: ``"exif-35mm"`` or ``"exif-sensor"``.
        cross_check_deg: The other route's value, NaN when only one route exists.
        warnings: Disagreements or assumptions worth reporting.
    """

    vfov_deg: float
    source: str
    cross_check_deg: float = math.nan
    warnings: tuple[str, ...] = ()


@dataclass
class Photo:
    """An upright photo and its survey metadata.

    Attributes:
        path: The file.
        image: ``(H, W, 3)`` uint8 RGB, EXIF orientation applied.
        orientation: The EXIF orientation tag (1 when absent).
        exif_time: ISO 8601 time the photo was taken (with the UTC offset when recorded), or None.
        gps: ``(latitude, longitude, altitude_m)`` in degrees (north, east positive) and metres
            (altitude may be None), or None.
        fov: Field of view from EXIF, or None when the tags are missing.
        fov_problem: Why ``fov`` is None.
    """

    path: Path
    image: np.ndarray
    orientation: int = 1
    exif_time: str | None = None
    gps: tuple[float, float, float | None] | None = None
    fov: FieldOfView | None = None
    fov_problem: str = ""

    @property
    def height(self) -> int:
        """Upright height in pixels."""
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        """Upright width in pixels."""
        return int(self.image.shape[1])


def _ratio(value: Any) -> float:
    """EXIF rationals come as IFDRational, tuples or numbers; 0/0 gives NaN."""
    try:
        if isinstance(value, tuple) and len(value) == 2:
            return float(value[0]) / float(value[1]) if float(value[1]) else math.nan
        return float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return math.nan


def _tags(exif: Any) -> dict[int, Any]:
    """IFD0 and the EXIF sub-IFD in one dict."""
    tags = dict(exif)
    with contextlib.suppress(Exception):  # a broken sub-IFD only hides its tags
        tags.update(dict(exif.get_ifd(IFD_EXIF)))
    return tags


def upright(image: Any) -> Any:
    """The ``PIL.Image`` turned upright by its EXIF orientation (a copy; unchanged if none)."""
    from PIL import ImageOps

    return ImageOps.exif_transpose(image)


def vfov_for_orientation(vfov_landscape_deg: float, width: int, height: int) -> float:
    """Vertical field of view of an upright photo from the camera's landscape value.

    A camera held upright (portrait) sees across its long side vertically. With the landscape
    vertical field of view ``φ`` (across the short side), a portrait photo of ``width × height``
    (``height > width``) has ``2 atan(tan(φ/2) · height / width)``; landscape photos keep ``φ``.

    Args:
        vfov_landscape_deg: Vertical field of view of the camera's landscape photos (degrees).
        width: Upright photo width in pixels.
        height: Upright photo height in pixels.
    """
    if height <= width:
        return float(vfov_landscape_deg)
    half = math.tan(math.radians(vfov_landscape_deg) / 2) * height / width
    return math.degrees(2 * math.atan(half))


def _vfov(vertical_mm: float, focal_mm: float) -> float:
    return math.degrees(2 * math.atan(vertical_mm / (2 * focal_mm)))


def exif_field_of_view(
    exif: Any,
    stored_size: tuple[int, int],
    name: str = "<image>",
    tolerance_deg: float = 1.0,
) -> FieldOfView:
    """Vertical field of view of the upright photo from its EXIF tags.

    Args:
        exif: ``PIL.Image.Exif`` of the photo as stored (before turning it upright).
        stored_size: ``(height, width)`` of the stored pixels (as in the file).
        name: File name for messages.
        tolerance_deg: Warn when the 35-mm and sensor routes differ by more than this.

    Raises:
        ExifError: Neither route is possible; the message names the missing tags and the fix.
    """
    tags = _tags(exif)
    hs, ws = int(stored_size[0]), int(stored_size[1])
    orientation = int(tags.get(TAG_ORIENTATION, 1) or 1)
    turned = orientation in SWAPPING_ORIENTATIONS
    width, height = (hs, ws) if turned else (ws, hs)
    zoom = _ratio(tags.get(TAG_DIGITAL_ZOOM, 0))
    zoom = zoom if math.isfinite(zoom) and zoom > 1 else 1.0
    warnings: list[str] = []

    sensor = math.nan
    focal = _ratio(tags.get(TAG_FOCAL_LENGTH, math.nan))
    yres = _ratio(tags.get(TAG_FP_YRES, math.nan))
    xres = _ratio(tags.get(TAG_FP_XRES, math.nan))
    unit = int(tags.get(TAG_FP_UNIT, 2) or 2)
    mm = UNIT_MM.get(unit)
    if focal > 0 and (yres > 0 or xres > 0) and mm is not None:
        yres = yres if yres > 0 else xres  # square sensor pixels when one is missing
        xres = xres if xres > 0 else yres
        ew = int(tags.get(TAG_EXIF_WIDTH, 0) or 0) or ws
        eh = int(tags.get(TAG_EXIF_HEIGHT, 0) or 0) or hs
        # The resolutions count pixels of an ew x eh image. If the stored pixels were turned by
        # software that left ExifImageWidth/Height alone, their aspect matches the swapped sizes.
        rotated_by_software = abs(ew / eh - ws / hs) > abs(eh / ew - ws / hs) + 1e-3
        sensor_w, sensor_h = ew / xres * mm, eh / yres * mm
        vertical_is_sensor_x = turned != rotated_by_software
        vertical_mm = sensor_w if vertical_is_sensor_x else sensor_h
        sensor = _vfov(vertical_mm, focal * zoom)

    f35 = _ratio(tags.get(TAG_FOCAL_35MM, math.nan))
    if f35 > 0:
        vertical35 = DIAGONAL_35MM * height / math.hypot(width, height)
        eq = _vfov(vertical35, f35)
        if zoom > 1:
            eq_zoomed = _vfov(vertical35, f35 * zoom)
            if math.isfinite(sensor) and abs(eq_zoomed - sensor) < abs(eq - sensor):
                eq = eq_zoomed
                warnings.append(f"FocalLengthIn35mmFilm excludes the digital zoom x{zoom:g} (sensor route agrees)")
            elif not math.isfinite(sensor):
                warnings.append(f"assumed FocalLengthIn35mmFilm includes the digital zoom x{zoom:g}")
        if math.isfinite(sensor) and abs(eq - sensor) > tolerance_deg:
            warnings.append(
                f"{name}: field of view from FocalLengthIn35mmFilm ({eq:.2f}°) and from the sensor size "
                f"({sensor:.2f}°) differ by more than {tolerance_deg:g}°; using the 35-mm value. Check the "
                "camera's data sheet, or give vfov_deg in the cameras CSV"
            )
        return FieldOfView(eq, "exif-35mm", sensor, tuple(warnings))
    if math.isfinite(sensor):
        return FieldOfView(sensor, "exif-sensor", math.nan, tuple(warnings))
    missing = [t for t, v in (("FocalLength", focal), ("FocalPlaneYResolution", yres)) if not v > 0]
    if mm is None:
        missing.append(f"a physical FocalPlaneResolutionUnit (it is {unit})")
    missing.append("FocalLengthIn35mmFilm")
    raise ExifError(
        f"{name}: EXIF lacks {' and '.join(missing)}, so the field of view is unknown. Pass the vertical "
        f"field of view instead: GroundCamera({width}, {height}, vfov_deg=..., ...), "
        "`geolab beach-coverage --vfov-deg ...` or a vfov_deg column in --cameras"
    )


def exif_time(exif: Any) -> str | None:
    """ISO 8601 time the photo was taken (``DateTimeOriginal``, else ``DateTime``), or None."""
    tags = _tags(exif)
    raw = tags.get(TAG_DATETIME_ORIGINAL) or tags.get(TAG_DATETIME)
    if not raw:
        return None
    try:
        stamp = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None
    offset = str(tags.get(TAG_OFFSET_TIME_ORIGINAL) or "").strip("\x00 ")
    if len(offset) == 6 and offset[0] in "+-" and offset[3] == ":":
        stamp += offset
    return stamp


def _dms(value: Any) -> float:
    parts = [_ratio(v) for v in value] if isinstance(value, (tuple, list)) else [_ratio(value)]
    parts = (parts + [0.0, 0.0])[:3]
    return parts[0] + parts[1] / 60 + parts[2] / 3600


def exif_gps(exif: Any) -> tuple[float, float, float | None] | None:
    """``(latitude, longitude, altitude_m)`` from the GPS IFD (south/west negative), or None."""
    try:
        gps = dict(exif.get_ifd(IFD_GPS))
    except Exception:  # noqa: BLE001
        return None
    if 2 not in gps or 4 not in gps:
        return None
    try:
        lat, lon = _dms(gps[2]), _dms(gps[4])
    except (TypeError, ValueError):
        return None
    if str(gps.get(1, "N")).strip("\x00 ").upper() == "S":
        lat = -lat
    if str(gps.get(3, "E")).strip("\x00 ").upper() == "W":
        lon = -lon
    alt = None
    if 6 in gps:
        alt = _ratio(gps[6])
        ref = gps.get(5, b"\x00")
        below = (ref[:1] == b"\x01") if isinstance(ref, bytes) else (ref == 1)
        alt = -alt if below else alt
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None
    return lat, lon, alt


def read_photo(path: str | os.PathLike[str], tolerance_deg: float = 1.0) -> Photo:
    """Read a photo upright (EXIF orientation applied) with its time, position and field of view.

    Args:
        path: JPEG, PNG or any format PIL reads.
        tolerance_deg: See :func:`exif_field_of_view`.

    Returns:
        A :class:`Photo`; ``fov`` is None (with ``fov_problem``) when the EXIF has no focal length.

    Raises:
        PhotoError: The file is missing or not an image; the message names it.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            exif = im.getexif()
            stored = (im.height, im.width)
            rgb = upright(im).convert("RGB")
    except FileNotFoundError as exc:
        raise PhotoError(f"{p}: no such file; check the path") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise PhotoError(
            f"{p}: not a readable image ({type(exc).__name__}: {exc}); re-export it as JPEG or PNG"
        ) from exc
    orientation = int(exif.get(TAG_ORIENTATION, 1) or 1)
    fov: FieldOfView | None = None
    problem = ""
    try:
        fov = exif_field_of_view(exif, stored, name=str(p), tolerance_deg=tolerance_deg)
    except ExifError as exc:
        problem = str(exc)
    return Photo(p, np.asarray(rgb), orientation, exif_time(exif), exif_gps(exif), fov, problem)


def _float(text: str, where: str, column: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {column} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {column} must be finite, got {text!r}")
    return value


def read_cameras(path: str | os.PathLike[str]) -> dict[str, dict[str, float]]:
    """Read a cameras CSV: ``photo`` plus any of :data:`CAMERA_COLUMNS`.

    Args:
        path: The CSV file (UTF-8, a header row; empty cells fall back to the command's options).

    Returns:
        ``{photo key: {column: value}}`` with empty cells left out; keys are the ``photo``
        cells as written (matched later by path, file name or stem).

    Raises:
        ValueError: Unknown columns, a missing ``photo`` column, a repeated photo or a cell that
            is not a number; the message names the file and line.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"cameras file {p} does not exist; write a CSV with a 'photo' column and any of "
                         f"{', '.join(CAMERA_COLUMNS)}")  # fmt: skip
    with open(p, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        if "photo" not in fields:
            raise ValueError(f"{p}: no 'photo' column (found {fields}); the first row must name the columns")
        unknown = sorted(set(fields) - {"photo", *CAMERA_COLUMNS})
        if unknown:
            raise ValueError(f"{p}: unknown column(s) {unknown}; allowed: photo, {', '.join(CAMERA_COLUMNS)}")
        out: dict[str, dict[str, float]] = {}
        for line, row in enumerate(reader, start=2):
            row = {k.strip(): (v or "") for k, v in row.items() if k}
            key = row["photo"].strip()
            if not key:
                continue
            if key in out:
                raise ValueError(f"{p}:{line}: photo {key!r} is listed twice")
            values = {c: _float(row.get(c, ""), f"{p}:{line}", c) for c in CAMERA_COLUMNS}
            out[key] = {c: v for c, v in values.items() if v is not None}
    return out
