"""End-to-end pipelines that run a chapter's method at full scale from the command line.

* :mod:`geolab.recipes.cyclone`: tropical-cyclone detection in OLR patches (streamed synthetic
  data, five hard-negative members, weighted ensemble, test-time augmentation, final table);
  ``python -m geolab.recipes.cyclone --help``, also under ``torchrun``.
"""
