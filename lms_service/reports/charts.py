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
