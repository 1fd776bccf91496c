"""Data sets of the course.

* :mod:`geolab.data.base`: :func:`split_indices` (deterministic train / val / test splits,
  optionally by group) and :class:`GeoDataset`, the base of the course's data sets
  (``classes``, ``palette``, ``ignore_index``, ``split``, ``plot``).
* :mod:`geolab.data.fetch`: offline-first fetching of registered files (sha256-checked),
  :class:`~geolab.data.fetch.DatasetNotFoundError`, and safe archive extraction.
* :mod:`geolab.data.beachlitter`: the BeachLitter data set (real on-disk layout), its class
  table, palette and split.
* :mod:`geolab.data.landcover`: synthetic multispectral land-cover scenes as a torch ``Dataset``
  with classes, palette and train/val/test splits.
* :mod:`geolab.data.geotiff`: users' own multi-band GeoTIFF tiles (optional extra ``geo``:
  rasterio).
"""

from geolab.data.base import SPLITS, GeoDataset, split_indices
from geolab.data.imageset import ImageSet

__all__ = ["SPLITS", "GeoDataset", "ImageSet", "split_indices"]
