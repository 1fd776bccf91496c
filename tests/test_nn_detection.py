"""geolab.nn.detection against torchvision.ops and hand-computed values; geolab.synth.ships."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision
from torchvision.models.detection._utils import BoxCoder

from geolab.nn.detection import (
    TinySSD,
    average_precision,
    box_iou,
    decode_boxes,
    detection_loss,
    encode_boxes,
    make_anchors,
    match_anchors,
    mean_average_precision,
    nms,
    postprocess,
)
from geolab.synth.ships import CLASSES, render_sea_scene


def _random_boxes(n, seed):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 40
    wh = torch.rand(n, 2, generator=g) * 15 + 1
    return torch.cat([xy, xy + wh], 1), torch.rand(n, generator=g)


def test_box_iou_matches_torchvision():
    a, _ = _random_boxes(50, 0)
    b, _ = _random_boxes(30, 1)
    torch.testing.assert_close(box_iou(a, b), torchvision.ops.box_iou(a, b))
    assert box_iou(torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 1, 3, 3]])).item() == pytest.approx(1 / 7)
    assert box_iou(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([[2.0, 2, 3, 3]])).item() == 0.0


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.8])
def test_nms_matches_torchvision(threshold):
    boxes, scores = _random_boxes(300, 2)
    assert torch.equal(nms(boxes, scores, threshold), torchvision.ops.nms(boxes, scores, threshold))


def test_anchors_layout():
    anchors = make_anchors((2, 3), 4, sizes=(4.0,), ratios=(1.0, 4.0))
    assert anchors.shape == (2 * 3 * 2, 4)
    torch.testing.assert_close(anchors[0], torch.tensor([0.0, 0.0, 4.0, 4.0]))  # cell (0, 0), square
    torch.testing.assert_close(anchors[1], torch.tensor([-2.0, 1.0, 6.0, 3.0]))  # 8 x 2
    centres = (anchors[:, :2] + anchors[:, 2:]) / 2
    torch.testing.assert_close(centres[2], torch.tensor([6.0, 2.0]))  # next cell to the right


def test_encoding_matches_torchvision_boxcoder():
    anchors, _ = _random_boxes(40, 3)
    boxes, _ = _random_boxes(40, 4)
    coder = BoxCoder(weights=(10.0, 10.0, 5.0, 5.0))
    ours = encode_boxes(boxes, anchors)
    torch.testing.assert_close(ours, coder.encode_single(boxes, anchors), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(decode_boxes(ours, anchors), boxes, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(decode_boxes(ours, anchors), coder.decode_single(ours, anchors), rtol=1e-4, atol=1e-4)


def test_match_anchors():
    anchors = torch.tensor([[0.0, 0, 10, 10], [0, 0, 9, 10], [20, 20, 30, 30], [50, 50, 60, 60]])
    boxes = torch.tensor([[0.0, 0, 10, 10], [40, 40, 44, 44]])
    labels, matched = match_anchors(anchors, boxes, torch.tensor([1, 0]), iou_threshold=0.5)
    # anchors 0 and 1 overlap object 0 (IoU 1 and 0.9); object 1 touches no anchor and takes none
    assert labels.tolist() == [2, 2, 0, 0]
    # an object below the threshold still gets its best anchor
    small = torch.tensor([[52.0, 52, 56, 56]])
    labels_small, matched_small = match_anchors(anchors, small, torch.tensor([0]))
    assert labels_small.tolist() == [0, 0, 0, 1]
    torch.testing.assert_close(matched_small[3], small[0])
    empty_labels, empty_matched = match_anchors(anchors, torch.zeros(0, 4), torch.zeros(0, dtype=torch.int64))
    assert empty_labels.sum() == 0 and torch.equal(empty_matched, anchors)
    torch.testing.assert_close(matched[0], boxes[0])


def test_average_precision_hand_example():
    # one image, two true ships; three detections: TP (0.9), FP (0.8), TP (0.7)
    targets = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 30, 30]]), "labels": torch.tensor([0, 0])}]
    dets = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60], [21, 21, 30, 30]]),
             "scores": torch.tensor([0.9, 0.8, 0.7]), "labels": torch.tensor([0, 0, 0])}]
    # precision/recall: (1, .5), (.5, .5), (2/3, 1) -> interpolated AP = .5 * 1 + .5 * 2/3
    assert average_precision(dets, targets, 0) == pytest.approx(0.5 + 0.5 * 2 / 3)
    # a duplicate of a found object is a false positive
    dup = [{"boxes": torch.tensor([[0.0, 0, 10, 10], [0.0, 0, 10, 10]]), "scores": torch.tensor([0.9, 0.8]),
            "labels": torch.tensor([0, 0])}]
    assert average_precision(dup, targets, 0) == pytest.approx(0.5)
    assert math.isnan(average_precision(dets, targets, 1))
    m, aps = mean_average_precision(dets, targets, 2)
    assert m == pytest.approx(aps[0]) and math.isnan(aps[1])


def test_tinyssd_shapes_loss_and_postprocess():
    torch.manual_seed(0)
    model = TinySSD(num_classes=2, width=8, stride=4, sizes=(6.0,), ratios=(1.0, 3.0))
    anchors = model.anchors((32, 32))
    assert anchors.shape == (8 * 8 * 2, 4)
    cls, box = model(torch.rand(3, 3, 32, 32))
    assert cls.shape == (3, 128, 3) and box.shape == (3, 128, 4)
    gt = torch.tensor([[4.0, 4.0, 14.0, 8.0]])
    labels, matched = match_anchors(anchors, gt, torch.tensor([0]))
    targets = encode_boxes(matched, anchors)
    loss = detection_loss((cls, box), labels[None].repeat(3, 1), targets[None].repeat(3, 1, 1))
    assert loss.ndim == 0 and loss.item() > 0
    loss.backward()
    # a perfect prediction: post-processing returns exactly the true box
    logits = torch.full((1, 128, 3), -10.0)
    logits[0, :, 0] = 10.0
    logits[0, labels > 0, 1] = 20.0
    dets = postprocess((logits, targets[None]), anchors, score_threshold=0.5)
    assert len(dets[0]["boxes"]) == 1 and dets[0]["labels"].tolist() == [0]
    torch.testing.assert_close(dets[0]["boxes"][0], gt[0], atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="multiple of the stride"):
        model.anchors((30, 32))


def test_sea_scenes():
    a, b = render_sea_scene((64, 64), seed=1), render_sea_scene((64, 64), seed=1)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.image.shape == (3, 64, 64) and 0 <= a.image.min() and a.image.max() <= 1
    for seed in range(20):
        s = render_sea_scene((64, 64), seed=seed)
        assert 1 <= len(s.boxes) <= 4 and set(s.labels.tolist()) <= set(range(len(CLASSES)))
        assert (s.boxes[:, 2] > s.boxes[:, 0]).all() and (s.boxes[:, 3] <= 64).all()
        iou = box_iou(torch.from_numpy(s.boxes), torch.from_numpy(s.boxes)) - torch.eye(len(s.boxes))
        assert iou.max() == 0  # objects never overlap
        for (x1, y1, x2, y2), lab in zip(s.boxes.astype(int), s.labels):
            inside = s.image[:, y1:y2, x1:x2].mean()
            assert inside > s.image.mean()  # objects are brighter than the sea
            if lab == 0:
                assert max(x2 - x1, y2 - y1) >= 2 * min(x2 - x1, y2 - y1)  # ships are long
