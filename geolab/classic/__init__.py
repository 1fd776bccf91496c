"""Classical (pre-deep-learning) computer vision: the Viola–Jones face detector and its parts.

Submodules (import the one you need; nothing heavy is imported here):

* :mod:`geolab.classic.haar` — integral images, four-look-up rectangle sums and
  vectorised Haar-like features (same features and order as scikit-image).
* :mod:`geolab.classic.adaboost` — discrete AdaBoost with decision stumps on a feature
  matrix.
* :mod:`geolab.classic.cascade` — an attentional cascade of boosted stages.
* :mod:`geolab.classic.detect` — multi-scale sliding-window face detection (OpenCV's
  bundled cascade or ours), window grouping and non-maximum suppression.
"""

__all__: list[str] = []
