"""The ``geolab`` command line.

``geolab doctor`` reports what the course needs and what this machine has. Chapters add
their own sub-commands by appending a ``(name, help, add_arguments, run)`` entry to
:data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["COMMANDS", "doctor_report", "main"]


def _version(module: str) -> str:
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - report any import failure
        return f"missing ({type(exc).__name__})"
    return str(getattr(mod, "__version__", "?"))


def doctor_report() -> dict[str, Any]:
    """Collect versions, device, profile, data folder, Haar cascades and GPU state."""
    from geolab import __version__
    from geolab.runtime import data_dir, device, profile

    report: dict[str, Any] = {
        "geolab": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for mod in ("numpy", "torch", "torchvision", "cv2", "skimage", "sklearn", "matplotlib", "ipywidgets"):
        report[mod] = _version(mod)
    try:
        prof = profile()
        report["profile"] = f"{prof.name} ({prof.description})"
    except ValueError as exc:
        report["profile"] = f"ERROR: {exc}"
    report["data_dir"] = str(data_dir(create=False))
    try:
        import os

        import cv2

        # OpenCV's type stubs omit the cv2.data module that its wheels ship.
        xml = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")  # type: ignore[attr-defined]
        report["haar_cascades"] = f"ok ({xml})" if os.path.exists(xml) else f"MISSING ({xml})"
    except Exception as exc:  # noqa: BLE001
        report["haar_cascades"] = f"MISSING ({type(exc).__name__}: {exc}); install opencv-python-headless<5"
    try:
        import torch

        report["device"] = str(device())
        if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
            x = torch.ones(8, device="cuda")
            report["gpu"] = f"usable: {torch.cuda.get_device_name(0)} (sum test {float(x.sum()):.0f})"
        else:
            report["gpu"] = "none (CPU only; the smoke and standard profiles are made for this)"
    except Exception as exc:  # noqa: BLE001
        report["device"] = "unknown"
        report["gpu"] = f"not usable ({type(exc).__name__}: {exc})"
    return report


def _doctor(args: argparse.Namespace) -> int:
    report = doctor_report()
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    problems = [k for k in ("torch", "torchvision", "cv2") if str(report[k]).startswith("missing")]
    if str(report["haar_cascades"]).startswith("MISSING"):
        problems.append("haar_cascades")
    if str(report["profile"]).startswith("ERROR"):
        problems.append("profile")
    if problems:
        print(f"\nProblems: {', '.join(problems)}", file=sys.stderr)
        return 1
    print("\nAll set.")
    return 0


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

COMMANDS: list[Command] = [
    ("doctor", "check the installation: versions, device, profile, data folder", lambda p: None, _doctor),
    (
        "beach-coverage",
        "litter area (m²) per class and coverage %% of beach photos with a trained segmentation model",
        lambda p: importlib.import_module("geolab.coverage_cli").add_arguments(p),
        lambda a: importlib.import_module("geolab.coverage_cli").run_cli(a),
    ),
]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="geolab", description="Tools of the geolab course.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text.replace("%%", "%"))
        add_arguments(p)
        p.set_defaults(_run=run)
    # differentiable feature clustering (geolab.unsupervised) registers its own sub-command
    importlib.import_module("geolab.unsupervised.cli").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geolab`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
