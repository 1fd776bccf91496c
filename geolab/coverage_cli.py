r"""``geolab beach-coverage``: litter areas and coverage of a season of beach photos.

For each photo: read it upright (EXIF orientation), find its camera (per-photo values from a
cameras CSV, else the command's options, else the EXIF field of view), turn it level when the
horizon is tilted, segment it with a trained model, compare the segmented sea/sky boundary with
the camera's horizon, and measure the ground areas up to a distance limit (15 m unless told
otherwise) with low/high values from the stated uncertainties::

    geolab beach-coverage season/*.jpg --model beachlitter_unet.pt --cameras cams.csv \\
        --camera-height 1.5 --max-distance 15 --out results.csv

The cameras CSV has a ``photo`` column (file name, stem or path) and any of
:data:`geolab.photos.CAMERA_COLUMNS`; empty cells fall back to the options. ``horizon_row`` (row where the
sea horizon crosses the centre column of the upright photo, in its own pixels) takes precedence
over ``bottom_distance_m``; ``horizon_slope`` (rows per column) gives the roll.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from geolab.constants import IGNORE_INDEX
from geolab.coverage import (
    AREA_COLUMNS,
    INTERVAL_KEYS,
    CameraUncertainty,
    coverage_interval,
    coverage_table,
    sea_horizon,
)
from geolab.coverage import overlay as overlay_mask
from geolab.geometry import GroundCamera
from geolab.photos import CAMERA_COLUMNS, PhotoError, read_cameras, read_photo, vfov_for_orientation

__all__ = [
    "COLUMNS",
    "DEFAULT_MAX_DISTANCE_M",
    "add_arguments",
    "add_parser",
    "run_beach_coverage",
    "run_cli",
]

#: Default distance limit in metres: ground farther away is not counted.
DEFAULT_MAX_DISTANCE_M = 15.0
#: Columns of the CSV written by :func:`run_beach_coverage`, in order.
COLUMNS = [
    "photo", "width", "height", "exif_orientation", "mask_width", "mask_height",
    "vfov_deg", "vfov_source", "camera_height_m", "bottom_distance_m", "tilt_from", "tilt_deg",
    "horizon_row", "roll_deg", "segmented_horizon_row", "horizon_offset_px", "max_distance_m",
    *AREA_COLUMNS, "litter_m2", "beach_m2", "coverage_pct",
    *[f"{k}_{side}" for k in INTERVAL_KEYS for side in ("low", "high")],
    "camera_height_sd_m", "bottom_distance_sd_m", "horizon_row_sd_px", "vfov_sd_deg",
    "segmentation_rel_error", "segmentation_error_source", "prior_correction",
    "model", "model_sha256", "geolab_version", "exif_time", "gps_lat", "gps_lon", "gps_alt_m", "warnings",
]  # fmt: skip


def _camera_entry(cameras: dict[str, dict[str, float]], path: Path) -> dict[str, float]:
    for key in (str(path), path.name, path.stem):
        if key in cameras:
            return cameras[key]
    return {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _working_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _default_long_side(model: Any) -> int:
    info = getattr(model, "checkpoint_info", {}) or {}
    size = info.get("image_size")
    if isinstance(size, (int, float)) and size > 0:
        return int(size)
    if isinstance(size, (list, tuple)) and size:
        return int(max(size))
    return 512


@dataclass(frozen=True)
class Defaults:
    """Camera values and uncertainties for photos the cameras CSV does not cover."""

    camera_height_m: float | None = None
    bottom_distance_m: float | None = None
    vfov_deg: float | None = None  # of landscape photos; portrait photos get the long side's
    uncertainty: CameraUncertainty = field(default_factory=CameraUncertainty)


def _camera_for(
    photo: Any, entry: dict[str, float], defaults: Defaults, need_tilt: bool = True
) -> tuple[GroundCamera | None, dict[str, Any]]:
    """The upright photo's camera at full size (None without a tilt source), and what the CSV says about it."""
    w, h = photo.width, photo.height
    warnings: list[str] = []
    if "vfov_deg" in entry:
        vfov, source = entry["vfov_deg"], "cameras-csv"
    elif defaults.vfov_deg is not None:
        vfov, source = vfov_for_orientation(defaults.vfov_deg, w, h), "option"
    elif photo.fov is not None:
        vfov, source = photo.fov.vfov_deg, photo.fov.source
        warnings.extend(photo.fov.warnings)
    else:
        raise ValueError(photo.fov_problem)
    height = entry.get("camera_height_m", defaults.camera_height_m)
    if height is None:
        raise ValueError(
            f"{photo.path}: no camera height; pass --camera-height or a camera_height_m column in --cameras"
        )
    sd = defaults.uncertainty
    sd = replace(
        sd,
        camera_height_m=entry.get("camera_height_sd_m", sd.camera_height_m),
        bottom_distance_m=entry.get("bottom_distance_sd_m", sd.bottom_distance_m),
        horizon_row_px=entry.get("horizon_row_sd_px", sd.horizon_row_px),
        vfov_deg=entry.get("vfov_sd_deg", sd.vfov_deg),
    )
    cam: GroundCamera | None = None
    bottom = entry.get("bottom_distance_m", defaults.bottom_distance_m)
    if "horizon_row" in entry:
        cam = GroundCamera.from_horizon(w, h, vfov, height, entry["horizon_row"], entry.get("horizon_slope", 0.0))
        tilt_from = "horizon"
    elif bottom is not None:
        slope = entry.get("horizon_slope", 0.0)
        cam = GroundCamera(w, h, vfov, height, bottom, math.degrees(math.atan(slope)))
        tilt_from = "bottom"
    elif need_tilt:
        raise ValueError(
            f"{photo.path}: no bottom-edge distance or horizon row; pass --bottom-distance or "
            "--horizon-from-segmentation, or give bottom_distance_m or horizon_row in --cameras"
        )
    else:
        tilt_from = "none"
    info = {"vfov": vfov, "height": height, "vfov_source": source, "tilt_from": tilt_from, "uncertainty": sd,
            "warnings": warnings}  # fmt: skip
    return cam, info


def _horizon_in_photo(camera: GroundCamera) -> float:
    """Row where the camera's sea horizon crosses the centre column of the original (rolled) photo."""
    c = (camera.height - 1) / 2
    return c + (camera.sea_horizon_v() - c) / math.cos(math.radians(camera.roll_deg))


def _checkpoint_value(info: dict[str, Any], key: str) -> float | None:
    value = info.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def run_beach_coverage(
    photos: Sequence[str | os.PathLike[str]],
    model: Any,
    camera_height_m: float | None = None,
    bottom_distance_m: float | None = None,
    vfov_deg: float | None = None,
    out_csv: str | os.PathLike[str] | None = None,
    overlays_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
    size: int | None = None,
    max_distance_m: float | None = DEFAULT_MAX_DISTANCE_M,
    progress: bool = True,
    prior_correction: float | None = None,
    cameras: str | os.PathLike[str] | dict[str, dict[str, float]] | None = None,
    uncertainty: CameraUncertainty | None = None,
    segmentation_rel_error: float | None = None,
    horizon_tolerance_px: float = 3.0,
    horizon_from_segmentation: bool = False,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Measure litter areas on a batch of photos; unreadable photos are reported and skipped.

    Each photo is turned upright (EXIF orientation), scaled so that its longer side is ``size``
    pixels (never enlarged), turned level when its camera has a roll, segmented, and measured
    with :func:`~geolab.coverage.coverage_table` and :func:`~geolab.coverage.coverage_interval`.

    Args:
        photos: Photo paths.
        model: Path of a model saved by :func:`geolab.segmentation.save_model`, or the model.
        camera_height_m: Camera height above the beach in metres (for photos without their own).
        bottom_distance_m: Ground distance to the bottom edge in metres (for photos without their
            own bottom distance or horizon row).
        vfov_deg: Vertical field of view of *landscape* photos in degrees; portrait photos get
            the field of view across the long side (:func:`geolab.photos.vfov_for_orientation`).
            ``None``: each photo's EXIF.
        out_csv: CSV to write (columns :data:`COLUMNS`); ``None`` writes nothing.
        overlays_dir: Folder for ``<stem>_overlay.png`` images of the predicted classes.
        device: Torch device (default: CPU for a path, else the model's).
        size: Working long side in pixels (default: the checkpoint's ``image_size``, else 512).
        max_distance_m: Count only ground closer than this (metres); ``None`` counts all the
            ground up to the horizon, which lets a few pixels at the horizon dominate.
        progress: Show a tqdm progress bar.
        prior_correction: Strength of :func:`geolab.segmentation.prior_bias` (0: off). Default:
            the checkpoint's ``prior_correction`` if it has one, else 0.
        cameras: Cameras CSV (see :func:`geolab.photos.read_cameras`) or its parsed dict.
        uncertainty: Default input uncertainties (the CSV's ``*_sd_*`` columns override them).
        segmentation_rel_error: Relative error of a photo's litter area from segmentation.
            Default: the checkpoint's ``segmentation_rel_error`` if present, else 0 (and the
            CSV says ``none``).
        horizon_tolerance_px: Warn when the segmented sea/sky boundary is farther than this
            (working-size pixels) from the camera's sea horizon.
        horizon_from_segmentation: For photos without a ``horizon_row``, take the tilt and roll
            from the sea/sky boundary the model finds (``tilt_from = "segmented-horizon"``, at least
            one working pixel of row uncertainty); the bottom distance, when given, becomes the
            check, and the fallback when no horizon is found.

    Returns:
        ``(rows, skipped)``: one dict per measured photo, and ``(photo, reason)`` per skipped one.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    from geolab import __version__
    from geolab.segmentation import load_model, predict_masks, prior_bias

    model_name, model_hash = "(in memory)", ""
    if isinstance(model, (str, os.PathLike)):
        model_name = str(model)
        model = load_model(model, map_location=device or "cpu")
        model_hash = _sha256(Path(model_name))
    info = getattr(model, "checkpoint_info", {}) or {}
    saved = _checkpoint_value(info, "prior_correction")
    strength = float((saved or 0.0) if prior_correction is None else prior_correction)
    class_bias = None
    if strength != 0.0:
        if info.get("class_weights") is None:
            raise ValueError(f"{model_name} does not record the class weights it was trained with, so a prior "
                             "correction cannot be applied: save it with save_model(..., class_weights=...) as "
                             "lesson 08 does, or use a prior correction of 0")  # fmt: skip
        class_bias = prior_bias(info["class_weights"], strength)
    if segmentation_rel_error is not None:
        seg_error, seg_source = float(segmentation_rel_error), "option"
    elif _checkpoint_value(info, "segmentation_rel_error") is not None:
        seg_error, seg_source = float(info["segmentation_rel_error"]), "checkpoint"
    else:
        seg_error, seg_source = 0.0, "none"
    if not seg_error >= 0:
        raise ValueError(f"segmentation_rel_error must be >= 0, got {seg_error}")
    if max_distance_m is not None and not max_distance_m > 0:
        raise ValueError(f"max_distance_m must be > 0 metres or None (all ground), got {max_distance_m}")
    table = read_cameras(cameras) if isinstance(cameras, (str, os.PathLike)) else dict(cameras or {})
    defaults = Defaults(camera_height_m, bottom_distance_m, vfov_deg, uncertainty or CameraUncertainty())
    long_side = int(size) if size is not None else _default_long_side(model)
    if overlays_dir is not None:
        Path(overlays_dir).mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for photo_path in tqdm(list(photos), desc="photos", disable=not progress, file=sys.stderr):
        path = Path(photo_path)
        try:
            photo = read_photo(path)
            cam_full, cinfo = _camera_for(
                photo, _camera_entry(table, path), defaults, need_tilt=not horizon_from_segmentation
            )
        except (PhotoError, ValueError) as exc:
            reason = str(exc).removeprefix(f"{path}: ")  # the path goes in front once
            skipped.append((str(path), reason))
            print(f"skipped {path}: {reason}", file=sys.stderr)
            continue
        w, h = _working_size(photo.width, photo.height, long_side)
        scale = h / photo.height
        rgb = Image.fromarray(photo.image)
        upright_small = np.array(rgb.resize((w, h), Image.Resampling.BILINEAR) if (w, h) != rgb.size else rgb)
        warnings = list(cinfo["warnings"])
        sd = cinfo["uncertainty"]
        tilt_from = cinfo["tilt_from"]
        seg_row, offset = math.nan, math.nan
        first_mask = None
        if horizon_from_segmentation and tilt_from != "horizon":
            # Tilt and roll from the sea/sky boundary the model finds; a bottom distance, if any, is the check.
            first_mask = predict_masks(model, upright_small, device=device, class_bias=class_bias).numpy()
            found = sea_horizon(first_mask.astype(np.int64))
            auto = None
            if found is not None:
                seg_row = (found[0] + 0.5) / scale - 0.5
                try:
                    auto = GroundCamera.from_horizon(photo.width, photo.height, cinfo["vfov"], cinfo["height"], seg_row,
                                                     found[1])  # fmt: skip
                except ValueError as exc:
                    warnings.append(f"the segmented horizon gives no usable camera ({exc})")
            if auto is not None:
                if cam_full is not None:
                    offset = seg_row - _horizon_in_photo(cam_full)
                    if abs(offset) * scale > horizon_tolerance_px:
                        warnings.append(
                            f"the segmented sea/sky boundary (row {seg_row:.0f}) is {offset:+.0f} px from the horizon "
                            f"of the bottom distance (row {seg_row - offset:.0f}); measured with the segmented horizon"
                        )
                cam_full, tilt_from = auto, "segmented-horizon"
                sd = replace(sd, horizon_row_px=max(sd.horizon_row_px, 1.0 / scale))  # at least one mask pixel
            elif cam_full is None:
                reason = "no sea horizon found in the segmentation and no bottom distance; give one with --bottom-distance or in --cameras"
                skipped.append((str(path), reason))
                print(f"skipped {path}: {reason}", file=sys.stderr)
                continue
            else:
                warnings.append("no sea horizon found in the segmentation; measured with the bottom distance")
        assert cam_full is not None
        cam = cam_full.with_size(w, h)
        small = cam.level(upright_small)
        if first_mask is not None and cam.roll_deg == 0.0:
            mask = first_mask.astype(np.int64)  # the photo is already level: reuse the segmentation
        else:
            mask = predict_masks(model, small, device=device, class_bias=class_bias).numpy().astype(np.int64)
        inside = cam.level(np.ones((h, w), np.uint8), fill=0).astype(bool)
        mask[~inside] = IGNORE_INDEX
        if tilt_from != "segmented-horizon":
            seg = sea_horizon(mask)
            if seg is not None:
                expected = cam.sea_horizon_v()
                seg_row, offset = seg[0] / scale, (seg[0] - expected) / scale  # levelled photo, photo pixels
                if abs(seg[0] - expected) > horizon_tolerance_px:
                    warnings.append(
                        f"the segmented sea/sky boundary (row {seg_row:.0f}) is {offset:+.0f} px from the camera's "
                        f"horizon (row {expected / scale:.0f}); check the bottom distance or horizon row, the camera "
                        "height and the field of view"
                    )
                seg_roll = math.degrees(math.atan(seg[1]))
                if abs(seg_roll) > 1.0:
                    slope = math.tan(math.radians(seg_roll + cam.roll_deg))
                    warnings.append(f"the horizon is tilted by {seg_roll:+.1f}° after levelling; give horizon_slope "
                                    f"{slope:.4f} in the cameras CSV")  # fmt: skip
        interval_tilt = "bottom" if tilt_from == "bottom" else "horizon"
        table_row = coverage_table(mask, cam, max_distance_m=max_distance_m)
        bounds = coverage_interval(mask, cam, sd.scaled(scale), interval_tilt, max_distance_m, seg_error)
        gps = photo.gps or (math.nan, math.nan, None)
        row: dict[str, Any] = {
            "photo": str(path), "width": photo.width, "height": photo.height, "exif_orientation": photo.orientation,
            "mask_width": w, "mask_height": h, "vfov_deg": cam.vfov_deg, "vfov_source": cinfo["vfov_source"],
            "camera_height_m": cam.camera_height_m, "bottom_distance_m": cam.bottom_distance_m,
            "tilt_from": tilt_from, "tilt_deg": cam.tilt_deg, "horizon_row": cam_full.sea_horizon_v(),
            "roll_deg": cam.roll_deg, "segmented_horizon_row": seg_row, "horizon_offset_px": offset,
            "max_distance_m": "all" if max_distance_m is None else float(max_distance_m),
            **table_row, **bounds,
            "camera_height_sd_m": sd.camera_height_m, "bottom_distance_sd_m": sd.bottom_distance_m,
            "horizon_row_sd_px": sd.horizon_row_px, "vfov_sd_deg": sd.vfov_deg,
            "segmentation_rel_error": seg_error, "segmentation_error_source": seg_source,
            "prior_correction": strength, "model": model_name, "model_sha256": model_hash,
            "geolab_version": __version__, "exif_time": photo.exif_time or "",
            "gps_lat": gps[0], "gps_lon": gps[1], "gps_alt_m": math.nan if gps[2] is None else gps[2],
            "warnings": "; ".join(warnings),
        }  # fmt: skip
        for text in warnings:
            print(f"warning: {path}: {text}", file=sys.stderr)
        rows.append(row)
        if overlays_dir is not None:
            Image.fromarray(overlay_mask(small, mask)).save(Path(overlays_dir) / f"{path.stem}_overlay.png")
    if out_csv is not None:
        _write_csv(Path(out_csv), rows)
    return rows, skipped


def _cell(value: Any) -> Any:
    """Numbers with 6 significant digits; unknown values (NaN) as ``nan``, which every CSV reader parses."""
    return f"{value:.6g}" if isinstance(value, float) else value


def _write_csv(out: Path, rows: list[dict[str, Any]]) -> None:
    """Write atomically: a temporary file renamed into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    os.replace(tmp, out)


def _distance(text: str) -> float | None:
    if text.strip().lower() in ("all", "none", "inf"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected metres or 'all', got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"the distance limit must be > 0 metres, got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``geolab beach-coverage``."""
    p.add_argument("photos", nargs="+", help="beach photos (JPEG/PNG; EXIF orientation is applied)")
    p.add_argument(
        "--model",
        required=True,
        help="model file saved by geolab.segmentation.save_model",
    )
    p.add_argument(
        "--cameras",
        default=None,
        metavar="CSV",
        help=f"per-photo camera values: a 'photo' column and any of {', '.join(CAMERA_COLUMNS)}",
    )
    p.add_argument(
        "--camera-height",
        type=float,
        default=None,
        metavar="M",
        help="camera height above the beach (m) for photos without camera_height_m",
    )
    p.add_argument(
        "--bottom-distance",
        type=float,
        default=None,
        metavar="M",
        help="ground distance to the bottom edge (m) for photos without bottom_distance_m or horizon_row",
    )
    p.add_argument(
        "--vfov-deg",
        type=float,
        default=None,
        metavar="DEG",
        help="vertical field of view of landscape photos (portrait photos get the long side's); "
        "default: each photo's EXIF",
    )
    p.add_argument(
        "--max-distance",
        type=_distance,
        default=DEFAULT_MAX_DISTANCE_M,
        metavar="M",
        help=f"count only ground closer than M metres (default {DEFAULT_MAX_DISTANCE_M:g}); 'all' counts "
        "everything up to the horizon, where single pixels cover many m²",
    )
    p.add_argument("--out", default="results.csv", help="CSV to write (default: results.csv)")
    p.add_argument(
        "--overlays",
        default=None,
        metavar="DIR",
        help="also save coloured overlays into DIR",
    )
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    p.add_argument(
        "--size",
        type=int,
        default=None,
        metavar="PX",
        help="working long side in pixels (default: the model's)",
    )
    p.add_argument(
        "--prior-correction",
        type=float,
        default=None,
        metavar="S",
        help="undo this share (0..1) of the class weights the model was trained with, so litter is not "
        "over-predicted; choose it on validation photos (default: the model's saved value, else 0)",
    )
    d = CameraUncertainty()
    p.add_argument(
        "--height-sd",
        type=float,
        default=d.camera_height_m,
        metavar="M",
        help=f"uncertainty of the camera height (default {d.camera_height_m:g} m)",
    )
    p.add_argument(
        "--bottom-distance-sd",
        type=float,
        default=d.bottom_distance_m,
        metavar="M",
        help=f"uncertainty of the bottom distance (default {d.bottom_distance_m:g} m)",
    )
    p.add_argument(
        "--horizon-sd",
        type=float,
        default=d.horizon_row_px,
        metavar="PX",
        help=f"uncertainty of the horizon row in photo pixels (default {d.horizon_row_px:g})",
    )
    p.add_argument(
        "--vfov-sd",
        type=float,
        default=d.vfov_deg,
        metavar="DEG",
        help=f"uncertainty of the field of view (default {d.vfov_deg:g}°)",
    )
    p.add_argument(
        "--segmentation-error",
        type=float,
        default=None,
        metavar="F",
        help="relative error of a photo's litter area from segmentation, measured on validation "
        "scenes (default: the model's saved segmentation_rel_error, else 0)",
    )
    p.add_argument(
        "--horizon-from-segmentation",
        action="store_true",
        help="take the tilt and roll from the sea horizon the model finds, for photos without a horizon_row "
        "(the bottom distance becomes the check and the fallback)",
    )
    p.add_argument(
        "--horizon-tolerance",
        type=float,
        default=3.0,
        metavar="PX",
        help="warn when the segmented horizon is farther than this from the camera's (working pixels)",
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``beach-coverage`` on an ``argparse`` sub-parser collection."""
    text = "litter area (m²) per class and coverage % of beach photos with a trained segmentation model"
    p = subparsers.add_parser(
        "beach-coverage",
        help=text.replace("%", "%%"),
        description=text.replace("%", "%%"),
    )
    add_arguments(p)
    p.set_defaults(_run=run_cli)
    return p


def run_cli(args: argparse.Namespace) -> int:
    """Run ``geolab beach-coverage``; exit code 0 all measured, 1 some skipped, 2 none measured."""
    try:
        sd = CameraUncertainty(args.height_sd, args.bottom_distance_sd, args.horizon_sd, args.vfov_sd)
        limit = "all ground up to the horizon" if args.max_distance is None else f"ground up to {args.max_distance:g} m"
        print(f"counting {limit} from the camera", file=sys.stderr)
        rows, skipped = run_beach_coverage(
            args.photos, args.model, args.camera_height, args.bottom_distance, vfov_deg=args.vfov_deg,
            out_csv=args.out, overlays_dir=args.overlays, device=args.device, size=args.size,
            max_distance_m=args.max_distance, prior_correction=args.prior_correction, cameras=args.cameras,
            uncertainty=sd, segmentation_rel_error=args.segmentation_error, horizon_tolerance_px=args.horizon_tolerance,
            horizon_from_segmentation=args.horizon_from_segmentation,
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:  # bad model file, cameras CSV or values
        print(f"error: {exc}", file=sys.stderr)
        return 2
    limit = "all ground up to the horizon" if args.max_distance is None else f"ground within {args.max_distance:g} m"
    print(f"{len(rows)} photo(s) measured, {len(skipped)} skipped; wrote {args.out} (areas count {limit})")
    if rows and rows[0]["segmentation_error_source"] == "none":
        print("note: low/high values cover the camera inputs only; pass --segmentation-error (measured on "
              "validation scenes) to include the segmentation error")  # fmt: skip
    for photo, reason in skipped:
        print(f"  skipped {photo}: {reason}")
    if not rows:
        return 2
    return 1 if skipped else 0
