"""Small, readable neural networks used by the course, and helpers around them.

One submodule a family; every public name is importable as ``geolab.nn.NAME``.

* :mod:`geolab.nn.core`: :class:`MLP`, :class:`SmallCNN`, :func:`conv_output_size`,
  :func:`count_parameters`, :func:`set_requires_grad`, :func:`pretrained_backbone`.
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
