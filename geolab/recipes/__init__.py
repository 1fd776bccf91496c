"""End-to-end pipelines that run a chapter's method at full scale from the command line.

* :mod:`geolab.recipes.cyclone`: tropical-cyclone detection in OLR patches (streamed synthetic
  data, five hard-negative members, weighted ensemble, test-time augmentation, final table);
  ``python -m geolab.recipes.cyclone --help``, also under ``torchrun``.
* :mod:`geolab.recipes.beachlitter`: beach-litter segmentation on the real BeachLitter photos
  (EXIF-upright, aspect-kept scaling, split by survey day, HRNet-style network, prior correction
  chosen on validation, native-resolution scores); writes the checkpoint
  ``geolab beach-coverage`` reads; ``python -m geolab.recipes.beachlitter --help``, also under
  ``torchrun``.
"""
