#!/usr/bin/env python3
"""Every shipped notebook, run by utfall and opened in headless Chromium:

- the page loads with no console message at all (the reports have no scripts,
  so any message is an error: a script error, a blocked or failed resource);
- it is self-contained: every src/href is a data: URL or an in-page anchor;
- it prints to PDF on A4 paper (the print CSS), with at least one page;
- the DOM Chromium built holds every cell (one <figure> per cell) and an
  <svg> per chart.

usage: check_notebooks.py UTFALL REGISTER OUT_DIR
Prints one line per notebook and ends with 'notebook-browser: N passed, N failed'.
"""
import subprocess
import sys
from pathlib import Path

from chromium import open_page, print_pdf

utfall, register, out_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
root = Path(__file__).resolve().parents[2]
out_dir.mkdir(parents=True, exist_ok=True)


def check(notebook: Path) -> str | None:
    html_path = out_dir / (notebook.stem + ".html")
    run = subprocess.run(
        [utfall, "notebook", "run", str(notebook), "--register", register, "--out", str(html_path), "--quiet"],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        return f"utfall failed: {run.stderr.strip()}"
    dom, problem = open_page(html_path)
    if problem:
        return problem
    text = notebook.read_text()
    cells = text.count("```sql") + text.count("```chart")
    if dom.count("<figure") != cells:
        return f"{dom.count('<figure')} figures in the rendered page, {cells} cells in the notebook"
    if dom.count("<svg") < text.count("```chart"):
        return "a chart is missing its SVG"
    pages = print_pdf(html_path, out_dir / (notebook.stem + ".pdf"))
    if isinstance(pages, str):
        return pages
    print(f"     {notebook.name}: {cells} cells, {pages} A4 pages, {html_path.stat().st_size // 1024} KiB")
    return None


passed = failed = 0
for notebook in sorted((root / "notebooks").glob("*.md")):
    problem = check(notebook)
    if problem:
        failed += 1
        print(f"FAIL {notebook.name}: {problem}")
    else:
        passed += 1
        print(f"ok   {notebook.name}")
print(f"notebook-browser: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
