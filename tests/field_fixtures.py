"""Fixture photos for the field-tool tests: analytic beach views and EXIF written by PIL.

:func:`render_view` colours every pixel by tracing its ray with a tilted, rolled pinhole camera
over flat ground and a spherical sea (the horizon's dip), independent of geolab.geometry.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

# train ids of geolab.data.beachlitter: 0 artificial litter, 3 sea, 5 sky, 6 sand
COLOURS = {0: (230, 20, 20), 3: (0, 60, 150), 5: (140, 200, 235), 6: (205, 190, 150)}
EARTH_R = 6_371_000.0
K_REFRACTION = 0.13


def exact_dip_deg(eye_height_m: float) -> float:
    """Angle below the horizontal of the tangent to a sphere of radius R/(1-k) from height h."""
    r = EARTH_R / (1 - K_REFRACTION)
    return math.degrees(math.acos(r / (r + eye_height_m)))


def render_view(
    width: int,
    height: int,
    vfov_deg: float,
    camera_height_m: float,
    tilt_deg: float,
    roll_deg: float = 0.0,
    rects: tuple[tuple[float, float, float, float], ...] = ((-0.6, 0.4, 4.0, 5.0),),
    shore_m: float = 12.0,
    dip: bool = True,
) -> np.ndarray:
    """Train-id image ``(height, width)`` of the view (litter rectangles ``(x0, x1, y0, y1)`` in metres)."""
    f = (height / 2) / math.tan(math.radians(vfov_deg) / 2)
    v, u = np.mgrid[0:height, 0:width].astype(float)
    x, y = u - (width - 1) / 2, v - (height - 1) / 2
    r = math.radians(roll_deg)
    xl = x * math.cos(r) + y * math.sin(r)  # coordinates of the levelled camera
    yl = -x * math.sin(r) + y * math.cos(r)
    t = math.radians(tilt_deg)
    s, c = math.sin(t), math.cos(t)
    dx, dy, dz = xl, -s * yl + c * f, -c * yl - s * f  # ray in the world: right, forward, up
    elevation = np.degrees(np.arctan2(dz, np.hypot(dx, dy)))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = camera_height_m / -dz
        X, Y = dx * scale, dy * scale
    out = np.full((height, width), 6, np.int64)
    ground = dz < 0
    out[~ground | (Y > shore_m)] = 3
    out[elevation > -(exact_dip_deg(camera_height_m) if dip else 0.0)] = 5
    for x0, x1, y0, y1 in rects:
        out[ground & (X >= x0) & (X <= x1) & (Y >= y0) & (Y <= y1)] = 0
    return out


def to_rgb(labels: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 colours of a train-id image."""
    rgb = np.zeros((*labels.shape, 3), np.uint8)
    for k, col in COLOURS.items():
        rgb[labels == k] = col
    return rgb


def stored_for(upright: Image.Image, orientation: int) -> Image.Image:
    """The pixels a camera stores so that ``exif_transpose`` with ``orientation`` gives ``upright``."""
    ops = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
    op = ops[orientation]
    return upright if op is None else upright.transpose(op)


def write_photo(
    path: Path,
    upright: np.ndarray,
    orientation: int = 1,
    f35: int | None = None,
    focal_mm: float | None = None,
    sensor_mm: tuple[float, float] | None = None,
    exif_size: tuple[int, int] | None = None,
    zoom: float | None = None,
    time: str | None = None,
    offset: str | None = None,
    gps: tuple[float, float, float] | None = None,
) -> Path:
    """Save an upright ``(H, W, 3)`` array as a camera would (stored pixels + EXIF tags).

    ``sensor_mm`` is ``(width, height)`` of the sensor in its own landscape frame and
    ``exif_size`` the ``(ExifImageWidth, ExifImageHeight)`` the focal-plane resolutions refer to
    (default: the stored pixel size).
    """
    stored = stored_for(Image.fromarray(upright), orientation)
    exif = Image.Exif()
    exif[0x010F] = "geolab-test"
    if orientation != 1:
        exif[0x0112] = orientation
    sub = exif.get_ifd(0x8769)
    if f35 is not None:
        sub[0xA405] = int(f35)
    if focal_mm is not None:
        sub[0x920A] = IFDRational(round(focal_mm * 1000), 1000)
    if sensor_mm is not None:
        ew, eh = exif_size or stored.size
        sub[0xA20E] = IFDRational(round(ew / sensor_mm[0] * 1000), 1000)  # pixels per mm
        sub[0xA20F] = IFDRational(round(eh / sensor_mm[1] * 1000), 1000)
        sub[0xA210] = 4  # mm
        sub[0xA002], sub[0xA003] = ew, eh
    if zoom is not None:
        sub[0xA404] = IFDRational(round(zoom * 100), 100)
    if time is not None:
        sub[0x9003] = time
        if offset is not None:
            sub[0x9011] = offset
    if gps is not None:
        lat, lon, alt = gps
        g = exif.get_ifd(0x8825)

        def dms(deg: float) -> tuple[IFDRational, IFDRational, IFDRational]:
            d = abs(deg)
            m = (d - int(d)) * 60
            return IFDRational(int(d), 1), IFDRational(int(m), 1), IFDRational(round((m - int(m)) * 60 * 1000), 1000)

        g[1], g[2] = ("N" if lat >= 0 else "S"), dms(lat)
        g[3], g[4] = ("E" if lon >= 0 else "W"), dms(lon)
        g[5], g[6] = (b"\x00" if alt >= 0 else b"\x01"), IFDRational(round(abs(alt) * 100), 100)
    kwargs = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    stored.save(path, exif=exif, **kwargs)
    return path


def vfov_35(f35: float, width: int, height: int) -> float:
    """Vertical field of view of an upright ``width × height`` photo from its 35-mm-equivalent focal length."""
    return math.degrees(2 * math.atan(math.hypot(36, 24) * height / math.hypot(width, height) / (2 * f35)))
