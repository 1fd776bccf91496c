"""Synthetic data generators of the course.

* :mod:`geolab.synth.beach`: BeachLitter-like beach photos rendered through a ground-plane
  camera, with label masks and exact litter areas in m².
* :mod:`geolab.synth.shapes`: images of textured polygons and ellipses with exact region
  labels, for scoring unsupervised segmentation.
"""
