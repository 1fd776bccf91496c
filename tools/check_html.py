r"""Open the built book in headless Chromium with the network off and check what a reader sees.

For every page: formulas are typeset by MathJax (no raw ``\(...\)`` left), every embedded
widget is rendered and its images are visible, every image loads, no request leaves the
machine (anything but ``file:`` and ``data:`` is blocked and reported), and the browser
console shows no error. Uses the operating system's Chromium over the DevTools protocol
(``websocket-client``); no browser is downloaded.

    python tools/check_html.py _build/html                    # every page of the book
    python tools/check_html.py _build/html --screenshot-dir shots --pages notebooks/09_beach_coverage.html
    python tools/check_html.py --find-browser                 # exit 0 if a browser is there
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
    "--hide-scrollbars", "--remote-allow-origins=*",
)
SKIP_PAGES = {"genindex.html", "search.html", "py-modindex.html"}
# Console messages that are not errors of the book, each with the reason.
ALLOWED_CONSOLE = {
    "Got invalid theme mode": "pydata-sphinx-theme logs it on a first visit (empty localStorage), then uses 'auto'",
}

# Runs in the page: waits for MathJax and the widgets, then reports what it finds.
PAGE_REPORT_JS = r"""
(async () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  for (const img of document.images) { img.loading = "eager"; }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  // The widgets manager renders each view into a div.widget-subarea placed before its script tag.
  const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
  const rendered = () => views.filter((v) => {
    const el = v.previousElementSibling;
    return el && el.classList.contains("widget-subarea") && el.children.length > 0 && visible(el);
  }).length;
  let imageModels = 0;
  for (const s of document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]')) {
    const state = JSON.parse(s.textContent).state || {};
    imageModels += Object.values(state).filter((m) => m.model_name === "ImageModel").length;
  }
  const shownImages = () => [...document.querySelectorAll(".widget-image")]
      .filter((im) => im.complete && im.naturalWidth > 0 && visible(im)).length;
  for (let i = 0; i < 150 && (rendered() < views.length || shownImages() < imageModels); i++) await sleep(100);
  for (let i = 0; i < 50 && [...document.images].some((im) => !im.complete); i++) await sleep(100);
  const maths = [...document.querySelectorAll(".math")];
  const untypeset = maths.filter((m) => !m.querySelector("mjx-container")).map((m) => m.textContent.slice(0, 60));
  const rawDelimiters = [...document.querySelectorAll("article p, article li")]
      .filter((el) => /\\\(|\\\[|\$\$/.test(el.textContent) && !el.querySelector("code, mjx-container"))
      .map((el) => el.textContent.slice(0, 60));
  const images = [...document.images];
  return {
    title: document.title,
    mathjax: !!(window.MathJax && MathJax.startup),
    maths: maths.length,
    typeset: document.querySelectorAll("mjx-container").length,
    untypeset: untypeset,
    rawDelimiters: rawDelimiters,
    widgetViews: views.length,
    widgetViewsRendered: rendered(),
    widgetImages: imageModels,
    widgetImagesVisible: shownImages(),
    images: images.length,
    brokenImages: images.filter((im) => !(im.complete && im.naturalWidth > 0)).map((im) => im.currentSrc.slice(0, 100) || im.outerHTML.slice(0, 100)),
  };
})()
"""


def find_browser() -> str | None:
    """Path of a Chromium-family browser: ``$CHROMIUM`` or the first of :data:`BROWSERS` on PATH."""
    env = os.environ.get("CHROMIUM", "").strip()
    if env:
        return env if Path(env).exists() or shutil.which(env) else None
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageResult:
    """What the browser found on one page."""

    page: str
    report: dict[str, Any] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Every reason this page fails the check (empty: it passes)."""
        r = self.report
        out = [f"console: {e}" for e in self.console_errors if not any(a in e for a in ALLOWED_CONSOLE)]
        out += [f"blocked network request: {u}" for u in self.blocked]
        if r.get("maths") and not r.get("mathjax"):
            out.append("MathJax did not load: formulas are raw LaTeX")
        out += [f"formula not typeset: {t!r}" for t in r.get("untypeset", [])]
        out += [f"raw LaTeX delimiters in text: {t!r}" for t in r.get("rawDelimiters", [])]
        if r.get("widgetViewsRendered", 0) < r.get("widgetViews", 0):
            out.append(f"only {r['widgetViewsRendered']} of {r['widgetViews']} embedded widgets are rendered")
        if r.get("widgetImagesVisible", 0) < r.get("widgetImages", 0):
            out.append(f"only {r['widgetImagesVisible']} of {r['widgetImages']} widget images are visible")
        out += [f"image does not load: {s}" for s in r.get("brokenImages", [])]
        return out


class DevTools:
    """A minimal Chrome DevTools protocol client over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=120, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a protocol method and return its result; events that arrive meanwhile are queued."""
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == my_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        if message.get("method") == "Fetch.requestPaused":
            params = message["params"]
            url = params["request"]["url"]
            if url.startswith(("file:", "data:", "blob:", "about:")):
                self.ws.send(json.dumps({"id": 0, "method": "Fetch.continueRequest",
                                         "params": {"requestId": params["requestId"]}}))
            else:
                self.events.append({"blocked": url})
                self.ws.send(json.dumps({"id": 0, "method": "Fetch.failRequest",
                                         "params": {"requestId": params["requestId"],
                                                    "errorReason": "InternetDisconnected"}}))
        elif "method" in message:
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60.0) -> None:
        """Process events until ``method`` arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self.ws.recv())
            self._event(message)
            if message.get("method") == method:
                self.ws.settimeout(120)
                return
        raise TimeoutError(f"no {method} within {timeout:.0f} s")

    def close(self) -> None:
        """Close the websocket."""
        self.ws.close()


def _console_errors(events: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    errors, blocked = [], []
    for e in events:
        if "blocked" in e:
            blocked.append(e["blocked"])
            continue
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args)[:300])
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(str(details.get("exception", {}).get("description", details.get("text")))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"{entry.get('text', '')} {entry.get('url', '')}".strip()[:300])
    return errors, blocked


def check_pages(site: Path, pages: list[Path], browser: str, screenshot_dir: Path | None = None) -> list[PageResult]:
    """Load each page in a fresh tab of one headless browser with the network off."""
    results = []
    with tempfile.TemporaryDirectory(prefix="geolab-chromium-", ignore_cleanup_errors=True) as profile_dir:
        cmd = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "--remote-debugging-port=0",
               "--window-size=1280,900", "about:blank"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            port_file = Path(profile_dir) / "DevToolsActivePort"
            for _ in range(300):
                if port_file.exists() and port_file.read_text().count("\n") >= 1:
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"{browser} exited with code {proc.returncode}")
                time.sleep(0.1)
            port = int(port_file.read_text().splitlines()[0])
            for page in pages:
                results.append(_check_one(site, page, port, screenshot_dir))
                status = "ok" if not results[-1].problems() else "FAILED"
                r = results[-1].report
                print(f"{status:6} {page.relative_to(site)}: {r.get('typeset', 0)} formulas typeset, "
                      f"{r.get('widgetViewsRendered', 0)}/{r.get('widgetViews', 0)} widgets and "
                      f"{r.get('widgetImagesVisible', 0)}/{r.get('widgetImages', 0)} widget images shown, "
                      f"{r.get('images', 0)} images", flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return results


def _check_one(site: Path, page: Path, port: int, screenshot_dir: Path | None) -> PageResult:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        target = json.loads(response.read())
    tab = DevTools(target["webSocketDebuggerUrl"])
    try:
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            tab.send(method)
        tab.send("Network.emulateNetworkConditions", offline=True, latency=0, downloadThroughput=-1,
                 uploadThroughput=-1)
        tab.send("Fetch.enable", patterns=[{"urlPattern": "*"}])
        tab.send("Page.navigate", url=page.resolve().as_uri())
        tab.wait_for("Page.loadEventFired", timeout=120)
        value = tab.send("Runtime.evaluate", expression=PAGE_REPORT_JS, awaitPromise=True, returnByValue=True,
                         timeout=60000)
        if "exceptionDetails" in value:
            raise RuntimeError(f"{page.name}: the page check script failed: {value['exceptionDetails']}")
        report = value["result"]["value"]
        if screenshot_dir is not None:
            screenshot_dir.mkdir(parents=True, exist_ok=True)
            tab.send("Runtime.evaluate", expression="(document.querySelector('mjx-container[display=\"true\"]') "
                     "|| document.querySelector('mjx-container') || document.body).scrollIntoView({block: 'center'})")
            time.sleep(0.5)
            shot = tab.send("Page.captureScreenshot", format="png")
            (screenshot_dir / f"{page.stem}.png").write_bytes(base64.b64decode(shot["data"]))
        errors, blocked = _console_errors(tab.events)
    finally:
        tab.close()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/json/close/{target['id']}", timeout=30).close()
    return PageResult(str(page.relative_to(site)), report, errors, blocked)


def book_pages(site: Path) -> list[Path]:
    """Every HTML page of the built book except Sphinx's generated index and search pages."""
    pages = []
    for p in sorted(site.rglob("*.html")):
        if p.name in SKIP_PAGES or "_static" in p.parts or "_sources" in p.parts:
            continue
        if 'http-equiv="refresh"' in p.read_text(errors="replace")[:2000].lower():
            continue  # a redirect (index.html -> the root page)
        pages.append(p)
    return pages


def main(argv: list[str] | None = None) -> int:
    """Check the pages; print one line per page and every problem; return 1 on any problem."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site", nargs="?", type=Path, help="the built HTML folder (…/_build/html)")
    parser.add_argument("--pages", nargs="*", default=[], help="pages relative to the site (default: all)")
    parser.add_argument("--screenshot-dir", type=Path, help="save a PNG of each page (scrolled to a formula)")
    parser.add_argument("--find-browser", action="store_true", help="print the browser's path; exit 1 if none")
    args = parser.parse_args(argv)
    browser = find_browser()
    if args.find_browser:
        print(browser or "no Chromium found")
        return 0 if browser else 1
    if browser is None:
        print("No Chromium found: apt-get install chromium (Debian), or set CHROMIUM=/path/to/chrome", file=sys.stderr)
        return 2
    if args.site is None or not (args.site / "index.html").exists():
        print(f"{args.site}: no built book here (index.html missing); build it first (make book-smoke)",
              file=sys.stderr)
        return 2
    site = args.site.resolve()
    pages = [site / p for p in args.pages] if args.pages else book_pages(site)
    print(f"Checking {len(pages)} page(s) of {site} offline in {browser}", flush=True)
    results = check_pages(site, pages, browser, args.screenshot_dir)
    failed = [r for r in results if r.problems()]
    for r in failed:
        print(f"\n{r.page}:")
        for problem in r.problems():
            print(f"  - {problem}")
    print(f"\ncheck-html: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
