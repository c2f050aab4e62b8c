"""CSV exports, streamed row by row, with cells that a spreadsheet would run as a formula defused."""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence

from flask import Response, stream_with_context

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else value.isoformat() if isinstance(value, dt.date) else str(value)
    # A leading apostrophe keeps a spreadsheet from evaluating a name such as "=HYPERLINK(...)".
    return "'" + text if text.startswith(_FORMULA_START) else text


def _lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def write(row: Sequence[object]) -> str:
        writer.writerow([_cell(value) for value in row])
        line = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return line

    yield write(header)
    for row in rows:
        yield write(row)


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response:
    """A streamed text/csv attachment (UTF-8 with a byte-order mark, so spreadsheets read å, ä and ö)."""
    def generate() -> Iterator[str]:
        yield "\ufeff"
        yield from _lines([str(h) for h in header], rows)

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
