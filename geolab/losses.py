"""The course's losses for rare classes: class weights, weighted cross-entropy, focal losses.

Beach photos are mostly sand, sea and sky; litter covers a few per cent of the pixels; a
tropical-cyclone precursor is one sample in twenty. A plain cross-entropy is then dominated
by the easy, common classes. Remedies:

* weight each class's pixels, e.g. by median-frequency balancing (Eigen & Fergus 2015):
  ``w_c = median(f) / f_c`` with ``f_c`` the share of pixels of class ``c``, or by
  ``1 / sqrt(f_c)`` (milder);
* the focal loss (Lin et al. 2017) ``-alpha_y (1 - p_y)**gamma log p_y`` down-weights pixels
  (or samples) that are already classified confidently, whatever their class.

Multi-class (one logit per class, softmax): :func:`class_weights`,
:func:`weighted_cross_entropy` and :class:`FocalLoss`, which skip targets equal to
``ignore_index`` (255). Binary (one logit per sample, sigmoid): :func:`focal_loss` (equal to
:func:`torchvision.ops.sigmoid_focal_loss`), :class:`BinaryFocalLoss` and
:func:`balanced_bce` (positives weighted by ``pos_weight``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from geolab.constants import IGNORE_INDEX

__all__ = [
    "BinaryFocalLoss",
    "FocalLoss",
    "balanced_bce",
    "class_weights",
    "focal_loss",
    "weighted_cross_entropy",
]


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
        if (
            logits.ndim != targets.ndim + 1
            or logits.shape[0] != targets.shape[0]
            or logits.shape[2:] != targets.shape[1:]
        ):
            raise ValueError(
                f"logits {tuple(logits.shape)} do not fit targets {tuple(targets.shape)}; "
                "expected (N, C, ...) and (N, ...)"
            )
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


_REDUCTIONS = ("mean", "sum", "none")


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Binary focal loss ``-alpha_t (1 - p_t)**gamma log p_t`` of Lin et al. (2017).

    ``p = sigmoid(logits)``; ``p_t`` is ``p`` for a positive target and ``1 - p`` for a
    negative one; ``alpha_t`` is ``alpha`` for positives and ``1 - alpha`` for negatives. The
    same numbers as :func:`torchvision.ops.sigmoid_focal_loss`.

    Args:
        logits: Scores of any shape, e.g. ``(N,)`` (one per sample) or ``(N, 1, H, W)``.
        targets: Same shape, 0/1 (any dtype; soft labels in ``[0, 1]`` work too).
        alpha: Weight of the positives in ``[0, 1]``; a negative value means no weighting
            (``alpha_t = 1``), as torchvision.
        gamma: Focusing parameter ``>= 0``; ``gamma=0`` with ``alpha<0`` is the binary
            cross-entropy.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (the shape of ``logits``).

    Returns:
        A scalar, or per-element losses for ``reduction="none"``.

    Raises:
        ValueError: Shapes differ, ``alpha > 1``, ``gamma < 0`` or an unknown reduction.
    """
    if logits.shape != targets.shape:
        raise ValueError(
            f"focal_loss: logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in shape; "
            "pass one 0/1 target per logit (e.g. logits.squeeze(1) for a (N, 1) output)"
        )
    if gamma < 0:
        raise ValueError(f"focal_loss: gamma must be >= 0, got {gamma}")
    if alpha > 1:
        raise ValueError(f"focal_loss: alpha must be <= 1 (a negative value switches weighting off), got {alpha}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"focal_loss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    t = targets.to(logits.dtype)
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, t, reduction="none")  # = -log p_t
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class BinaryFocalLoss(nn.Module):
    """:func:`focal_loss` as a module, for ``loss_fn(logits, targets)`` in a training loop.

    Args:
        alpha: Weight of the positives (negative: no weighting).
        gamma: Focusing parameter ``>= 0``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shapes:
        logits and targets of the same shape; a trailing class axis of size 1 in the logits
        (``(N, 1)`` with targets ``(N,)``) is dropped.
    """

    def __init__(self, alpha: float = 0.25, gamma: float = 2.0, reduction: str = "mean") -> None:
        super().__init__()
        if gamma < 0 or alpha > 1 or reduction not in _REDUCTIONS:
            raise ValueError(
                f"BinaryFocalLoss: need gamma >= 0, alpha <= 1 and reduction in {_REDUCTIONS}, "
                f"got gamma={gamma}, alpha={alpha}, reduction={reduction!r}"
            )
        self.alpha, self.gamma, self.reduction = float(alpha), float(gamma), reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Loss of a batch."""
        if logits.ndim == targets.ndim + 1 and logits.shape[1] == 1:
            logits = logits.squeeze(1)
        return focal_loss(logits, targets, alpha=self.alpha, gamma=self.gamma, reduction=self.reduction)

    def extra_repr(self) -> str:
        """Hyper-parameters shown by ``print(module)``."""
        return f"alpha={self.alpha}, gamma={self.gamma}, reduction={self.reduction!r}"


def balanced_bce(pos_weight: float | torch.Tensor) -> nn.BCEWithLogitsLoss:
    """Binary cross-entropy whose positive samples count ``pos_weight`` times.

    With ``pos_weight = n_negative / n_positive`` (e.g. 20 at 1:20 imbalance) both classes
    weigh the same in the loss. Targets are float 0/1 of the logits' shape.

    Args:
        pos_weight: A positive number, or a ``(K,)`` tensor for ``K`` independent outputs.

    Returns:
        ``nn.BCEWithLogitsLoss(pos_weight=...)``.
    """
    w = torch.as_tensor(pos_weight, dtype=torch.float32)
    if w.ndim == 0:
        w = w.reshape(1)
    if not bool(torch.isfinite(w).all()) or bool((w <= 0).any()):
        raise ValueError(f"balanced_bce: pos_weight must be finite and > 0, got {w.tolist()}")
    return nn.BCEWithLogitsLoss(pos_weight=w)
