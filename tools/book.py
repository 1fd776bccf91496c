"""Build the Jupyter Book in one run profile and print how long each notebook took.

jupyter-cache keys its cache on a notebook's code, not on the environment, so every
profile gets a cache folder of its own (otherwise a smoke-profile build would be reused
by a standard-profile build). Used by ``make book`` and ``make test``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import web_assets  # noqa: E402  (a sibling script)


def resolve_profile(name: str) -> str:
    """The profile name that geolab would use (empty: its default for this machine)."""
    from geolab.runtime import profile

    return profile(name or None).name


def main(argv: list[str] | None = None) -> int:
    """Build the book; return the exit code of jupyter-book."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", default="", help="smoke | standard | full (default: geolab's default)")
    parser.add_argument("--output", default="", help="folder that receives _build/ (default: the repository)")
    parser.add_argument("--strict", action="store_true", help="-W -n --keep-going: warnings are errors")
    parser.add_argument("--retries", type=int, default=0,
                        help="rebuild this many times after a failure (jupyter-cache re-executes only the "
                             "notebooks that failed); a guard against rare kernel hiccups")
    parser.add_argument("--only", default="",
                        help="comma-separated notebook numbers, e.g. 00,09: build the introduction and just these "
                             "(a quick look at some pages; references to the others are left dangling)")
    parser.add_argument("--online-assets", action="store_true",
                        help="load MathJax and the widgets manager from CDNs instead of serving them from the site")
    args = parser.parse_args(argv)

    name = resolve_profile(args.profile)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    cache = ROOT / "_build" / f".jupyter_cache-{name}"
    config["execute"]["cache"] = str(cache)
    # A cell that outlives this is stalled, not slow: fail (and retry) instead of waiting 30 min.
    # The stall once seen here (nbclient waiting out the whole timeout after an
    # ipywidgets.interactive cell, nbclient#312) is avoided by geolab.plot.interactive_figure;
    # the limit and the retry remain as a guard against other kernel hiccups.
    config["execute"]["timeout"] = {"smoke": 120, "standard": 600}.get(name, config["execute"]["timeout"])
    build_dir = ROOT / "_build"
    build_dir.mkdir(exist_ok=True)
    if not args.online_assets:
        # MathJax, RequireJS and the widgets manager are served from the site: it works offline.
        try:
            static = web_assets.build_static()
        except web_assets.AssetError as exc:
            print(f"ERROR: {exc}\n(use --online-assets to build pages that load them from CDNs)", flush=True)
            return 1
        config.setdefault("sphinx", {}).setdefault("config", {}).update(web_assets.sphinx_config(static))
    config.setdefault("sphinx", {}).setdefault("local_extensions", {})["geolab_book"] = str(ROOT / "tools")
    cfg_path = build_dir / f"_config.{name}.yml"
    cfg_path.write_text(yaml.safe_dump(config, sort_keys=False))

    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(ROOT), "--config", str(cfg_path)]
    if args.only:
        cmd += ["--toc", str(partial_toc(args.only.split(","), build_dir / "_toc.partial.yml"))]
    if args.output:
        cmd += ["--path-output", str(Path(args.output).resolve())]
    if args.strict:
        cmd += ["-W", "-n", "--keep-going"]
    env = dict(os.environ, GEOLAB_PROFILE=name, MPLBACKEND="module://matplotlib_inline.backend_inline")
    print(f"Building the book in the {name!r} profile: {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, cwd=ROOT)
    for attempt in range(args.retries):
        if result.returncode == 0:
            break
        print(f"Book build failed (exit {result.returncode}); retry {attempt + 1} of {args.retries}. "
              "Notebooks that executed cleanly are taken from the cache.", flush=True)
        result = subprocess.run(cmd, env=env, cwd=ROOT)
    total = time.perf_counter() - start
    report_times(cache, name)
    out = Path(args.output).resolve() if args.output else ROOT
    print(f"Book build ({name}) took {total:.0f} s; exit code {result.returncode}; "
          f"HTML in {out / '_build' / 'html' / 'index.html'}", flush=True)
    return result.returncode


def partial_toc(numbers: list[str], path: Path) -> Path:
    """Write a table of contents with the root page and the notebooks numbered ``numbers``."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    wanted = tuple(f"notebooks/{n.strip()}_" for n in numbers if n.strip())
    parts = []
    for part in toc.get("parts", []):
        chapters = [c for c in part.get("chapters", []) if c.get("file", "").startswith(wanted)]
        if chapters:
            parts.append({**part, "chapters": chapters})
    toc["parts"] = parts
    path.write_text(yaml.safe_dump(toc, sort_keys=False))
    return path


def report_times(cache: Path, name: str) -> None:
    """Print each notebook's execution time as recorded by jupyter-cache."""
    try:
        from jupyter_cache import get_cache
    except ImportError:  # pragma: no cover
        return
    if not cache.exists():
        return
    rows = []
    for record in get_cache(str(cache)).list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            rows.append((Path(record.uri).name, float(seconds)))
    if rows:
        print(f"\nNotebook execution times in the book build ({name} profile, from jupyter-cache):")
        for nb, seconds in sorted(rows):
            print(f"  {seconds:7.1f} s  {nb}")


if __name__ == "__main__":
    raise SystemExit(main())
