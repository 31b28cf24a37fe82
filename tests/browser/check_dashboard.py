#!/usr/bin/env python3
"""The demo's managers' dashboard opened in headless Chromium: the whole
municipality's page, every per-unit page, and an English copy.

Each page:
- loads with no console message at all (no scripts: any message is an error);
- is self-contained: every src/href is a data: URL or an in-page anchor;
- has, in the DOM Chromium built, one SVG chart with an accessible name
  (role="img", aria-label) and one table behind it per figure;
- prints to PDF on A4 paper.
The municipality's page and the first unit's page are saved as screenshots
(PNG) in ARTIFACTS, the CI run's artefacts.

usage: check_dashboard.py UTFALL REGISTER DASHBOARD_DIR ARTIFACTS
Prints one line per page and ends with 'dashboard-browser: N passed, N failed'.
"""
import re
import subprocess
import sys
from pathlib import Path

from chromium import open_page, print_pdf, screenshot

utfall, register, dashboard, artifacts = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
artifacts.mkdir(parents=True, exist_ok=True)


def check(page: Path, png: Path | None, english: bool = False) -> str | None:
    dom, problem = open_page(page)
    if problem:
        return problem
    figures = re.findall(r'<figure class="chart".*?</figure>', dom, flags=re.S)
    if not figures:
        return "no figure"
    for k, fig in enumerate(figures, 1):
        if len(re.findall(r'<svg role="img" aria-label="[^"]+"', fig)) != 1:
            return f"figure {k} has no SVG chart with an accessible name"
        if fig.count("<table") != 1:
            return f"figure {k} has no table behind its chart"
    if english != ('lang="en"' in dom) or english == ("Målen i översikt" in dom):
        return "the page is not in the language asked for"
    pages = print_pdf(page, artifacts / (page.stem + ".pdf"))
    if isinstance(pages, str):
        return pages
    if png is not None and not screenshot(page, png):
        return "no screenshot"
    shot = f", screenshot {png}" if png else ""
    print(f"     {page.relative_to(page.parents[1])}: {len(figures)} figures, {pages} A4 pages, {page.stat().st_size // 1024} KiB{shot}")
    return None


english = artifacts / "dashboard-en"
run = subprocess.run(
    [utfall, "dashboard", "--register", register, "--out", str(english), "--lang", "en", "--quiet"],
    capture_output=True,
    text=True,
)
units = sorted((dashboard / "enheter").glob("*.html"))
pages = [(dashboard / "index.html", artifacts / "dashboard.png", False)]
pages += [(u, artifacts / "dashboard-unit.png" if i == 0 else None, False) for i, u in enumerate(units)]
pages += [(english / "index.html", artifacts / "dashboard-en.png", True)]
passed = failed = 0
if not units:
    failed += 1
    print(f"FAIL no per-unit pages in {dashboard / 'enheter'}")
if run.returncode != 0:
    failed += 1
    print(f"FAIL utfall dashboard --lang en: {run.stderr.strip()}")
for page, png, is_english in pages:
    problem = check(page, png, is_english) if page.exists() else "missing"
    if problem:
        failed += 1
        print(f"FAIL {page}: {problem}")
    else:
        passed += 1
        print(f"ok   {page}")
print(f"dashboard-browser: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
