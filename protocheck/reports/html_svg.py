"""Inline SVG plots generated in Python (no JavaScript plotting library): strip plots and site timelines.

Every label is escaped with ``esc``; tooltips are SVG ``<title>`` elements, so nothing needs a script.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any, Sequence

from protocheck.reports.html_base import esc, fmt

# Vendor colours are fixed (the same vendor has the same colour in every plot of every report); red is kept
# for flags. Other vendors get a palette colour chosen by a hash of their name, so it never depends on the plot.
VENDOR_COLOURS = {"siemens": "#0969da", "ge": "#1a7f37", "philips": "#8250df", "canon": "#bc4c00",
                  "toshiba": "#bc4c00", "uih": "#1b7c83", "hitachi": "#bf3989", "fujifilm": "#bf3989"}
PALETTE = ("#0550ae", "#6e7781", "#953800", "#116329", "#6639ba", "#0a3069", "#8a4600", "#57606a")
_STATUS_FILL = {"s-ok": "#1a7f37", "s-warn": "#d4a72c", "s-err": "#cf222e", "s-unk": "#8c959f", "s-na": "#d0d7de"}
_FONT = 'font-family="system-ui,Arial,sans-serif"'


def vendor_colour(vendor: str) -> str:
    """The fixed colour of a vendor ("SIEMENS", "Siemens Healthineers" -> the same blue), whatever the plot."""
    from protocheck.checks.audit.inventory import vendor_key
    key = vendor_key(vendor)
    if key in VENDOR_COLOURS:
        return VENDOR_COLOURS[key]
    digest = int(hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:8], 16)
    return PALETTE[digest % len(PALETTE)]


def vendor_colours(vendors: Sequence[str]) -> dict[str, str]:
    """The fixed colour of each vendor name (``vendor_colour``)."""
    return {v: vendor_colour(v) for v in set(vendors)}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=mag * 10)
    start = math.ceil(lo / step) * step
    ticks: list[float] = []
    t = start
    while t <= hi + step * 1e-9 and len(ticks) < 12:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _axis(pts: list[dict[str, Any]], left: float, plot_w: float) -> tuple[Any, list[tuple[float, str]]]:
    """x position function and ticks: numeric axis when every value is a number, else categorical."""
    maybe = [_number(p["value"]) for p in pts]
    nums = [v for v in maybe if v is not None]
    if len(nums) == len(maybe):
        lo, hi = min(nums), max(nums)
        pad = (hi - lo) * 0.08 or (abs(hi) * 0.1 or 1.0)
        lo, hi = lo - pad, hi + pad
        ticks = [(left + (t - lo) / (hi - lo) * plot_w, fmt(t)) for t in _nice_ticks(lo, hi)]
        return (lambda p: left + (float(p["value"]) - lo) / (hi - lo) * plot_w), ticks
    cats = sorted({fmt(p["value"]) for p in pts})
    step = plot_w / max(len(cats), 1)
    cpos = {c: left + step * (i + 0.5) for i, c in enumerate(cats)}
    return (lambda p: cpos[fmt(p["value"])]), [(cpos[c], _short(c, 18)) for c in cats]


def strip_plot(title: str, points: list[dict[str, Any]], *, unit: str = "", width: int = 560) -> str:
    """A dot/strip plot of one parameter: one row per vendor, one dot per site value (colour = vendor).

    ``points``: dicts with ``site``, ``vendor``, ``value``, optionally ``n`` (sessions) and ``flag`` (True
    when the site differs: the dot is ringed red and labelled with the site). Numeric values get a numeric
    axis; anything else (lists, text) a categorical one. Hover a dot for its site, vendor and value.
    """
    pts = [p for p in points if p.get("value") is not None]
    if not pts:
        return ""
    vendors = sorted({str(p.get("vendor") or "?") for p in pts})
    rows = {v: i for i, v in enumerate(vendors)}
    colours = vendor_colours(vendors)
    left, right, top, row_h = 90, 20, 12, 34
    plot_w = width - left - right
    height = top + row_h * len(rows) + 34
    xpos, ticks = _axis(pts, left, plot_w)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="strip" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{esc(title)}" {_FONT} font-size="11">',
           f'<title>{esc(title)}</title>']
    for vendor, i in rows.items():
        y = top + row_h * i + row_h / 2
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eaeef2"/>'
                   f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{colours[vendor]}" '
                   f'font-weight="600">{esc(_short(vendor, 12))}</text>')
    axis_y = top + row_h * len(rows) + 2
    out.append(f'<line x1="{left}" x2="{width - right}" y1="{axis_y}" y2="{axis_y}" stroke="#57606a"/>')
    for x, label in ticks:
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{axis_y}" y2="{axis_y + 4}" stroke="#57606a"/>'
                   f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#57606a">{esc(label)}</text>')
    if unit:
        out.append(f'<text x="{width - right}" y="{axis_y + 30}" text-anchor="end" fill="#57606a">{esc(unit)}</text>')
    seen: dict[tuple[int, int], int] = {}
    labels: list[tuple[float, float, str]] = []
    for p in sorted(pts, key=lambda q: bool(q.get("flag"))):
        vendor, site = str(p.get("vendor") or "?"), str(p.get("site") or "?")
        x, row = xpos(p), rows[vendor]
        k = seen.get((row, round(x)), 0)
        seen[(row, round(x))] = k + 1
        y = top + row_h * row + row_h / 2 + ((k % 5) - 2) * 4
        x += (k // 5) * 3 * (1 if (k // 5) % 2 else -1)
        n = p.get("n") or 1
        tip = f"{site} ({vendor}): {fmt(p['value'])}" + (f" — {n} sessions" if n != 1 else "")
        ring = ' stroke="#cf222e" stroke-width="2"' if p.get("flag") else ' stroke="#fff"'
        out.append(f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colours[vendor]}" '
                   f'fill-opacity="0.7"{ring}><title>{esc(tip)}</title></circle>')
        if p.get("flag") and _short(site, 16) not in {t for _, _, t in labels}:      # one label per site
            labels.append((x, y, _short(site, 16)))
    out.extend(_place_labels(labels, width - right))
    out.append("</svg>")
    return "".join(out)


def _place_labels(labels: list[tuple[float, float, str]], x_max: float, limit: int = 6) -> list[str]:
    """Labels beside their dots, moved up or down (or to the left) so that no two overlap; the ones that
    cannot be placed are left to the dot's tooltip."""
    placed: list[tuple[float, float, float, float]] = []
    out: list[str] = []
    for x, y, text in labels:
        w, h = 6.2 * len(text) + 2, 11.0
        for dy in (0, -11, 11, -22, 22):
            lx = x + 7 if x + 7 + w <= x_max else x - 7 - w
            box_ = (lx, y + dy - 8, lx + w, y + dy - 8 + h)
            if not any(b[0] < box_[2] and box_[0] < b[2] and b[1] < box_[3] and box_[1] < b[3] for b in placed):
                placed.append(box_)
                out.append(f'<text class="flag-label" x="{lx:.1f}" y="{y + dy + 1:.1f}" fill="#cf222e">'
                           f'{esc(text)}</text>')
                break
        if len(out) >= limit:
            break
    return out


def _legend(colours: dict[str, str], x: float, y: float) -> str:
    parts = []
    for vendor, colour in colours.items():
        parts.append(f'<circle cx="{x + 5}" cy="{y - 4}" r="5" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="{y}" fill="#1f2328">{esc(_short(vendor, 20))}</text>')
        x += 24 + 7 * min(len(vendor), 20)
    return "".join(parts)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


_DATE = re.compile(r"^(\d{4})-?(\d{2})(?:-?(\d{2}))?")


def month_value(date: Any) -> float | None:
    """A date ("YYYY-MM", "YYYY-MM-DD", "YYYYMMDD") as months since year 0; None if unreadable."""
    m = _DATE.match(str(date or ""))
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
    if not 1 <= month <= 12:
        return None
    return year * 12 + (month - 1) + (min(day, 31) - 1) / 31


def timeline(lanes: list[dict[str, Any]], *, width: int = 1100) -> str:
    """One lane per site along time: exams as dots coloured by verdict, drift events as red triangles.

    ``lanes``: dicts with ``site``, ``exams`` (dicts with ``date`` and ``status_class``/``label``) and
    ``events`` (dicts with ``date`` and ``label``). Dates are year-month or full ISO dates.
    """
    maybe = [month_value(e.get("date")) for lane in lanes for e in lane.get("exams", []) + lane.get("events", [])]
    stamps = [s for s in maybe if s is not None]
    if not lanes or not stamps:
        return ""
    lo, hi = min(stamps) - 1, max(stamps) + 1
    left, right, top, lane_h = 150, 20, 14, 20
    plot_w = width - left - right
    height = top + lane_h * len(lanes) + 34
    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="Exams and drift events per site over time" '
           f'{_FONT} font-size="11"><title>Exams and drift events per site over time</title>']
    for i, lane in enumerate(lanes):
        y = top + lane_h * i + lane_h / 2
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y}" y2="{y}" stroke="#d0d7de"/>'
                   f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" fill="#1f2328">'
                   f'{esc(_short(str(lane.get("site") or "?"), 22))}</text>')
        for e in lane.get("exams", []):
            v = month_value(e.get("date"))
            if v is not None:
                fill = _STATUS_FILL.get(str(e.get("status_class")), "#8c959f")
                out.append(f'<circle class="exam" cx="{x(v):.1f}" cy="{y}" r="5" fill="{fill}" stroke="#fff">'
                           f'<title>{esc(e.get("label") or e.get("date"))}</title></circle>')
        for e in lane.get("events", []):
            v = month_value(e.get("date"))
            if v is not None:
                cx = x(v)
                out.append(f'<path class="drift" d="M{cx:.1f},{y - 4} l5,-7 h-10 z" fill="#cf222e">'
                           f'<title>{esc(e.get("label") or "drift")}</title></path>'
                           f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y - 9}" y2="{y + 9}" stroke="#cf222e" '
                           'stroke-dasharray="2,2"/>')
    axis_y = top + lane_h * len(lanes) + 2
    first = int(math.ceil(lo))
    step = max(1, int((hi - lo) / 10) or 1)
    for m in range(first, int(hi) + 1, step):
        out.append(f'<text x="{x(m):.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#57606a">'
                   f'{m // 12:04d}-{m % 12 + 1:02d}</text>')
    out.append("</svg>")
    return "".join(out)
