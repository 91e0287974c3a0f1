"""The bench's chart: every ratio of a run beside the same ratio in the previous committed run, with its
goal, as a self-contained SVG (no plotting dependency). Written next to the run's JSON by `make bench`."""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

# (label, path into the report, goal, True when higher is better)
METRICS: tuple[tuple[str, tuple[str, ...], float, bool], ...] = (
    ("booking / raw INSERT, uncontended", ("booking", "ratio_uncontended"), 0.08, True),
    ("booking / raw INSERT, contended", ("booking", "ratio_contended"), 0.10, True),
    ("booking / raw-equivalent, uncontended", ("booking", "ratio_equivalent_uncontended"), 0.5, True),
    ("booking / raw-equivalent, contended", ("booking", "ratio_equivalent_contended"), 0.5, True),
    ("HTTP search page / trivial view", ("http", "search_page", "ratio_to_ping"), 0.15, True),
    ("HTTP FHIR slots cached / trivial", ("http", "fhir_slot_search", "ratio_to_ping"), 0.6, True),
    ("HTTP FHIR slots computed / trivial", ("http", "fhir_slot_search_uncached", "ratio_to_ping"), 0.15, True),
    ("HTTP FHIR booking / trivial view", ("http", "fhir_booking", "ratio_to_ping"), 0.05, True),
    ("decrypting / plaintext", ("encryption", "ratio"), 1.5, False),
    ("audit on / off: booking", ("audit", "ratio_book"), 1.3, False),
    ("audit on / off: agenda", ("audit", "ratio_agenda"), 1.3, False),
    ("audit on / off: patient search", ("audit", "ratio_psearch"), 1.3, False),
)


def _get(report: dict[str, Any] | None, path: tuple[str, ...]) -> float | None:
    node: Any = report
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return float(node) if isinstance(node, int | float) else None


def scale_growth(report: dict[str, Any] | None) -> float | None:
    """p95 of the 500-practitioner scale query at the largest level over its p95 at 10k."""
    av = (report or {}).get("availability") or {}
    if "10000" not in av or "scale_search" not in av["10000"]:
        return None
    top = max(av, key=int)
    return round(av[top]["scale_search"]["p95_ms"] / av["10000"]["scale_search"]["p95_ms"], 3)


def rows(
    report: dict[str, Any], previous: dict[str, Any] | None
) -> list[tuple[str, float | None, float | None, float, bool]]:
    out = [(label, _get(report, path), _get(previous, path), goal, up) for label, path, goal, up in METRICS]
    out.append(("scale query p95 growth 10k → top level", scale_growth(report), scale_growth(previous), 1.2, False))
    return [r for r in out if r[1] is not None or r[2] is not None]


def previous_run(*, exclude: Path | None = None) -> tuple[str, dict[str, Any]] | None:
    """The newest committed full run other than `exclude` (file names sort by their UTC timestamp)."""
    runs = sorted(p for p in RESULTS.glob("bench-2*.json") if exclude is None or p.resolve() != exclude.resolve())
    if not runs:
        return None
    return runs[-1].name, json.loads(runs[-1].read_text())


def svg(report: dict[str, Any], previous: tuple[str, dict[str, Any]] | None) -> str:
    data = rows(report, previous[1] if previous else None)
    lo, hi = 0.005, 4.0  # log scale: ratios from half a percent to four times the reference
    left, width, bar, gap, top = 300, 460, 9, 12, 56

    def x(v: float) -> float:
        v = min(max(v, lo), hi)
        return left + width * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    height = top + len(data) * (2 * bar + gap) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="10" y="18" font-size="13" font-weight="bold">make bench: ratios of the run '
        f"{escape(str(report.get('started_at', '')))}</text>",
        f'<rect x="10" y="28" width="10" height="{bar}" fill="#1f5fa8"/><text x="24" y="36">this run</text>',
        f'<rect x="90" y="28" width="10" height="{bar}" fill="#a9c4e6"/><text x="104" y="36">previous: '
        f"{escape(previous[0]) if previous else 'none'}</text>",
        '<line x1="420" y1="27" x2="420" y2="39" stroke="#c0392b" stroke-width="2"/>'
        '<text x="426" y="36">goal (log scale)</text>',
    ]
    for tick in (0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 4.0):
        out.append(f'<line x1="{x(tick):.1f}" y1="{top - 6}" x2="{x(tick):.1f}" y2="{height - 30}" stroke="#eee"/>')
        out.append(f'<text x="{x(tick):.1f}" y="{height - 16}" text-anchor="middle" fill="#666">{tick:g}</text>')
    y = top
    for label, now, before, goal, up in data:
        holds = now is not None and (now >= goal if up else now <= goal)
        out.append(f'<text x="{left - 8}" y="{y + bar + 3}" text-anchor="end">{escape(label)}</text>')
        for value, colour, dy in ((now, "#1f5fa8", 0), (before, "#a9c4e6", bar)):
            if value is None:
                continue
            out.append(
                f'<rect x="{left}" y="{y + dy}" width="{x(value) - left:.1f}" height="{bar - 1}" fill="{colour}"/>'
            )
            out.append(f'<text x="{x(value) + 4:.1f}" y="{y + dy + bar - 1}" fill="#333">{value:g}</text>')
        out.append(
            f'<line x1="{x(goal):.1f}" y1="{y - 2}" x2="{x(goal):.1f}" y2="{y + 2 * bar + 1}" '
            'stroke="#c0392b" stroke-width="2"/>'
        )
        mark = "✓" if holds else "✗"
        out.append(
            f'<text x="{left + width + 60}" y="{y + bar + 3}" fill="{"#27ae60" if holds else "#c0392b"}">{mark}</text>'
        )
        y += 2 * bar + gap
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_chart(report: dict[str, Any], previous: tuple[str, dict[str, Any]] | None, path: Path) -> Path:
    path.write_text(svg(report, previous))
    return path
