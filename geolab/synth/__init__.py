"""Synthetic data generators of the course.

* :mod:`geolab.synth.beach`: BeachLitter-like beach photos rendered through a ground-plane
  camera, with label masks and exact litter areas in m²; ``hard=True`` and ``field=True`` give
  harder scenes and a field set (sloping beach, camera roll, litter height), whose geometry
  lives in :mod:`geolab.synth.beach_geometry`.
* :mod:`geolab.synth.beach_patches`: small labelled patches (sand, sea, sky, vegetation, litter)
  cut from those scenes, with the scene of each patch for splits by scene.
* :mod:`geolab.synth.multispectral`: Sentinel-2-like multispectral scenes (six bands, surface
  reflectance) with a land-cover map, clouds and shadows, and optional speckled SAR backscatter.
* :mod:`geolab.synth.ships`: sea chips with ships and icebergs and their bounding boxes, for
  object detection.
* :mod:`geolab.synth.shapes`: images of textured polygons and ellipses with exact region
  labels, for scoring unsupervised segmentation.
"""
