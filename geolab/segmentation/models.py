"""Semantic segmentation networks: a U-Net baseline, an HRNet-style network, torchvision models.

Every model here takes a float batch ``(N, in_channels, H, W)`` (RGB in 0..1 by default,
``in_channels=3``; remote-sensing stacks of 5 or more bands work the same way) and returns
class scores (logits) ``(N, num_classes, H, W)`` of the *same* height and width, for any
``H`` and ``W`` (sizes that are not a multiple of the network's stride are padded inside by
:func:`pad_to_multiple` and cropped back).

* :class:`UNet` (Ronneberger et al. 2015): an encoder that halves the resolution ``depth``
  times, a decoder that doubles it back, and skip connections that copy the encoder's
  features of each resolution to the decoder.
* :class:`HRNetLite` (after HRNet, Sun et al. 2019; Wang et al. 2021): one branch stays at
  high resolution from start to end, lower-resolution branches are added one by one, and all
  branches exchange information again and again (multi-resolution fusion).
* :class:`TorchvisionSegmenter`: torchvision's DeepLabV3 (MobileNetV3-Large or ResNet-50
  backbone) and LR-ASPP, built offline with random weights (or a cached ImageNet backbone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from geolab.nn import weights_cache_path

__all__ = [
    "ARCHITECTURES",
    "HRNetLite",
    "TorchvisionSegmenter",
    "UNet",
    "build_model",
    "pad_to_multiple",
]


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int, int]:
    """Pad the bottom and right of ``x`` to a multiple of ``multiple`` in height and width.

    Reflection (the edge row is not repeated) where the padding is smaller than the image,
    otherwise replication.

    Args:
        x: ``(..., H, W)`` tensor (3-D or 4-D, as :func:`torch.nn.functional.pad` accepts).
        multiple: The stride the size must divide by.

    Returns:
        ``(padded, H, W)``: the padded tensor and the original height and width, to crop back.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, h, w


def _check_input(x: torch.Tensor, in_channels: int, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(
            f"{name} expects a batch (N, {in_channels}, H, W), got shape {tuple(x.shape)}; "
            "add a batch axis with x[None] for a single image"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} expects float input in 0..1, got {x.dtype}; convert with x.float() / 255")


# --------------------------------------------------------------------------- U-Net


class UNet(nn.Module):
    """U-Net: encoder-decoder with skip connections.

    With ``base=16, depth=4`` the encoder has feature maps of 16, 32, 64, 128 channels at
    full, 1/2, 1/4, 1/8 resolution and a bottleneck of 256 channels at 1/16; the decoder
    mirrors it with transposed convolutions that double the resolution, each followed by
    concatenation with the encoder map of the same size and two 3×3 convolutions.

    Shapes: ``(N, in_channels, H, W)`` -> ``(N, num_classes, H, W)``; inside, ``H`` and ``W``
    are padded up to a multiple of ``2**depth`` (16) and the output is cropped back.

    Args:
        in_channels: Input channels (3 for RGB).
        num_classes: Output classes.
        base: Channels of the first level; level ``k`` has ``base * 2**k``.
        depth: Number of down-sampling steps.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 8, base: int = 16, depth: int = 4) -> None:
        super().__init__()
        if depth < 1 or base < 1 or num_classes < 1 or in_channels < 1:
            raise ValueError(
                f"UNet needs positive sizes, got in_channels={in_channels}, num_classes={num_classes}, "
                f"base={base}, depth={depth}"
            )
        self.in_channels, self.num_classes, self.depth = in_channels, num_classes, depth
        self.size_divisor = 2**depth
        widths = [base * 2**k for k in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.down.append(nn.Sequential(_conv_bn_relu(cin, w), _conv_bn_relu(w, w)))
            cin = w
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for k in range(depth - 1, -1, -1):
            self.up.append(nn.ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2))
            self.dec.append(nn.Sequential(_conv_bn_relu(2 * widths[k], widths[k]), _conv_bn_relu(widths[k], widths[k])))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` -> logits ``(N, num_classes, H, W)``."""
        _check_input(x, self.in_channels, "UNet")
        x, h, w = pad_to_multiple(x, self.size_divisor)
        skips = []
        for k, block in enumerate(self.down):
            x = block(x if k == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for up, dec in zip(self.up, self.dec):
            x = dec(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)[..., :h, :w]


# --------------------------------------------------------------------------- HRNet-style


class BasicBlock(nn.Module):
    """Residual block of two 3×3 convolutions (ResNet's basic block); shape is kept."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> ``(N, C, H, W)``."""
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return F.relu(x + self.bn2(self.conv2(y)), inplace=True)


class FusionUnit(nn.Module):
    """Exchange unit: every output branch receives the sum of all input branches, resampled.

    From a higher-resolution branch ``i`` to a lower one ``j > i``: ``j - i`` strided 3×3
    convolutions (each halves the size); from a lower one to a higher one: a 1×1 convolution
    to the target width, then bilinear up-sampling to the target's exact size; same branch:
    identity. The sum goes through a ReLU.

    Args:
        widths: Channels of each branch, highest resolution first.
    """

    def __init__(self, widths: Sequence[int]) -> None:
        super().__init__()
        self.widths = list(widths)
        n = len(widths)
        self.paths = nn.ModuleList()
        for j in range(n):  # output branch
            row = nn.ModuleList()
            for i in range(n):  # input branch
                if i == j:
                    row.append(nn.Identity())
                elif i > j:
                    row.append(nn.Sequential(nn.Conv2d(widths[i], widths[j], 1, bias=False), nn.BatchNorm2d(widths[j])))
                else:
                    steps: list[nn.Module] = []
                    for s in range(j - i):
                        last = s == j - i - 1
                        cin = widths[i]
                        cout = widths[j] if last else widths[i]
                        steps += [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout)]
                        if not last:
                            steps.append(nn.ReLU(inplace=True))
                    row.append(nn.Sequential(*steps))
            self.paths.append(row)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """List of ``(N, widths[k], H_k, W_k)`` -> list of the same shapes."""
        out = []
        for j, row in enumerate(self.paths):
            size = xs[j].shape[-2:]
            total = xs[j]
            for i, path in enumerate(cast(nn.ModuleList, row)):
                if i == j:
                    continue
                y = path(xs[i])
                if i > j:
                    y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
                total = total + y
            out.append(F.relu(total))
        return out


class HRModule(nn.Module):
    """One HRNet module: ``blocks`` residual blocks on every branch in parallel, then a fusion."""

    def __init__(self, widths: Sequence[int], blocks: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(*[BasicBlock(w) for _ in range(blocks)]) for w in widths)
        self.fuse = FusionUnit(widths)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        """List of branch maps -> list of the same shapes."""
        return self.fuse([b(x) for b, x in zip(self.branches, xs)])


class HRNetLite(nn.Module):
    """A small HRNet-style network that keeps a high-resolution branch throughout.

    Layout for ``stem_stride=4, num_branches=4, base=16`` and an input ``(N, 3, H, W)``:

    * stem: two stride-2 3×3 convolutions -> ``(N, base, H/4, W/4)``, then ``blocks``
      residual blocks (stage 1, one branch);
    * stage ``s = 2 .. num_branches``: a transition adds branch ``s`` by a stride-2
      convolution of the lowest branch (widths ``base * 2**k`` at ``H/4 / 2**k``:
      16 ch at 1/4, 32 at 1/8, 64 at 1/16, 128 at 1/32), then ``modules[s-2]`` HR modules,
      each = residual blocks on all branches in parallel + a :class:`FusionUnit` in which
      every branch receives every other (repeated multi-resolution fusion);
    * head: all branches up-sampled to the high-resolution branch and concatenated
      (``base * (2**num_branches - 1)`` channels, 240 for the defaults), a 1×1 conv + BN + ReLU,
      a 1×1 conv to ``num_classes``, and bilinear up-sampling to ``(H, W)``.

    Unlike a U-Net, detail is never thrown away and recovered: the 1/4 branch is there
    from the stem to the head, which helps small objects such as bottle caps.

    Args:
        in_channels: Input channels.
        num_classes: Output classes.
        base: Width of the high-resolution branch; branch ``k`` has ``base * 2**k``.
        num_branches: Number of parallel resolutions (2..4).
        blocks: Residual blocks per branch in every module.
        modules: HR modules in stages 2, 3, ... (one entry per stage, ``num_branches - 1``
            entries); default one module per stage.
        stem_stride: 2 or 4: resolution of the high-resolution branch (input / stride).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 8,
        base: int = 16,
        num_branches: int = 4,
        blocks: int = 2,
        modules: Sequence[int] | None = None,
        stem_stride: int = 4,
    ) -> None:
        super().__init__()
        if not 2 <= num_branches <= 5:
            raise ValueError(f"num_branches must be 2..5, got {num_branches}")
        if stem_stride not in (1, 2, 4):
            raise ValueError(f"stem_stride must be 1, 2 or 4, got {stem_stride}")
        modules = [1] * (num_branches - 1) if modules is None else list(modules)
        if len(modules) != num_branches - 1 or min(modules) < 1:
            raise ValueError(f"modules needs {num_branches - 1} positive entries (one per stage), got {modules}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.size_divisor = stem_stride * 2 ** (num_branches - 1)
        widths = [base * 2**k for k in range(num_branches)]
        stem: list[nn.Module] = []
        cin = in_channels
        for _ in range({1: 0, 2: 1, 4: 2}[stem_stride]):
            stem.append(_conv_bn_relu(cin, base, stride=2))
            cin = base
        if not stem:
            stem.append(_conv_bn_relu(cin, base))
        self.stem = nn.Sequential(*stem, *[BasicBlock(base) for _ in range(blocks)])
        self.transitions = nn.ModuleList()
        self.stages = nn.ModuleList()
        for s in range(1, num_branches):
            self.transitions.append(_conv_bn_relu(widths[s - 1], widths[s], stride=2))
            self.stages.append(nn.Sequential(*[HRModule(widths[: s + 1], blocks) for _ in range(modules[s - 1])]))
        total = sum(widths)
        self.head = nn.Sequential(
            nn.Conv2d(total, total // 2, 1, bias=False),
            nn.BatchNorm2d(total // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(total // 2, num_classes, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` -> logits ``(N, num_classes, H, W)``."""
        _check_input(x, self.in_channels, "HRNetLite")
        size = x.shape[-2:]
        xs = [self.stem(x)]
        for transition, stage in zip(self.transitions, self.stages):
            xs = xs + [transition(xs[-1])]
            for module in cast(nn.Sequential, stage):
                xs = module(xs)
        high = xs[0].shape[-2:]
        ups = [F.interpolate(y, size=high, mode="bilinear", align_corners=False) for y in xs[1:]]
        feats = torch.cat([xs[0], *ups], 1)
        return F.interpolate(self.head(feats), size=size, mode="bilinear", align_corners=False)


# --------------------------------------------------------------------------- torchvision

#: torchvision segmentation builders and the ImageNet backbone each would use.
_TV = {
    "deeplabv3_mobilenet": ("deeplabv3_mobilenet_v3_large", "mobilenet_v3_large"),
    "deeplabv3_resnet50": ("deeplabv3_resnet50", "resnet50"),
    "lraspp": ("lraspp_mobilenet_v3_large", "mobilenet_v3_large"),
}

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class TorchvisionSegmenter(nn.Module):
    """torchvision's DeepLabV3 or LR-ASPP behind the course's interface.

    Normalises the first three input channels (RGB in 0..1) with the ImageNet mean and
    standard deviation, runs the torchvision model and returns its ``"out"`` logits,
    ``(N, in_channels, H, W)`` -> ``(N, num_classes, H, W)``. Nothing is downloaded: weights are
    random unless ``pretrained_backbone=True`` *and* the ImageNet backbone is already in torch's
    cache.

    With ``in_channels != 3`` the backbone's first convolution is replaced by one with that many
    input channels; with a pretrained backbone its RGB filters are kept for the first three
    channels and every further channel starts from their mean. Channels beyond the third are not
    normalised: standardise extra bands (e.g. to mean 0, standard deviation 1) yourself.

    Args:
        variant: ``"deeplabv3_mobilenet"``, ``"deeplabv3_resnet50"`` or ``"lraspp"``.
        num_classes: Output classes.
        pretrained_backbone: Start the backbone from cached ImageNet weights.
        in_channels: Input channels (bands).
    """

    def __init__(
        self,
        variant: str = "deeplabv3_mobilenet",
        num_classes: int = 8,
        pretrained_backbone: bool = False,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        import torchvision

        if variant not in _TV:
            raise ValueError(f"unknown torchvision variant {variant!r}; choose one of {sorted(_TV)}")
        builder, backbone = _TV[variant]
        weights_backbone = None
        if pretrained_backbone:
            weights, path = torchvision.models.get_model_weights(backbone).DEFAULT, weights_cache_path(backbone)
            if not path.is_file():
                raise FileNotFoundError(
                    f"pretrained_backbone=True needs the ImageNet weights of {backbone} at {path}, which are not "
                    f"there and the course downloads nothing at run time. On a machine with internet run "
                    f"`python -c \"import torchvision; torchvision.models.get_model('{backbone}', weights='DEFAULT')\"` "
                    f"(it saves {path.name} into torch's cache), or use pretrained_backbone=False."
                )
            weights_backbone = weights
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.variant = variant
        self.in_channels, self.num_classes = int(in_channels), num_classes
        self.size_divisor = 16 if variant.startswith("deeplab") else 32
        self.net = getattr(torchvision.models.segmentation, builder)(
            weights=None, weights_backbone=weights_backbone, num_classes=num_classes
        )
        if in_channels != 3:
            _widen_first_conv(self.net.backbone, in_channels)
        mean, std = torch.zeros(in_channels), torch.ones(in_channels)
        if in_channels >= 3:
            mean[:3], std[:3] = torch.tensor(_IMAGENET_MEAN), torch.tensor(_IMAGENET_STD)
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", mean.view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` floats -> logits ``(N, num_classes, H, W)``."""
        _check_input(x, self.in_channels, self.variant)
        return self.net((x - self.mean) / self.std)["out"]


def _widen_first_conv(backbone: nn.Module, in_channels: int) -> None:
    """Replace the first 3-channel convolution of ``backbone`` by one taking ``in_channels``."""
    name, old = next((n, m) for n, m in backbone.named_modules() if isinstance(m, nn.Conv2d))
    new = nn.Conv2d(
        in_channels,
        old.out_channels,
        old.kernel_size,  # type: ignore[arg-type]
        stride=old.stride,  # type: ignore[arg-type]
        padding=old.padding,  # type: ignore[arg-type]
        dilation=old.dilation,  # type: ignore[arg-type]
        groups=old.groups,
        bias=old.bias is not None,
    )
    with torch.no_grad():
        k = min(3, in_channels)
        new.weight[:, :k] = old.weight[:, :k]
        if in_channels > 3:
            new.weight[:, 3:] = old.weight.mean(1, keepdim=True)
        if old.bias is not None and new.bias is not None:
            new.bias.copy_(old.bias)
    parent = backbone.get_submodule(name.rsplit(".", 1)[0]) if "." in name else backbone
    setattr(parent, name.rsplit(".", 1)[-1], new)


# --------------------------------------------------------------------------- factory

#: Names accepted by :func:`build_model`.
ARCHITECTURES = ("unet", "hrnet", "deeplabv3_mobilenet", "deeplabv3_resnet50", "lraspp")


def build_model(name: str, num_classes: int = 8, **kwargs: Any) -> nn.Module:
    """Build a segmentation network by name.

    Args:
        name: One of :data:`ARCHITECTURES` (``"unet"``, ``"hrnet"``, ``"deeplabv3_mobilenet"``,
            ``"deeplabv3_resnet50"``, ``"lraspp"``).
        num_classes: Output classes (8 for BeachLitter).
        **kwargs: Passed to :class:`UNet`, :class:`HRNetLite` or :class:`TorchvisionSegmenter`,
            e.g. ``in_channels=5`` for a five-band image (every architecture takes it).

    Returns:
        A module mapping ``(N, in_channels, H, W)`` floats to logits ``(N, num_classes, H, W)``.
        The name and keyword arguments are kept in ``model.arch`` and ``model.arch_kwargs`` so
        that :func:`geolab.segmentation.save_model` can rebuild it.
    """
    key = name.lower()
    if key == "unet":
        model: nn.Module = UNet(num_classes=num_classes, **kwargs)
    elif key == "hrnet":
        model = HRNetLite(num_classes=num_classes, **kwargs)
    elif key in _TV:
        model = TorchvisionSegmenter(key, num_classes=num_classes, **kwargs)
    else:
        raise ValueError(f"unknown model {name!r}; choose one of {ARCHITECTURES}")
    # plain attributes for save_model (setattr keeps the type checker from treating them as submodules)
    setattr(model, "arch", key)  # noqa: B010 - a plain attribute that save_model reads
    setattr(model, "arch_kwargs", {"num_classes": num_classes, **kwargs})  # noqa: B010
    return model
