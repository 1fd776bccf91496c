"""geolab: the helper package of the course "Deep learning image recognition for the Earth sciences".

The package mirrors the course: one module (or small subpackage) per topic. Heavy
dependencies (torch, OpenCV) are imported inside the modules that need them, so
``import geolab`` stays fast.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("geolab")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
