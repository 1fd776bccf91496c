"""The book and its notebooks follow the course conventions."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
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
PENDING_NEEDS_GPU_DECLARATION: set[str] = set()


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
    assert re.search(r"\bprofile\((needs_gpu=(True|False))?\)", "\n".join(code)), \
        "sizes must come from geolab.runtime.profile()"
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


# ---------------------------------------------------------------- numbers come from the run
# A figure typed into prose next to a sign of measurement ("measured", "on a 2-core CPU",
# "in the `standard` profile", "153 s") goes stale the moment the profile, the machine or the
# code changes. Figures belong in printed output, generated tables or myst-nb glue.
_STRONG_CUE = re.compile(
    r"measur\w*|\bshared\b[^.]*\b(?:machine|CPU)\b"
    r"|\bon (?:a|an|our|the|this|the course's) (?:[\w'-]+ ){0,3}(?:machine|laptop)\b"
    r"|\bin the\s+profile\b|\bin this run\b|\bwe (?:got|measured|saw|observed)\b",
    re.I,
)
# Weaker cues count unless the sentence states a goal ("at most 90 s on 2 CPU cores").
_WEAK_CUE = re.compile(
    r"\b\d+[- ]v?(?:CPU|core)s?\b|\b(?:CPU|GPU) cores?\b"
    r"|(?<![\w.])\d+(?:\.\d+)?(?:\s?(?:ms|sec|seconds?|min|minutes?|hours?)|\ss)\b",
    re.I,
)
_GOAL = re.compile(r"\bat most\b|\bwithin\b|\bbudget\b|\bgoal\b|\bup to\b", re.I)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?\s?%?")


def _prose(markdown: str) -> str:
    """Markdown without code, math, link targets, headings, directive options and the Time line."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"^\s*(?:#+ .*|\*\*Time:\*\*.*|:\w+:.*)$", " ", text, flags=re.M)


def quoted_measurements(markdown: str) -> list[str]:
    """Sentences of ``markdown`` that quote a measured figure (cited facts from papers are fine)."""
    found = []
    for sentence in re.split(r"(?<=[.!?:])\s+(?=[A-Z(])|\n\s*\n|\n\s*[-*|] ", _prose(markdown)):
        numbers = [n for n in _NUMBER.findall(sentence) if not re.fullmatch(r"(?:19|20)\d\d", n.strip())]
        if not numbers or "{cite" in sentence:
            continue
        if _STRONG_CUE.search(sentence) or (not _GOAL.search(sentence) and _WEAK_CUE.search(sentence)):
            found.append(" ".join(sentence.split())[:140])
    return found


def test_measurement_detector():
    assert quoted_measurements("Measured on a 2-core CPU, the loss fell to 0.143.")
    assert quoted_measurements("In the `standard` profile the accuracy was 97.8%.")
    assert quoted_measurements("| standard | 300 scenes | 0.63 | 153 s |")
    assert quoted_measurements("On our shared 2-core machine the median error was 1.26 %, within the 2 % goal.")
    assert not quoted_measurements("Each notebook runs in at most 90 s on 2 CPU cores.")
    assert not quoted_measurements("The image is 512 × 512 pixels, with values from 0 to 255.")
    assert not quoted_measurements("They measured 95 % recall {cite:p}`key2020`.")
    assert not quoted_measurements("```python\nmeasured = 0.5\n```\nThe code prints `0.91 s`.")
    assert not quoted_measurements("**Time:** about 40 minutes.")


# Lessons written before this check; their chapters replace the figures with printed output or
# glue (the lead clears an entry when its branch lands). The test lists each offending sentence.
KNOWN_MEASUREMENT_OFFENDERS: set[str] = set()


def _offending_cells(nb: Path) -> list[str]:
    out = []
    for index, cell in enumerate(_load(nb)["cells"]):
        if cell["cell_type"] == "markdown":
            out += [f"{nb.name} cell {index}: {s}" for s in quoted_measurements(_source(cell))]
    return out


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_quotes_no_measured_figures(nb):
    offending = _offending_cells(nb)
    if nb.name in KNOWN_MEASUREMENT_OFFENDERS:
        if not offending:
            pytest.fail(f"{nb.name} is clean now: remove it from KNOWN_MEASUREMENT_OFFENDERS")
        pytest.xfail("known offender:\n" + "\n".join(offending))
    assert not offending, "measured figures typed into Markdown (print them, tabulate them or glue them):\n" + "\n".join(offending)


def test_introduction_quotes_no_measured_figures():
    # Only the introduction: the field guide is about measuring beaches, where "measure" is no sign.
    # The generated blocks (course map, run-time table) come from data, not from typing.
    text = (ROOT / "book" / "intro.md").read_text()
    text = re.sub(r"<!-- (?:course map|run-time table): generated.*?<!-- end of [^>]*-->", " ", text, flags=re.S)
    offending = quoted_measurements(text)
    assert not offending, "intro.md quotes measured figures:\n" + "\n".join(offending)


# Lesson prose does not talk about CI or the test machinery (00 and the introduction explain profiles).
_TEST_TALK = re.compile(r"\bCI\b|continuous integration|\bnbval\b|automated tests?|\btest suite\b|\bpytest\b", re.I)
KNOWN_TEST_TALK: set[str] = set()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_does_not_talk_about_ci(nb):
    offending = []
    for index, cell in enumerate(_load(nb)["cells"]):
        if cell["cell_type"] == "markdown":
            text = _prose(_source(cell))
            offending += [f"{nb.name} cell {index}: ...{' '.join(text[max(0, m.start() - 40):m.end() + 40].split())}..."
                          for m in _TEST_TALK.finditer(text)]
    if nb.name in KNOWN_TEST_TALK:
        if not offending:
            pytest.fail(f"{nb.name} is clean now: remove it from KNOWN_TEST_TALK")
        pytest.xfail("known offender:\n" + "\n".join(offending))
    assert not offending, "\n".join(offending)


# ---------------------------------------------------------------- the map matches the territory
_course_map_spec = importlib.util.spec_from_file_location("course_map", ROOT / "tools" / "course_map.py")
course_map = importlib.util.module_from_spec(_course_map_spec)
_course_map_spec.loader.exec_module(course_map)


def test_intro_course_map_matches_the_toc():
    assert (ROOT / "book" / "intro.md").read_text() == course_map.updated_intro(), (
        "book/intro.md's course map is stale: run python tools/course_map.py"
    )
    listed = re.findall(r"\{doc\}`/(notebooks/[^`]+)`", course_map.render())
    assert listed == [f for f in _toc_files(TOC) if f.startswith("notebooks/")]


def _toc_lessons() -> list[str]:
    return [f.split("/", 1)[1] for f in _toc_files(TOC) if f.startswith("notebooks/")]


KNOWN_MISSING_WHATS_NEXT: set[str] = set()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_ends_with_whats_next(nb):
    """'## What's next' after the Summary, before the References, linking the next lesson of the toc."""
    markdown = "\n".join(_source(c) for c in _load(nb)["cells"] if c["cell_type"] == "markdown")
    lessons = _toc_lessons()
    following = lessons[lessons.index(nb.stem) + 1] if nb.stem in lessons[:-1] else None
    problems = []
    if "## What's next" not in markdown:
        problems.append("no '## What's next' section")
    else:
        section = markdown.split("## What's next", 1)[1].split("\n## ", 1)[0]
        if not markdown.index("## Summary") < markdown.index("## What's next") < markdown.index("## References"):
            problems.append("'## What's next' must come after '## Summary' and before '## References'")
        if following and not re.search(rf"\]\({re.escape(following)}(?:\.ipynb)?\)|\{{doc\}}`[^`]*{re.escape(following)}`",
                                       section):
            problems.append(f"'## What's next' does not link the next lesson, {following}")
    if nb.name in KNOWN_MISSING_WHATS_NEXT:
        if not problems:
            pytest.fail(f"{nb.name} is fine now: remove it from KNOWN_MISSING_WHATS_NEXT")
        pytest.xfail(f"{nb.name}: " + "; ".join(problems))
    assert not problems, f"{nb.name}: " + "; ".join(problems)


# ---------------------------------------------------------------- lesson times
_lesson_time_spec = importlib.util.spec_from_file_location("lesson_time", ROOT / "tools" / "lesson_time.py")
lesson_time = importlib.util.module_from_spec(_lesson_time_spec)
sys.modules["lesson_time"] = lesson_time  # dataclasses look their module up there
_lesson_time_spec.loader.exec_module(lesson_time)


def test_run_time_tables_are_generated_from_the_measurements():
    for page in lesson_time.PAGES:
        assert page.read_text() == lesson_time.updated(page), (
            f"{page.name}'s run-time table is stale: run python tools/lesson_time.py")


def test_every_notebook_has_measured_smoke_and_standard_times():
    entries = lesson_time.load_run_times()["notebooks"]
    missing = [f"{nb.stem} {p}" for nb in NOTEBOOKS for p in ("smoke", "standard") if p not in entries.get(nb.stem, {})]
    assert not missing, f"record a run with tools/lesson_time.py --record: {missing}"


def test_study_time_estimate_counts_what_the_lesson_asks(tmp_path):
    md = lambda text: {"cell_type": "markdown", "metadata": {}, "source": text}  # noqa: E731
    code = lambda text, tags=(): {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": text}  # noqa: E731
    words = " ".join(["word"] * 120)
    cells = [
        code("# bootstrap\nimport os", ["remove-cell"]),
        md("# Title\n\n**Time:** about 20 minutes (optional sections: about 2 more minutes)."),
        md(words), code("\n".join(f"x{i} = {i}" for i in range(20)) + "\n# a comment\n\n"),
        md("## Optional: extras\n\n" + words), code("y = 1\nz = 2"),
        md("## Exercises\n\n```{exercise}\n:label: e1\nDo it.\n```"),
        md("```{solution-start} e1\n:class: dropdown\n```"), code("\n".join(["s = 1"] * 50)),
        md("```{solution-end}\n```\n\nThe answer " + words + "\n\n## Self-check\n\n1. One?\n2. Two?\n\n"
           "```{admonition} Answers\n:class: dropdown\n1. Yes.\n2. No.\n```"),
    ]
    nb = tmp_path / "99_example.ipynb"
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    est = lesson_time.estimate(nb, {"notebooks": {"99_example": {"standard": {"seconds": 120}}}})
    assert (est.code_lines, est.exercises, est.self_check, est.optional_code_lines) == (20, 1, 2, 2)
    assert est.optional_words == 122 and est.run_minutes == 2.0
    # 1 + 1 min of prose (title, time line, self-check text aside), 2 min code, 10 exercise, 2 questions, 2 run
    assert 17 < est.core_minutes < 20
    assert lesson_time.stated_minutes(nb) == (20, 2)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_stated_time_agrees_with_the_estimate(nb):
    problems = lesson_time.time_problems([nb])
    assert not problems, "\n".join(problems) + "\n(python tools/lesson_time.py --estimates shows the counts)"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_says_its_profile_and_measured_time(nb):
    """The first lesson cell prints geolab.runtime.profile_banner for this notebook (profile + recorded time)."""
    code = [_source(c) for c in _load(nb)["cells"][1:] if c["cell_type"] == "code"]
    assert code and f'print(profile_banner("{nb.stem}"))' in code[0], (
        f"{nb.name}: print(profile_banner({nb.stem!r})) belongs in the first code cell, after profile()")


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_has_self_check_questions_with_answers(nb):
    text = "\n".join(_source(c) for c in _load(nb)["cells"] if c["cell_type"] == "markdown")
    n = lesson_time.self_check_questions(text)
    assert 5 <= n <= 12, f"{nb.name}: {n} self-check questions; write 5-10 under '## Self-check'"
    after = text[text.index("Self-check"):]
    assert "```{admonition}" in after and ":class: dropdown" in after, f"{nb.name}: answers belong in a dropdown"
