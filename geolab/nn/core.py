"""Small, readable neural networks used by the course, and helpers around them.

Shapes follow PyTorch's conventions: ``N`` is the batch size, ``C`` channels, ``H`` and ``W``
the image height and width in pixels.

* :class:`MLP`: a multi-layer perceptron, ``(N, in_features)`` -> ``(N, out_features)``.
* :class:`SmallCNN`: a few convolution blocks and a small head, ``(N, C, H, W)`` ->
  ``(N, num_classes)``, with :meth:`SmallCNN.features` (the penultimate embedding) and
  :meth:`SmallCNN.feature_maps` (intermediate activations for plots).
* :func:`conv_output_size`: the output-size arithmetic of convolution and pooling.
* :func:`count_parameters`, :func:`set_requires_grad`: bookkeeping for transfer learning.
* :func:`pretrained_backbone`: a torchvision ImageNet model, loaded from the local cache or
  (only when asked) downloaded; ``None`` with a clear message when the weights cannot be had.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from geolab.train.checkpoint import CheckpointError, load_weights

__all__ = [
    "ACTIVATIONS",
    "BACKBONES",
    "MLP",
    "SmallCNN",
    "conv_output_size",
    "count_parameters",
    "pretrained_backbone",
    "set_requires_grad",
    "weights_cache_path",
]

#: Activation functions by name, as module factories.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "identity": nn.Identity,
}


def _activation(name: str, argument: str = "activation") -> nn.Module:
    key = name.lower() if isinstance(name, str) else name
    if key not in ACTIVATIONS:
        raise ValueError(f"{argument}={name!r} is not known; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]()


def _check_dropout(dropout: float) -> float:
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    return float(dropout)


def _check_positive(value: int, argument: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{argument} must be a positive integer, got {value!r}")
    return int(value)


class MLP(nn.Module):
    """Multi-layer perceptron: ``Linear -> activation -> Dropout`` per hidden layer, then ``Linear``.

    The last layer has no activation: it returns *logits* (for cross-entropy) or raw values
    (for regression). Inputs with more than two dimensions, such as images ``(N, C, H, W)``,
    are flattened to ``(N, C*H*W)`` first.

    Args:
        in_features: Size of one input vector (after flattening).
        hidden: Widths of the hidden layers, e.g. ``(64, 32)``; ``()`` gives a linear model.
        out_features: Size of the output (number of classes, or 1 for regression).
        activation: Name of the hidden activation, one of :data:`ACTIVATIONS`.
        dropout: Probability of zeroing a hidden unit during training (0 disables dropout).

    Shapes:
        input ``(N, in_features)`` or ``(N, *)`` with ``prod(*) == in_features``;
        output ``(N, out_features)``.

    Number of parameters: ``sum((a + 1) * b)`` over consecutive widths ``a -> b`` of
    ``[in_features, *hidden, out_features]``.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        in_features = _check_positive(in_features, "in_features")
        out_features = _check_positive(out_features, "out_features")
        hidden = [_check_positive(h, "each hidden width") for h in hidden]
        dropout = _check_dropout(dropout)
        _activation(activation)  # validate early
        self.in_features = in_features
        self.out_features = out_features
        self.hidden = tuple(hidden)
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), _activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, in_features)`` (or ``(N, *)``) to ``(N, out_features)``."""
        if x.dim() > 2:
            x = x.flatten(1)
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"MLP expects inputs of shape (N, {self.in_features}), got {tuple(x.shape)}; "
                "check in_features or reshape the input"
            )
        return self.layers(x)


class SmallCNN(nn.Module):
    """A small convolutional network for little images such as 8 x 8 digits or 32 x 32 patches.

    Each block is ``Conv2d(3 x 3, padding 1) -> BatchNorm2d (optional) -> ReLU -> MaxPool2d(2)``,
    so a block keeps the channels' spatial size and then halves it. After the blocks the
    feature maps are flattened and passed through the head
    ``Linear -> ReLU -> Dropout -> Linear`` (or a single ``Linear`` when ``embedding_dim`` is
    ``None``).

    Args:
        in_channels: Channels of the input images (1 for grey, 3 for RGB).
        num_classes: Number of output logits.
        widths: Output channels of each convolution block, e.g. ``(16, 32)``.
        dropout: Dropout probability before the last linear layer.
        image_size: Side length of the (square) input images; must be divisible by
            ``2 ** len(widths)``.
        embedding_dim: Width of the penultimate layer (the embedding returned by
            :meth:`features`); ``None`` uses the flattened feature maps themselves.
        batch_norm: Put a batch-normalisation layer after each convolution.

    Shapes:
        input ``(N, in_channels, image_size, image_size)``; output ``(N, num_classes)``.

    Attributes:
        blocks: ``nn.ModuleList`` of the convolution blocks (early layers first).
        embed: The part of the head that makes the embedding (``nn.Identity`` if none).
        classifier: The final ``nn.Linear``; replace it with :meth:`reset_classifier`.

    Frozen batch normalisation: when every parameter of a ``BatchNorm2d`` layer has
    ``requires_grad=False`` (see :func:`set_requires_grad`), :meth:`train` leaves that layer
    in evaluation mode, so its running statistics stay those learnt before freezing.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        widths: Sequence[int] = (16, 32),
        dropout: float = 0.0,
        image_size: int = 8,
        embedding_dim: int | None = 64,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        in_channels = _check_positive(in_channels, "in_channels")
        num_classes = _check_positive(num_classes, "num_classes")
        widths = [_check_positive(w, "each of widths") for w in widths]
        if not widths:
            raise ValueError("widths needs at least one convolution block, e.g. widths=(16, 32)")
        image_size = _check_positive(image_size, "image_size")
        factor = 2 ** len(widths)
        if image_size % factor:
            raise ValueError(
                f"image_size={image_size} is not divisible by 2**len(widths)={factor}: each block halves "
                f"the image; use fewer widths or an image size that is a multiple of {factor}"
            )
        dropout = _check_dropout(dropout)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.widths = tuple(widths)
        self.image_size = image_size
        self.batch_norm = bool(batch_norm)

        blocks = []
        channels = in_channels
        for width in widths:
            layers: list[nn.Module] = [nn.Conv2d(channels, width, kernel_size=3, padding=1, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers += [nn.ReLU(), nn.MaxPool2d(2)]
            blocks.append(nn.Sequential(*layers))
            channels = width
        self.blocks = nn.ModuleList(blocks)
        side = image_size // factor
        self.flat_features = channels * side * side
        if embedding_dim is None:
            self.embedding_dim = self.flat_features
            self.embed: nn.Module = nn.Identity()
        else:
            self.embedding_dim = _check_positive(embedding_dim, "embedding_dim")
            self.embed = nn.Sequential(nn.Linear(self.flat_features, self.embedding_dim), nn.ReLU())
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(self.embedding_dim, num_classes)

    def _check_input(self, x: torch.Tensor) -> None:
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"SmallCNN expects images of shape (N, {', '.join(map(str, expected))}), got {tuple(x.shape)}; "
                "add a channel axis with x.unsqueeze(1) or set in_channels / image_size"
            )

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after the ReLU of each block, before its pooling.

        Args:
            x: Images ``(N, in_channels, S, S)`` with ``S = image_size``.

        Returns:
            One tensor per block; block ``i`` gives ``(N, widths[i], S / 2**i, S / 2**i)``.
        """
        self._check_input(x)
        maps = []
        for block in self.blocks:
            *before_pool, pool = list(block.children())
            for layer in before_pool:
                x = layer(x)
            maps.append(x)
            x = pool(x)
        return maps

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer embedding ``(N, embedding_dim)`` of images ``(N, C, S, S)``."""
        self._check_input(x)
        for block in self.blocks:
            x = block(x)
        return self.embed(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, num_classes)`` of images ``(N, in_channels, S, S)``."""
        return self.classifier(self.dropout(self.features(x)))

    def reset_classifier(self, num_classes: int) -> nn.Linear:
        """Replace the last layer by a freshly initialised one with ``num_classes`` outputs.

        Used when fine-tuning on a new task. Returns the new layer.
        """
        num_classes = _check_positive(num_classes, "num_classes")
        ref = self.classifier.weight
        self.classifier = nn.Linear(self.embedding_dim, num_classes).to(device=ref.device, dtype=ref.dtype)
        self.num_classes = num_classes
        return self.classifier

    def train(self, mode: bool = True) -> SmallCNN:
        """Set training mode, keeping fully frozen batch-norm layers in evaluation mode."""
        super().train(mode)
        if mode:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    params = list(module.parameters())
                    if params and not any(p.requires_grad for p in params):
                        module.eval()
        return self


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis of a convolution or pooling layer.

    ``floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1``, the formula
    PyTorch documents for ``Conv2d`` and ``MaxPool2d``.

    Args:
        size: Input length in pixels.
        kernel_size: Window length in pixels.
        stride: Step between windows.
        padding: Pixels added on each side.
        dilation: Spacing between kernel taps (1: ordinary kernel).

    Raises:
        ValueError: A non-positive size, kernel, stride or dilation, negative padding, or a
            window larger than the padded input.
    """
    for name, value in (("size", size), ("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
        _check_positive(value, name)
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    span = dilation * (kernel_size - 1) + 1
    if span > size + 2 * padding:
        raise ValueError(
            f"the window ({span} pixels) is larger than the padded input ({size} + 2*{padding}); "
            "use a smaller kernel or more padding"
        )
    return (size + 2 * padding - span) // stride + 1


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``module`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def set_requires_grad(module: nn.Module, requires_grad: bool) -> nn.Module:
    """Freeze (``False``) or unfreeze (``True``) every parameter of ``module``; returns it.

    A frozen layer is not changed by the optimiser. For :class:`SmallCNN`, frozen batch-norm
    layers also keep their running statistics (see :meth:`SmallCNN.train`).
    """
    for p in module.parameters():
        p.requires_grad_(requires_grad)
    return module


# --------------------------------------------------------------------------- pretrained models

#: ImageNet backbones that :func:`pretrained_backbone` knows, by torchvision name.
BACKBONES = ("resnet18", "resnet34", "resnet50", "vgg11", "vgg16", "mobilenet_v3_small", "efficientnet_b0")


def _default_weights(name: str) -> Any:  # a torchvision WeightsEnum member
    import torchvision

    return torchvision.models.get_model_weights(name).DEFAULT


def weights_cache_path(name: str) -> Path:
    """Where torch keeps the downloaded ImageNet weights of ``name`` (``<hub dir>/checkpoints/<file>``).

    Args:
        name: A torchvision model with pretrained weights, e.g. one of :data:`BACKBONES` or
            ``"mobilenet_v3_large"`` (the backbone of the segmentation models).

    Raises:
        ValueError: torchvision knows no pretrained weights of that name.
    """
    try:
        url = _default_weights(name).url
    except (ValueError, KeyError) as exc:
        raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONES}") from exc
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def pretrained_backbone(name: str = "resnet18", *, pretrained: bool = True, download: bool = False) -> nn.Module | None:
    """A torchvision ImageNet classifier, with its pretrained weights when they can be had.

    Nothing is downloaded unless ``download=True``: by default the weights are read from
    torch's cache (:func:`weights_cache_path`), where an earlier download (e.g. on Colab or
    with ``download=True``) put them.

    Args:
        name: One of :data:`BACKBONES`, e.g. ``"resnet18"``, ``"resnet50"`` or ``"vgg16"``.
        pretrained: ``False`` builds the architecture with random weights (always works).
        download: Allow torchvision to download the weights (tens of MB) when not cached.

    Returns:
        The model in evaluation mode, input ``(N, 3, 224, 224)`` normalised as
        ``torchvision.models.get_model_weights(name).DEFAULT.transforms()`` does, output
        ``(N, 1000)`` ImageNet logits; or ``None`` (after a warning saying why and what to
        do) when pretrained weights were asked for but are not available.
    """
    import torchvision

    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {BACKBONES}")
    if not pretrained:
        return torchvision.models.get_model(name, weights=None).eval()
    path = weights_cache_path(name)
    if path.is_file():
        model = torchvision.models.get_model(name, weights=None)
        try:
            load_weights(model, path)
        except CheckpointError as exc:
            warnings.warn(
                f"Could not load the cached {name} weights: {exc} "
                "Delete the file and download again with pretrained_backbone(..., download=True).",
                stacklevel=2,
            )
            return None
        return model.eval()
    if not download:
        warnings.warn(
            f"The ImageNet weights of {name} are not in the local cache ({path}) and download=False, "
            f"so there is no pretrained {name}. With internet access (e.g. on Colab) call "
            f"pretrained_backbone({name!r}, download=True) once to fetch them.",
            stacklevel=2,
        )
        return None
    try:
        model = torchvision.models.get_model(name, weights="DEFAULT")
    except Exception as exc:  # noqa: BLE001 - URLError, socket errors, HTTP errors, truncated files...
        warnings.warn(
            f"Could not download the ImageNet weights of {name} ({type(exc).__name__}: {exc}). "
            "You are probably offline; the pretrained part is skipped. Try again with internet access.",
            stacklevel=2,
        )
        return None
    return model.eval()

