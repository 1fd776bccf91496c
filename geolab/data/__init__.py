"""Data sets of the course.

* :mod:`geolab.data.fetch`: offline-first fetching of registered files (sha256-checked),
  :class:`~geolab.data.fetch.DatasetNotFoundError`, and safe archive extraction.
"""
