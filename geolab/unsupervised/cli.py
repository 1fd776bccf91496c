"""``geolab segment-unsupervised``: differentiable feature clustering from the command line.

    geolab segment-unsupervised photos/*.jpg --out labels/ [--scribble S.png] [--device cuda]
                                [--max-iter N] [--shared]

For every readable input it writes ``<stem>_labels.png`` (an index PNG, one id per pixel) and
``<stem>_overlay.png`` (the label colours over the image). Unreadable inputs are reported and
skipped; the exit status is 1 when any input was skipped. With ``--shared`` one network is
trained over all inputs and then labels each of them (cluster ids agree between images), and
its checkpoint is written to ``<out>/segmenter.pt``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["add_arguments", "add_parser", "read_image", "run_cli"]

HELP = "label images without training data (differentiable feature clustering)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sub-command's arguments to ``parser``."""
    parser.add_argument("images", nargs="+", type=Path, help="input images (PNG, JPEG, TIFF, ...)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--scribble", type=Path, default=None,
                        help="index PNG of scribbles: class ids 0.. where drawn, 255 elsewhere (single image only)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: the best available)")
    parser.add_argument("--max-iter", type=int, default=1000, help="largest number of iterations per image "
                        "(with --shared: passes over the image set)")
    parser.add_argument("--shared", action="store_true", help="train one network over all images, then label each")
    parser.add_argument("--seed", type=int, default=0, help="seed of the network's weights (default 0)")
    parser.add_argument("--connected", action="store_true", help="split every label into its connected regions")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``segment-unsupervised`` on an ``argparse`` sub-parsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser("segment-unsupervised", help=HELP, description=HELP)
    add_arguments(parser)
    parser.set_defaults(_run=run_cli)
    return parser


def read_image(path: Path) -> np.ndarray:
    """Read an image file as ``(H, W, C)`` uint8/uint16 (grey images get one band).

    Raises:
        ValueError: The file is missing or not a readable image, naming it.
    """
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            converted = im.convert("RGB") if im.mode in ("P", "PA", "RGBA", "LA", "CMYK", "YCbCr", "1") else im
            arr = np.asarray(converted)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"{path}: not a readable image ({type(exc).__name__}); give PNG, JPEG or TIFF files") from exc
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.dtype.kind == "f":
        raise ValueError(f"{path}: floating-point images are not supported here; use geolab.unsupervised.segment")
    return arr


def _write(out: Path, stem: str, image: np.ndarray, labels: np.ndarray) -> None:
    from PIL import Image

    from geolab.unsupervised.postprocess import (
        label_colours,
        relabel_sequential,
        write_label_png,
    )

    write_label_png(out / f"{stem}_labels.png", labels)
    lab = relabel_sequential(labels)
    colours = label_colours(int(lab.max()) + 1)
    base = image.astype(np.float64) / float(np.iinfo(image.dtype).max) * 255.0
    base = np.repeat(base[..., :1], 3, axis=2) if base.shape[2] < 3 else base[..., :3]
    overlay = (0.5 * base + 0.5 * colours[lab]).clip(0, 255).astype(np.uint8)
    tmp = out / f".{stem}_overlay.tmp.png"
    Image.fromarray(overlay).save(tmp)
    tmp.replace(out / f"{stem}_overlay.png")


def run_cli(args: argparse.Namespace) -> int:
    """Run the sub-command; returns the exit status (1 if an input was skipped or nothing was done)."""
    from tqdm.auto import tqdm

    from geolab.unsupervised.dfc import segment
    from geolab.unsupervised.postprocess import connected_components, read_label_png
    from geolab.unsupervised.shared import DFCSegmenter

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.max_iter < 1:
        print("--max-iter must be >= 1", file=sys.stderr)
        return 2
    scribble = None
    if args.scribble is not None:
        if args.shared or len(args.images) != 1:
            print("--scribble works with a single image (and without --shared)", file=sys.stderr)
            return 2
        try:
            scribble = read_label_png(args.scribble)
        except (OSError, ValueError) as exc:
            print(f"cannot use the scribble: {exc}", file=sys.stderr)
            return 2
    loaded: list[tuple[Path, np.ndarray]] = []
    skipped = 0
    for path in args.images:
        try:
            loaded.append((path, read_image(path)))
        except ValueError as exc:
            print(f"skipped {exc}", file=sys.stderr)
            skipped += 1
    if not loaded:
        print("no readable input images", file=sys.stderr)
        return 1
    if args.shared:
        bands = {img.shape[2] for _, img in loaded}
        if len(bands) > 1:
            print(f"--shared needs images with the same number of bands, got {sorted(bands)}", file=sys.stderr)
            return 2
        seg = DFCSegmenter(loaded[0][1].shape[2], seed=args.seed)
        seg.fit([img for _, img in loaded], epochs=args.max_iter, device=args.device)
        seg.save(out / "segmenter.pt")
    for path, img in tqdm(loaded, desc="images", unit="image", disable=len(loaded) < 2):
        try:
            if args.shared:
                labels = seg.predict(img, device=args.device)
            else:
                labels = segment(img, max_iter=args.max_iter, scribble=scribble, device=args.device,
                                 seed=args.seed).labels
        except ValueError as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            skipped += 1
            continue
        if args.connected:
            labels = connected_components(labels)
        _write(out, path.stem, img, labels)
        print(f"{path} -> {out / (path.stem + '_labels.png')} ({len(np.unique(labels))} labels)")
    return 1 if skipped else 0
