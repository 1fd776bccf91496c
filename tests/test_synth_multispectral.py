"""geolab.synth.multispectral and geolab.data.landcover: determinism, known signatures, splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geolab.data.landcover import SyntheticLandCover
from geolab.remote_sensing import equivalent_number_of_looks, ndvi, ndwi
from geolab.synth.multispectral import BANDS, CLASSES, SIGNATURES, band_index, render_scene


def test_bands_are_sentinel2_wavelengths():
    assert [b.centre_um for b in BANDS] == sorted(b.centre_um for b in BANDS)
    assert {b.sentinel2 for b in BANDS} == {"B2", "B3", "B4", "B8", "B11", "B12"}
    assert band_index("nir") == 3
    with pytest.raises(ValueError, match="unknown band"):
        band_index("thermal")


def test_signatures_have_known_shapes():
    red, nir, green = band_index("red"), band_index("nir"), band_index("green")
    water, veg, soil = SIGNATURES[0], SIGNATURES[1], SIGNATURES[2]
    assert veg[nir] > 5 * veg[red]  # red edge
    assert ndvi(veg[nir], veg[red]) > 0.7 and 0.0 < ndvi(soil[nir], soil[red]) < 0.3
    assert ndwi(water[green], water[nir]) > 0.3 and ndwi(veg[green], veg[nir]) < 0
    assert np.all(np.diff(soil[:4]) > 0)  # soil brightens with wavelength


def test_deterministic_and_consistent():
    a = render_scene((48, 40), seed=3, sar=True)
    b = render_scene((48, 40), seed=3, sar=True)
    c = render_scene((48, 40), seed=4)
    np.testing.assert_array_equal(a.bands, b.bands)
    np.testing.assert_array_equal(a.sar, b.sar)
    assert not np.array_equal(a.bands, c.bands)
    assert a.bands.shape == (6, 48, 40) and a.bands.dtype == np.float32
    assert a.labels.shape == (48, 40) and a.labels.max() < len(CLASSES)
    assert 0.0 <= a.bands.min() and a.bands.max() <= 1.0
    assert np.all((a.labels == a.ground) | (a.labels >= 4))
    assert np.all(a.ground[a.buildings > 0] == 3)
    np.testing.assert_allclose(a.wavelengths_um, [b.centre_um for b in BANDS])


def test_noise_free_pixels_have_the_signature():
    scene = render_scene((64, 64), seed=0, noise=0.0, texture=0.0, cloud_cover=0.0)
    for k in range(4):
        pixels = scene.bands[:, scene.labels == k]
        if pixels.size:
            np.testing.assert_allclose(pixels, np.repeat(SIGNATURES[k][:, None], pixels.shape[1], 1), atol=1e-6)


def test_clouds_and_shadows():
    scene = render_scene((96, 96), seed=1, cloud_cover=0.2, noise=0.0, texture=0.0)
    cloud, shadow = scene.labels == 4, scene.labels == 5
    assert 0.1 < cloud.mean() < 0.3 and shadow.any()
    blue = band_index("blue")
    assert scene.bands[blue][cloud].mean() > 0.3
    for k in range(4):
        under = shadow & (scene.ground == k)
        if under.any():
            assert np.all(scene.bands[:, under].sum(0) < 0.6 * SIGNATURES[k].sum())  # dimmed


def test_sar_speckle_statistics():
    scene = render_scene((128, 128), seed=2, sar=True, looks=1, texture=0.0)
    water = scene.ground == 0
    ratio = scene.sar[water] / scene.backscatter[water]
    assert ratio.mean() == pytest.approx(1.0, abs=0.1)
    assert equivalent_number_of_looks(ratio) == pytest.approx(1.0, abs=0.2)
    four = render_scene((128, 128), seed=2, sar=True, looks=4, texture=0.0)
    assert equivalent_number_of_looks(four.sar[water] / four.backscatter[water]) == pytest.approx(4.0, rel=0.2)
    assert scene.backscatter[scene.ground == 3].mean() > 10 * scene.backscatter[water].mean()


def test_dataset_splits_and_items():
    kwargs = dict(n_scenes=20, size=(32, 32), seed=5)
    splits = {s: SyntheticLandCover(s, **kwargs) for s in SyntheticLandCover.splits}
    assert [len(d) for d in splits.values()] == [14, 3, 3]
    all_idx = np.concatenate([d.indices for d in splits.values()])
    assert sorted(all_idx.tolist()) == list(range(20))
    image, mask = splits["train"][0]
    assert image.shape == (6, 32, 32) and image.dtype == torch.float32 and mask.dtype == torch.int64
    again = SyntheticLandCover("train", **kwargs)[0]
    assert torch.equal(image, again[0]) and torch.equal(mask, again[1])
    sub = SyntheticLandCover("val", bands=["nir", "red"], **kwargs)
    assert sub[0][0].shape == (2, 32, 32)
    torch.testing.assert_close(sub[0][0][0], splits["val"][0][0][3])
    assert SyntheticLandCover.classes == CLASSES and len(SyntheticLandCover.palette) == len(CLASSES)
    fig = splits["train"].plot(splits["train"][1])
    assert len(fig.axes) == 2
    images, masks = splits["test"].arrays()
    assert images.shape == (3, 6, 32, 32) and masks.shape == (3, 32, 32)
    with pytest.raises(ValueError, match="split"):
        SyntheticLandCover("validation", **kwargs)
