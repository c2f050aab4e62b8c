"""Server-side SVG bar charts: no JavaScript, styled by presentation attributes only (the CSP allows no
inline style), each with a title and a text description for screen readers."""
from __future__ import annotations

import itertools
from collections.abc import Callable

from flask_babel import gettext as _
from markupsafe import Markup, escape

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 200
BAR_AREA = 300
VALUE_WIDTH = 60
_ids = itertools.count(1)


def bar_chart(data: list[tuple[str, int | None]], title: str,
              number: Callable[[int], str] = str) -> Markup:
    """A horizontal bar chart of (label, value) pairs; a None value (a suppressed count) gets no bar and the
    text "hidden" rather than a length that would give it away."""
    chart_id = f"chart-{next(_ids)}"
    largest = max((value for _label, value in data if value), default=0)
    height = max(len(data), 1) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    described = "; ".join(f"{label}: {number(value) if value is not None else _('hidden')}" for label, value in data)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(described or _("No data"))}</desc>',
    ]
    for index, (label, value) in enumerate(data):
        y = GAP + index * (BAR_HEIGHT + GAP)
        text_y = y + BAR_HEIGHT - 6
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{text_y}" text-anchor="end" fill="#1f2933" '
                     f'font-size="13">{escape(short)}</text>')
        if value:
            bar = max(round(BAR_AREA * value / largest), 2)
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{y}" width="{bar}" height="{BAR_HEIGHT}" fill="#2f6f4f"/>')
        else:
            bar = 0
        shown = number(value) if value is not None else _("hidden")
        parts.append(f'<text x="{LABEL_WIDTH + bar + 6}" y="{text_y}" fill="#1f2933" font-size="13">'
                     f'{escape(shown)}</text>')
    if not data:
        parts.append(f'<text x="6" y="{BAR_HEIGHT}" fill="#1f2933" font-size="13">{escape(_("No data"))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# Colours with at least 3:1 contrast against white (WCAG 1.4.11), told apart by dash pattern too.
SERIES_STYLES = (("#2f6f4f", ""), ("#1f5fa8", "6 4"), ("#a34400", "2 3"))
PLOT_WIDTH = 520
PLOT_HEIGHT = 200
MARGIN_LEFT = 56
MARGIN_BOTTOM = 44
LEGEND_HEIGHT = 24


def line_chart(labels: list[str], series: list[tuple[str, list[int | None]]], title: str,
               number: Callable[[int], str] = str) -> Markup:
    """A line chart of several series over the same labels (months); a None value (suppressed) breaks the
    line rather than drawing a value that would give it away. Title and description name every value."""
    chart_id = f"chart-{next(_ids)}"
    largest = max((v for _name, values in series for v in values if v), default=0) or 1
    width = MARGIN_LEFT + PLOT_WIDTH + 40  # room for the last month label, centred on the last point
    height = LEGEND_HEIGHT + PLOT_HEIGHT + MARGIN_BOTTOM
    step = PLOT_WIDTH / max(len(labels) - 1, 1)
    top = LEGEND_HEIGHT

    def x(index: int) -> float:
        return MARGIN_LEFT + index * step if len(labels) > 1 else MARGIN_LEFT + PLOT_WIDTH / 2

    def y(value: int) -> float:
        return top + PLOT_HEIGHT - PLOT_HEIGHT * value / largest

    described = "; ".join(
        f"{name}: " + ", ".join(f"{label} {number(v) if v is not None else _('hidden')}"
                                 for label, v in zip(labels, values, strict=True))
        for name, values in series)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="line-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(described if labels else _("No data"))}</desc>',
        f'<line x1="{MARGIN_LEFT}" y1="{top + PLOT_HEIGHT}" x2="{MARGIN_LEFT + PLOT_WIDTH}" '
        f'y2="{top + PLOT_HEIGHT}" stroke="#52606d"/>',
        f'<line x1="{MARGIN_LEFT}" y1="{top}" x2="{MARGIN_LEFT}" y2="{top + PLOT_HEIGHT}" stroke="#52606d"/>',
    ]
    for fraction in (0.5, 1.0):
        value = round(largest * fraction)
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" fill="#1f2933" '
                     f'font-size="12">{escape(number(value))}</text>')
    # At most about eight month labels, so they never overlap on the axis.
    every = max(1, -(-len(labels) // 8))
    for index, label in enumerate(labels):
        if index % every == 0 or index == len(labels) - 1:
            parts.append(f'<text x="{x(index):.1f}" y="{top + PLOT_HEIGHT + 18}" text-anchor="middle" '
                         f'fill="#1f2933" font-size="12">{escape(label)}</text>')
    for (_name, values), (colour, dash) in zip(series, SERIES_STYLES, strict=False):
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        runs: list[list[str]] = [[]]
        for index, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(index):.1f},{y(value):.1f}")
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                             f'stroke-width="2.5"{dash_attr}/>')
            elif run:
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
    legend_x = MARGIN_LEFT
    for (name, _values), (colour, dash) in zip(series, SERIES_STYLES, strict=False):
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{legend_x}" y1="10" x2="{legend_x + 24}" y2="10" stroke="{colour}" '
                     f'stroke-width="2.5"{dash_attr}/>')
        parts.append(f'<text x="{legend_x + 30}" y="14" fill="#1f2933" font-size="12">{escape(name)}</text>')
        legend_x += 40 + 8 * len(name)
    if not labels:
        parts.append(f'<text x="{MARGIN_LEFT + 6}" y="{top + PLOT_HEIGHT / 2}" fill="#1f2933" '
                     f'font-size="13">{escape(_("No data"))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
