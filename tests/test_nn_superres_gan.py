"""geolab.nn.superres (against scikit-image) and geolab.nn.gan."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data, img_as_float
from skimage.metrics import peak_signal_noise_ratio

from geolab.nn.gan import Discriminator, Generator, frechet_distance, train_gan
from geolab.nn.superres import SRCNN, degrade, psnr, random_crops


def test_psnr_matches_skimage():
    rng = np.random.default_rng(0)
    a = rng.random((20, 30))
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0))
    assert psnr(a, a) == float("inf")


def test_degrade_loses_detail_but_keeps_size():
    image = img_as_float(data.camera())
    low = degrade(image, 2)
    assert low.shape == image.shape and 0 <= low.min() and low.max() <= 1
    assert 20 < psnr(image, low) < 45
    assert psnr(image, degrade(image, 4)) < psnr(image, low)
    with pytest.raises(ValueError, match="height, width"):
        degrade(np.zeros((4, 4, 3)))


def test_random_crops():
    images = [np.arange(100.0).reshape(10, 10), np.ones((6, 8))]
    crops = random_crops(images, 50, (5, 4), seed=0)
    assert crops.shape == (50, 5, 4)
    np.testing.assert_array_equal(crops, random_crops(images, 50, (5, 4), seed=0))
    with pytest.raises(ValueError, match="smaller than the crop"):
        random_crops(images, 1, (7, 4))


def test_srcnn_starts_at_bicubic_and_learns():
    x = torch.rand(2, 1, 16, 16)
    model = SRCNN()
    torch.testing.assert_close(model(x), x)  # residual head starts at zero
    assert SRCNN(residual=False)(x).shape == x.shape
    with pytest.raises(ValueError, match="odd"):
        SRCNN(kernels=(9, 4, 5))
    # a few steps on one image reduce its error
    torch.manual_seed(0)
    image = img_as_float(data.camera())[100:164, 200:264]
    low = torch.from_numpy(degrade(image))[None, None].float()
    high = torch.from_numpy(image)[None, None].float()
    model = SRCNN(widths=(16, 8))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    before = torch.nn.functional.mse_loss(model(low), high).item()
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(low), high)
        loss.backward()
        opt.step()
    assert loss.item() < before


def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, (20000, 2))
    b = rng.normal([3, 0], 2, (20000, 2))
    # |mu|^2 = 9; tr(I + 4I - 2 * 2I) = 2 -> 11
    assert frechet_distance(a, b) == pytest.approx(11.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        frechet_distance(a, b[:, :1])


def test_gan_shapes_and_training_loop():
    g, d = Generator(latent_dim=8, width=16), Discriminator(width=8)
    z = torch.randn(5, 8)
    out = g(z)
    assert out.shape == (5, 1, 8, 8) and out.abs().max() <= 1
    assert d(out).shape == (5,)
    real = torch.rand(64, 1, 8, 8) * 2 - 1
    torch.manual_seed(0)
    h1 = train_gan(g, d, real, 2, batch_size=16, sample_epochs=(1,), n_samples=4, seed=3, progress=False)
    assert sorted(h1.samples) == [0, 1, 2] and len(h1.d_loss) == 2 and h1.samples[2].shape == (4, 1, 8, 8)
    torch.manual_seed(0)
    g, d = Generator(latent_dim=8, width=16), Discriminator(width=8)
    torch.manual_seed(0)
    g2, d2 = Generator(latent_dim=8, width=16), Discriminator(width=8)
    a = train_gan(g, d, real, 1, batch_size=16, seed=3, progress=False)
    b = train_gan(g2, d2, real, 1, batch_size=16, seed=3, progress=False)
    torch.testing.assert_close(a.samples[1], b.samples[1])  # same seed, same result
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        train_gan(g, d, real * 5, 1, progress=False)
