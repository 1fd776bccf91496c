"""Classical (pre-deep-learning) computer vision: the Viola–Jones face detector and its parts.

Submodules (import the one you need; nothing heavy is imported here), bottom to top:

* :mod:`geolab.classic.haar` — integral images, four-look-up rectangle sums and
  vectorised Haar-like features (same features and order as scikit-image).
* :mod:`geolab.classic.adaboost` — the decision-stump rule (:func:`stump_predict`) and
  discrete AdaBoost of stumps, a scikit-learn classifier.
* :mod:`geolab.classic.windows` — normalised windows, integral-image pairs, chosen features
  of many windows, image pyramids.
* :mod:`geolab.classic.sampling` — face-free pictures and the sampler of hard negatives.
* :mod:`geolab.classic.stages` — one boosted stage and the rule that sizes it.
* :mod:`geolab.classic.cascade` — an attentional cascade of boosted stages, a scikit-learn
  classifier of windows.
* :mod:`geolab.classic.detect` — multi-scale sliding-window face detection (OpenCV's
  bundled cascade or ours), grouping (OpenCV), non-maximum suppression and IoU (torchvision).
"""

__all__: list[str] = []
