"""Unsupervised segmentation: differentiable feature clustering, baselines and scores.

* :func:`segment` / :class:`Segmentation`: one image, the network trained on the image itself
  (Kim, Kanezaki & Tanaka 2020).
* :func:`segment_many` / :class:`DFCSegmenter`: one network over many images, saved and
  applied to new ones.
* :data:`BASELINES`: k-means (colour + position), SLIC, Felzenszwalb, same call shape.
* :func:`adjusted_rand_index`, :func:`matched_iou`: scores against true regions.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from geolab.unsupervised.baselines import (
        BASELINES,
        felzenszwalb_segment,
        kmeans_segment,
        slic_segment,
    )
    from geolab.unsupervised.dfc import (
        NO_SCRIBBLE,
        DFCNet,
        Segmentation,
        continuity_loss,
        cpu_has_bfloat16,
        dfc_loss,
        image_to_tensor,
        plateau_reached,
        segment,
        validate_scribble,
    )
    from geolab.unsupervised.postprocess import (
        connected_components,
        label_colours,
        merge_to_n_segments,
        read_label_png,
        relabel_sequential,
        write_label_png,
    )
    from geolab.unsupervised.scores import adjusted_rand_index, contingency, matched_iou
    from geolab.unsupervised.shared import DFCSegmenter, segment_many

# torch is imported only when a name is first used, so that `geolab --help` stays fast
_WHERE: dict[str, str] = {
    "BASELINES": "baselines",
    "DFCNet": "dfc",
    "DFCSegmenter": "shared",
    "NO_SCRIBBLE": "dfc",
    "Segmentation": "dfc",
    "adjusted_rand_index": "scores",
    "connected_components": "postprocess",
    "contingency": "scores",
    "continuity_loss": "dfc",
    "cpu_has_bfloat16": "dfc",
    "dfc_loss": "dfc",
    "felzenszwalb_segment": "baselines",
    "image_to_tensor": "dfc",
    "kmeans_segment": "baselines",
    "label_colours": "postprocess",
    "matched_iou": "scores",
    "merge_to_n_segments": "postprocess",
    "plateau_reached": "dfc",
    "read_label_png": "postprocess",
    "relabel_sequential": "postprocess",
    "segment": "dfc",
    "segment_many": "shared",
    "slic_segment": "baselines",
    "validate_scribble": "dfc",
    "write_label_png": "postprocess",
}

__all__ = [
    "BASELINES",
    "NO_SCRIBBLE",
    "DFCNet",
    "DFCSegmenter",
    "Segmentation",
    "adjusted_rand_index",
    "connected_components",
    "contingency",
    "continuity_loss",
    "cpu_has_bfloat16",
    "dfc_loss",
    "felzenszwalb_segment",
    "image_to_tensor",
    "kmeans_segment",
    "label_colours",
    "matched_iou",
    "merge_to_n_segments",
    "plateau_reached",
    "read_label_png",
    "relabel_sequential",
    "segment",
    "segment_many",
    "slic_segment",
    "validate_scribble",
    "write_label_png",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"geolab.unsupervised.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'geolab.unsupervised' has no attribute {name!r}")
