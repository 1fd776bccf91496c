"""The ``full`` configuration of lessons 10-12 on the CPU: one training step, one eval batch.

Companion of ``test_full_profile.py`` (lessons 08-09) for the chapters whose models are not
segmentation networks. Sizes are read from the notebooks (``notebook_parameters``); each test
reports parameters and an estimate of one training step's peak memory.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from geolab.losses import focal_loss
from geolab.nn import CYCLONE_MODELS, build_cyclone_model
from geolab.synth.clouds import make_dataset
from geolab.unsupervised import DFCNet
from tests.conftest import FULL_PROFILE_REPORT, ROOT
from tests.test_full_profile import ActivationMeter, notebook_parameters

#: Notebooks whose full sizes need a GPU and are checked here (test_full_profile checks 08-09).
CHAPTER_GPU_LESSONS = ("10_cyclone_imbalance.ipynb", "11_cyclone_ensemble_tta.ipynb",
                       "12_differentiable_clustering.ipynb")


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
