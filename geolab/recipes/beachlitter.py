"""Beach-litter segmentation on the real BeachLitter photos, end to end (Hidaka et al. 2022's setting).

    python -m geolab.recipes.beachlitter --data ~/data --out runs/beachlitter_hrnet.pt
    torchrun --nproc-per-node 4 -m geolab.recipes.beachlitter --data ~/data --out runs/beachlitter_hrnet.pt
    python -m geolab.recipes.beachlitter --data ~/data --out /tmp/bl.pt --epochs 1 --limit 40  # a quick check

``--data`` is the folder holding ``beachlitter/images`` and ``beachlitter/maskpngs`` (see
:func:`geolab.data.beachlitter.find_root`). The recipe

1. splits the photos about 70 / 10 / 20 % into train / validation / test (the paper's 20 % test
   share), keeping each survey day in one split when the file names or the EXIF dates tell the
   day (``--group-by``);
2. reads every photo upright (EXIF orientation), scales it so its longer side is
   ``--long-side`` pixels (aspect kept) and pads it to a square with ignored pixels, so photos of
   any size and orientation share a batch;
3. trains an HRNet-style network (:class:`~geolab.segmentation.HRNetLite`; the paper used the
   HRNet family) with class-weighted cross-entropy through :func:`geolab.train.fit` — on one
   device, or data-parallel under ``torchrun`` — keeping the epoch with the best validation mIoU;
4. evaluates on the validation photos at native resolution (logits upsampled to the photo's
   size) and chooses there the strength of the prior correction that makes the summed litter
   area unbiased, and measures the per-photo error of the litter area with it;
5. evaluates once on the test photos and prints the per-class table and per-photo recall
   percentiles next to the paper's ranges;
6. writes ``--out``: a :func:`geolab.segmentation.save_model` checkpoint holding the class
   weights, ``prior_correction``, ``segmentation_rel_error`` and ``image_size`` (the long side),
   which ``geolab beach-coverage --model`` uses by default; and ``<out>.json`` with the report.

The input size, optimiser and epochs of the paper are not published; the defaults here are this
course's choices for one GPU. ``--resume`` continues an interrupted run from
``<out stem>.training.last.pt``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from geolab.constants import IGNORE_INDEX
from geolab.data.beachlitter import CLASSES, FRACTIONS, LITTER, BeachLitter, class_frequencies, is_synthetic
from geolab.segmentation.evaluation import NativeEvaluation, evaluate_native, resize_pair, working_size
from geolab.segmentation.inference import save_model
from geolab.segmentation.models import build_model
from geolab.train import Checkpoint, LRScheduler, distributed, fit, make_loader

__all__ = ["PAPER_RECALL_RANGES", "STRENGTHS", "LetterboxPairs", "format_recall_percentiles", "main", "train_beachlitter", "weighted_loss"]

#: Per-photo recall ranges reported by Hidaka et al. (2022) on their 700 test photos (fractions).
PAPER_RECALL_RANGES: dict[str, tuple[float, float]] = {"artificial": (0.3, 0.7), "natural": (0.4, 0.8), "litter": (0.6, 0.9)}
#: Prior-correction strengths tried on the validation photos.
STRENGTHS: tuple[float, ...] = tuple(k / 8 for k in range(9))


class LetterboxPairs(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """BeachLitter pairs at training scale: longer side ``long_side``, padded to a square.

    Each upright photo is scaled (aspect kept, never enlarged; bilinear, as
    ``geolab beach-coverage`` does) so that its longer side is ``long_side`` pixels, its mask
    with nearest neighbours, and both are placed in the top-left corner of a
    ``(long_side, long_side)`` canvas; the rest of the mask is :data:`IGNORE_INDEX`, so the loss
    ignores the padding.

    Args:
        data: A :class:`~geolab.data.beachlitter.BeachLitter` split (no ``size``/``transforms``).
        long_side: Canvas side in pixels.
        flip: Mirror left-right with probability 0.5 (torch's global RNG, seeded per worker by
            :func:`geolab.train.make_loader`).

    Items are ``(image (3, L, L) float32 0..1, mask (L, L) int64)``.
    """

    def __init__(self, data: BeachLitter, long_side: int, flip: bool = False) -> None:
        if data.size is not None or data.transforms is not None:
            raise ValueError("LetterboxPairs needs a BeachLitter without size/transforms (it resizes itself)")
        self.data, self.long_side, self.flip = data, int(long_side), bool(flip)

    def __len__(self) -> int:
        """Number of photos."""
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Photo ``index`` scaled and padded, with its mask."""
        image, mask = self.data.read_pair(index)
        h, w = working_size(image.shape[0], image.shape[1], self.long_side)
        small, small_mask = resize_pair(image, mask, (h, w))
        assert small_mask is not None
        x = torch.zeros(3, self.long_side, self.long_side)
        y = torch.full((self.long_side, self.long_side), IGNORE_INDEX, dtype=torch.int64)
        img_t = torch.from_numpy(np.array(small, copy=True)).permute(2, 0, 1).float() / 255.0
        mask_t = torch.from_numpy(np.array(small_mask, dtype=np.int64, copy=True))
        if self.flip and bool(torch.rand(()) < 0.5):
            img_t, mask_t = img_t.flip(-1), mask_t.flip(-1)
        x[:, :h, :w], y[:h, :w] = img_t, mask_t
        return x, y


def weighted_loss(weights: torch.Tensor) -> Any:
    """Class-weighted cross-entropy ``(logits (N, C, H, W), ids (N, H, W)) -> mean``; weights follow the logits' device."""
    moved: dict[torch.device, torch.Tensor] = {}

    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        w = moved.setdefault(outputs.device, weights.to(outputs.device, torch.float32))
        return torch.nn.functional.cross_entropy(outputs.float(), targets, weight=w, ignore_index=IGNORE_INDEX)

    return loss


def _summary(ev: NativeEvaluation, strength: float) -> dict[str, Any]:
    """Plain numbers of one evaluation at one strength (for the checkpoint and the JSON report)."""
    from geolab import metrics

    cm = ev.matrices[strength]
    iou = metrics.iou_per_class(cm)
    merged = metrics.group_scores(cm, LITTER)
    return {
        "photos": len(ev.stems), "strength": strength, "miou": metrics.mean_iou(cm), "confusion_matrix": cm.tolist(),
        "iou": {name: float(v) for name, v in zip(CLASSES, iou, strict=True)},
        "precision": {name: float(v) for name, v in zip(CLASSES, metrics.precision_per_class(cm), strict=True)},
        "recall": {name: float(v) for name, v in zip(CLASSES, metrics.recall_per_class(cm), strict=True)},
        "merged_litter": {k: float(v) for k, v in merged.items()},
        "recall_percentiles": ev.recall_percentiles(strength),
        "litter_pixels_summed_error": ev.summed_bias(strength), "litter_pixels_median_error": ev.coverage_rel_error(strength),
    }  # fmt: skip


def format_recall_percentiles(summary: dict[str, Any]) -> str:
    """A text table of per-photo recall percentiles next to the paper's ranges."""
    lines = [f"{'per-photo recall':<18}{'photos':>7}{'p10':>7}{'p25':>7}{'p50':>7}{'p75':>7}{'p90':>7}   paper"]
    for group, row in summary["recall_percentiles"].items():
        lo, hi = PAPER_RECALL_RANGES[group]
        cells = "".join(f"{100 * row[k]:6.0f}%" if math.isfinite(row[k]) else "      -" for k in ("p10", "p25", "p50", "p75", "p90"))
        lines.append(f"{group:<18}{int(row['n']):>7}{cells}   {100 * lo:.0f}-{100 * hi:.0f}%")
    return "\n".join(lines)


def train_beachlitter(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    arch: str = "hrnet",
    model_kwargs: dict[str, Any] | None = None,
    long_side: int = 768,
    epochs: int = 60,
    batch_size: int = 8,
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    max_weight: float = 10.0,
    group_by: str = "auto",
    fractions: Sequence[float] = FRACTIONS,
    seed: int = 0,
    workers: int = 0,
    device: str | torch.device | None = None,
    limit: int | None = None,
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train and evaluate on the real BeachLitter layout; write the checkpoint the coverage tool reads.

    See the module docstring for the steps. Under ``torchrun`` every process trains its share of
    each batch; rank 0 alone evaluates, writes the files and returns the report (the other ranks
    return ``{}``).

    Args:
        root: Folder holding ``beachlitter/`` (or that folder).
        out: Checkpoint to write (``.pt``); the report goes to ``<out>.json``.
        arch: Architecture for :func:`~geolab.segmentation.build_model`.
        model_kwargs: Its arguments (default for ``"hrnet"``: ``base=32, blocks=2``).
        long_side: Training scale: the longer side of every photo, in pixels.
        epochs: Training epochs (the best by validation mIoU is kept).
        batch_size: Photos per batch (per process under ``torchrun``).
        lr: AdamW learning rate (cosine decay over the epochs).
        weight_decay: AdamW weight decay.
        max_weight: Upper bound of the inverse-square-root class weights.
        group_by: :func:`~geolab.data.beachlitter.photo_groups` rule for the split, or ``"photo"``.
        fractions: Shares ``(train, val, test)``.
        seed: Seed of the split, the initial weights, the shuffling and the flips.
        workers: Data-loading worker processes.
        device: Default: :func:`geolab.runtime.device` (``cuda:LOCAL_RANK`` under torchrun).
        limit: Use only the first ``limit`` photos of each split (a quick check; ``None``: all).
        resume: Continue from ``<out stem>.training.last.pt`` if it exists.
        progress: Show progress bars.

    Returns:
        The report (also in the checkpoint and ``<out>.json``).
    """
    from geolab import __version__, metrics
    from geolab.losses import class_weights as make_class_weights
    from geolab.runtime import seed_everything

    out = Path(out)
    kw = dict(model_kwargs) if model_kwargs is not None else ({"base": 32, "blocks": 2} if arch == "hrnet" else {})
    split_kw: dict[str, Any] = {"fractions": tuple(fractions), "seed": seed, "limit": limit,
                                "group_by": None if group_by == "photo" else group_by}  # fmt: skip
    train_set, val_set = (BeachLitter(root, s, **split_kw) for s in ("train", "val"))
    if len(train_set) == 0 or len(val_set) == 0:
        raise ValueError(f"{train_set.root}: the split left {len(train_set)} training and {len(val_set)} validation "
                         "photos; add photos or change fractions / group_by")  # fmt: skip
    counts = class_frequencies(train_set)
    weights = make_class_weights(counts, "inverse_sqrt", max_weight=max_weight)
    seed_everything(seed)
    model = build_model(arch, num_classes=len(CLASSES), **kw)
    train_loader = make_loader(LetterboxPairs(train_set, long_side, flip=True), batch_size, shuffle=True, seed=seed,
                               num_workers=workers)  # fmt: skip
    val_loader = make_loader(LetterboxPairs(val_set, long_side), batch_size, shuffle=False, seed=seed, num_workers=workers)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    state_file = out.with_name(f"{out.stem}.training{out.suffix or '.pt'}")
    best = Checkpoint(state_file, monitor="val_miou", mode="max", restore_best=True, resume=resume)
    c = len(CLASSES)
    scores: dict[str, Any] = {"miou": metrics.ConfusionMatrix(c), "artificial_iou": metrics.ClassIoU(c, LITTER[0]),
                              "natural_iou": metrics.ClassIoU(c, LITTER[1])}  # fmt: skip
    history = fit(
        model, train_loader, val_loader, weighted_loss(weights), optimizer,
        epochs, device=device, progress=progress, callbacks=[LRScheduler(schedule, interval="epoch"), best],
        metrics=scores,
    )  # fmt: skip
    if not distributed.is_main_process():
        return {}
    # Validation photos at native resolution: the correction strength and the area error are chosen here.
    val_eval = evaluate_native(model, val_set, long_side, class_weights=weights, strengths=STRENGTHS, progress=progress)
    try:
        strength = val_eval.choose_strength()
    except ValueError:  # no litter in the validation photos (only with a tiny --limit): nothing to choose on
        strength = 0.0
        print("note: the validation photos hold no litter, so the prior correction stays 0")
    rel_error = val_eval.coverage_rel_error(strength)
    test_set = BeachLitter(root, "test", **split_kw)  # touched once, after every choice
    test_eval = evaluate_native(model, test_set, long_side, class_weights=weights, strengths=sorted({0.0, strength}),
                                progress=progress)  # fmt: skip
    report: dict[str, Any] = {
        "data": str(train_set.root), "synthetic_data": is_synthetic(train_set.root), "geolab_version": __version__,
        "arch": arch, "model_kwargs": kw,
        "long_side": long_side, "epochs": epochs, "batch_size": batch_size, "world_size": distributed.world_size(),
        "lr": lr, "seed": seed, "group_by": group_by, "fractions": list(fractions), "limit": limit,
        "photos": {"train": len(train_set), "val": len(val_set), "test": len(test_set)},
        "best_epoch": best.best_epoch, "val_miou_letterboxed": best.best_score,
        "class_weights": weights.tolist(), "prior_correction": strength,
        "segmentation_rel_error": rel_error if math.isfinite(rel_error) else None,
        "segmentation_error_basis": "median over validation photos with litter of |predicted - true| / true litter "
                                    "pixels at native resolution, with the chosen prior correction",
        "val": _summary(val_eval, strength), "test": _summary(test_eval, strength),
        "test_uncorrected": _summary(test_eval, 0.0),
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
    }  # fmt: skip
    extras = {k: v for k, v in report.items() if k != "arch"}  # save_model records the architecture itself
    save_model(out, model, classes=list(CLASSES), image_size=int(long_side), dataset="BeachLitter", **extras)
    tmp = out.with_name(out.name + ".json.tmp")
    tmp.write_text(json.dumps(_finite(report), indent=2, default=float, allow_nan=False))
    tmp.replace(out.with_name(out.name + ".json"))
    _print_report(report, out)
    return report


def _finite(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(float(obj)) else None
    return obj


def _print_report(report: dict[str, Any], out: Path) -> None:
    from geolab import metrics

    t = report["test"]
    if report["synthetic_data"]:
        print(f"note: {report['data']} is a synthetic copy written by geolab.synth.beach.write_dataset, not the real data")
    err = report["segmentation_rel_error"]
    print(f"photos: {report['photos']}; best epoch {report['best_epoch']}; prior correction {report['prior_correction']} "
          f"(chosen on validation); median error of a photo's litter pixels on validation "
          f"{'-' if err is None else f'{100 * err:.0f} %'}")  # fmt: skip
    cm = np.asarray(t["confusion_matrix"], dtype=np.int64)
    rows = metrics.per_class_table(cm, CLASSES, merged={"Litter (merged)": list(LITTER)})
    print(f"test photos at native resolution: mIoU {100 * t['miou']:.1f} %")
    print(metrics.format_table(rows))
    print(format_recall_percentiles(t))
    print(f"wrote {out} and {out.name}.json")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the report (``{}`` on ranks other than 0)."""
    p = argparse.ArgumentParser(prog="python -m geolab.recipes.beachlitter", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--data", type=Path, required=True, help="folder holding beachlitter/images and beachlitter/maskpngs")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt); the report goes to <out>.json")
    p.add_argument("--arch", default="hrnet", help="hrnet (default), unet, deeplabv3_mobilenet or lraspp")
    p.add_argument("--width", type=int, default=32, help="channels of the first branch (hrnet) or first level (unet)")
    p.add_argument("--blocks", type=int, default=2, help="residual blocks per branch and stage (hrnet)")
    p.add_argument("--long-side", type=int, default=768, help="training scale: longer side of every photo, pixels")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=8, help="photos per batch and process")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--group-by", default="auto", choices=["auto", "name-date", "exif-date", "photo"],
                   help="keep each survey day in one split (auto: date in the file name, else EXIF date)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=4, help="data-loading processes")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: the GPU when there is one)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N photos of each split (a quick check)")
    p.add_argument("--resume", action="store_true", help="continue from <out stem>.training.last.pt")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    a = p.parse_args(argv)
    if a.arch == "hrnet":
        kw: dict[str, Any] = {"base": a.width, "blocks": a.blocks}
    elif a.arch == "unet":
        kw = {"base": a.width}
    else:
        kw = {}
    return train_beachlitter(
        a.data, a.out, arch=a.arch, model_kwargs=kw, long_side=a.long_side, epochs=a.epochs, batch_size=a.batch_size,
        lr=a.lr, group_by=a.group_by, seed=a.seed, workers=a.workers, device=a.device, limit=a.limit, resume=a.resume,
        progress=a.progress,
    )  # fmt: skip


if __name__ == "__main__":
    main()
