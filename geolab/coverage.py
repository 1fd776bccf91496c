r"""Litter coverage in square metres from beach photos: mask + ground camera -> areas.

:func:`coverage_table` turns a label mask (train ids 0..7 of :mod:`geolab.data.beachlitter`)
and a :class:`~geolab.geometry.GroundCamera` into ground areas per class and the litter
coverage. :func:`run_beach_coverage` does it for a batch of photos with a trained model; it
backs the command ``geolab beach-coverage``::

    geolab beach-coverage photos/*.jpg --model beachlitter_unet.pt \\
        --camera-height 1.5 --bottom-distance 3 --out results.csv --overlays overlays/

Coverage is ``litter area / beach area × 100`` where litter = artificial + natural litter and
beach = litter + sand (the ground a survey counts; sea, plants and installations excluded).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geolab.data.beachlitter import ARTIFICIAL, CLASSES, IGNORE_INDEX, NATURAL, PALETTE
from geolab.geometry import GroundCamera

__all__ = ["COLUMNS", "add_arguments", "class_slug", "coverage_table", "run_beach_coverage", "run_cli"]

SAND = CLASSES.index("Sand Beach")


def class_slug(name: str) -> str:
    """``"Artificial Litter"`` -> ``"artificial_litter"``."""
    return name.lower().replace(" ", "_")


AREA_COLUMNS = [f"{class_slug(c)}_m2" for c in CLASSES]
#: Columns of the CSV written by :func:`run_beach_coverage`, in order.
COLUMNS = [
    "photo", "width", "height", "mask_width", "mask_height", "vfov_deg", "camera_height_m",
    "bottom_distance_m", "max_distance_m", *AREA_COLUMNS, "litter_m2", "beach_m2", "coverage_pct",
]  # fmt: skip


def coverage_table(
    mask: Any, camera: GroundCamera, ignore_index: int = IGNORE_INDEX, max_distance_m: float | None = None
) -> dict[str, float]:
    """Ground area of every class and the litter coverage of one label mask.

    Args:
        mask: ``(H, W)`` train ids 0..7 (numpy or torch); ``ignore_index`` pixels count nowhere.
        camera: The camera of the photo at the mask's size (see ``camera.with_size``).
        ignore_index: Label of unlabelled pixels.
        max_distance_m: Count only ground closer than this (metres, along ``Y``). Pixels just
            below the horizon cover huge areas, so one wrong pixel there can swamp the sums;
            a limit such as 20 m keeps the measurement to the near beach.

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


def _overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend the class colours of ``mask`` onto ``image``; ignored pixels keep the photo."""
    from geolab.plot import mask_to_rgb

    colour = mask_to_rgb(mask, PALETTE).astype(np.float64)
    keep = (mask == IGNORE_INDEX)[..., None]
    out = np.where(keep, image, (1 - alpha) * image + alpha * colour)
    return np.clip(out, 0, 255).astype(np.uint8)


def run_beach_coverage(
    photos: Sequence[str | os.PathLike[str]],
    model: Any,
    camera_height_m: float,
    bottom_distance_m: float,
    vfov_deg: float | None = None,
    out_csv: str | os.PathLike[str] | None = None,
    overlays_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
    size: int | None = None,
    max_distance_m: float | None = None,
    progress: bool = True,
    prior_correction: float | None = None,
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Measure litter areas on a batch of photos; unreadable photos are reported and skipped.

    Each photo is scaled so that its longer side is ``size`` pixels (never enlarged), segmented,
    and measured with :func:`coverage_table` on a camera of that size.

    Args:
        photos: Photo paths.
        model: Path of a model saved by :func:`geolab.segmentation.save_model`, or the model.
        camera_height_m: Camera height above the beach in metres.
        bottom_distance_m: Ground distance to the bottom edge of the photos in metres.
        vfov_deg: Vertical field of view; ``None`` reads it from each photo's EXIF.
        out_csv: CSV to write (columns :data:`COLUMNS`); ``None`` writes nothing.
        overlays_dir: Folder for ``<stem>_overlay.png`` images of the predicted classes.
        device: Torch device (default: CPU for a path, else the model's).
        size: Working long side in pixels (default: the checkpoint's ``image_size``, else 512).
        max_distance_m: Passed to :func:`coverage_table`.
        progress: Show a tqdm progress bar.
        prior_correction: Strength of :func:`geolab.segmentation.prior_bias` (0: off), which
            undoes part of the class weights the model was trained with (saved in the checkpoint
            as ``class_weights``) so rare classes are not over-predicted. Default: the
            checkpoint's ``prior_correction`` if it has one, else 0.

    Returns:
        ``(rows, skipped)``: one dict per measured photo, and ``(photo, reason)`` per skipped one.
    """
    from PIL import Image
    from tqdm.auto import tqdm

    from geolab.segmentation import load_model, predict_masks, prior_bias

    model_name = str(model) if isinstance(model, (str, os.PathLike)) else "the model"
    if isinstance(model, (str, os.PathLike)):
        model = load_model(model, map_location=device or "cpu")
    info = getattr(model, "checkpoint_info", {}) or {}
    strength = float(info.get("prior_correction", 0.0) if prior_correction is None else prior_correction)
    class_bias = None
    if strength != 0.0:
        if info.get("class_weights") is None:
            raise ValueError(f"{model_name} does not record the class weights it was trained with, so a prior "
                             "correction cannot be applied: save it with save_model(..., class_weights=...) as "
                             "lesson 08 does, or use a prior correction of 0")
        class_bias = prior_bias(info["class_weights"], strength)
    long_side = int(size) if size is not None else _default_long_side(model)
    if overlays_dir is not None:
        Path(overlays_dir).mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for photo in tqdm(list(photos), desc="photos", disable=not progress, file=sys.stderr):
        path = Path(photo)
        try:
            with Image.open(path) as im:
                im.load()
                if vfov_deg is not None:
                    cam = GroundCamera(im.width, im.height, float(vfov_deg), camera_height_m, bottom_distance_m)
                else:
                    cam = GroundCamera.from_exif(im, camera_height_m, bottom_distance_m)
                rgb = im.convert("RGB")
        except Exception as exc:  # noqa: BLE001 - any failure skips this photo only
            reason = f"{type(exc).__name__}: {exc}"
            skipped.append((str(path), reason))
            print(f"skipped {path}: {reason}", file=sys.stderr)
            continue
        w, h = _working_size(rgb.width, rgb.height, long_side)
        small = np.array(rgb.resize((w, h), Image.BILINEAR) if (w, h) != rgb.size else rgb)
        mask = predict_masks(model, small, device=device, class_bias=class_bias).numpy()
        row: dict[str, Any] = {
            "photo": str(path),
            "width": rgb.width,
            "height": rgb.height,
            "mask_width": w,
            "mask_height": h,
            "vfov_deg": cam.vfov_deg,
            "camera_height_m": camera_height_m,
            "bottom_distance_m": bottom_distance_m,
            "max_distance_m": max_distance_m if max_distance_m is not None else "",
            **coverage_table(mask, cam.with_size(w, h), max_distance_m=max_distance_m),
        }
        rows.append(row)
        if overlays_dir is not None:
            Image.fromarray(_overlay(small.astype(float), mask)).save(Path(overlays_dir) / f"{path.stem}_overlay.png")
    if out_csv is not None:
        out = Path(out_csv)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return rows, skipped


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments of ``geolab beach-coverage``."""
    p.add_argument("photos", nargs="+", help="beach photos (JPEG/PNG)")
    p.add_argument("--model", required=True, help="model file saved by geolab.segmentation.save_model")
    p.add_argument("--camera-height", type=float, required=True, metavar="M", help="camera height above the beach (m)")
    p.add_argument(
        "--bottom-distance", type=float, required=True, metavar="M", help="ground distance to the bottom edge of the photo (m)"
    )
    p.add_argument(
        "--vfov-deg", type=float, default=None, metavar="DEG", help="vertical field of view (default: from each photo's EXIF)"
    )
    p.add_argument("--out", default="results.csv", help="CSV to write (default: results.csv)")
    p.add_argument("--overlays", default=None, metavar="DIR", help="also save coloured overlays into DIR")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    p.add_argument(
        "--max-distance", type=float, default=None, metavar="M", help="count only ground closer than M metres (default: all)"
    )
    p.add_argument("--size", type=int, default=None, metavar="PX", help="working long side in pixels (default: the model's)")
    p.add_argument(
        "--prior-correction", type=float, default=None, metavar="S",
        help="undo this share (0..1) of the class weights the model was trained with, so litter is not "
             "over-predicted; choose it on validation photos (default: the model's saved value, else 0)",
    )


def run_cli(args: argparse.Namespace) -> int:
    """Run ``geolab beach-coverage``; exit code 0 all measured, 1 some skipped, 2 none measured."""
    try:
        rows, skipped = run_beach_coverage(
            args.photos,
            args.model,
            args.camera_height,
            args.bottom_distance,
            vfov_deg=args.vfov_deg,
            out_csv=args.out,
            overlays_dir=args.overlays,
            device=args.device,
            size=args.size,
            max_distance_m=args.max_distance,
            prior_correction=args.prior_correction,
        )
    except (FileNotFoundError, ValueError) as exc:  # bad model file or camera values
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(rows)} photo(s) measured, {len(skipped)} skipped; wrote {args.out}")
    for photo, reason in skipped:
        print(f"  skipped {photo}: {reason}")
    if not rows:
        return 2
    return 1 if skipped else 0
