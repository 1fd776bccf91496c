"""The book and its notebooks follow the course conventions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())


def _toc_files(node) -> list[str]:
    files = []
    if isinstance(node, dict):
        if "file" in node:
            files.append(node["file"])
        if "root" in node:
            files.append(node["root"])
        for value in node.values():
            if isinstance(value, (list, dict)):
                files += _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            files += _toc_files(item)
    return files


def _load(nb: Path) -> dict:
    return json.loads(nb.read_text())


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _bib_keys() -> set[str]:
    return set(re.findall(r"@\w+\s*\{\s*([^,\s]+)\s*,", (ROOT / "references.bib").read_text()))


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ is empty"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", nb.name) for nb in NOTEBOOKS)


def test_toc_and_notebooks_agree():
    files = _toc_files(TOC)
    for f in files:
        matches = [p for p in (ROOT / f).parent.glob(Path(f).name + ".*")]
        assert matches, f"_toc.yml lists {f}, which does not exist"
    listed = {f for f in files if f.startswith("notebooks/")}
    on_disk = {f"notebooks/{nb.stem}" for nb in NOTEBOOKS}
    assert listed == on_disk


def test_config_excludes_non_pages():
    assert CONFIG["only_build_toc_files"] is True
    for pattern in ("_build", ".*", "tests", "geolab"):
        assert pattern in CONFIG["exclude_patterns"]
    assert CONFIG["execute"]["raise_on_error"] is True
    exts = CONFIG["sphinx"]["extra_extensions"]
    for ext in ("sphinx_exercise", "sphinx_proof", "sphinx_togglebutton"):
        assert ext in exts
    assert CONFIG["bibtex_bibfiles"] == ["references.bib"]
    assert "html_theme_options" not in CONFIG["sphinx"].get("config", {}), "it drops the launch buttons"
    assert CONFIG["launch_buttons"]["colab_url"] and CONFIG["launch_buttons"]["binderhub_url"]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stripped(nb):
    for cell in _load(nb)["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{nb.name}: strip outputs (python tools/nb.py --strip {nb})"
            assert cell.get("execution_count") is None


BOOTSTRAP_NOTEBOOK = ROOT / "notebooks" / "00_getting_started.ipynb"


def bootstrap_source() -> str:
    """The Colab bootstrap cell of 00, which every notebook copies exactly."""
    return _source(_load(BOOTSTRAP_NOTEBOOK)["cells"][0])


def test_bootstrap_cell_of_00_installs_on_colab():
    first = _load(BOOTSTRAP_NOTEBOOK)["cells"][0]
    assert first["cell_type"] == "code"
    src = bootstrap_source()
    url = re.search(r'GEOLAB_REPO = "([^"]+)"', src)
    assert url and url.group(1) == CONFIG["repository"]["url"], "GEOLAB_REPO must mirror repository.url"
    assert '"google.colab" in sys.modules' in src and 'find_spec("geolab") is None' in src
    assert 'os.environ.get("GEOLAB_REPO_URL"' in src, "the repository location is overridable"
    pip_lines = [line for line in src.splitlines() if "%pip install" in line]
    assert pip_lines and not any(line.lstrip().startswith("#") for line in pip_lines), "%pip must run, not be a comment"
    assert src.count("print(") >= 2, "the cell says what it did"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_is_the_bootstrap_of_00(nb):
    first = _load(nb)["cells"][0]
    assert first["cell_type"] == "code"
    assert "remove-cell" in first.get("metadata", {}).get("tags", []), "bootstrap cell must be hidden in the book"
    assert _source(first) == bootstrap_source(), (
        f"{nb.name}: the first cell differs from 00's bootstrap; run python tools/nb.py --sync-bootstrap {nb}"
    )


# Lessons whose metadata says full_needs_gpu but whose code does not yet declare
# profile(needs_gpu=True) (the chapter's branch adds it; the lead clears this list).
PENDING_NEEDS_GPU_DECLARATION = {"08_beachlitter_segmentation.ipynb", "09_beach_coverage.ipynb"}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_declares_whether_full_needs_a_gpu(nb):
    """Notebook metadata ``geolab.full_needs_gpu`` (read by make test-full) agrees with the code.

    A GPU lesson declares ``profile(needs_gpu=True)`` so that it gets ``full`` on a GPU; every
    other lesson gets ``standard`` by default, wherever it runs (see geolab.runtime).
    """
    data = _load(nb)
    flag = data["metadata"].get("geolab", {}).get("full_needs_gpu")
    assert isinstance(flag, bool), f"{nb.name}: set notebook metadata geolab: {{full_needs_gpu: true|false}}"
    code = "\n".join(_source(c) for c in data["cells"] if c["cell_type"] == "code")
    declares = bool(re.search(r"profile\(\s*needs_gpu\s*=\s*True", code))
    if nb.name in PENDING_NEEDS_GPU_DECLARATION:
        if declares:
            pytest.fail(f"{nb.name} now declares needs_gpu: remove it from PENDING_NEEDS_GPU_DECLARATION")
        pytest.xfail(f"{nb.name}: its chapter still has to call profile(needs_gpu=True)")
    assert declares == flag, f"{nb.name}: full_needs_gpu={flag} but profile(needs_gpu=True) {'is' if declares else 'is not'} called"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_structure(nb):
    cells = _load(nb)["cells"]
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    code = [_source(c) for c in cells if c["cell_type"] == "code"]
    assert re.search(r"^# \d\d · ", markdown, re.M), "title '# NN · Name'"
    for heading in ("## Overview", "## Prerequisites", "## Exercises", "## Summary", "## References"):
        assert heading in markdown, f"{nb.name} lacks {heading!r}"
    assert "**Learning objectives.**" in markdown and "**Time:**" in markdown
    order = [markdown.index(h) for h in ("## Overview", "## Prerequisites", "## Exercises", "## Summary", "## References")]
    assert order == sorted(order), "sections out of order"
    assert "profile()" in "\n".join(code), "sizes must come from geolab.runtime.profile()"
    assert "assert" in code[-1], "the last code cell must check the lesson's result"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_have_gated_executed_solutions(nb):
    cells = _load(nb)["cells"]
    labels = []
    open_label = None
    solution_code = 0
    for cell in cells:
        src = _source(cell)
        if cell["cell_type"] == "markdown":
            labels += re.findall(r"```\{exercise\}[^\n]*\n:label: (\S+)", src)
            start = re.search(r"```\{solution-start\} (\S+)", src)
            if start:
                assert open_label is None, "nested solution-start"
                open_label = start.group(1)
                assert ":class: dropdown" in src, "solutions are hidden by default"
            if "```{solution-end}" in src:
                assert open_label is not None, "solution-end without start"
                assert solution_code > 0, f"solution {open_label} has no executed code"
                labels.remove(open_label)
                open_label, solution_code = None, 0
        elif open_label is not None:
            solution_code += 1
    assert open_label is None
    assert not labels, f"exercises without solutions: {labels}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_widgets_avoid_the_output_widget(nb):
    """interact/interactive/Output make nbclient write to the kernel mid-reply and stall (see CONTRIBUTING)."""
    code = "\n".join(_source(c) for c in _load(nb)["cells"] if c["cell_type"] == "code")
    for pattern in (r"\binteract(ive)?\(", r"\binteractive_output\(", r"\bOutput\("):
        assert not re.search(pattern, code), f"{nb.name} uses {pattern!r}: use geolab.plot.interactive_figure"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_citations_exist_in_bibliography(nb):
    text = "\n".join(_source(c) for c in _load(nb)["cells"] if c["cell_type"] == "markdown")
    keys = set()
    for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text):
        keys.update(k.strip() for k in group.split(","))
    assert keys, f"{nb.name} cites nothing"
    missing = keys - _bib_keys()
    assert not missing, f"{nb.name} cites keys missing from references.bib: {sorted(missing)}"


def test_book_pages_cite_existing_keys():
    keys = _bib_keys()
    for page in (ROOT / "book").glob("*.md"):
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", page.read_text()):
            for key in group.split(","):
                assert key.strip() in keys, f"{page.name}: {key}"


def test_glossary_has_japanese_terms():
    text = (ROOT / "book" / "glossary.md").read_text()
    assert "```{glossary}" in text
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text), "glossary entries give the Japanese term"
