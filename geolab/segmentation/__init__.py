"""Semantic segmentation: networks, losses for rare classes, saving and prediction.

* :mod:`geolab.segmentation.models`: :class:`UNet`, :class:`HRNetLite`,
  :class:`TorchvisionSegmenter` (DeepLabV3 / LR-ASPP) and :func:`build_model`.
* losses for rare classes live in :mod:`geolab.losses`; :func:`class_weights`,
  :func:`weighted_cross_entropy` and :class:`FocalLoss` are re-exported here.
* :mod:`geolab.segmentation.inference`: :func:`save_model`, :func:`load_model`,
  :func:`predict_masks`, :func:`prior_bias`.
* :mod:`geolab.segmentation.evaluation`: scores at the photos' native resolution, per-photo
  recall percentiles, the prior correction chosen on validation photos.

Convention: models take float RGB ``(N, 3, H, W)`` in 0..1 and return logits
``(N, num_classes, H, W)`` of the same size.
"""

from geolab.losses import FocalLoss, class_weights, weighted_cross_entropy
from geolab.segmentation.inference import load_model, predict_masks, prior_bias, save_model
from geolab.segmentation.models import ARCHITECTURES, HRNetLite, TorchvisionSegmenter, UNet, build_model

__all__ = [
    "ARCHITECTURES",
    "FocalLoss",
    "HRNetLite",
    "TorchvisionSegmenter",
    "UNet",
    "build_model",
    "class_weights",
    "load_model",
    "predict_masks",
    "prior_bias",
    "save_model",
    "weighted_cross_entropy",
]
