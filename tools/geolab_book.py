"""A small Sphinx extension for the course book, loaded by tools/book.py.

sphinx-thebe registers its inline configuration script once per reading pass, so a page can
carry two identical ``const THEBE_JS_URL = ...`` scripts, and the second one throws a
SyntaxError in the browser console. This drops exact duplicates of a page's scripts.
"""

from __future__ import annotations

from typing import Any


def _dedupe_scripts(app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for script in scripts:
        # A script added with filename None and the same script re-added with "" are one script.
        filename = str(getattr(script, "filename", script) or "")
        key = (filename, repr(sorted(getattr(script, "attributes", {}).items())), str(getattr(script, "priority", "")))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    scripts[:] = unique  # in place: later handlers still add to the same list


def setup(app: Any) -> dict[str, Any]:
    """Register the page hook."""
    # Early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
