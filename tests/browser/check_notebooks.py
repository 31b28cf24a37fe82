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
import re
import subprocess
import sys
import tempfile
from pathlib import Path

utfall, register, out_dir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
root = Path(__file__).resolve().parents[2]
out_dir.mkdir(parents=True, exist_ok=True)

CHROMIUM = [
    "chromium",
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
A4 = (595.28, 841.89)  # points


def check(notebook: Path) -> str | None:
    html_path = out_dir / (notebook.stem + ".html")
    run = subprocess.run(
        [utfall, "notebook", "run", str(notebook), "--register", register, "--out", str(html_path), "--quiet"],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        return f"utfall failed: {run.stderr.strip()}"
    html = html_path.read_text()
    for attr, value in re.findall(r'\b(src|href)="([^"]*)"', html):
        if not (value.startswith("data:") or value.startswith("#")):
            return f"not self-contained: {attr}=\"{value}\""
    url = html_path.resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            CHROMIUM + [f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--log-level=0", "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=120,
        )
    console = [l for l in dom.stderr.splitlines() if ":CONSOLE" in l]
    if console:
        return "console: " + " | ".join(console)
    if dom.returncode != 0 or "</html>" not in dom.stdout:
        return f"chromium could not render it (exit {dom.returncode})"
    text = notebook.read_text()
    cells = text.count("```sql") + text.count("```chart")
    if dom.stdout.count("<figure") != cells:
        return f"{dom.stdout.count('<figure')} figures in the rendered page, {cells} cells in the notebook"
    if dom.stdout.count("<svg") < text.count("```chart"):
        return "a chart is missing its SVG"
    pdf_path = out_dir / (notebook.stem + ".pdf")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            CHROMIUM + [f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", url],
            capture_output=True,
            timeout=120,
        )
    pdf = pdf_path.read_bytes() if pdf_path.exists() else b""
    if not pdf.startswith(b"%PDF"):
        return "no PDF printed"
    boxes = {tuple(float(v) for v in m.split()[2:4]) for m in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf)}
    if not boxes or any(abs(w - A4[0]) > 2 or abs(h - A4[1]) > 2 for w, h in boxes):
        return f"pages are not A4: {boxes}"
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    print(f"     {notebook.name}: {cells} cells, {pages} A4 pages, {len(html) // 1024} KiB")
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
