"""Small, readable neural networks used by the course, and helpers around them.

One submodule a family; every public name is importable as ``geolab.nn.NAME``.

* :mod:`geolab.nn.core`: :class:`MLP`, :class:`SmallCNN`, :func:`conv_output_size`,
  :func:`count_parameters`, :func:`set_requires_grad`, :func:`pretrained_backbone`.
* :mod:`geolab.nn.detection`: :class:`TinySSD` (a single-shot detector), anchors, box
  encoding, IoU, NMS and mAP.
* :mod:`geolab.nn.superres`: :class:`SRCNN`, training pairs (:func:`degrade`) and :func:`psnr`.
* :mod:`geolab.nn.gan`: a DCGAN (:class:`Generator`, :class:`Discriminator`) for 8 x 8 images,
  :func:`train_gan` and :func:`frechet_distance`.
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
from geolab.nn.detection import (
    TinySSD,
    average_precision,
    box_iou,
    decode_boxes,
    detection_loss,
    encode_boxes,
    make_anchors,
    match_anchors,
    mean_average_precision,
    nms,
    postprocess,
)
from geolab.nn.gan import Discriminator, GANHistory, Generator, frechet_distance, train_gan
from geolab.nn.resnet import CYCLONE_MODELS, PlainCNN, PyramidNet, ResNet, WideResNet, build_cyclone_model
from geolab.nn.superres import SRCNN, degrade, psnr, random_crops

__all__ = [
    "ACTIVATIONS",
    "BACKBONES",
    "CYCLONE_MODELS",
    "MLP",
    "SRCNN",
    "Discriminator",
    "GANHistory",
    "Generator",
    "TinySSD",
    "average_precision",
    "box_iou",
    "PlainCNN",
    "PyramidNet",
    "ResNet",
    "SmallCNN",
    "WideResNet",
    "build_cyclone_model",
    "conv_output_size",
    "count_parameters",
    "decode_boxes",
    "degrade",
    "detection_loss",
    "encode_boxes",
    "frechet_distance",
    "make_anchors",
    "match_anchors",
    "mean_average_precision",
    "nms",
    "postprocess",
    "pretrained_backbone",
    "psnr",
    "random_crops",
    "set_requires_grad",
    "train_gan",
    "weights_cache_path",
]
