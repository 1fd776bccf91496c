"""The JavaScript the book's pages need, served from the built site so that it works offline.

Sphinx and myst-nb point pages at CDNs for MathJax, RequireJS and the Jupyter widgets
manager. This script installs pinned releases of those packages from the npm registry with
``npm pack`` (checked against the sha512 recorded here), unpacks them under
``_build/web-assets/`` and copies the files the pages load into a static folder that the
book build adds to ``html_static_path``. :func:`sphinx_config` gives the matching settings
(``mathjax_path``, ``nb_ipywidgets_js``). Nothing here is edited by hand: to update, change a
version and its integrity (``npm view NAME@VERSION dist.integrity``).

    python tools/web_assets.py            # install into _build/web-assets and print the settings
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = ROOT / "_build" / "web-assets"


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm release: name, version and the registry's sha512 integrity string."""

    name: str
    version: str
    integrity: str

    @property
    def folder(self) -> str:
        """Folder name of the unpacked package under ``_build/web-assets/packages``."""
        return f"{self.name.replace('/', '+').lstrip('@')}-{self.version}"


MATHJAX = NpmPackage(
    "mathjax", "3.2.2",
    "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
)
REQUIREJS = NpmPackage(
    "requirejs", "2.3.8",
    "sha512-7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
)
# The widget manager myst-nb loads for ipywidgets 8 (it names html-manager 1.0.x).
HTML_MANAGER = NpmPackage(
    "@jupyter-widgets/html-manager", "1.0.15",
    "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
)
PACKAGES = (MATHJAX, REQUIREJS, HTML_MANAGER)


class AssetError(RuntimeError):
    """The offline assets could not be installed (no npm, no registry, wrong checksum)."""


def _check_integrity(tarball: Path, package: NpmPackage) -> None:
    algorithm, expected = package.integrity.split("-", 1)
    digest = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if digest != expected:
        raise AssetError(f"{tarball.name}: {algorithm} is {digest}, expected {expected} for "
                         f"{package.name}@{package.version}; the download is corrupt or the pin is wrong")


def install_package(package: NpmPackage, dest: Path = ASSETS_DIR) -> Path:
    """Unpack one pinned npm package (once) and return its ``package/`` folder."""
    target = dest / "packages" / package.folder
    marker = target / "package" / "package.json"
    if marker.exists():
        return target / "package"
    npm = shutil.which("npm")
    if npm is None:
        raise AssetError("npm is not installed: the offline book needs it to install MathJax, RequireJS and the "
                         "widgets manager (Debian: apt-get install -y npm)")
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            [npm, "pack", "--silent", "--json", f"{package.name}@{package.version}", "--pack-destination", tmp],
            capture_output=True, text=True, timeout=600,
        )
        if result.returncode != 0:
            raise AssetError(f"npm pack {package.name}@{package.version} failed: {result.stderr.strip()[-2000:]}")
        tarball = Path(tmp) / json.loads(result.stdout)[0]["filename"]
        _check_integrity(tarball, package)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with tarfile.open(tarball) as tar:
            tar.extractall(partial, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return target / "package"


def build_static(dest: Path = ASSETS_DIR) -> Path:
    """Install every package and assemble the static folder the pages load from.

    Returns:
        The folder to add to Sphinx's ``html_static_path``; it holds ``mathjax/``,
        ``require.js`` and ``jupyter-widgets/embed-amd.js``.
    """
    static = dest / "static"
    partial = dest / "static.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copytree(install_package(MATHJAX, dest) / "es5", partial / "mathjax")
    shutil.copy(install_package(REQUIREJS, dest) / "require.js", partial / "require.js")
    shutil.copytree(install_package(HTML_MANAGER, dest) / "dist", partial / "jupyter-widgets",
                    ignore=shutil.ignore_patterns("*.map", "*.LICENSE.txt"))
    shutil.copy(Path(__file__).with_name("web") / "geolab-widgets.js", partial / "geolab-widgets.js")
    shutil.rmtree(static, ignore_errors=True)
    partial.rename(static)
    return static


def sphinx_config(static: Path) -> dict[str, Any]:
    """Sphinx settings that make the pages load MathJax and the widgets manager from ``_static``."""
    return {
        "html_static_path": [str(static)],
        # Relative paths are relative to the built site's _static folder.
        "mathjax_path": "mathjax/tex-chtml.js",
        "nb_ipywidgets_js": {
            "require.js": {},
            # Ours: points RequireJS at the manager's fonts in _static, adapts MathJax 2 calls to MathJax 3.
            "geolab-widgets.js": {},
            # The manager renders ipywidgets' own widgets from its bundle; only third-party
            # widget libraries would be fetched from a CDN (tools/check_html.py reports any).
            "jupyter-widgets/embed-amd.js": {},
        },
    }


if __name__ == "__main__":
    try:
        folder = build_static()
    except AssetError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    print(json.dumps(sphinx_config(folder), indent=2))
