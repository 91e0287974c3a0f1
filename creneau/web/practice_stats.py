"""Practice statistics: per month, fill rate, no-show rate by visit reason and bookings by channel,
as a server-rendered SVG chart and a CSV download, over the agendas the user may see."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from creneau.accounts.actors import staff_actor
from creneau.booking.models import Source
from creneau.booking.stats import MonthStats, practice_stats
from creneau.core import clock

from .common import domain_errors

CHART_W, CHART_H, PAD = 640, 240, 32
COLOURS: dict[str, str] = {Source.WEB.value: "#2456d6", Source.PHONE.value: "#e08a00", Source.API.value: "#2f9e6b"}


def _months(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("months", "6")), 24))
    except ValueError:
        return 6


def _chart(rows: list[MonthStats]) -> dict[str, Any]:
    """Stacked bars of bookings by channel per month, and the fill rate as a dot on a 0–100 % scale."""
    top = max([r.bookings for r in rows] + [1])
    slot = (CHART_W - 2 * PAD) / len(rows)
    bar_w = slot * 0.6
    inner_h = CHART_H - 2 * PAD
    bars, dots, labels = [], [], []
    for i, r in enumerate(rows):
        x = PAD + i * slot + (slot - bar_w) / 2
        y: float = CHART_H - PAD
        for source in Source.values:
            n = r.by_channel.get(source, 0)
            if not n:
                continue
            h = inner_h * n / top
            y -= h
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "w": round(bar_w, 1),
                    "h": round(h, 1),
                    "fill": COLOURS[source],
                    "n": n,
                    "label": Source(source).label,
                }
            )
        if r.fill_rate is not None:
            dots.append(
                {
                    "cx": round(x + bar_w / 2, 1),
                    "cy": round(CHART_H - PAD - inner_h * min(r.fill_rate, 1), 1),
                    "pct": round(100 * r.fill_rate),
                }
            )
        labels.append({"x": round(x + bar_w / 2, 1), "text": date_format(r.month, "M Y")})
    return {
        "w": CHART_W,
        "h": CHART_H,
        "bars": bars,
        "dots": dots,
        "labels": labels,
        "base": CHART_H - PAD,
        "top": top,
        "legend": [(COLOURS[s], Source(s).label) for s in Source.values],
    }


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


@login_required
@domain_errors
def statistics(request: HttpRequest) -> HttpResponse:
    actor = staff_actor(request)
    months = _months(request)
    rows = practice_stats(actor, last_month=clock.now().date(), months=months)
    motifs = sorted({m for r in rows for m in r.by_motif})
    motif_rows = [(m, [(r.by_motif.get(m, [0, 0])[0], r.by_motif.get(m, [0, 0])[1]) for r in rows]) for m in motifs]
    context = {
        "rows": rows,
        "months": months,
        "chart": _chart(rows),
        "motif_rows": motif_rows,
        "sources": Source.choices,
    }
    return render(request, "web/staff/statistics.html", context)


@login_required
@domain_errors
def statistics_csv(request: HttpRequest) -> HttpResponse:
    actor = staff_actor(request)
    rows = practice_stats(actor, last_month=clock.now().date(), months=_months(request))
    out = io.StringIO()
    writer = csv.writer(out)
    header = [_("month"), _("opening minutes"), _("booked minutes"), _("fill rate (%)"), _("bookings")]
    header += [str(label) for _v, label in Source.choices]
    header += [_("no-shows"), _("no-show rate (%)")]
    writer.writerow(header)
    for r in rows:
        writer.writerow(
            [r.month.strftime("%Y-%m"), r.open_minutes, r.booked_minutes, _pct(r.fill_rate), r.bookings]
            + [r.by_channel.get(v, 0) for v, _l in Source.choices]
            + [r.no_shows, _pct(r.no_show_rate)]
        )
    writer.writerow([])
    writer.writerow([_("visit reason"), _("month"), _("no-shows"), _("fulfilled or missed"), _("no-show rate (%)")])
    for r in rows:
        for motif, (missed, base) in sorted(r.by_motif.items()):
            # A visit reason's name is the practice's own text: a leading = + - @ would be a formula.
            safe = "'" + motif if motif[:1] in "=+-@\t\r" else motif
            writer.writerow([safe, r.month.strftime("%Y-%m"), missed, base, _pct(missed / base if base else None)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="statistics.csv"'
    return response
