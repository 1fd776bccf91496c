"""geolab.metrics against scikit-learn on random label maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import jaccard_score, precision_score, recall_score

from geolab import metrics as M

C = 5


def _random(seed: int = 0, shape=(4, 9, 11), ignore_share: float = 0.1):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, C, size=shape)
    pred = np.where(rng.random(shape) < 0.6, target, rng.integers(0, C, size=shape))
    target[rng.random(shape) < ignore_share] = 255
    return pred, target


def _valid(pred, target):
    keep = target != 255
    return pred[keep], target[keep]


def test_confusion_matrix_matches_sklearn():
    pred, target = _random()
    p, t = _valid(pred, target)
    expected = sk_confusion_matrix(t, p, labels=list(range(C)))
    np.testing.assert_array_equal(M.confusion_matrix(pred, target, C), expected)
    # torch tensors give the same result
    np.testing.assert_array_equal(M.confusion_matrix(torch.from_numpy(pred), torch.from_numpy(target), C), expected)


def test_logits_are_argmaxed():
    pred, target = _random(1)
    logits = torch.nn.functional.one_hot(torch.from_numpy(pred), C).permute(0, 3, 1, 2).float()
    logits = logits + 0.01 * torch.randn(logits.shape, generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(
        M.confusion_matrix(logits, torch.from_numpy(target), C), M.confusion_matrix(pred, target, C)
    )
    np.testing.assert_array_equal(M.confusion_matrix(logits.numpy(), target, C), M.confusion_matrix(pred, target, C))


def test_scores_match_sklearn():
    pred, target = _random(2)
    p, t = _valid(pred, target)
    cm = M.confusion_matrix(pred, target, C)
    labels = list(range(C))
    np.testing.assert_allclose(M.iou_per_class(cm), jaccard_score(t, p, labels=labels, average=None))
    np.testing.assert_allclose(M.precision_per_class(cm), precision_score(t, p, labels=labels, average=None))
    np.testing.assert_allclose(M.recall_per_class(cm), recall_score(t, p, labels=labels, average=None))
    assert M.mean_iou(cm) == pytest.approx(jaccard_score(t, p, labels=labels, average="macro"))
    assert M.pixel_accuracy(cm) == pytest.approx(np.mean(p == t))


def test_absent_class_is_nan_and_left_out_of_the_mean():
    target = np.array([0, 0, 1, 1, 255])
    pred = np.array([0, 1, 1, 1, 2])  # class 2 only at an ignored pixel: absent everywhere
    cm = M.confusion_matrix(pred, target, 3)
    iou = M.iou_per_class(cm)
    assert iou[0] == pytest.approx(0.5) and iou[1] == pytest.approx(2 / 3) and math.isnan(iou[2])
    assert M.mean_iou(cm) == pytest.approx((0.5 + 2 / 3) / 2)
    assert math.isnan(M.precision_per_class(cm)[2]) and math.isnan(M.recall_per_class(cm)[2])
    assert math.isnan(M.mean_iou(np.zeros((3, 3), int)))


def test_ignore_index_and_errors():
    target = np.array([[0, 255], [1, 1]])
    pred = np.array([[1, 0], [1, 0]])
    cm = M.confusion_matrix(pred, target, 2)
    assert cm.sum() == 3 and cm[0, 1] == 1 and cm[1, 1] == 1 and cm[1, 0] == 1
    with pytest.raises(ValueError, match="outside 0..1"):
        M.confusion_matrix(pred, np.array([[0, 7], [1, 1]]), 2)
    with pytest.raises(ValueError, match="predictions"):
        M.confusion_matrix(np.array([[5, 0], [1, 1]]), target, 2)
    with pytest.raises(ValueError, match="shape"):
        M.confusion_matrix(np.zeros((2, 3), int), target, 2)
    with pytest.raises(ValueError, match="outside"):
        M.confusion_matrix(pred, target, 2, ignore_index=None)


def test_accumulation_over_batches_equals_one_shot():
    pred, target = _random(3, shape=(6, 8, 8))
    acc = M.ConfusionMatrix(C)
    for i in range(0, 6, 2):
        acc.update(torch.from_numpy(pred[i : i + 2]), torch.from_numpy(target[i : i + 2]))
    np.testing.assert_array_equal(acc.matrix, M.confusion_matrix(pred, target, C))
    assert acc.compute() == pytest.approx(M.mean_iou(acc.matrix))
    acc.reset()
    assert acc.matrix.sum() == 0
    assert "ConfusionMatrix" in repr(acc)


def test_merge_classes_matches_relabelled_sklearn():
    pred, target = _random(4)
    groups = [[0, 4]]
    mapping = M.merge_mapping(C, groups)
    assert mapping.tolist() == [0, 1, 2, 3, 0]
    p, t = _valid(pred, target)
    expected = sk_confusion_matrix(mapping[t], mapping[p], labels=list(range(4)))
    merged = M.merge_classes(M.confusion_matrix(pred, target, C), groups)
    np.testing.assert_array_equal(merged, expected)
    # the merged class's scores equal group_scores on the original matrix
    s = M.group_scores(M.confusion_matrix(pred, target, C), [0, 4])
    assert s["iou"] == pytest.approx(M.iou_per_class(merged)[0])
    assert s["recall"] == pytest.approx(M.recall_per_class(merged)[0])
    assert s["precision"] == pytest.approx(M.precision_per_class(merged)[0])
    # a confusion between the merged classes becomes correct
    cm = M.confusion_matrix(np.array([4, 0]), np.array([0, 4]), C)
    assert M.group_scores(cm, [0, 4])["recall"] == 1.0
    assert M.ConfusionMatrix(C).update(np.array([4]), np.array([0])).merged(groups).matrix[0, 0] == 1


def test_merge_rejects_bad_groups():
    with pytest.raises(ValueError, match="more than one group"):
        M.merge_mapping(5, [[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="outside"):
        M.merge_mapping(5, [[0, 9]])
    with pytest.raises(ValueError, match="empty"):
        M.merge_mapping(5, [[]])


def test_metric_adapters():
    pred, target = _random(5)
    cm = M.confusion_matrix(pred, target, C)
    iou = M.ClassIoU(C, 2)
    iou.update(pred, target)
    assert iou.compute() == pytest.approx(M.iou_per_class(cm)[2])
    litter = M.ClassIoU(C, [0, 4]).update(pred, target)
    assert litter.compute() == pytest.approx(M.group_scores(cm, [0, 4])["iou"])
    rec = M.ClassRecall(C, [0, 4]).update(pred, target)
    assert rec.compute() == pytest.approx(M.group_scores(cm, [0, 4])["recall"])
    assert M.MeanIoU(C).update(pred, target).compute() == pytest.approx(M.mean_iou(cm))
    with pytest.raises(ValueError):
        M.ClassIoU(C, 7)
    norm = M.ConfusionMatrix(C).update(pred, target).normalized("true")
    np.testing.assert_allclose(np.diag(norm), M.recall_per_class(cm))


def test_per_class_table_and_format():
    pred, target = _random(6)
    cm = M.confusion_matrix(pred, target, C)
    names = [f"c{i}" for i in range(C)]
    rows = M.per_class_table(cm, names, merged={"c0+c4": [0, 4]})
    assert [r["class"] for r in rows] == names + ["c0+c4", "mean (mIoU)"]
    assert rows[3]["iou"] == pytest.approx(M.iou_per_class(cm)[3])
    assert rows[-1]["iou"] == pytest.approx(M.mean_iou(cm))
    assert sum(r["share"] for r in rows[:C]) == pytest.approx(1.0)
    text = M.format_table(rows)
    assert "c0+c4" in text and "%" in text and len(text.splitlines()) == len(rows) + 2
    with pytest.raises(ValueError, match="class names"):
        M.per_class_table(cm, names[:2])


def test_segmentation_names_are_exported_at_the_package():
    from geolab.metrics import segmentation

    for name in segmentation.__all__:
        assert getattr(M, name) is getattr(segmentation, name)
    assert set(segmentation.__all__) <= set(M.__all__)
