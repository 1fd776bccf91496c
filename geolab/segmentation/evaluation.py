"""Scoring a segmentation model on photos at their own (native) resolution.

Real photos are large (BeachLitter: up to 2592 × 1944 pixels) and come in several sizes and
orientations. The model runs at the scale it was trained at: each photo is shrunk so that its
longer side is ``long_side`` pixels (aspect kept, never enlarged; the same rule as
``geolab beach-coverage``), and the logits are upsampled bilinearly back to the photo's size, so
every labelled pixel is scored.

:func:`evaluate_native` collects, for several strengths of the prior correction
(:func:`~geolab.segmentation.prior_bias`) at once, the confusion matrix and per-photo counts.
From those, :meth:`NativeEvaluation.recall_percentiles` gives per-photo recall percentiles of
artificial, natural and merged litter (the form in which Hidaka et al. 2022 report their
results), :meth:`NativeEvaluation.choose_strength` picks the correction on validation photos
and :meth:`NativeEvaluation.coverage_rel_error` measures the per-photo error of the litter
area in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geolab.constants import IGNORE_INDEX
from geolab.segmentation.inference import prior_bias

__all__ = ["GROUPS", "NativeEvaluation", "evaluate_native", "native_logits", "resize_pair", "working_size"]

#: Groups scored per photo: name -> train ids (0 artificial litter, 4 natural litter).
GROUPS: dict[str, tuple[int, ...]] = {"artificial": (0,), "natural": (4,), "litter": (0, 4)}


def working_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """``(height, width)`` of a photo scaled so its longer side is at most ``long_side`` pixels.

    The aspect ratio is kept and photos are never enlarged (as ``geolab beach-coverage`` does).
    """
    if long_side < 1:
        raise ValueError(f"long_side must be >= 1 pixel, got {long_side}")
    scale = min(1.0, long_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_pair(image: np.ndarray, mask: np.ndarray | None, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """Resize an ``(H, W, 3)`` uint8 photo (PIL bilinear, antialiased) and its ``(H, W)`` mask (nearest).

    Args:
        image: The photo.
        mask: Train ids (values 0..255) or ``None``.
        size: Target ``(height, width)``.
    """
    from PIL import Image

    h, w = size
    if image.shape[:2] == (h, w):
        return image, mask
    small = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR))
    if mask is None:
        return small, None
    m = Image.fromarray(np.asarray(mask).astype(np.uint8)).resize((w, h), Image.Resampling.NEAREST)
    return small, np.asarray(m).astype(np.int64)


@torch.no_grad()
def native_logits(model: nn.Module, image: np.ndarray, long_side: int, device: str | torch.device | None = None) -> torch.Tensor:
    """Logits ``(C, H, W)`` of an ``(H, W, 3)`` uint8 photo, computed at training scale, upsampled to native size.

    Args:
        model: Segmentation model (float RGB 0..1 in, logits of the same size out), in eval mode.
        image: The upright photo.
        long_side: Longer side of the working size (the training scale).
        device: Default: the device of the model's parameters.
    """
    params = next(model.parameters(), None)
    dev = torch.device(device) if device is not None else (params.device if params is not None else torch.device("cpu"))
    h, w = image.shape[:2]
    small, _ = resize_pair(image, None, working_size(h, w, long_side))
    x = torch.from_numpy(np.array(small, copy=True)).permute(2, 0, 1)[None].to(dev).float() / 255.0
    logits = model(x).float()
    if logits.shape[-2:] != (h, w):
        logits = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
    return logits[0]


@dataclass
class NativeEvaluation:
    """Counts from :func:`evaluate_native`, for each prior-correction strength.

    Attributes:
        stems: Photo names, in order.
        strengths: Correction strengths evaluated.
        matrices: ``strength -> (C, C)`` confusion matrix over all photos (rows true classes).
        support: ``(N, G)`` true pixels of each group of :data:`GROUPS` in each photo.
        hits: ``strength -> (N, G)`` pixels of the group predicted as a member of the group.
        predicted: ``strength -> (N, G)`` pixels predicted as the group.
    """

    stems: list[str]
    strengths: list[float]
    matrices: dict[float, np.ndarray]
    support: np.ndarray
    hits: dict[float, np.ndarray]
    predicted: dict[float, np.ndarray]
    groups: tuple[str, ...] = field(default=tuple(GROUPS))

    def _col(self, group: str) -> int:
        if group not in self.groups:
            raise ValueError(f"unknown group {group!r}; choose one of {self.groups}")
        return self.groups.index(group)

    def per_image_recall(self, strength: float, group: str) -> np.ndarray:
        """Recall of ``group`` in each photo that holds it (photos without it are left out)."""
        k = self._col(group)
        has = self.support[:, k] > 0
        return self.hits[strength][has, k] / self.support[has, k]

    def recall_percentiles(self, strength: float, q: Sequence[float] = (10, 25, 50, 75, 90)) -> dict[str, dict[str, float]]:
        """Percentiles of the per-photo recall of each group: ``{group: {"p10": ..., "n": photos}}``.

        Values are fractions (0..1); NaN when no photo holds the group.
        """
        out: dict[str, dict[str, float]] = {}
        for group in self.groups:
            r = self.per_image_recall(strength, group)
            row = {f"p{v:g}": (float(np.percentile(r, v)) if r.size else float("nan")) for v in q}
            row["n"] = float(r.size)
            out[group] = row
        return out

    def summed_bias(self, strength: float, group: str = "litter") -> float:
        """Relative error of the summed predicted pixels of ``group`` over all photos (NaN if none are true)."""
        k = self._col(group)
        true = float(self.support[:, k].sum())
        return float(self.predicted[strength][:, k].sum() / true - 1) if true > 0 else float("nan")

    def coverage_rel_error(self, strength: float, group: str = "litter") -> float:
        """Median over photos holding ``group`` of ``|predicted − true pixels| / true pixels``."""
        k = self._col(group)
        has = self.support[:, k] > 0
        if not has.any():
            return float("nan")
        err = np.abs(self.predicted[strength][has, k] - self.support[has, k]) / self.support[has, k]
        return float(np.median(err))

    def choose_strength(self, group: str = "litter") -> float:
        """The strength whose summed area of ``group`` is least biased (use on validation photos only)."""
        scored = [(abs(b), s) for s in self.strengths if np.isfinite(b := self.summed_bias(s, group))]
        if not scored:
            raise ValueError(f"no photo holds {group!r} pixels, so no correction strength can be chosen")
        return min(scored)[1]


@torch.no_grad()
def evaluate_native(
    model: nn.Module,
    pairs: Any,
    long_side: int,
    *,
    class_weights: Any = None,
    strengths: Sequence[float] = (0.0,),
    device: str | torch.device | None = None,
    progress: bool = False,
) -> NativeEvaluation:
    """Score a model on photos at native resolution for several prior-correction strengths.

    Args:
        model: Segmentation model.
        pairs: A :class:`~geolab.data.beachlitter.BeachLitter` (uses ``read_pair`` and
            ``stems``) or a sequence of ``(image (H, W, 3) uint8, train ids (H, W))``.
        long_side: Working (training) scale, see :func:`native_logits`.
        class_weights: ``(C,)`` loss weights of the training; needed for strengths other than 0.
        strengths: Strengths of :func:`~geolab.segmentation.prior_bias` to evaluate.
        device: Default: the device of the model's parameters.
        progress: Show a progress bar.

    Returns:
        A :class:`NativeEvaluation`.
    """
    from tqdm.auto import tqdm

    from geolab.metrics import confusion_matrix

    strengths = [float(s) for s in strengths]
    if any(s != 0 for s in strengths) and class_weights is None:
        raise ValueError("strengths other than 0 need the class_weights the model was trained with")
    was_training = model.training
    model.eval()
    reader = getattr(pairs, "read_pair", None)
    n = len(pairs)
    stems = list(getattr(pairs, "stems", [str(i) for i in range(n)]))
    num_classes: int | None = None
    members = [torch.tensor(ids) for ids in GROUPS.values()]
    support = np.zeros((n, len(GROUPS)), np.int64)
    hits = {s: np.zeros((n, len(GROUPS)), np.int64) for s in strengths}
    predicted = {s: np.zeros((n, len(GROUPS)), np.int64) for s in strengths}
    matrices: dict[float, np.ndarray] = {}
    try:
        for i in tqdm(range(n), desc="photos", disable=not progress):
            image, mask = reader(i) if reader is not None else pairs[i]
            logits = native_logits(model, np.asarray(image), long_side, device)
            num_classes = int(logits.shape[0])
            truth = torch.as_tensor(np.asarray(mask), dtype=torch.int64, device=logits.device)
            valid = truth != IGNORE_INDEX
            in_group = [torch.isin(truth, m.to(truth.device)) & valid for m in members]
            support[i] = [int(g.sum()) for g in in_group]
            for s in strengths:
                bias = prior_bias(class_weights, s).to(logits.device) if s else torch.zeros(num_classes, device=logits.device)
                pred = (logits + bias.view(-1, 1, 1)).argmax(0)
                cm = confusion_matrix(pred, truth, num_classes)
                matrices[s] = matrices[s] + cm if s in matrices else cm
                for k, (g, m) in enumerate(zip(in_group, members, strict=True)):
                    as_group = torch.isin(pred, m.to(pred.device)) & valid
                    predicted[s][i, k] = int(as_group.sum())
                    hits[s][i, k] = int((as_group & g).sum())
    finally:
        model.train(was_training)
    if num_classes is None:
        raise ValueError("evaluate_native: no photos to evaluate")
    return NativeEvaluation(stems, strengths, matrices, support, hits, predicted)
