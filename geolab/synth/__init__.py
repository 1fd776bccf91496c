"""Synthetic data generators of the course.

* :mod:`geolab.synth.beach`: BeachLitter-like beach photos rendered through a ground-plane
  camera, with label masks and exact litter areas in m².
"""
