"""A tiny single-shot object detector and the pieces every detector is made of.

Boxes are ``(x1, y1, x2, y2)`` in pixels (x to the right, y down), as in torchvision.

* Geometry written out for the lesson: :func:`box_iou`, :func:`nms` (greedy non-maximum
  suppression; equal to ``torchvision.ops.box_iou`` / ``nms``), :func:`make_anchors`,
  :func:`encode_boxes` / :func:`decode_boxes` (the SSD / Faster R-CNN offsets), and
  :func:`match_anchors` (which anchor learns which object).
* The model: :class:`TinySSD`, one feature map with ``len(sizes) * len(ratios)`` anchors per
  cell, a class head and a box head; :func:`detection_loss` (cross-entropy with 3:1 hard
  negative mining plus smooth-L1 offsets) and :func:`postprocess` (score threshold and
  per-class NMS).
* Evaluation: :func:`average_precision` per class and :func:`mean_average_precision` at an IoU
  threshold (PASCAL VOC all-point interpolation).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "TinySSD",
    "average_precision",
    "box_iou",
    "decode_boxes",
    "detection_loss",
    "encode_boxes",
    "make_anchors",
    "match_anchors",
    "mean_average_precision",
    "nms",
    "postprocess",
]

BOX_WEIGHTS: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)
"""Scale of the (x, y, w, h) offsets (those of torchvision's Faster R-CNN)."""


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every box in ``a`` (N, 4) with every box in ``b`` (M, 4) -> (N, M)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression.

    Repeatedly keep the highest-scoring box left and drop every remaining box whose IoU with it
    exceeds ``iou_threshold``.

    Args:
        boxes: ``(N, 4)`` boxes.
        scores: ``(N,)`` scores.
        iou_threshold: Boxes overlapping a kept box by more than this are removed.

    Returns:
        int64 indices of the kept boxes, by decreasing score (as ``torchvision.ops.nms``).
    """
    order = torch.argsort(scores, descending=True, stable=True)
    iou = box_iou(boxes, boxes)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep: list[int] = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > iou_threshold
    return torch.tensor(keep, dtype=torch.int64)


def make_anchors(
    feature_size: tuple[int, int],
    stride: int,
    sizes: Sequence[float],
    ratios: Sequence[float],
) -> torch.Tensor:
    """Anchor boxes centred on every cell of a feature map.

    Args:
        feature_size: ``(height, width)`` of the feature map in cells.
        stride: Pixels per cell.
        sizes: Anchor sizes in pixels (square root of the area).
        ratios: Width / height ratios.

    Returns:
        ``(height * width * len(sizes) * len(ratios), 4)`` boxes, cell by cell (row-major), and
        within a cell size-major then ratio.
    """
    height, width = feature_size
    shapes = torch.tensor(
        [[s * math.sqrt(r), s / math.sqrt(r)] for s in sizes for r in ratios], dtype=torch.float32
    )  # (A, 2) widths, heights
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) * stride
    cy, cx = torch.meshgrid(ys, xs, indexing="ij")
    centres = torch.stack([cx, cy], dim=-1).reshape(-1, 1, 2)  # (H*W, 1, 2)
    half = shapes[None] / 2
    return torch.cat([centres - half, centres + half], dim=-1).reshape(-1, 4)


def _centre_form(boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h


def encode_boxes(
    boxes: torch.Tensor, anchors: torch.Tensor, weights: Sequence[float] = BOX_WEIGHTS
) -> torch.Tensor:
    """Offsets ``(dx, dy, dw, dh)`` that move each anchor onto its box (both ``(N, 4)``) -> ``(N, 4)``.

    ``dx = wx (x - xa) / wa``, ``dy = wy (y - ya) / ha``, ``dw = ww log(w / wa)``,
    ``dh = wh log(h / ha)`` with centres ``x, y`` and sizes ``w, h``.
    """
    ax, ay, aw, ah = _centre_form(anchors)
    bx, by, bw, bh = _centre_form(boxes)
    wx, wy, ww, wh = weights
    return torch.stack(
        [wx * (bx - ax) / aw, wy * (by - ay) / ah, ww * torch.log(bw / aw), wh * torch.log(bh / ah)], dim=1
    )


def decode_boxes(
    deltas: torch.Tensor, anchors: torch.Tensor, weights: Sequence[float] = BOX_WEIGHTS, clamp: float = math.log(1000 / 16)
) -> torch.Tensor:
    """Inverse of :func:`encode_boxes`: offsets ``(N, 4)`` applied to anchors ``(N, 4)`` -> boxes ``(N, 4)``.

    ``clamp`` bounds the size offsets (as torchvision does) so that a wild prediction cannot
    overflow ``exp``.
    """
    ax, ay, aw, ah = _centre_form(anchors)
    wx, wy, ww, wh = weights
    dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
    dw, dh = (deltas[:, 2] / ww).clamp(max=clamp), (deltas[:, 3] / wh).clamp(max=clamp)
    x, y = ax + dx * aw, ay + dy * ah
    w, h = aw * torch.exp(dw), ah * torch.exp(dh)
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=1)


def match_anchors(
    anchors: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor, iou_threshold: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Assign objects to anchors.

    An anchor is positive for the object it overlaps most if that IoU is at least
    ``iou_threshold``; every object also gets its single best anchor (if it overlaps any), so
    that no object is left without one.

    Args:
        anchors: ``(A, 4)``.
        boxes: ``(M, 4)`` objects of one image (``M`` may be 0).
        labels: ``(M,)`` object classes ``0..C-1``.
        iou_threshold: Minimum IoU of a positive anchor.

    Returns:
        ``(anchor_labels, matched_boxes)``: int64 ``(A,)`` with 0 for background and
        ``class + 1`` for positives, and ``(A, 4)`` the box of each anchor's object (anchors
        themselves for background).
    """
    n = len(anchors)
    if len(boxes) == 0:
        return torch.zeros(n, dtype=torch.int64), anchors.clone()
    iou = box_iou(anchors, boxes)  # (A, M)
    best_iou, best_obj = iou.max(dim=1)
    best_anchor = iou.argmax(dim=0)  # (M,)
    reachable = iou.max(dim=0).values > 0  # an object no anchor touches cannot be forced onto one
    best_obj[best_anchor[reachable]] = torch.arange(len(boxes))[reachable]
    best_iou[best_anchor[reachable]] = 1.0
    anchor_labels = torch.where(best_iou >= iou_threshold, labels[best_obj].long() + 1, torch.zeros_like(best_obj))
    matched = torch.where((anchor_labels > 0)[:, None], boxes[best_obj].float(), anchors)
    return anchor_labels, matched


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinySSD(nn.Module):
    """A single-shot detector small enough to train on a CPU in minutes.

    A backbone of 3x3 convolutions reduces the image by ``stride`` (4 or 8); on that feature
    map a class head predicts ``num_classes + 1`` scores (0 = background) and a box head four
    offsets for each of the ``len(sizes) * len(ratios)`` anchors of every cell, as in SSD but at
    a single scale.

    Shapes: ``(N, in_channels, H, W)`` with ``H``, ``W`` multiples of ``stride`` ->
    ``(class_logits (N, A_total, num_classes + 1), box_deltas (N, A_total, 4))`` with
    ``A_total = (H / stride) (W / stride) len(sizes) len(ratios)``, in the order of
    :meth:`anchors`.

    Args:
        num_classes: Object classes (background excluded).
        in_channels: Image channels.
        width: Channels of the first layer (doubled at each down-sampling).
        stride: Down-sampling of the feature map, 4 or 8.
        sizes: Anchor sizes in pixels.
        ratios: Anchor width / height ratios.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        width: int = 16,
        stride: int = 4,
        sizes: Sequence[float] = (6.0, 12.0),
        ratios: Sequence[float] = (1 / 3, 1.0, 3.0),
    ) -> None:
        super().__init__()
        if stride not in (4, 8):
            raise ValueError(f"TinySSD: stride must be 4 or 8, got {stride}")
        self.num_classes, self.stride = int(num_classes), int(stride)
        self.sizes, self.ratios = tuple(float(s) for s in sizes), tuple(float(r) for r in ratios)
        self.num_anchors = len(self.sizes) * len(self.ratios)
        layers: list[nn.Module] = [_conv(in_channels, width)]
        c = width
        for _ in range(int(math.log2(stride))):
            layers += [_conv(c, 2 * c, stride=2), _conv(2 * c, 2 * c)]
            c *= 2
        self.backbone = nn.Sequential(*layers)
        self.cls_head = nn.Conv2d(c, self.num_anchors * (self.num_classes + 1), 3, padding=1)
        self.box_head = nn.Conv2d(c, self.num_anchors * 4, 3, padding=1)

    def anchors(self, image_size: tuple[int, int]) -> torch.Tensor:
        """Anchors ``(A_total, 4)`` for images of ``(height, width)`` pixels."""
        height, width = image_size
        if height % self.stride or width % self.stride:
            raise ValueError(f"TinySSD: image size {image_size} must be a multiple of the stride {self.stride}")
        return make_anchors((height // self.stride, width // self.stride), self.stride, self.sizes, self.ratios)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits ``(N, A_total, C + 1)`` and box offsets ``(N, A_total, 4)``."""
        features = self.backbone(x)
        n = x.shape[0]
        cls = self.cls_head(features).permute(0, 2, 3, 1).reshape(n, -1, self.num_classes + 1)
        box = self.box_head(features).permute(0, 2, 3, 1).reshape(n, -1, 4)
        return cls, box


def detection_loss(
    outputs: tuple[torch.Tensor, torch.Tensor],
    anchor_labels: torch.Tensor,
    box_targets: torch.Tensor,
    neg_pos_ratio: int = 3,
) -> torch.Tensor:
    """SSD's loss: classification with hard negative mining plus smooth-L1 box offsets.

    Args:
        outputs: ``(class_logits (N, A, C + 1), box_deltas (N, A, 4))`` from :class:`TinySSD`.
        anchor_labels: ``(N, A)`` from :func:`match_anchors` (0 = background).
        box_targets: ``(N, A, 4)`` encoded offsets of the matched boxes (:func:`encode_boxes`).
        neg_pos_ratio: Background anchors kept per positive: the ones with the highest loss.

    Returns:
        Scalar loss, summed over kept anchors and divided by the number of positives.
    """
    cls_logits, deltas = outputs
    ce = F.cross_entropy(cls_logits.reshape(-1, cls_logits.shape[-1]), anchor_labels.reshape(-1), reduction="none")
    ce = ce.reshape(anchor_labels.shape)
    positive = anchor_labels > 0
    n_pos = positive.sum(dim=1, keepdim=True)
    neg_loss = ce.detach().clone()
    neg_loss[positive] = -math.inf
    rank = neg_loss.argsort(dim=1, descending=True).argsort(dim=1)
    hard_negative = rank < (neg_pos_ratio * n_pos).clamp(min=neg_pos_ratio)
    cls_loss = ce[positive | hard_negative].sum()
    box_loss = F.smooth_l1_loss(deltas[positive], box_targets[positive], reduction="sum", beta=1.0)
    return (cls_loss + box_loss) / n_pos.sum().clamp(min=1)


@torch.no_grad()
def postprocess(
    outputs: tuple[torch.Tensor, torch.Tensor],
    anchors: torch.Tensor,
    *,
    score_threshold: float = 0.3,
    iou_threshold: float = 0.45,
    max_detections: int = 50,
) -> list[dict[str, torch.Tensor]]:
    """Turn raw outputs into detections per image.

    Softmax scores; for every class, anchors above ``score_threshold`` are decoded and reduced
    with ``torchvision.ops.batched_nms`` (NMS per class); the best ``max_detections`` remain.

    Returns:
        One dict per image with ``boxes`` ``(K, 4)``, ``scores`` ``(K,)`` and ``labels``
        ``(K,)`` (classes ``0..C-1``), sorted by decreasing score.
    """
    from torchvision.ops import batched_nms

    cls_logits, deltas = outputs
    probs = cls_logits.softmax(dim=-1)[..., 1:]  # drop background
    results = []
    for p, d in zip(probs, deltas):
        boxes = decode_boxes(d, anchors.to(d.device))
        anchor_idx, cls = torch.nonzero(p > score_threshold, as_tuple=True)
        scores = p[anchor_idx, cls]
        cand = boxes[anchor_idx]
        keep = batched_nms(cand, scores, cls, iou_threshold)[:max_detections]
        results.append({"boxes": cand[keep].cpu(), "scores": scores[keep].cpu(), "labels": cls[keep].cpu()})
    return results


def average_precision(
    detections: Sequence[dict[str, torch.Tensor]],
    targets: Sequence[dict[str, torch.Tensor]],
    label: int,
    iou_threshold: float = 0.5,
) -> float:
    """Average precision of one class over a data set (PASCAL VOC all-point interpolation).

    Detections of the class are sorted by score over all images; one is a true positive if it
    overlaps a not-yet-matched true box of the class by at least ``iou_threshold``, else a false
    positive. AP is the area under the precision-recall curve after making precision
    non-increasing.

    Args:
        detections: Per image, ``boxes`` / ``scores`` / ``labels`` (e.g. from :func:`postprocess`).
        targets: Per image, ``boxes`` / ``labels`` of the true objects.
        label: The class.
        iou_threshold: Minimum IoU of a match.

    Returns:
        AP in [0, 1]; ``nan`` if the class has no true objects.
    """
    if len(detections) != len(targets):
        raise ValueError(f"average_precision: {len(detections)} detection sets for {len(targets)} images")
    records: list[tuple[float, int, int]] = []  # score, image, detection index
    n_true = 0
    for i, (det, tgt) in enumerate(zip(detections, targets)):
        n_true += int((tgt["labels"] == label).sum())
        for j in torch.nonzero(det["labels"] == label).flatten().tolist():
            records.append((float(det["scores"][j]), i, j))
    if n_true == 0:
        return float("nan")
    records.sort(key=lambda r: -r[0])
    used = [torch.zeros(int((t["labels"] == label).sum()), dtype=torch.bool) for t in targets]
    tp = np.zeros(len(records))
    for k, (_, i, j) in enumerate(records):
        true_boxes = targets[i]["boxes"][targets[i]["labels"] == label]
        if len(true_boxes) == 0:
            continue
        iou = box_iou(detections[i]["boxes"][j : j + 1].float(), true_boxes.float())[0]
        best = int(iou.argmax())
        if iou[best] >= iou_threshold and not used[i][best]:
            used[i][best] = True
            tp[k] = 1
    cum_tp = np.cumsum(tp)
    recall = cum_tp / n_true
    precision = cum_tp / np.arange(1, len(records) + 1)
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


def mean_average_precision(
    detections: Sequence[dict[str, torch.Tensor]],
    targets: Sequence[dict[str, torch.Tensor]],
    num_classes: int,
    iou_threshold: float = 0.5,
) -> tuple[float, list[float]]:
    """mAP: the mean of :func:`average_precision` over the classes that occur; also the per-class APs."""
    aps = [average_precision(detections, targets, c, iou_threshold) for c in range(num_classes)]
    valid = [a for a in aps if not math.isnan(a)]
    return (float(np.mean(valid)) if valid else float("nan")), aps
