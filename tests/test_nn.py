"""Tests for geolab.nn: shapes, parameter counts against closed formulas, seeds, gradients."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from geolab.nn import (
    ACTIVATIONS,
    MLP,
    SmallCNN,
    conv_output_size,
    count_parameters,
    pretrained_backbone,
    set_requires_grad,
    weights_cache_path,
)

# ----------------------------------------------------------------------------------------- MLP


def mlp_parameters(widths: list[int]) -> int:
    """Weights plus biases of a chain of linear layers: sum (a + 1) * b."""
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


@pytest.mark.parametrize("hidden", [(), (7,), (32, 16), (5, 5, 5)])
def test_mlp_shapes_and_parameter_count(hidden):
    model = MLP(12, hidden, 3, dropout=0.2)
    out = model(torch.randn(4, 12))
    assert out.shape == (4, 3)
    assert count_parameters(model) == mlp_parameters([12, *hidden, 3])


def test_mlp_flattens_images():
    model = MLP(64, [16], 10)
    assert model(torch.randn(5, 1, 8, 8)).shape == (5, 10)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "gelu", "leaky_relu", "elu", "identity"])
def test_mlp_activations(activation):
    model = MLP(2, [3], 1, activation=activation)
    assert model(torch.zeros(1, 2)).shape == (1, 1)
    assert isinstance(model.layers[1], ACTIVATIONS[activation])


def test_mlp_identity_activation_is_a_linear_map():
    torch.manual_seed(0)
    model = MLP(3, [4], 2, activation="identity")
    x, y = torch.randn(6, 3), torch.randn(6, 3)
    # linear + bias: f(x) + f(y) - f(0) == f(x + y)
    lhs = model(x) + model(y) - model(torch.zeros(6, 3))
    torch.testing.assert_close(lhs, model(x + y))


def test_mlp_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        MLP(2, [3], 1, activation="swishy")
    with pytest.raises(ValueError, match="dropout"):
        MLP(2, [3], 1, dropout=1.0)
    with pytest.raises(ValueError, match="hidden width"):
        MLP(2, [0], 1)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        MLP(2, [3], 1)(torch.zeros(4, 3))


def test_mlp_dropout_only_in_training():
    torch.manual_seed(0)
    model = MLP(10, [200], 1, dropout=0.5)
    x = torch.randn(8, 10)
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


# ------------------------------------------------------------------------------------ SmallCNN


def cnn_parameters(c_in: int, widths: list[int], side: int, embed: int | None, classes: int, bn: bool) -> int:
    """Closed-form parameter count of SmallCNN (3 x 3 kernels)."""
    total, c = 0, c_in
    for w in widths:
        total += 9 * c * w + (2 * w if bn else w)  # kernel + (BN scale and shift | conv bias)
        c = w
    flat = c * (side // 2 ** len(widths)) ** 2
    if embed is None:
        return total + (flat + 1) * classes
    return total + (flat + 1) * embed + (embed + 1) * classes


@pytest.mark.parametrize(
    ("c_in", "widths", "side", "embed", "classes", "bn"),
    [
        (1, (16, 32), 8, 64, 10, True),
        (3, (8,), 16, None, 4, False),
        (3, (8, 16, 32), 32, 32, 5, True),
    ],
)
def test_smallcnn_shapes_and_parameter_count(c_in, widths, side, embed, classes, bn):
    model = SmallCNN(c_in, classes, widths, image_size=side, embedding_dim=embed, batch_norm=bn)
    x = torch.randn(3, c_in, side, side)
    assert model(x).shape == (3, classes)
    emb = model.features(x)
    assert emb.shape == (3, model.embedding_dim)
    assert model.embedding_dim == (embed if embed is not None else widths[-1] * (side // 2 ** len(widths)) ** 2)
    maps = model.feature_maps(x)
    assert [tuple(m.shape) for m in maps] == [(3, w, side // 2**i, side // 2**i) for i, w in enumerate(widths)]
    assert all((m >= 0).all() for m in maps), "feature maps are taken after the ReLU"
    assert count_parameters(model) == cnn_parameters(c_in, list(widths), side, embed, classes, bn)


def test_smallcnn_forward_is_classifier_of_features():
    torch.manual_seed(1)
    model = SmallCNN(dropout=0.3).eval()
    x = torch.randn(4, 1, 8, 8)
    torch.testing.assert_close(model(x), model.classifier(model.features(x)))


def test_smallcnn_same_seed_same_model_and_outputs():
    x = torch.randn(6, 1, 8, 8)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = SmallCNN(dropout=0.2)
        torch.manual_seed(7)
        outs.append(model.train()(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    torch.manual_seed(124)
    assert not torch.equal(SmallCNN().classifier.weight, model.classifier.weight)


def test_smallcnn_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = SmallCNN(widths=(4, 8), embedding_dim=16)
    x = torch.randn(16, 1, 8, 8)
    y = torch.randint(0, 10, (16,))
    nn.functional.cross_entropy(model(x), y).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_smallcnn_learns_a_tiny_problem():
    """Bright-left versus bright-right images are separated after a few steps."""
    torch.manual_seed(0)
    x = torch.rand(64, 1, 8, 8) * 0.2
    y = torch.arange(64) % 2
    x[y == 0, :, :, :4] += 0.8
    x[y == 1, :, :, 4:] += 0.8
    model = SmallCNN(num_classes=2, widths=(4, 8), embedding_dim=8)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    assert (model.eval()(x).argmax(1) == y).float().mean() == 1.0


def test_smallcnn_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="divisible"):
        SmallCNN(image_size=10, widths=(8, 8))
    with pytest.raises(ValueError, match="at least one"):
        SmallCNN(widths=())
    with pytest.raises(ValueError, match="dropout"):
        SmallCNN(dropout=-0.1)
    model = SmallCNN()
    with pytest.raises(ValueError, match=r"unsqueeze\(1\)"):
        model(torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        model.features(torch.zeros(2, 3, 8, 8))


def test_reset_classifier_and_freezing():
    torch.manual_seed(0)
    model = SmallCNN(num_classes=5)
    old = model.classifier
    new = model.reset_classifier(3)
    assert model.classifier is new and new is not old and new.out_features == 3
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    set_requires_grad(model.blocks, False)
    frozen = sum(p.numel() for p in model.blocks.parameters())
    assert count_parameters(model, trainable_only=True) == count_parameters(model) - frozen
    set_requires_grad(model, True)
    assert count_parameters(model, trainable_only=True) == count_parameters(model)


def test_frozen_batch_norm_keeps_its_statistics():
    torch.manual_seed(0)
    model = SmallCNN()
    bn = model.blocks[0][1]
    assert isinstance(bn, nn.BatchNorm2d)
    model.train()
    model(torch.randn(8, 1, 8, 8) * 3 + 2)  # updates running stats of the unfrozen net
    set_requires_grad(model.blocks, False)
    model.train()
    assert not bn.training and model.training and model.classifier.training
    before = bn.running_mean.clone()
    model(torch.randn(8, 1, 8, 8) * 5 - 4)
    torch.testing.assert_close(bn.running_mean, before)
    set_requires_grad(model.blocks, True)
    model.train()
    assert bn.training


# ---------------------------------------------------------------------------- size arithmetic


@pytest.mark.parametrize("size", [5, 8, 13, 28])
@pytest.mark.parametrize(("k", "s", "p", "d"), [(1, 1, 0, 1), (3, 1, 1, 1), (3, 2, 0, 1), (5, 2, 2, 1), (3, 3, 1, 2), (2, 2, 0, 1)])
def test_conv_output_size_matches_torch(size, k, s, p, d):
    x = torch.zeros(1, 1, size, size)
    if d * (k - 1) + 1 > size + 2 * p:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv_output_size(size, k, s, p, d)
        return
    expected = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)(x).shape[-1]
    assert conv_output_size(size, k, s, p, d) == expected
    if 2 * p <= k:  # torch's pooling constraint
        assert conv_output_size(size, k, s, p, d) == nn.MaxPool2d(k, s, p, d)(x).shape[-1]


def test_conv_output_size_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        conv_output_size(8, 3, stride=0)
    with pytest.raises(ValueError, match="padding"):
        conv_output_size(8, 3, padding=-1)
    with pytest.raises(ValueError, match="larger"):
        conv_output_size(2, 5)


# ---------------------------------------------------------------------------- pretrained models


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point torch's hub cache at an empty folder."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("name", "head", "in_features"),
    [("resnet18", "fc", 512), ("resnet50", "fc", 2048), ("vgg16", "classifier", 4096)],
)
def test_backbone_architecture_without_weights(name, head, in_features):
    model = pretrained_backbone(name, pretrained=False)
    assert isinstance(model, nn.Module) and not model.training
    last = getattr(model, head)
    last = last[-1] if isinstance(last, nn.Sequential) else last
    assert (last.in_features, last.out_features) == (in_features, 1000)
    reference = torchvision.models.get_model(name, weights=None)
    assert count_parameters(model) == count_parameters(reference)


def test_backbone_output_shape():
    model = pretrained_backbone("resnet18", pretrained=False)
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


def test_backbone_not_cached_and_no_download_returns_none(empty_hub, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("must not download when download=False")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", forbidden)
    with pytest.warns(UserWarning, match="download=True"):
        assert pretrained_backbone("resnet18") is None


def test_backbone_offline_download_returns_none(empty_hub, monkeypatch):
    calls = []

    def offline(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.warns(UserWarning, match="offline"):
        assert pretrained_backbone("resnet18", download=True) is None
    assert calls and calls[0].endswith("resnet18-f37072fd.pth")


def test_backbone_loads_from_cache(empty_hub):
    torch.manual_seed(3)
    source = torchvision.models.get_model("resnet18", weights=None)
    path = weights_cache_path("resnet18")
    assert path.parent == empty_hub / "checkpoints"
    path.parent.mkdir(parents=True)
    torch.save(source.state_dict(), path)
    model = pretrained_backbone("resnet18")
    assert model is not None and not model.training
    torch.testing.assert_close(model.fc.weight, source.fc.weight)


def test_backbone_broken_cache_file(empty_hub):
    path = weights_cache_path("resnet18")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="Delete the file"):
        assert pretrained_backbone("resnet18") is None


def test_backbone_unknown_name():
    with pytest.raises(ValueError, match="resnet18"):
        pretrained_backbone("alexnet9000")
