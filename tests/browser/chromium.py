"""Headless Chromium (Debian's `chromium`) for the page checks: load a page
and collect its console messages, print it to PDF, take a screenshot, and
check a page is self-contained."""
import re
import subprocess
import tempfile
from pathlib import Path

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


def _run(args: list[str], capture_text: bool = True) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            CHROMIUM + [f"--user-data-dir={profile}"] + args, capture_output=True, text=capture_text, timeout=180
        )


def not_self_contained(html: str) -> str | None:
    """The first src/href that would make a request, if any."""
    for attr, value in re.findall(r'\b(src|href)="([^"]*)"', html):
        if not (value.startswith("data:") or value.startswith("#")):
            return f'{attr}="{value}"'
    return None


def load(path: Path) -> tuple[str, list[str], int]:
    """The DOM Chromium built, every console message, and its exit code."""
    dom = _run(["--enable-logging=stderr", "--v=0", "--log-level=0", "--dump-dom", path.resolve().as_uri()])
    console = [l for l in dom.stderr.splitlines() if ":CONSOLE" in l]
    return dom.stdout, console, dom.returncode


def open_page(path: Path) -> tuple[str, str | None]:
    """Open a page that must be self-contained and load with no console
    message at all: the DOM Chromium built, and the first problem, if any."""
    request = not_self_contained(path.read_text())
    if request:
        return "", f"not self-contained: {request}"
    dom, console, code = load(path)
    if console:
        return dom, "console: " + " | ".join(console)
    if code != 0 or "</html>" not in dom:
        return dom, f"chromium could not render it (exit {code})"
    return dom, None


def print_pdf(path: Path, pdf_path: Path) -> str | int:
    """Print to PDF; the number of pages, or what is wrong."""
    _run(["--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", path.resolve().as_uri()], capture_text=False)
    pdf = pdf_path.read_bytes() if pdf_path.exists() else b""
    if not pdf.startswith(b"%PDF"):
        return "no PDF printed"
    boxes = {tuple(float(v) for v in m.split()[2:4]) for m in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf)}
    if not boxes or any(abs(w - A4[0]) > 2 or abs(h - A4[1]) > 2 for w, h in boxes):
        return f"pages are not A4: {boxes}"
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def screenshot(path: Path, png: Path, width: int = 1280, height: int = 2400) -> bool:
    _run([f"--window-size={width},{height}", "--hide-scrollbars", f"--screenshot={png}", path.resolve().as_uri()])
    return png.exists() and png.read_bytes().startswith(b"\x89PNG")
