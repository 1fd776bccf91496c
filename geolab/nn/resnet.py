"""Residual networks for 64 x 64 single-channel cloud images, and the plain CNN they replace.

Matsuoka (2021) reports that the best entries of the tropical-cyclone competition used ResNet
(He et al. 2016), WideResNet (Zagoruyko & Komodakis 2016) and PyramidNet (Han et al. 2017),
some with leaky ReLU; the 2018 baseline was a plain stack of convolution, pooling and fully
connected layers. The models here are small versions for CPU-sized lessons; each returns one
logit per image (``(N, 1, 64, 64)`` -> ``(N, 1)``), so they train with a binary loss such as
:func:`geolab.losses.focal_loss`.

* :class:`PlainCNN`: conv -> ReLU -> max-pool blocks, then fully connected layers with dropout.
* :class:`ResNet`: pre-activation basic blocks (BN -> act -> conv, twice) in three stages.
* :class:`WideResNet`: the same blocks ``widen`` times wider, fewer of them, dropout inside.
* :class:`PyramidNet`: the width grows by ``alpha / n_blocks`` channels at *every* block;
  shortcuts pad the new channels with zeros.

Every model takes ``activation="relu"`` or ``"leaky_relu"`` (slope ``negative_slope``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CYCLONE_MODELS", "PlainCNN", "PyramidNet", "ResNet", "WideResNet", "build_cyclone_model"]

_ACTS = ("relu", "leaky_relu")


def _act(name: str, negative_slope: float) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope, inplace=True)
    raise ValueError(f"activation={name!r} is not known; choose one of {_ACTS}")


class PlainCNN(nn.Module):
    """A 2018-style plain CNN: ``Conv(3x3) -> act -> MaxPool(2)`` blocks, then ``FC -> Dropout -> FC``.

    Args:
        widths: Channels of the convolution blocks (each halves the image).
        hidden: Width of the fully connected hidden layer.
        dropout: Dropout before the last layer.
        activation: ``"relu"`` or ``"leaky_relu"``.
        negative_slope: Slope of leaky ReLU for negative inputs.
        image_size: Input side in pixels (divisible by ``2 ** len(widths)``).

    Shapes: ``(N, 1, image_size, image_size)`` -> ``(N, 1)`` logits.
    """

    def __init__(
        self,
        widths: Sequence[int] = (8, 16, 32),
        hidden: int = 64,
        dropout: float = 0.5,
        activation: str = "relu",
        negative_slope: float = 0.1,
        image_size: int = 64,
    ) -> None:
        super().__init__()
        if image_size % 2 ** len(widths):
            raise ValueError(f"image_size={image_size} must be divisible by 2**len(widths)={2 ** len(widths)}")
        layers: list[nn.Module] = []
        c = 1
        for w in widths:
            layers += [nn.Conv2d(c, w, 3, padding=1), _act(activation, negative_slope), nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        side = image_size // 2 ** len(widths)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c * side * side, hidden),
            _act(activation, negative_slope),
            nn.Dropout(dropout),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, H, W)`` -> ``(N, 1)`` logits."""
        return self.head(self.features(x))


class _PreActBlock(nn.Module):
    """Pre-activation basic block; the shortcut zero-pads extra channels (PyramidNet) or projects."""

    def __init__(self, c_in: int, c_out: int, stride: int, act: Callable[[], nn.Module], dropout: float, pad_shortcut: bool) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.act1 = act()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act2 = act()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out) if pad_shortcut else nn.Identity()  # PyramidNet ends with BN
        self.pad = c_out - c_in if pad_shortcut else 0
        self.stride = stride
        self.project: nn.Module | None = None
        if not pad_shortcut and (stride != 1 or c_in != c_out):
            self.project = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual ``x + F(x)``."""
        pre = self.act1(self.bn1(x))
        out = self.conv2(self.drop(self.act2(self.bn2(self.conv1(pre)))))
        out = self.bn3(out)
        if self.project is not None:
            return out + self.project(pre)
        short = F.avg_pool2d(x, self.stride) if self.stride > 1 else x
        if self.pad:
            short = F.pad(short, (0, 0, 0, 0, 0, self.pad))
        return out + short


class _ResidualNet(nn.Module):
    """Stem ``Conv(3x3, stride 2)``, residual blocks with the given widths/strides, BN-act-pool-linear."""

    def __init__(
        self,
        plan: Sequence[tuple[int, int]],
        stem: int,
        activation: str,
        negative_slope: float,
        dropout: float = 0.0,
        pad_shortcut: bool = False,
    ) -> None:
        super().__init__()
        _act(activation, negative_slope)  # validate early

        def act() -> nn.Module:
            return _act(activation, negative_slope)

        self.stem = nn.Conv2d(1, stem, 3, stride=2, padding=1, bias=False)
        blocks = []
        c = stem
        for width, stride in plan:
            blocks.append(_PreActBlock(c, width, stride, act, dropout, pad_shortcut))
            c = width
        self.blocks = nn.Sequential(*blocks)
        self.final = nn.Sequential(nn.BatchNorm2d(c), act(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(c, 1)
        self.out_channels = c

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(N, C)`` before the classifier."""
        return self.final(self.blocks(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, H, W)`` -> ``(N, 1)`` logits."""
        return self.classifier(self.embed(x))


def _stage_plan(widths: Sequence[int], blocks: int) -> list[tuple[int, int]]:
    if blocks < 1 or not widths:
        raise ValueError(f"need blocks >= 1 and at least one stage width, got blocks={blocks}, widths={widths}")
    return [(w, 2 if (i > 0 and b == 0) else 1) for i, w in enumerate(widths) for b in range(blocks)]


class ResNet(_ResidualNet):
    """Pre-activation ResNet: three stages of ``blocks`` basic blocks (depth ``6 * blocks + 2``).

    Args:
        widths: Channels of the stages (the 2nd and 3rd halve the resolution).
        blocks: Basic blocks per stage.
        activation: ``"relu"`` or ``"leaky_relu"``.
        negative_slope: Slope of leaky ReLU.

    Shapes: ``(N, 1, H, W)`` -> ``(N, 1)``; a stride-2 stem first halves 64 x 64 to 32 x 32.
    """

    def __init__(self, widths: Sequence[int] = (8, 16, 32), blocks: int = 1, activation: str = "relu", negative_slope: float = 0.1) -> None:
        super().__init__(_stage_plan(widths, blocks), widths[0], activation, negative_slope)


class WideResNet(_ResidualNet):
    """WideResNet: ResNet stages ``widen`` times wider, with dropout between the two convolutions.

    Args:
        widths: Base channels of the stages (multiplied by ``widen``).
        blocks: Blocks per stage.
        widen: Width multiplier ``k`` of WRN-d-k.
        dropout: Dropout inside each block.
        activation: ``"relu"`` or ``"leaky_relu"``.
        negative_slope: Slope of leaky ReLU.
    """

    def __init__(
        self,
        widths: Sequence[int] = (4, 8, 16),
        blocks: int = 1,
        widen: int = 3,
        dropout: float = 0.1,
        activation: str = "relu",
        negative_slope: float = 0.1,
    ) -> None:
        wide = [w * widen for w in widths]
        super().__init__(_stage_plan(wide, blocks), wide[0], activation, negative_slope, dropout=dropout)


class PyramidNet(_ResidualNet):
    """PyramidNet: the width grows linearly by ``alpha / n_blocks`` channels at every block.

    Args:
        start: Channels after the stem.
        alpha: Total widening over all blocks.
        blocks: Blocks per stage (three stages; the 2nd and 3rd halve the resolution).
        activation: ``"relu"`` or ``"leaky_relu"``.
        negative_slope: Slope of leaky ReLU.
    """

    def __init__(self, start: int = 8, alpha: int = 24, blocks: int = 1, activation: str = "relu", negative_slope: float = 0.1) -> None:
        n = 3 * blocks
        plan = [(start + round(alpha * (k + 1) / n), 2 if k in (blocks, 2 * blocks) else 1) for k in range(n)]
        super().__init__(plan, start, activation, negative_slope, pad_shortcut=True)


#: Model names and their constructors (all accept ``activation=`` and ``negative_slope=``).
CYCLONE_MODELS: dict[str, Callable[..., nn.Module]] = {
    "plain_cnn": PlainCNN,
    "resnet": ResNet,
    "wide_resnet": WideResNet,
    "pyramidnet": PyramidNet,
}


def build_cyclone_model(name: str, **kwargs: object) -> nn.Module:
    """Build a model of :data:`CYCLONE_MODELS` by name.

    Args:
        name: ``"plain_cnn"``, ``"resnet"``, ``"wide_resnet"`` or ``"pyramidnet"``.
        **kwargs: Passed to the constructor (e.g. ``activation="leaky_relu"``).
    """
    if name not in CYCLONE_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(CYCLONE_MODELS)}")
    return CYCLONE_MODELS[name](**kwargs)
