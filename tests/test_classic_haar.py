"""geolab.classic.haar against scikit-image and direct sums."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from skimage.feature import haar_like_feature, haar_like_feature_coord
from skimage.transform import integral_image as sk_integral_image

from geolab.classic import haar
from geolab.classic.haar import (
    FEATURE_TYPES,
    draw_haar_feature,
    haar_feature_coords,
    haar_feature_params,
    haar_like_features,
    integral_image,
    integral_image_padded,
    n_haar_features,
    rect_sum,
)

SIZES = [(4, 4), (5, 7), (9, 6), (11, 11)]
TYPES = [None, *FEATURE_TYPES, ["type-4", "type-2-x"], ["type-3-y", "type-3-x", "type-2-y"]]


def _sk_features(images: np.ndarray, feature_type) -> np.ndarray:
    h, w = images.shape[1:]
    return np.stack([haar_like_feature(sk_integral_image(im), 0, 0, w, h, feature_type=feature_type) for im in images])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8, np.int16, bool])
def test_integral_image_equals_skimage(dtype):
    rng = np.random.default_rng(0)
    img = (rng.random((7, 9)) * 200).astype(dtype)
    ours = integral_image(img)
    ref = sk_integral_image(img)
    assert ours.dtype.kind == ref.dtype.kind
    np.testing.assert_array_equal(ours, ref)


def test_integral_image_stack_and_padding():
    rng = np.random.default_rng(1)
    imgs = rng.random((3, 5, 6))
    ii = integral_image(imgs)
    for n in range(3):
        np.testing.assert_array_equal(ii[n], sk_integral_image(imgs[n]))
    pad = integral_image_padded(imgs)
    assert pad.shape == (3, 6, 7)
    assert np.all(pad[:, 0, :] == 0) and np.all(pad[:, :, 0] == 0)
    np.testing.assert_array_equal(pad[:, 1:, 1:], ii)


def test_integral_image_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        integral_image(np.zeros(5))
    with pytest.raises(TypeError, match="dtype"):
        integral_image(np.zeros((3, 3), dtype=complex))


def test_rect_sum_matches_direct_sums():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 255, size=(13, 17)).astype(np.uint8)
    ii = integral_image(img)
    r = rng.integers(0, 13, 200)
    c = rng.integers(0, 17, 200)
    h = 1 + (rng.random(200) * (13 - r)).astype(int)
    w = 1 + (rng.random(200) * (17 - c)).astype(int)
    got = rect_sum(ii, r, c, h, w)
    want = np.array([img[a : a + b, d : d + e].sum() for a, d, b, e in zip(r, c, h, w)])
    np.testing.assert_array_equal(got, want)
    # one rectangle, the whole image, and the corner pixel
    assert rect_sum(ii, 0, 0, 13, 17) == img.sum()
    assert rect_sum(ii, 12, 16, 1, 1) == img[12, 16]
    # a stack of integral images gives one row per image
    imgs = rng.random((4, 6, 6))
    got = rect_sum(integral_image(imgs), [0, 2], [1, 3], [3, 4], [2, 3])
    assert got.shape == (4, 2)
    np.testing.assert_allclose(got[:, 1], imgs[:, 2:6, 3:6].sum(axis=(1, 2)))


def test_rect_sum_rejects_bad_rectangles():
    ii = integral_image(np.ones((5, 5)))
    with pytest.raises(ValueError, match="outside"):
        rect_sum(ii, 3, 3, 3, 1)
    with pytest.raises(ValueError, match="empty"):
        rect_sum(ii, 0, 0, 0, 2)
    with pytest.raises(TypeError, match="integers"):
        rect_sum(ii, 0.5, 0, 1, 1)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        rect_sum(np.ones(4), 0, 0, 1, 1)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("feature_type", TYPES, ids=str)
def test_features_equal_skimage_exactly(size, feature_type):
    rng = np.random.default_rng(hash(size) % 2**32)
    images = rng.normal(size=(3, *size))
    ours = haar_like_features(images, feature_type)
    ref = _sk_features(images, feature_type)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)
    assert ours.shape[1] == n_haar_features(*size, feature_type)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, bool])
def test_features_equal_skimage_for_other_dtypes(dtype):
    rng = np.random.default_rng(3)
    images = (rng.random((2, 6, 8)) * 255).astype(dtype)
    ours = haar_like_features(images)
    ref = _sk_features(images, None)
    assert ours.dtype == ref.dtype
    np.testing.assert_array_equal(ours, ref)


def test_coords_equal_skimage():
    for feature_type in [None, "type-4", ["type-3-x", "type-2-y"]]:
        ours, types = haar_feature_coords(6, 5, feature_type)
        ref, ref_types = haar_like_feature_coord(5, 6, feature_type)
        assert len(ours) == len(ref)
        assert list(types) == list(ref_types)
        for a, b in zip(ours, ref):
            assert [[tuple(p) for p in rect] for rect in a] == [[tuple(p) for p in rect] for rect in b]
    sub, _ = haar_feature_coords(6, 5, None, index=[3, 0])
    full, _ = haar_feature_coords(6, 5)
    assert sub[0] == full[3] and sub[1] == full[0]
    with pytest.raises(IndexError):
        haar_feature_coords(6, 5, index=[10**6])


def test_feature_params_and_counts():
    params, types = haar_feature_params(25, 25)
    assert params.shape == (190736, 4)
    assert n_haar_features(25, 25) == 190736
    counts = {t: int((types == t).sum()) for t in FEATURE_TYPES}
    assert counts == {"type-2-x": 50700, "type-2-y": 50700, "type-3-x": 32500, "type-3-y": 32500, "type-4": 24336}


def test_chunking_gives_identical_results():
    rng = np.random.default_rng(4)
    images = rng.random((5, 9, 8))
    ref = haar_like_features(images)
    for chunk in (16, 100, 5000, 10**7):
        np.testing.assert_array_equal(haar_like_features(images, chunk_size=chunk), ref)
    small = images[:2, :4, :4]
    np.testing.assert_array_equal(haar_like_features(small, chunk_size=1), haar_like_features(small))
    as32 = haar_like_features(images, dtype=np.float32, chunk_size=50)
    assert as32.dtype == np.float32
    np.testing.assert_array_equal(as32, ref.astype(np.float32))


def test_tiny_windows_and_empty_stacks():
    assert haar_like_features(np.ones((2, 1, 1))).shape == (2, 0)
    assert haar_like_features(np.ones((2, 1, 3)), "type-2-x").shape == (2, 2)
    assert haar_like_features(np.ones((0, 4, 4))).shape == (0, n_haar_features(4, 4))


def test_features_reject_bad_input():
    with pytest.raises(ValueError, match=r"image\[None\]"):
        haar_like_features(np.ones((5, 5)))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        haar_like_features(np.ones((1, 5, 5, 3)))
    with pytest.raises(ValueError, match="unknown feature type"):
        haar_like_features(np.ones((1, 5, 5)), "type-5")
    with pytest.raises(ValueError, match="empty list"):
        haar_like_features(np.ones((1, 5, 5)), [])
    with pytest.raises(ValueError, match="chunk_size"):
        haar_like_features(np.ones((1, 5, 5)), chunk_size=0)
    with pytest.raises(TypeError, match="dtype"):
        haar_like_features(np.ones((1, 5, 5), dtype=complex))
    with pytest.raises(ValueError, match="positive integer"):
        haar_feature_params(0, 5)


def test_draw_haar_feature():
    import matplotlib.pyplot as plt

    img = np.random.default_rng(5).random((8, 8))
    ax = draw_haar_feature(img, 10, "type-4")
    assert len(ax.patches) == 4
    assert "type-4" in ax.get_title()
    plt.close("all")
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        draw_haar_feature(np.ones((2, 8, 8)), 0)


def test_module_exports():
    for name in haar.__all__:
        assert hasattr(haar, name)
