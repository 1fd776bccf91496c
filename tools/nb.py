"""Author notebooks as jupytext percent scripts: convert, set the kernel, strip outputs.

    python tools/nb.py lesson.py notebooks/NN_name.ipynb   # script -> notebook
    python tools/nb.py --strip notebooks/*.ipynb            # remove outputs in place

Notebooks are committed without outputs (tests/test_notebooks.py checks it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop outputs, execution counts and editor metadata; set the standard kernel."""
    nb.metadata = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
    }
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in {"tags"}}
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def main(argv: list[str]) -> int:
    """Convert one script or strip outputs; return the exit code."""
    if argv and argv[0] == "--strip":
        for path in argv[1:]:
            nb = nbformat.read(path, as_version=4)
            nbformat.write(clean(nb), path)
        return 0
    if len(argv) != 2:
        print(__doc__)
        return 2
    import jupytext

    src, dst = map(Path, argv)
    nb = jupytext.read(src)
    nbformat.write(clean(nb), dst)
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
