"""geolab.remote_sensing: indices on known reflectances, stretch vs scikit-image, Lee filter, GSD."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import exposure
from skimage.transform import downscale_local_mean

from geolab.remote_sensing import (
    block_mean,
    block_mode,
    composite,
    equivalent_number_of_looks,
    lee_filter,
    nbr,
    ndvi,
    ndwi,
    normalized_difference,
    percentile_stretch,
    to_db,
)


def test_indices_of_known_reflectances():
    # Typical surface reflectances (red, NIR) of dense green vegetation: NDVI = (0.5-0.05)/0.55.
    assert ndvi(np.array(0.50), np.array(0.05)) == pytest.approx(0.45 / 0.55)
    # Clear water: green 0.06, NIR 0.02 -> NDWI = 0.04 / 0.08 = 0.5.
    assert ndwi(np.array(0.06), np.array(0.02)) == pytest.approx(0.5)
    # Healthy forest NIR 0.4, SWIR2 0.1 -> NBR 0.6; burned ground NIR 0.1, SWIR2 0.25 -> -3/7.
    assert nbr(np.array(0.4), np.array(0.1)) == pytest.approx(0.6)
    assert nbr(np.array(0.1), np.array(0.25)) == pytest.approx(-0.15 / 0.35)


def test_safe_division_no_warning():
    a = np.array([0.0, 0.2, 0.0, 1.0])
    b = np.array([0.0, 0.2, 0.3, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = normalized_difference(a, b)
    np.testing.assert_allclose(out, [0.0, 0.0, -1.0, 1.0])
    rng = np.random.default_rng(0)
    x, y = rng.random((2, 10, 10))
    np.testing.assert_allclose(normalized_difference(x, y), (x - y) / (x + y))


def test_percentile_stretch_matches_skimage():
    rng = np.random.default_rng(1)
    image = rng.gamma(2.0, 0.05, size=(32, 40, 3))
    ours = percentile_stretch(image, 2, 98)
    for c in range(3):
        lo, hi = np.percentile(image[..., c], (2, 98))
        ref = exposure.rescale_intensity(image[..., c], in_range=(lo, hi), out_range=(0.0, 1.0))
        np.testing.assert_allclose(ours[..., c], ref, atol=1e-12)
    joint = percentile_stretch(image, 1, 99, per_band=False)
    lo, hi = np.percentile(image, (1, 99))
    np.testing.assert_allclose(joint, exposure.rescale_intensity(image, in_range=(lo, hi), out_range=(0.0, 1.0)))
    assert np.all(percentile_stretch(np.ones((4, 4))) == 0)
    with pytest.raises(ValueError, match="low < high"):
        percentile_stretch(image, 50, 10)


def test_composite_selects_bands():
    bands = np.stack([np.full((4, 4), v) + np.arange(16).reshape(4, 4) for v in (0.0, 10.0, 20.0)])
    names = ["a", "b", "c"]
    rgb = composite(bands, names, ("c", "a", "b"), low=0, high=100, per_band=True)
    assert rgb.shape == (4, 4, 3)
    np.testing.assert_allclose(rgb[..., 0], rgb[..., 1])
    with pytest.raises(ValueError, match="not among"):
        composite(bands, names, ("x", "a", "b"))


def _lee_loop(x: np.ndarray, size: int, looks: float) -> np.ndarray:
    """Direct per-pixel Lee filter (mirrored borders), the textbook formula."""
    r = size // 2
    padded = np.pad(x, r, mode="symmetric")
    out = np.empty_like(x)
    cu2 = 1.0 / looks
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            w = padded[i : i + size, j : j + size]
            m, v = w.mean(), w.var()
            k = 0.0 if v == 0 else np.clip((v - m * m * cu2) / (v * (1 + cu2)), 0, 1)
            out[i, j] = m + k * (x[i, j] - m)
    return out


def test_lee_filter_matches_direct_formula():
    rng = np.random.default_rng(2)
    truth = np.where(np.arange(24)[None, :] < 12, 0.05, 0.5) * np.ones((20, 1))
    noisy = truth * rng.gamma(4, 1 / 4, size=truth.shape)
    np.testing.assert_allclose(lee_filter(noisy, 5, looks=4), _lee_loop(noisy, 5, 4), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(lee_filter(np.full((9, 9), 0.3), 3), 0.3)


def test_lee_filter_reduces_speckle_and_keeps_edges():
    rng = np.random.default_rng(3)
    truth = np.where(np.arange(64)[None, :] < 32, 0.02, 0.4) * np.ones((64, 1))
    noisy = truth * rng.gamma(1, 1.0, size=truth.shape)
    lee = lee_filter(noisy, 7, looks=1)
    box = ndi.uniform_filter(noisy, 7, mode="reflect")
    flat = (slice(8, 56), slice(4, 26))
    assert equivalent_number_of_looks(noisy[flat]) == pytest.approx(1.0, rel=0.3)
    assert equivalent_number_of_looks(lee[flat]) > 3 * equivalent_number_of_looks(noisy[flat])
    edge = (slice(None), slice(30, 34))
    err = lambda est: np.mean(np.abs(to_db(est[edge]) - to_db(truth[edge])))  # noqa: E731
    assert np.mean(np.abs(to_db(lee) - to_db(truth))) < np.mean(np.abs(to_db(noisy) - to_db(truth)))
    assert err(lee) < err(box)
    with pytest.raises(ValueError, match="odd"):
        lee_filter(noisy, 4)


def test_to_db():
    np.testing.assert_allclose(to_db(np.array([1.0, 0.1, 0.01])), [0.0, -10.0, -20.0])


def test_block_mean_matches_skimage():
    rng = np.random.default_rng(4)
    image = rng.random((3, 12, 18))
    ref = downscale_local_mean(image, (1, 3, 3))
    np.testing.assert_allclose(block_mean(image, 3), ref)
    assert block_mean(rng.random((13, 13)), 4).shape == (3, 3)
    with pytest.raises(ValueError, match="smaller"):
        block_mean(image, 20)


def test_block_mode():
    labels = np.array([[0, 0, 1, 1], [0, 2, 1, 2], [2, 2, 3, 3], [2, 1, 3, 0]])
    np.testing.assert_array_equal(block_mode(labels, 2, 4), [[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="labels must lie"):
        block_mode(labels, 2, 3)
