"""geolab.segmentation: shapes, parameter counts, losses against torch/torchvision, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geolab.nn import count_parameters
from geolab.segmentation import (
    ARCHITECTURES,
    FocalLoss,
    HRNetLite,
    TorchvisionSegmenter,
    UNet,
    build_model,
    class_weights,
    load_model,
    predict_masks,
    prior_bias,
    save_model,
    weighted_cross_entropy,
)
from geolab.segmentation.models import FusionUnit, pad_to_multiple


def _count_unet(base: int, depth: int, cin: int = 3, classes: int = 8) -> int:
    """Parameters of the U-Net computed by hand from its layer list."""

    def cbr(a: int, b: int) -> int:  # 3x3 conv without bias + batch norm (weight, bias)
        return 9 * a * b + 2 * b

    widths = [base * 2**k for k in range(depth + 1)]
    total, c = 0, cin
    for w in widths:
        total += cbr(c, w) + cbr(w, w)
        c = w
    for k in range(depth - 1, -1, -1):
        total += 4 * widths[k + 1] * widths[k] + widths[k]  # 2x2 transposed conv with bias
        total += cbr(2 * widths[k], widths[k]) + cbr(widths[k], widths[k])
    return total + widths[0] * classes + classes


@pytest.mark.parametrize("size", [(32, 32), (37, 53), (17, 64)])
def test_unet_and_hrnet_keep_odd_sizes(size):
    torch.manual_seed(0)
    x = torch.rand(2, 3, *size)
    for model in (UNet(base=4, depth=3), HRNetLite(base=4, num_branches=3, blocks=1)):
        assert model(x).shape == (2, 8, *size)


def test_parameter_counts():
    assert count_parameters(UNet(base=16, depth=4)) == _count_unet(16, 4)
    assert count_parameters(UNet(base=8, depth=2)) == _count_unet(8, 2)
    hr = HRNetLite(base=16)
    assert 0.5e6 < count_parameters(hr) < 3e6  # "small width": about the size of the U-Net baseline
    assert count_parameters(HRNetLite(base=8)) < count_parameters(hr)


def test_hrnet_branches_and_fusion_shapes():
    hr = HRNetLite(base=4, num_branches=4, blocks=1, stem_stride=4)
    assert hr.size_divisor == 32
    x = torch.rand(1, 3, 64, 96)
    xs = [hr.stem(x)]
    for transition, stage in zip(hr.transitions, hr.stages):
        xs = xs + [transition(xs[-1])]
        for module in stage:
            xs = module(xs)
    assert [tuple(t.shape) for t in xs] == [(1, 4, 16, 24), (1, 8, 8, 12), (1, 16, 4, 6), (1, 32, 2, 3)]
    fuse = FusionUnit([4, 8])
    out = fuse([torch.rand(1, 4, 9, 9), torch.rand(1, 8, 5, 5)])  # odd sizes: up-sampling to exact size
    assert [tuple(t.shape) for t in out] == [(1, 4, 9, 9), (1, 8, 5, 5)]
    with pytest.raises(ValueError, match="modules"):
        HRNetLite(num_branches=3, modules=[1])


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="batch"):
        UNet(base=4, depth=2)(torch.rand(3, 16, 16))
    with pytest.raises(TypeError, match="float"):
        HRNetLite(base=4, num_branches=2)(torch.zeros(1, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="unknown model"):
        build_model("segformer")


@pytest.mark.parametrize("name", ["lraspp", "deeplabv3_mobilenet"])
def test_torchvision_models_build_offline(name):
    model = build_model(name, num_classes=8).eval()
    assert isinstance(model, TorchvisionSegmenter)
    with torch.no_grad():
        assert model(torch.rand(1, 3, 45, 61)).shape == (1, 8, 45, 61)


def test_deeplab_resnet50_builds_offline():
    model = build_model("deeplabv3_resnet50", num_classes=3)
    assert count_parameters(model) > 30e6
    assert set(ARCHITECTURES) >= {"unet", "hrnet", "lraspp", "deeplabv3_mobilenet", "deeplabv3_resnet50"}


def test_pretrained_backbone_missing_gives_clear_message(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="downloads nothing"):
        build_model("lraspp", pretrained_backbone=True)


def test_losses_are_re_exported_from_geolab_losses():
    import geolab.losses

    assert FocalLoss is geolab.losses.FocalLoss
    assert class_weights is geolab.losses.class_weights
    assert weighted_cross_entropy is geolab.losses.weighted_cross_entropy


# ------------------------------------------------------------------------------- save, load, predict


@pytest.mark.parametrize("name,kwargs", [("unet", {"base": 4, "depth": 2}), ("hrnet", {"base": 4, "num_branches": 2, "blocks": 1})])
def test_save_load_round_trip(tmp_path, name, kwargs):
    from geolab.train import load_weights

    torch.manual_seed(0)
    model = build_model(name, num_classes=8, **kwargs).eval()
    path = save_model(tmp_path / "ckpt" / "m.pt", model, classes=[f"c{i}" for i in range(8)], image_size=64)
    loaded = load_model(path)
    assert loaded.checkpoint_info["image_size"] == 64 and loaded.checkpoint_info["arch"] == name
    x = torch.rand(2, 3, 24, 40)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    raw = torch.load(path, weights_only=True)
    assert {"arch", "kwargs", "model"} <= set(raw) and "state_dict" not in raw  # the weights are stored once
    other = build_model(name, num_classes=8, **kwargs)
    load_weights(other, path)  # the geolab.train reader understands the file too
    with torch.no_grad():
        torch.testing.assert_close(other.eval()(x), model(x))


def test_load_model_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_model(tmp_path / "missing.pt")
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pt"):
        load_model(bad)
    plain = tmp_path / "plain.pt"
    torch.save({"model": {}}, plain)
    with pytest.raises(ValueError, match="plain.pt"):
        load_model(plain)
    with pytest.raises(ValueError, match="build_model"):
        save_model(tmp_path / "x.pt", torch.nn.Conv2d(3, 8, 1))


def _numpy_reflect_pad(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Oracle for the padding: NumPy's ``reflect`` mode (edge not repeated) at bottom and right."""
    h, w = x.shape[-2:]
    width = [(0, 0)] * (x.ndim - 2) + [(0, (-h) % multiple), (0, (-w) % multiple)]
    return torch.from_numpy(np.pad(x.numpy(), width, mode="reflect"))


def test_pad_to_multiple_against_numpy():
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).reshape(2, 3, 5, 7)
    padded, h, w = pad_to_multiple(x, 4)
    assert (h, w) == (5, 7) and padded.shape == (2, 3, 8, 8)
    torch.testing.assert_close(padded, _numpy_reflect_pad(x, 4))
    same, _, _ = pad_to_multiple(x[..., :4, :4], 4)
    assert torch.equal(same, x[..., :4, :4])
    # padding as large as the image: reflection is impossible, the edge is replicated
    tiny, _, _ = pad_to_multiple(x[..., :1, :2], 4)
    torch.testing.assert_close(tiny, torch.from_numpy(np.pad(x[..., :1, :2].numpy(), [(0, 0)] * 2 + [(0, 3), (0, 2)],
                                                             mode="edge")))  # fmt: skip


def test_predict_masks_pads_and_matches_argmax():
    torch.manual_seed(0)
    model = build_model("unet", base=4, depth=3).eval()  # stride 8
    imgs = torch.randint(0, 256, (3, 3, 21, 30), dtype=torch.uint8)
    masks = predict_masks(model, imgs, batch_size=2)
    assert masks.shape == (3, 21, 30) and masks.dtype == torch.int64
    with torch.no_grad():  # oracle: pad with NumPy to 24 x 32, run, crop, argmax
        direct = model(_numpy_reflect_pad(imgs.float() / 255, 8))[..., :21, :30].argmax(1)
    assert torch.equal(masks, direct)
    # a single HxWx3 NumPy image and a list of differently sized images
    one = predict_masks(model, imgs[0].permute(1, 2, 0).numpy())
    assert torch.equal(one, masks[0])
    out = predict_masks(model, [imgs[0], torch.rand(3, 13, 17)])
    assert [tuple(m.shape) for m in out] == [(21, 30), (13, 17)]
    lab, prob = predict_masks(model, imgs[:1], size=32, return_probs=True)
    assert lab.shape == (1, 21, 30) and prob.shape == (1, 8, 21, 30)
    torch.testing.assert_close(prob.sum(1), torch.ones(1, 21, 30))
    assert model.training is False


# ------------------------------------------------------------------------------- any number of bands


@pytest.mark.parametrize("name,kwargs", [("unet", {"base": 4, "depth": 2}),
                                         ("hrnet", {"base": 4, "num_branches": 2, "blocks": 1}),
                                         ("lraspp", {}), ("deeplabv3_mobilenet", {})])  # fmt: skip
def test_models_take_five_bands(name, kwargs):
    torch.manual_seed(0)
    model = build_model(name, num_classes=4, in_channels=5, **kwargs).eval()
    assert model.in_channels == 5
    x = torch.rand(2, 5, 35, 42)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 4, 35, 42)
    # every band reaches the output: the gradient with respect to the fifth band is not zero
    xg = x.clone().requires_grad_(True)
    model(xg).square().sum().backward()
    assert float(xg.grad[:, 4].abs().sum()) > 0
    with pytest.raises(ValueError, match=r"\(N, 5, H, W\)"):
        model(torch.rand(1, 3, 32, 32))
    masks = predict_masks(model, x)  # float bands are passed as they are
    with torch.no_grad():
        assert torch.equal(masks, y.argmax(1)) or name in ("lraspp", "deeplabv3_mobilenet")


def test_predict_masks_with_five_bands():
    torch.manual_seed(0)
    model = build_model("unet", num_classes=3, in_channels=5, base=4, depth=2).eval()  # stride 4
    stack = torch.randn(2, 5, 18, 23)  # standardised reflectances: negative values too
    masks = predict_masks(model, stack)
    with torch.no_grad():
        expected = model(_numpy_reflect_pad(stack, 4))[..., :18, :23].argmax(1)
    assert torch.equal(masks, expected)
    # (H, W, 5) arrays and a list of them give the same
    assert torch.equal(predict_masks(model, stack[0].permute(1, 2, 0).numpy()), masks[0])
    assert torch.equal(predict_masks(model, [stack[1]])[0], masks[1])
    with pytest.raises(ValueError, match="5 channels"):
        predict_masks(model, torch.rand(3, 18, 23))


def test_torchvision_widened_conv_keeps_rgb_filters(tmp_path):
    from geolab.segmentation.models import TorchvisionSegmenter

    torch.manual_seed(0)
    rgb = TorchvisionSegmenter("lraspp", num_classes=2)
    first = next(m for m in rgb.net.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    torch.manual_seed(0)
    five = TorchvisionSegmenter("lraspp", num_classes=2, in_channels=5)
    wide = next(m for m in five.net.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    assert wide.in_channels == 5 and wide.out_channels == first.out_channels
    torch.testing.assert_close(wide.weight[:, :3], first.weight)  # same seed, same RGB filters
    torch.testing.assert_close(wide.weight[:, 3], first.weight.mean(1))
    assert five.mean.shape == (1, 5, 1, 1) and float(five.std[0, 4]) == 1.0
    # saved and rebuilt with its band count
    path = save_model(tmp_path / "five.pt", build_model("unet", num_classes=3, in_channels=5, base=4, depth=2))
    assert load_model(path).in_channels == 5


def test_prior_bias_divides_the_probabilities_by_the_weights():
    w = torch.tensor([4.0, 1.0, 0.0, 0.25])
    b = prior_bias(w, 0.5)
    torch.testing.assert_close(b, torch.tensor([-np.log(2.0), 0.0, 0.0, np.log(2.0)], dtype=torch.float32))
    logits = torch.randn(5, 4)
    # Oracle: argmax of p_c / w_c ** s (zero-weight classes left alone) equals argmax of logits + bias.
    p = torch.softmax(logits, 1)
    divided = p / torch.where(w > 0, w, torch.ones(4)) ** 0.5
    assert torch.equal((logits + b).argmax(1), divided.argmax(1))
    assert torch.equal(prior_bias(w, 0.0), torch.zeros(4))
    with pytest.raises(ValueError):
        prior_bias([1.0, -1.0])
    with pytest.raises(ValueError):
        prior_bias([1.0, 2.0], float("nan"))


def test_predict_masks_class_bias():
    torch.manual_seed(0)
    model = build_model("unet", base=4, depth=3).eval()
    imgs = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    with torch.no_grad():
        logits = model(imgs.float() / 255)
    bias = torch.linspace(-1, 1, 8)
    lab, prob = predict_masks(model, imgs, class_bias=bias, return_probs=True)
    assert torch.equal(lab, (logits + bias.view(1, -1, 1, 1)).argmax(1))
    torch.testing.assert_close(prob, torch.softmax(logits + bias.view(1, -1, 1, 1), 1))
    never = torch.zeros(8)
    never[int(lab.flatten().mode().values)] = -1e4  # forbid the most common class
    assert not (predict_masks(model, imgs, class_bias=never) == lab.flatten().mode().values).any()
    assert torch.equal(predict_masks(model, imgs, class_bias=torch.zeros(8)), predict_masks(model, imgs))
    with pytest.raises(ValueError, match="8 classes"):
        predict_masks(model, imgs, class_bias=[0.0, 1.0])
