"""Constants shared by many modules; this module imports nothing from geolab.

Keep it at the bottom of the dependency graph: data, plot, losses, metrics and train all
import from here, never from each other, for values like these.
"""

from __future__ import annotations

__all__ = ["IGNORE_INDEX"]

#: Label of pixels that no loss or metric counts (unlabelled, or outside the image).
IGNORE_INDEX: int = 255
