"""Lesson 00 describes the course's parts as _toc.yml has them (the lesson list is generated)."""

from __future__ import annotations

import json
import re

import yaml

from tests.conftest import ROOT


def _section(markdown: str, heading: str) -> str:
    return markdown.split(heading, 1)[1].split("\n## ", 1)[0]


def test_00_names_the_parts_of_the_toc_in_order():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    captions = [part["caption"] for part in toc["parts"] if any(
        c.get("file", "").startswith("notebooks/") for c in part.get("chapters", []))]
    cells = json.loads((ROOT / "notebooks" / "00_getting_started.ipynb").read_text())["cells"]
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    section = _section(markdown, "## How the course is organised")
    named = [" ".join(m.group(1).split()) for m in re.finditer(r"\*\*([^*]+)\*\*", section)]
    named = [n for n in named if n in captions or n.lower().startswith("capstone")]
    assert named == captions, f"00 names the parts {named}; _toc.yml has {captions}"
    assert "{ref}`course map <intro>`" in section, "00 points to the generated course map"
    assert not re.search(r"\b(?:0\d|1[0-2]) ·", section), "no hand-written lesson list in 00: link the course map"


def test_optional_sections_are_announced_in_the_overview():
    """A lesson with '## Optional: ...' sections says so in its Overview (a lesson is a sitting)."""
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        optional = re.findall(r"^## Optional: .+$", markdown, re.M)
        if not optional:
            continue
        overview = _section(markdown, "## Overview")
        assert "optional" in overview.lower(), f"{nb.name}: announce its optional sections in the Overview"
        assert markdown.index(optional[0]) < markdown.index("## Exercises"), f"{nb.name}: optional sections before the exercises"
