"""Data sets of the course.

* :mod:`geolab.data.base`: :func:`split_indices` (deterministic train / val / test splits,
  optionally by group) and :class:`GeoDataset`, the base of the course's data sets
  (``classes``, ``palette``, ``ignore_index``, ``split``, ``plot``).
* :mod:`geolab.data.fetch`: offline-first fetching of registered files (sha256-checked),
  :class:`~geolab.data.fetch.DatasetNotFoundError`, and safe archive extraction.
* :mod:`geolab.data.beachlitter`: the BeachLitter data set (real on-disk layout), its class
  table, palette and split.
"""

from geolab.data.base import SPLITS, GeoDataset, split_indices
from geolab.data.imageset import ImageSet

__all__ = ["SPLITS", "GeoDataset", "ImageSet", "split_indices"]
