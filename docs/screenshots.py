"""Refresh the console screenshots in docs/: the bundled demo exam checked at 80 and 130 columns.

rich records the report as SVG (what a colour terminal shows) and headless Chromium turns it into a PNG:

    python docs/screenshots.py            # writes docs/screenshot-console-80.png and -130.png

The audit page screenshots come from the browser tests (PROTOCHECK_SCREENSHOT / PROTOCHECK_SCREENSHOT_SITE with
tests/reports/test_html_browser.py).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from protocheck.checks.compliance import check_scan  # noqa: E402
from protocheck.protocol.loader import load_protocol  # noqa: E402
from protocheck.reports.console import render_console  # noqa: E402
from protocheck.reports.json_report import report_to_dict  # noqa: E402
from protocheck.sources import scan  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _svg(width: int) -> str:
    protocol = load_protocol("als-brain-3t")
    result = scan([REPO / "sample_headers" / "exam"])
    report = report_to_dict(check_scan(result, protocol), result, protocol)
    console = Console(record=True, width=width, force_terminal=True, color_system="truecolor",
                      highlight=False, file=open("/dev/null", "w"))
    render_console(report, console)
    return console.export_svg(title=f"protocheck check sample_headers/exam ({width} columns)")


def _png(svg: str, out: Path, chromium: str) -> None:
    m = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    w, h = (int(float(m.group(1))) + 1, int(float(m.group(2))) + 1) if m else (1200, 1600)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "console.html"
        page.write_text(f'<!DOCTYPE html><html><body style="margin:0">{svg}</body></html>', encoding="utf-8")
        subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile", f"--window-size={w},{h}",
                        f"--screenshot={out}", page.as_uri()], check=True, capture_output=True, timeout=120)


def main() -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("chromium is needed to turn the SVG into PNG (Debian: apt-get install chromium)")
    for width in (80, 130):
        _png(_svg(width), REPO / "docs" / f"screenshot-console-{width}.png", chromium)


if __name__ == "__main__":
    main()
