"""geolab.losses against PyTorch and torchvision: multi-class focal/weighted CE and binary focal/BCE."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from geolab.losses import BinaryFocalLoss, FocalLoss, balanced_bce, class_weights, focal_loss, weighted_cross_entropy


def _logits_targets(seed=0, c=5, shape=(2, 6, 7)):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape[0], c, *shape[1:], generator=g) * 3
    targets = torch.randint(0, c, shape, generator=g)
    targets[0, :2] = 255
    return logits, targets


def test_focal_with_gamma_zero_is_cross_entropy():
    logits, targets = _logits_targets()
    ce = F.cross_entropy(logits, targets, ignore_index=255)
    torch.testing.assert_close(FocalLoss(gamma=0)(logits, targets), ce)
    w = torch.tensor([1.0, 2.0, 0.5, 3.0, 1.5])
    ce_sum = F.cross_entropy(logits, targets, weight=w, ignore_index=255, reduction="sum")
    n_valid = (targets != 255).sum()
    torch.testing.assert_close(FocalLoss(gamma=0, alpha=w)(logits, targets), ce_sum / n_valid)


def test_focal_matches_torchvision_sigmoid_focal_in_the_binary_case():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(3, 5, 4, generator=g) * 2
    t = torch.randint(0, 2, (3, 5, 4), generator=g)
    logits = torch.stack([torch.zeros_like(z), z], dim=1)  # softmax over [0, z] = sigmoid(z)
    for gamma, alpha in [(2.0, -1.0), (1.0, 0.25), (3.0, 0.75)]:
        ref = sigmoid_focal_loss(z, t.float(), alpha=alpha, gamma=gamma, reduction="mean")
        a = None if alpha < 0 else [1 - alpha, alpha]
        torch.testing.assert_close(FocalLoss(gamma=gamma, alpha=a)(logits, t), ref)


def test_focal_ignores_pixels_and_downweights_easy_ones():
    logits, targets = _logits_targets(2)
    per_pixel = FocalLoss(gamma=2, reduction="none")(logits, targets)
    assert (per_pixel[targets == 255] == 0).all()
    ce = F.cross_entropy(logits, targets, ignore_index=255, reduction="none")
    assert (per_pixel <= ce + 1e-6).all()
    logits.requires_grad_(True)
    FocalLoss()(logits, targets).backward()
    assert torch.isfinite(logits.grad).all()
    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)


def test_class_weights():
    counts = np.array([10, 1000, 500, 0, 40])
    med = class_weights(counts, "median", max_weight=None)
    share = counts[[0, 1, 2, 4]] / counts.sum()
    np.testing.assert_allclose(med.numpy()[[0, 1, 2, 4]], np.median(share) / share, rtol=1e-6)
    assert med[3] == 0
    inv = class_weights(counts, "inverse_sqrt", max_weight=None)
    assert float((inv.double() * torch.as_tensor(counts / counts.sum())).sum()) == pytest.approx(1.0)
    assert inv[0] > inv[4] > inv[2] > inv[1]
    assert class_weights(counts, "inverse", max_weight=5.0).max() == 5.0
    with pytest.raises(ValueError):
        class_weights([0, 0], "median")
    with pytest.raises(ValueError, match="method"):
        class_weights([1, 2], "bogus")
    loss = weighted_cross_entropy(med, ignore_index=255)
    logits, targets = _logits_targets(3)
    torch.testing.assert_close(loss(logits, targets), F.cross_entropy(logits, targets, weight=med, ignore_index=255))



# ------------------------------------------------------------------------------- binary


def _binary(seed=0, shape=(4, 3, 5)):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=g) * 3
    targets = (torch.rand(shape, generator=g) < 0.2).float()
    return logits, targets


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("alpha,gamma", [(0.25, 2.0), (0.75, 1.0), (-1.0, 2.0), (0.5, 0.0), (-1.0, 0.0), (1.0, 3.0)])
def test_focal_loss_equals_torchvision(alpha, gamma, reduction):
    logits, targets = _binary(1)
    ours = focal_loss(logits, targets, alpha=alpha, gamma=gamma, reduction=reduction)
    ref = sigmoid_focal_loss(logits, targets, alpha=alpha, gamma=gamma, reduction=reduction)
    torch.testing.assert_close(ours, ref)
    module = BinaryFocalLoss(alpha=alpha, gamma=gamma, reduction=reduction)
    torch.testing.assert_close(module(logits, targets), ref)


def test_focal_loss_defaults_gradients_and_int_targets():
    logits, targets = _binary(2, shape=(64,))
    torch.testing.assert_close(focal_loss(logits, targets), sigmoid_focal_loss(logits, targets, reduction="mean"))
    torch.testing.assert_close(focal_loss(logits, targets.long()), focal_loss(logits, targets))
    # no weighting, no focusing: the binary cross-entropy
    torch.testing.assert_close(
        focal_loss(logits, targets, alpha=-1, gamma=0), F.binary_cross_entropy_with_logits(logits, targets)
    )
    a = logits.clone().requires_grad_(True)
    b = logits.clone().requires_grad_(True)
    focal_loss(a, targets).backward()
    sigmoid_focal_loss(b, targets, reduction="mean").backward()
    torch.testing.assert_close(a.grad, b.grad)
    # a (N, 1) model output with (N,) targets
    torch.testing.assert_close(BinaryFocalLoss()(logits[:, None], targets), focal_loss(logits, targets))
    assert "gamma=2.0" in repr(BinaryFocalLoss())


def test_focal_loss_rejects_bad_input():
    logits, targets = _binary(3)
    with pytest.raises(ValueError, match="shape"):
        focal_loss(logits, targets[0])
    with pytest.raises(ValueError, match="reduction"):
        focal_loss(logits, targets, reduction="avg")
    with pytest.raises(ValueError, match="gamma"):
        focal_loss(logits, targets, gamma=-0.5)
    with pytest.raises(ValueError, match="alpha"):
        focal_loss(logits, targets, alpha=1.5)
    with pytest.raises(ValueError, match="BinaryFocalLoss"):
        BinaryFocalLoss(reduction="avg")


def test_balanced_bce_weights_the_positives():
    logits, targets = _binary(4, shape=(200,))
    loss = balanced_bce(20.0)
    assert isinstance(loss, torch.nn.BCEWithLogitsLoss)
    # oracle: per-sample BCE with the positives' terms multiplied by 20, then the plain mean
    per = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    expected = (per * torch.where(targets > 0, 20.0, 1.0)).mean()
    torch.testing.assert_close(loss(logits, targets), expected)
    torch.testing.assert_close(balanced_bce(torch.tensor([1.0]))(logits, targets), per.mean())
    for bad in (0.0, -2.0, float("nan")):
        with pytest.raises(ValueError, match="pos_weight"):
            balanced_bce(bad)
