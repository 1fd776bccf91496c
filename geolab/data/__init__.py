"""Data sets of the course.

* :mod:`geolab.data.fetch`: offline-first fetching of registered files (sha256-checked),
  :class:`~geolab.data.fetch.DatasetNotFoundError`, and safe archive extraction.
* :mod:`geolab.data.beachlitter`: the BeachLitter data set (real on-disk layout) as a torch
  ``Dataset``, its classes, palette and split.
"""

from geolab.data.imageset import ImageSet

__all__ = ["ImageSet"]
