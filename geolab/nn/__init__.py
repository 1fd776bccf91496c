"""Small, readable neural networks used by the course, and helpers around them.

One submodule a family; every public name is importable as ``geolab.nn.NAME``.

* :mod:`geolab.nn.core`: :class:`MLP`, :class:`SmallCNN`, :func:`conv_output_size`,
  :func:`count_parameters`, :func:`set_requires_grad`, :func:`pretrained_backbone`.
* :mod:`geolab.nn.resnet`: :class:`PlainCNN`, :class:`ResNet`, :class:`WideResNet`,
  :class:`PyramidNet` for 64 x 64 single-channel images (one logit), :func:`build_cyclone_model`.
"""

from __future__ import annotations

from geolab.nn.core import (
    ACTIVATIONS,
    BACKBONES,
    MLP,
    SmallCNN,
    conv_output_size,
    count_parameters,
    pretrained_backbone,
    set_requires_grad,
    weights_cache_path,
)
from geolab.nn.resnet import CYCLONE_MODELS, PlainCNN, PyramidNet, ResNet, WideResNet, build_cyclone_model

__all__ = [
    "ACTIVATIONS",
    "BACKBONES",
    "CYCLONE_MODELS",
    "MLP",
    "PlainCNN",
    "PyramidNet",
    "ResNet",
    "SmallCNN",
    "WideResNet",
    "build_cyclone_model",
    "conv_output_size",
    "count_parameters",
    "pretrained_backbone",
    "set_requires_grad",
    "weights_cache_path",
]
