"""The HTML reports in real headless Chromium, driven over the DevTools protocol (--remote-debugging-pipe).

Checks what a user gets: the matrix and the SVG plots are in the rendered DOM, the page logs no error, fetches
nothing (CDP Network events and a local HTTP server that counts hits), and hostile series names are shown as
text and run nothing (no dialog). Skips with the reason where Debian's ``chromium`` is absent.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import select
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from protocheck.reports.html import render_audit_html, render_certificate_html, render_check_html
from test_html import audit_dict, certificate_dict, check_report

pytestmark = pytest.mark.chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Chromium:
    """A tiny CDP client over --remote-debugging-pipe (fd 3: commands in, fd 4: replies out; NUL-framed JSON)."""

    def __init__(self, profile: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def _fds() -> None:
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                "--disable-default-apps", "--mute-audio", "--hide-scrollbars", f"--user-data-dir={profile}",
                "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=_fds, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def _read_message(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                return None
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False,
             timeout: float = 60) -> dict[str, Any]:
        """Send one command and return its result (events seen meanwhile are kept in ``events``)."""
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not browser:
            msg["sessionId"] = self.session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read_message(deadline - time.monotonic())
            if reply is None:
                break
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(f"no reply to {method}")

    def wait_event(self, method: str, timeout: float = 60) -> dict[str, Any] | None:
        """Wait until an event of this method has been seen (already or newly)."""
        deadline = time.monotonic() + timeout
        while True:
            for e in self.events:
                if e.get("method") == method:
                    return e
            left = deadline - time.monotonic()
            msg = self._read_message(left) if left > 0 else None
            if msg is None:
                return None
            self.events.append(msg)

    def open(self, url: str, width: int = 1280, height: int = 900) -> None:
        """Open a page in a fresh tab with every domain we watch enabled, and wait for its load event."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        assert self.wait_event("Page.loadEventFired") is not None, "page did not load"
        time.sleep(0.3)   # let late console/network events arrive (not a timed assertion)
        self.send("Target.getTargets", browser=True)   # a round trip the page cannot block (dialogs)

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page (by value)."""
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return res.get("result", {}).get("value")

    def screenshot(self, path: Path, height: int | None = None, scale: float = 1.0) -> None:
        """A PNG of the page (full height, or the first ``height`` pixels), optionally scaled down."""
        full = self.evaluate("document.documentElement.scrollHeight")
        h = min(int(full), height) if height else int(full)
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                    "clip": {"x": 0, "y": 0, "width": 1280, "height": h, "scale": scale}})
        path.write_bytes(base64.b64decode(shot["data"]))

    def problems(self, page_url: str) -> dict[str, list[str]]:
        """Console errors, exceptions, log errors, network requests other than the page, dialogs."""
        out: dict[str, list[str]] = {"console": [], "exceptions": [], "log": [], "network": [], "dialogs": []}
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
                out["console"].append(json.dumps(p.get("args"))[:300])
            elif m == "Runtime.exceptionThrown":
                out["exceptions"].append(json.dumps(p.get("exceptionDetails"))[:300])
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out["log"].append(p["entry"].get("text", "")[:300])
            elif m == "Network.requestWillBeSent" and p.get("request", {}).get("url") != page_url:
                out["network"].append(p["request"]["url"][:200])
            elif m == "Page.javascriptDialogOpening":
                out["dialogs"].append(p.get("message", ""))
        return out

    def close(self) -> None:
        try:
            self.session = None
            self.send("Browser.close", browser=True, timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)
        os.close(self._to_child)
        os.close(self._from_child)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """One headless Chromium for the module."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (run .ci/apt-packages); HTML browser tests skipped")
    b = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def hit_server():
    """A local HTTP server on 127.0.0.1 counting every request (nothing may reach it)."""
    _Counter.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Counter.hits
    server.shutdown()
    server.server_close()


def _show(browser: Chromium, tmp_path: Path, html: str, name: str) -> tuple[str, dict[str, list[str]]]:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    url = path.as_uri()
    browser.open(url)
    return url, browser.problems(url)


def test_check_report_renders_matrix_offline_and_hostile_names_inert(browser: Chromium, tmp_path: Path,
                                                                   hit_server: tuple[str, list[str]]) -> None:
    base, hits = hit_server
    report = check_report(hostile=f'<img src="{base}/img" onerror="alert(1)">')
    _, problems = _show(browser, tmp_path, render_check_html(report), "check.html")
    assert problems == {"console": [], "exceptions": [], "log": [], "network": [], "dialogs": []}
    assert hits == []
    assert browser.evaluate("document.images.length") == 0
    assert browser.evaluate("document.querySelectorAll('#matrix td.cell').length") == 3
    assert browser.evaluate("document.documentElement.getAttribute('data-ready')") == "1"   # our script ran
    assert browser.evaluate("document.title") == "protocheck check — als-test 1.0.0"
    text = browser.evaluate("document.body.innerText")
    assert f'<img src="{base}/img" onerror="alert(1)">' in text
    assert "</script><script>alert(2)</script>" in text


def test_audit_report_plots_sorting_and_filtering(browser: Chromium, tmp_path: Path,
                                                  hit_server: tuple[str, list[str]]) -> None:
    base, hits = hit_server
    audit = audit_dict(hostile_site=f'"><svg onload="fetch(\'{base}/x\')"><script>alert(3)</script>')
    _, problems = _show(browser, tmp_path, render_audit_html(audit), "audit.html")
    assert problems == {"console": [], "exceptions": [], "log": [], "network": [], "dialogs": []}
    assert hits == []
    assert browser.evaluate("document.querySelectorAll('#matrix tbody tr').length") == 3
    assert browser.evaluate("document.querySelectorAll('svg.strip circle.dot').length") >= 3
    assert browser.evaluate("document.querySelectorAll('svg.timeline path.drift').length") == 1
    # sorting: click the Site header of the matrix twice -> descending order
    first = "document.querySelector('#matrix tbody tr th').textContent"
    browser.evaluate("document.querySelector('#matrix thead th').click()")
    asc = browser.evaluate(first)
    browser.evaluate("document.querySelector('#matrix thead th').click()")
    assert browser.evaluate(first) != asc
    # filtering: the input inserted before the findings table hides non-matching rows
    browser.evaluate("var i=document.querySelector('#audit-findings').previousElementSibling;"
                     "while (i.tagName !== 'INPUT') { i = i.previousElementSibling; }"   # past the CSV link
                     "i.value='site-b'; i.dispatchEvent(new Event('input'))")
    visible = browser.evaluate("Array.from(document.querySelectorAll('#audit-findings tbody tr'))"
                               ".filter(r=>r.style.display!=='none').map(r=>r.cells[0].textContent)")
    assert visible and set(visible) == {"site-b"}


def test_certificate_renders_and_prints(browser: Chromium, tmp_path: Path) -> None:
    _, problems = _show(browser, tmp_path, render_certificate_html(certificate_dict()), "cert.html")
    assert problems == {"console": [], "exceptions": [], "log": [], "network": [], "dialogs": []}
    assert "QUALIFIED WITH CONDITIONS" in browser.evaluate("document.querySelector('#verdict').innerText")
    pdf = browser.send("Page.printToPDF", {"printBackground": True})
    assert base64.b64decode(pdf["data"])[:5] == b"%PDF-"


def test_harness_detects_fetches_errors_and_dialogs(browser: Chromium, tmp_path: Path,
                                                   hit_server: tuple[str, list[str]]) -> None:
    """Control: a page without our escaping/CSP is caught by every probe the tests above rely on."""
    base, hits = hit_server
    bad = (f'<!DOCTYPE html><title>t</title><img src="{base}/ctl">'
           '<script>console.error("boom");setTimeout(function(){alert("x")},50)</script>')
    _show(browser, tmp_path, bad, "control.html")
    assert browser.wait_event("Page.javascriptDialogOpening", timeout=30) is not None
    browser.send("Page.handleJavaScriptDialog", {"accept": True})
    problems = browser.problems((tmp_path / "control.html").as_uri())
    assert problems["dialogs"] == ["x"]
    assert problems["console"] and any(u.startswith(base) for u in problems["network"])
    assert hits == ["/ctl"]


def test_spine_generic_audit_in_chromium(browser: Chromium, tmp_path: Path, spine_generic: Path) -> None:
    """The real multi-site spine-generic audit (als-spinal-cord) renders with its matrix, plots and timeline."""
    from protocheck.checks.audit import build_audit
    from protocheck.reports.audit_json import audit_to_json
    from protocheck.checks.compliance import check_scan
    from protocheck.protocol.loader import load_protocol
    from protocheck.sources import scan
    from protocheck.sources.options import ScanOptions
    from protocheck.sources.sites import assign_sites

    options = ScanOptions(site_column="institution_id")
    result = scan([spine_generic], options)
    if all(e.site in (None, "unknown") for e in result.exams):
        assign_sites(result, spine_generic, options)
    protocol = load_protocol("als-spinal-cord")
    audit = audit_to_json(build_audit(check_scan(result, protocol), protocol))
    assert len(audit["sites"]) > 30
    _, problems = _show(browser, tmp_path, render_audit_html(audit), "spine-generic.html")
    assert problems == {"console": [], "exceptions": [], "log": [], "network": [], "dialogs": []}
    assert browser.evaluate("document.querySelectorAll('#matrix tbody tr').length") == len(audit["sites"])
    assert browser.evaluate("document.querySelectorAll('#matrix td.cell').length") == \
        len(audit["sites"]) * len(audit["protocol"]["sequences"])
    assert browser.evaluate("document.querySelectorAll('svg.strip').length") >= 5
    assert browser.evaluate("document.querySelectorAll('svg.timeline circle.exam').length") > 200
    assert browser.evaluate("document.querySelectorAll('#sites tbody tr').length") == len(audit["sites"])
    out = os.environ.get("PROTOCHECK_SCREENSHOT")   # e.g. docs/screenshot-audit.png, to refresh the docs image
    if out:
        browser.screenshot(Path(out), height=2300, scale=0.7)


def _spine_generic_audit(spine_generic: Path) -> dict[str, Any]:
    from protocheck.checks.audit import build_audit
    from protocheck.reports.audit_json import audit_to_json
    from protocheck.checks.compliance import check_scan
    from protocheck.protocol.loader import load_protocol
    from protocheck.sources import scan
    from protocheck.sources.options import ScanOptions
    from protocheck.sources.sites import assign_sites

    options = ScanOptions(site_column="institution_id")
    result = scan([spine_generic], options)
    if all(e.site in (None, "unknown") for e in result.exams):
        assign_sites(result, spine_generic, options)
    protocol = load_protocol("als-spinal-cord")
    return audit_to_json(build_audit(check_scan(result, protocol), protocol), [str(spine_generic)])


def test_audit_site_drill_down_csv_and_collapsed_panels(browser: Chromium, tmp_path: Path,
                                                        spine_generic: Path) -> None:
    """Click a site in the matrix: its section opens with its scanners, findings and sessions; every table has
    a CSV download of its rows; consistent harmonization panels start collapsed; a vendor keeps its colour."""
    audit = _spine_generic_audit(spine_generic)
    _, problems = _show(browser, tmp_path, render_audit_html(audit), "drill.html")
    assert problems == {"console": [], "exceptions": [], "log": [], "network": [], "dialogs": []}
    site = "ucl"
    link = f"Array.from(document.querySelectorAll('#matrix th.rowh a')).find(a => a.textContent === '{site}')"
    assert browser.evaluate(f"{link}.getAttribute('href')").startswith("#site-")
    browser.evaluate(f"{link}.click()")
    time.sleep(0.2)           # let the hashchange handler run (not a timed assertion)
    section = "document.querySelector(location.hash)"
    assert browser.evaluate(f"{section}.open") is True
    assert browser.evaluate(f"{section}.querySelector('summary').textContent").startswith(site)
    sessions = sum(1 for s in audit["sessions"] if s["site"] == site)
    assert browser.evaluate(f"{section}.querySelectorAll('table[id$=sessions] tbody tr').length") == sessions
    assert "Philips" in browser.evaluate(f"{section}.querySelector('table[id$=scanners]').innerText")
    # CSV: one link per table, its data URI the table's rows (header first)
    assert browser.evaluate("document.querySelectorAll('a.csv').length") == \
        browser.evaluate("document.querySelectorAll('main table').length")
    link_js = "document.querySelector('#sites').previousElementSibling"
    browser.evaluate(f"{link_js}.addEventListener('click', e => e.preventDefault());"      # no real download
                     f"{link_js}.dispatchEvent(new MouseEvent('click', {{cancelable: true}}))")
    csv = browser.evaluate(f"decodeURIComponent({link_js}.href.split(',').slice(1).join(','))")
    lines = csv.strip("\ufeff").strip().splitlines()
    assert lines[0].startswith("Site") and len(lines) == len(audit["sites"]) + 1
    # consistent panels collapsed, differing ones open
    assert browser.evaluate("document.querySelector('details.consistent').open") is False
    # one colour per vendor across every plot
    pairs = browser.evaluate("Array.from(document.querySelectorAll('svg.strip text[font-weight]'))"
                             ".map(t => [t.textContent, t.getAttribute('fill')])")
    colours: dict[str, set[str]] = {}
    for vendor, fill in pairs:
        colours.setdefault(vendor, set()).add(fill)
    assert len(colours) >= 2 and all(len(c) == 1 for c in colours.values()), colours
    out = os.environ.get("PROTOCHECK_SCREENSHOT_SITE")   # e.g. docs/screenshot-audit-site.png
    if out:
        top = browser.evaluate(f"{section}.getBoundingClientRect().top + window.scrollY")
        shot = browser.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {
            "x": 0, "y": max(0, int(top) - 60), "width": 1280, "height": 1250, "scale": 0.75}})
        Path(out).write_bytes(base64.b64decode(shot["data"]))
