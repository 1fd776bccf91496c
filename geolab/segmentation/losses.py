"""Losses for segmentation with rare classes: class-weighted cross-entropy and focal loss.

Beach photos are mostly sand, sea and sky; litter covers a few per cent of the pixels. A
plain cross-entropy is then dominated by the easy, common classes. Two remedies:

* weight each class's pixels, e.g. by median-frequency balancing (Eigen & Fergus 2015):
  ``w_c = median(f) / f_c`` with ``f_c`` the share of pixels of class ``c``, or by
  ``1 / sqrt(f_c)`` (milder);
* the focal loss (Lin et al. 2017) ``-alpha_y (1 - p_y)**gamma log p_y`` down-weights pixels
  that are already classified confidently, whatever their class.

Every loss here skips pixels whose target is ``ignore_index`` (255).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geolab.constants import IGNORE_INDEX

__all__ = ["FocalLoss", "class_weights", "weighted_cross_entropy"]


def class_weights(
    frequencies: Sequence[float] | np.ndarray | torch.Tensor,
    method: str = "median",
    max_weight: float | None = 50.0,
) -> torch.Tensor:
    """Per-class loss weights from pixel counts or shares.

    Args:
        frequencies: ``(C,)`` pixel counts or shares per class (e.g. from
            :func:`geolab.data.beachlitter.class_frequencies`); only ratios matter.
        method: ``"median"`` (median-frequency balancing, ``median(f) / f_c``),
            ``"inverse_sqrt"`` (``1 / sqrt(f_c)``, scaled so the pixel-weighted mean weight
            is 1) or ``"inverse"`` (``1 / f_c``, scaled the same way).
        max_weight: Upper bound on a weight (``None``: no bound), so a class with a handful of
            pixels cannot dominate.

    Returns:
        ``(C,)`` float32 tensor; classes with zero pixels get weight 0.
    """
    f = torch.as_tensor(np.asarray(frequencies, dtype=np.float64)).double().flatten()
    if f.numel() == 0 or bool((f < 0).any()) or not bool(torch.isfinite(f).all()):
        raise ValueError(f"frequencies must be finite non-negative numbers, got {f.tolist()}")
    present = f > 0
    if not bool(present.any()):
        raise ValueError("frequencies are all zero: no labelled pixel was counted")
    share = f / f.sum()
    w = torch.zeros_like(share)
    if method == "median":
        w[present] = float(np.median(share[present].numpy())) / share[present]  # torch.median takes the lower middle
    elif method in ("inverse_sqrt", "inverse"):
        power = 0.5 if method == "inverse_sqrt" else 1.0
        w[present] = share[present] ** -power
        w = w / (w * share).sum()
    else:
        raise ValueError(f"method must be 'median', 'inverse_sqrt' or 'inverse', got {method!r}")
    if max_weight is not None:
        w = w.clamp(max=max_weight)
    return w.float()


def weighted_cross_entropy(weights: Any = None, ignore_index: int = IGNORE_INDEX) -> nn.CrossEntropyLoss:
    """``nn.CrossEntropyLoss`` with per-class weights and ``ignore_index``.

    The mean is taken over the non-ignored pixels, each weighted by its class's weight
    (PyTorch divides by the sum of the weights of the pixels).

    Args:
        weights: ``(C,)`` class weights (see :func:`class_weights`) or ``None``.
        ignore_index: Target value to skip.
    """
    w = None if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    return nn.CrossEntropyLoss(weight=w, ignore_index=ignore_index)


class FocalLoss(nn.Module):
    """Multi-class focal loss ``-alpha_y (1 - p_y)**gamma log p_y`` over pixels.

    With ``gamma=0`` and ``alpha=None`` it is the cross-entropy. Pixels with target
    ``ignore_index`` count for nothing; the mean (``reduction="mean"``) is over the other
    pixels (not weighted by ``alpha``, unlike ``nn.CrossEntropyLoss(weight=...)``).

    Args:
        gamma: Focusing parameter ``>= 0``; 2 as in Lin et al. (2017).
        alpha: ``None``, or ``(C,)`` per-class weights (e.g. :func:`class_weights`).
        ignore_index: Target value to skip.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(N, H, W)``, 0 at ignored pixels).

    Shapes:
        logits ``(N, C, H, W)`` (or ``(N, C)``), targets ``(N, H, W)`` (or ``(N,)``) int64.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: Sequence[float] | torch.Tensor | None = None,
        ignore_index: int = IGNORE_INDEX,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.gamma = float(gamma)
        self.ignore_index = ignore_index
        self.reduction = reduction
        self.alpha: torch.Tensor | None
        self.register_buffer("alpha", None if alpha is None else torch.as_tensor(alpha, dtype=torch.float32))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Loss of a batch (a scalar unless ``reduction="none"``)."""
        if logits.ndim != targets.ndim + 1 or logits.shape[0] != targets.shape[0] or logits.shape[2:] != targets.shape[1:]:
            raise ValueError(f"logits {tuple(logits.shape)} do not fit targets {tuple(targets.shape)}; expected (N, C, ...) and (N, ...)")
        valid = targets != self.ignore_index
        safe = torch.where(valid, targets, torch.zeros_like(targets)).long()
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, safe.unsqueeze(1)).squeeze(1)
        loss = -log_p
        if self.gamma > 0:
            loss = loss * (1.0 - log_p.exp()).clamp(min=0.0) ** self.gamma
        if self.alpha is not None:
            if self.alpha.numel() != logits.shape[1]:
                raise ValueError(f"alpha has {self.alpha.numel()} weights for {logits.shape[1]} classes")
            loss = loss * self.alpha.to(logits.device)[safe]
        loss = torch.where(valid, loss, torch.zeros_like(loss))
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        return loss.sum() / valid.sum().clamp(min=1)
