"""The ``full`` configuration of lessons 06 and 10-12 on the CPU: one training step, one eval batch.

Companion of ``test_full_profile.py`` (lessons 08-09) for the chapters whose models are not
segmentation networks. Sizes are read from the notebooks (``notebook_parameters``); each test
reports parameters and an estimate of one training step's peak memory.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from geolab.losses import focal_loss
from geolab.nn import CYCLONE_MODELS, build_cyclone_model
from geolab.nn.detection import TinySSD, detection_loss, encode_boxes, match_anchors, postprocess
from geolab.nn.gan import Discriminator, Generator
from geolab.nn.superres import SRCNN
from geolab.synth.clouds import make_dataset
from geolab.synth.ships import CLASSES as SEA_CLASSES
from geolab.synth.ships import render_sea_scene
from geolab.unsupervised import DFCNet
from tests.conftest import FULL_PROFILE_REPORT, ROOT
from tests.test_full_profile import ActivationMeter, notebook_parameters

#: Notebooks whose full sizes need a GPU and are checked here (test_full_profile checks 08-09).
CHAPTER_GPU_LESSONS = ("10_cyclone_imbalance.ipynb", "11_cyclone_ensemble_tta.ipynb",
                       "12_differentiable_clustering.ipynb", "06_vision_tasks_tour.ipynb")


def _report(lesson: str, name: str, shape: tuple[int, ...], n_params: int, activation_bytes: int) -> None:
    peak = 4 * n_params * 4 + activation_bytes + 4 * int(torch.tensor(shape).prod())
    FULL_PROFILE_REPORT.append(
        f"{lesson} {name:<11} input {' x '.join(map(str, shape))}: {n_params / 1e6:.2f} M parameters, "
        f"training step ~{peak / 2**30:.2f} GiB (activations {activation_bytes / 2**30:.2f} GiB)"
    )


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAPTER_GPU_LESSONS[:2], ids=lambda n: n[:2])
def test_cyclone_full_one_step_per_model(notebook: str) -> None:
    params = notebook_parameters(ROOT / "notebooks" / notebook)
    assert params["N_POS"] >= 1000 and params["EPOCHS"] >= 10, "expected GPU-sized full settings"
    batch = params["BATCH"]
    # The full data set in memory: (1 + imbalance) patches per positive, 64 x 64 float32.
    data_gib = params["N_POS"] * (1 + params.get("IMBALANCE", 20)) * 64 * 64 * 4 / 2**30
    assert data_gib < 8, f"full data set needs {data_gib:.1f} GiB of RAM (Colab has about 12)"
    data = make_dataset(max(batch // 21, 4), 20, seed=0)
    x = torch.as_tensor(data.X[:batch])
    y = torch.as_tensor(data.y[:batch], dtype=torch.float32)
    assert x.shape == (batch, 1, 64, 64) and x.dtype == torch.float32
    for name in CYCLONE_MODELS:
        torch.manual_seed(0)
        model = build_cyclone_model(name, activation="leaky_relu")
        n_params = sum(p.numel() for p in model.parameters())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        model.train()
        meter = ActivationMeter(model)
        logits = model(x).reshape(-1)
        meter.close()
        loss = focal_loss(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert logits.shape == (batch,) and torch.isfinite(loss)
        model.eval()
        with torch.no_grad():
            scores = torch.sigmoid(model(x).reshape(-1))
        assert scores.shape == (batch,) and bool(((scores >= 0) & (scores <= 1)).all())
        _report(notebook[:2], name, tuple(x.shape), n_params, meter.bytes)
    FULL_PROFILE_REPORT.append(f"{notebook[:2]} data set in memory: {data_gib:.2f} GiB")


@pytest.mark.slow
def test_dfc_full_one_iteration_at_full_size() -> None:
    params = notebook_parameters(ROOT / "notebooks" / CHAPTER_GPU_LESSONS[2])
    height, width = params["SIZE"]
    q = params["Q"]
    torch.manual_seed(0)
    image = torch.rand(1, 3, height, width)
    model = DFCNet(3, q)
    n_params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.train()
    meter = ActivationMeter(model)
    response = model(image)
    meter.close()
    assert response.shape == (1, q, height, width)
    labels = response.argmax(1)
    similarity = F.cross_entropy(response, labels)
    continuity = (response[:, :, 1:] - response[:, :, :-1]).abs().mean() + \
        (response[:, :, :, 1:] - response[:, :, :, :-1]).abs().mean()
    loss = similarity + continuity
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    model.eval()
    with torch.no_grad():
        assert model(image).argmax(1).shape == (1, height, width)
    _report("12", "dfc", tuple(image.shape), n_params, meter.bytes)


@pytest.mark.slow
def test_tour_full_one_step_per_model() -> None:
    """Lesson 06 at full size: the detector, the super-resolution CNN and the GAN, one step each."""
    params = notebook_parameters(ROOT / "notebooks" / CHAPTER_GPU_LESSONS[3])
    standard = notebook_parameters(ROOT / "notebooks" / CHAPTER_GPU_LESSONS[3], "standard")
    for key in ("DET_TRAIN", "DET_EPOCHS", "SR_CROPS", "SR_EPOCHS", "GAN_EPOCHS"):
        assert params[key] > standard[key], f"full {key} should exceed standard"
    # Detector: a batch of 16 scenes at the lesson's image size, matched to the anchors.
    size = params.get("IMAGE_SIZE", (64, 64))
    scenes = [render_sea_scene(size, seed=i) for i in range(16)]
    torch.manual_seed(0)
    detector = TinySSD(num_classes=len(SEA_CLASSES), width=16, stride=4, sizes=(6, 12), ratios=(1 / 3, 1, 3))
    anchors = detector.anchors(size)
    matched = [match_anchors(anchors, torch.from_numpy(s.boxes), torch.from_numpy(s.labels)) for s in scenes]
    labels = torch.stack([m[0] for m in matched])
    offsets = torch.stack([encode_boxes(m[1], anchors) for m in matched])
    x = torch.from_numpy(np.stack([s.image for s in scenes]))
    optimizer = torch.optim.Adam(detector.parameters(), lr=3e-3)
    meter = ActivationMeter(detector)
    outputs = detector(x)
    meter.close()
    loss = detection_loss(outputs, labels, offsets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and outputs[0].shape[:2] == (16, len(anchors))
    detector.eval()
    with torch.no_grad():
        found = postprocess(detector(x[:2]), anchors)
    assert len(found) == 2
    _report("06", "TinySSD", tuple(x.shape), sum(p.numel() for p in detector.parameters()), meter.bytes)
    # Super-resolution: 32 x 32 crops, batch 32.
    srcnn = SRCNN(channels=1, widths=(32, 16), kernels=(9, 5, 5))
    crops = torch.rand(32, 1, 32, 32)
    meter = ActivationMeter(srcnn)
    loss = F.mse_loss(srcnn(crops), crops)
    meter.close()
    loss.backward()
    assert torch.isfinite(loss)
    _report("06", "SRCNN", tuple(crops.shape), sum(p.numel() for p in srcnn.parameters()), meter.bytes)
    # GAN: one discriminator and one generator step on 8 x 8 images, batch 64.
    generator, discriminator = Generator(latent_dim=16, width=64), Discriminator(width=32)
    fake = generator(torch.randn(64, 16))
    assert fake.shape == (64, 1, 8, 8)
    real = torch.rand(64, 1, 8, 8) * 2 - 1
    d_loss = F.binary_cross_entropy_with_logits(discriminator(real).reshape(-1), torch.ones(64)) + \
        F.binary_cross_entropy_with_logits(discriminator(fake.detach()).reshape(-1), torch.zeros(64))
    d_loss.backward()
    g_loss = F.binary_cross_entropy_with_logits(discriminator(fake).reshape(-1), torch.ones(64))
    g_loss.backward()
    assert torch.isfinite(d_loss) and torch.isfinite(g_loss)
    n_gan = sum(p.numel() for m in (generator, discriminator) for p in m.parameters())
    _report("06", "GAN", (64, 1, 8, 8), n_gan, 0)
