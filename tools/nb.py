"""Author notebooks as jupytext percent scripts: convert, set the kernel, strip outputs.

    python tools/nb.py lesson.py notebooks/NN_name.ipynb   # script -> notebook
    python tools/nb.py --strip notebooks/*.ipynb            # remove outputs in place
    python tools/nb.py --sync-bootstrap notebooks/*.ipynb   # first cell := 00's Colab bootstrap

Notebooks are committed without outputs, and every notebook starts with the same Colab
bootstrap cell as ``00_getting_started`` (tests/test_book.py checks both).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BOOTSTRAP_NOTEBOOK = ROOT / "notebooks" / "00_getting_started.ipynb"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop outputs, execution counts and editor metadata; set the standard kernel.

    The ``geolab`` notebook metadata (e.g. ``{"full_needs_gpu": true}``) is kept.
    """
    geolab_meta = nb.metadata.get("geolab")
    nb.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    }
    if geolab_meta is not None:
        nb.metadata["geolab"] = geolab_meta
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in {"tags"}}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def sync_bootstrap(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Make the first cell a copy of 00's bootstrap cell (inserted if the first cell is not one)."""
    reference = nbformat.read(BOOTSTRAP_NOTEBOOK, as_version=4).cells[0]
    cell = nbformat.v4.new_code_cell(reference.source, metadata={"tags": ["remove-cell"]})
    first = nb.cells[0] if nb.cells else None
    is_bootstrap = first is not None and first.cell_type == "code" and "google.colab" in first.source
    if is_bootstrap:
        cell["id"] = first.get("id", cell["id"])
        nb.cells[0] = cell
    else:
        nb.cells.insert(0, cell)
    return nb


def main(argv: list[str]) -> int:
    """Convert one script, strip outputs, or copy the bootstrap cell; return the exit code."""
    if argv and argv[0] in ("--strip", "--sync-bootstrap"):
        for path in argv[1:]:
            nb = nbformat.read(path, as_version=4)
            if argv[0] == "--sync-bootstrap":
                nb = sync_bootstrap(nb)
            nbformat.write(clean(nb), path)
        return 0
    if len(argv) != 2:
        print(__doc__)
        return 2
    import jupytext

    src, dst = map(Path, argv)
    nb = jupytext.read(src)
    if dst.exists() and "geolab" not in nb.metadata:  # keep the lesson's declarations
        old = nbformat.read(dst, as_version=4).metadata.get("geolab")
        if old is not None:
            nb.metadata["geolab"] = old
    nbformat.write(clean(nb), dst)
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
