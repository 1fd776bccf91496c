"""Data sets of the course.

* :mod:`geolab.data.fetch`: offline-first fetching of registered files (sha256-checked),
  :class:`~geolab.data.fetch.DatasetNotFoundError`, and safe archive extraction.
* :mod:`geolab.data.beachlitter`: the BeachLitter data set (real on-disk layout) as a torch
  ``Dataset``, its classes, palette and split.
* :mod:`geolab.data.landcover`: synthetic multispectral land-cover scenes as a torch ``Dataset``
  with classes, palette and train/val/test splits.
* :mod:`geolab.data.geotiff`: users' own multi-band GeoTIFF tiles (optional extra ``geo``:
  rasterio).
"""

from geolab.data.imageset import ImageSet

__all__ = ["ImageSet"]
