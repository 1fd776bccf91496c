"""Tests for geolab.classic.detect: box geometry, grouping, NMS, pyramid and the face detectors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from geolab.classic.detect import (
    detect_faces,
    group_rectangles,
    image_pyramid,
    iou,
    load_opencv_cascade,
    non_max_suppression,
    opencv_cascade_path,
    opencv_window_scores,
    to_gray_uint8,
)


def _random_boxes(rng: np.random.Generator, n: int, clusters: int = 4) -> np.ndarray:
    centres = rng.integers(20, 200, size=(clusters, 2))
    sizes = rng.integers(20, 60, size=clusters)
    pick = rng.integers(0, clusters, size=n)
    jitter = rng.integers(-4, 5, size=(n, 3))
    x = centres[pick, 0] + jitter[:, 0]
    y = centres[pick, 1] + jitter[:, 1]
    s = np.maximum(sizes[pick] + jitter[:, 2], 2)
    return np.stack([x, y, s, s], axis=1)


def _pixel_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two integer (x, y, w, h) boxes by painting them on a pixel grid (independent oracle)."""
    grid_a = np.zeros((400, 400), bool)
    grid_b = np.zeros((400, 400), bool)
    grid_a[a[1] : a[1] + a[3], a[0] : a[0] + a[2]] = True
    grid_b[b[1] : b[1] + b[3], b[0] : b[0] + b[2]] = True
    union = (grid_a | grid_b).sum()
    return float((grid_a & grid_b).sum() / union) if union else 0.0


def test_group_rectangles_averages_clusters_and_drops_loners():
    base = np.array([[50, 60, 40, 40], [200, 30, 30, 30]])
    rng = np.random.default_rng(0)
    members = [base[0] + np.r_[rng.integers(-2, 3, 2), 0, 0] for _ in range(5)]
    members += [base[1] + np.r_[rng.integers(-1, 2, 2), 0, 0] for _ in range(3)]
    loner = np.array([[300, 300, 20, 20]])
    boxes = np.concatenate([np.array(members), loner])
    g = group_rectangles(boxes, 2)
    order = np.argsort(g.boxes[:, 0])
    assert g.counts[order].tolist() == [5, 3]  # the loner (1 member) is dropped
    expected = [np.rint(np.mean(members[:5], axis=0)), np.rint(np.mean(members[5:], axis=0))]
    np.testing.assert_array_equal(g.boxes[order], np.array(expected, dtype=np.int32))
    assert group_rectangles(boxes, 3).counts.tolist() == [5]  # "more than min_neighbors"
    assert group_rectangles(boxes, 0).boxes.shape == (9, 4)
    assert group_rectangles(np.zeros((0, 4)), 3).boxes.shape == (0, 4)
    with pytest.raises(ValueError, match="integer"):
        group_rectangles(boxes + 0.5, 1)


@pytest.mark.parametrize("seed", range(4))
def test_nms_against_greedy_pixel_oracle(seed):
    rng = np.random.default_rng(seed)
    boxes = _random_boxes(rng, 30, clusters=4)
    scores = rng.permutation(len(boxes)).astype(float)  # no ties
    for thr in (0.1, 0.3, 0.6):
        keep: list[int] = []
        for i in np.argsort(-scores):
            if all(_pixel_iou(boxes[i], boxes[k]) <= thr for k in keep):
                keep.append(int(i))
        assert non_max_suppression(boxes, scores, thr).tolist() == keep


def test_nms_empty_and_errors():
    assert non_max_suppression(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0,)
    with pytest.raises(ValueError, match="scores"):
        non_max_suppression(np.ones((3, 4)), np.ones(2))


def test_iou_against_pixel_oracle():
    rng = np.random.default_rng(0)
    a = _random_boxes(rng, 6)
    b = _random_boxes(rng, 5)
    ref = np.array([[_pixel_iou(p, q) for q in b] for p in a])
    np.testing.assert_allclose(iou(a, b), ref, atol=1e-12)
    assert iou([0, 0, 10, 10], [5, 0, 10, 10]) == pytest.approx(50 / 150)
    assert iou([0, 0, 10, 10], [20, 20, 5, 5]) == 0.0
    assert iou([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0
    with pytest.raises(ValueError, match=r"\(K, 4\)"):
        iou(np.ones((3, 3)), np.ones((2, 4)))


def test_image_pyramid_sizes():
    img = np.zeros((100, 160), np.uint8)
    levels = image_pyramid(img, 2.0, (24, 24))
    assert [lvl.shape for _, lvl in levels] == [(100, 160), (50, 80), (25, 40)]
    assert [s for s, _ in levels] == [1.0, 2.0, 4.0]
    assert len(image_pyramid(img, 1.5, (24, 24), max_levels=2)) == 2
    with pytest.raises(ValueError, match="scale_factor"):
        image_pyramid(img, 1.0)


def test_to_gray_uint8_inputs():
    rgb = data.astronaut()[:50, :60]
    ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    assert np.array_equal(to_gray_uint8(rgb), ref)
    assert np.array_equal(to_gray_uint8(ref), ref)
    assert np.array_equal(to_gray_uint8(ref / 255.0), ref)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert np.array_equal(to_gray_uint8(rgba), cv2.cvtColor(rgba, cv2.COLOR_RGBA2GRAY))
    with pytest.raises(ValueError, match="outside 0..1"):
        to_gray_uint8(ref.astype(float))
    with pytest.raises(ValueError, match="shape"):
        to_gray_uint8(np.zeros((4, 4, 5)))


def test_opencv_detector_finds_astronaut_face():
    assert opencv_cascade_path().name == "haarcascade_frontalface_default.xml"
    img = data.astronaut()
    boxes = detect_faces(img, "opencv")
    assert boxes.dtype == np.int64 and boxes.shape[1] == 4
    ref = load_opencv_cascade().detectMultiScale(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), 1.1, 3, minSize=(24, 24))
    assert np.array_equal(boxes, np.asarray(ref).reshape(-1, 4))
    # the face is around (177, 66, 95, 95)
    assert len(boxes) == 1 and iou(boxes[0], [177, 66, 95, 95]) > 0.8
    assert np.array_equal(detect_faces(img, "opencv", cascade=str(opencv_cascade_path())), boxes)
    assert detect_faces(np.zeros((80, 80), np.uint8), "opencv").shape == (0, 4)


def test_detect_faces_errors():
    img = np.zeros((40, 40), np.uint8)
    with pytest.raises(ValueError, match="method"):
        detect_faces(img, "dlib")
    with pytest.raises(ValueError, match="Cascade"):
        detect_faces(img, "geolab")
    with pytest.raises(ValueError, match="scale_factor"):
        detect_faces(img, scale_factor=1.0)
    with pytest.raises(FileNotFoundError):
        detect_faces(img, cascade="/no/such/file.xml")


def test_missing_xml_names_opencv_version(monkeypatch):
    monkeypatch.setattr(cv2.data, "haarcascades", "/nonexistent/")
    with pytest.raises(FileNotFoundError, match="< 5"):
        opencv_cascade_path()


def test_opencv_window_scores_separate_faces():
    lfw = data.lfw_subset()
    faces, others = lfw[:20], lfw[100:120]
    s_face, s_other = opencv_window_scores(faces), opencv_window_scores(others)
    assert s_face.shape == (20,) and np.all(s_face >= 0)
    assert s_face.mean() > s_other.mean()
