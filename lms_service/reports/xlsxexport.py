"""Excel (XLSX) exports, streamed like the CSV ones, built with the standard library alone.

Report exports can run to hundreds of thousands of rows, so the workbook is never held in memory: the rows are
written as worksheet XML into a ``zipfile`` member as they arrive, and the compressed bytes are sent on after
every batch. The zip archive goes to a write-only sink that cannot seek, so ``zipfile`` puts each member's sizes
in a data descriptor after its data instead of going back to patch the header.

Text goes in as inline strings (no shared-strings table to collect first) and no cell ever carries a formula, so
a value such as ``=HYPERLINK(...)`` stays the literal text it was; unlike CSV there is nothing to defuse and
nothing is prefixed.

Cell values: ``str`` is text; ``int`` and ``float`` (and finite ``Decimal``) are numbers; ``bool`` is a real
boolean cell (TRUE/FALSE); ``datetime.date`` and ``datetime.datetime`` are real Excel dates shown as
``yyyy-mm-dd`` and ``yyyy-mm-dd hh:mm:ss`` (aware datetimes are converted to UTC first, since Excel has no time
zones); ``None`` and ``""`` leave the cell empty; anything else is written as ``str(value)``.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import islice
from xml.sax.saxutils import escape, quoteattr

from flask import Response, stream_with_context

log = logging.getLogger(__name__)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Excel's own limits: text beyond them is cut, rows and columns beyond them would make Excel refuse the file.
_MAX_CELL_CHARS = 32_767
_MAX_TITLE_CHARS = 31
_MAX_ROWS = 1_048_576
_MAX_COLUMNS = 16_384
# Integers this large lose digits in Excel's 15-significant-digit numbers (1234567890123456789 would show as
# 1.23457E+18), so they are written as text to keep every digit.
_MAX_EXACT_INT = 10**15
# The worksheet member is written without ZIP64 extensions because Microsoft Office has been seen rejecting
# small archives whose local headers carry them (which is what force_zip64=True writes). Without them a member
# must stay under 2 GiB, so the sheet stops short of that, with room for the closing tags and deflate overhead.
_ZIP32_MEMBER_LIMIT = (1 << 31) - 1
_MAX_SHEET_BYTES = _ZIP32_MEMBER_LIMIT - (16 << 20)
# Worksheet XML is handed to the compressor, and whatever it has produced is sent, about this often.
_BATCH_BYTES = 64 * 1024

_SHEET_PATH = "xl/worksheets/sheet1.xml"
_STYLE_HEADER, _STYLE_DATE, _STYLE_DATETIME = 1, 2, 3
# Excel serial day 0; serials are only right from 1900-03-01 on, because Excel believes 1900 was a leap year.
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_FIRST_SERIAL_DATE = dt.date(1900, 3, 1)

# XML 1.0 allows tab, newline, carriage return and these ranges; anything else makes the part unreadable.
_ILLEGAL_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Excel decodes _xHHHH_ in cell text as an escaped character, so a literal one has its underscore escaped.
_EXCEL_ESCAPE_LOOKALIKE = re.compile("_(x[0-9A-Fa-f]{4}_)")
_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# A raw CR would be read back as a newline (XML normalises line ends); a character reference survives.
_TEXT_ENTITIES = {"\r": "&#13;"}

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

_CONTENT_TYPES = _XML_DECLARATION + (
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml"'
    ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>")

_ROOT_RELS = _XML_DECLARATION + (
    f'<Relationships xmlns="{_PACKAGE_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>")

_WORKBOOK_RELS = _XML_DECLARATION + (
    f'<Relationships xmlns="{_PACKAGE_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/>'
    "</Relationships>")

# Cell formats, by index: 0 plain, 1 bold (header), 2 date, 3 date and time.
_STYLES = _XML_DECLARATION + (
    f'<styleSheet xmlns="{_MAIN_NS}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>")

_SHEET_END = b"</sheetData></worksheet>"


class _Sink:
    """A write-only byte buffer without tell() or seek(), so that zipfile streams into it; drained after batches."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        """zipfile flushes when it closes; the bytes leave through drain() instead."""

    def close(self) -> None:
        """Nothing to release; the last bytes are drained after the archive closes."""

    def drain(self) -> bytes:
        data = bytes(self._buffer)
        self._buffer.clear()
        return data


def _truncate(text: str, limit: int) -> str:
    # Excel counts UTF-16 code units, so an emoji takes two; a pair cut in half is dropped by the decoder.
    if len(text) <= limit // 2:
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * limit:
        return text
    return units[: 2 * limit].decode("utf-16-le", errors="ignore")


def _clean_text(value: str, limit: int = _MAX_CELL_CHARS) -> str:
    return _truncate(_ILLEGAL_XML_CHARS.sub("", value), limit)


def _sheet_name(title: str) -> str:
    """``title`` made acceptable to Excel as a sheet name: at most 31 characters, none of []:*?/\\."""
    cleaned = _TITLE_FORBIDDEN.sub("_", _ILLEGAL_XML_CHARS.sub("", title)).strip().strip("'").strip()
    cleaned = _truncate(cleaned, _MAX_TITLE_CHARS).strip()
    # Excel keeps "History" for its change-tracking sheet.
    return cleaned if cleaned and cleaned.casefold() != "history" else "Report"


@functools.cache
def _column_name(index: int) -> str:
    """A for 0, Z for 25, AA for 26 and so on."""
    name = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(ord("A") + remainder) + name
    return name


def _text_cell(ref: str, value: str, style: int = 0) -> str:
    text = _clean_text(value)
    if not text:
        return ""
    if "_x" in text:
        text = _EXCEL_ESCAPE_LOOKALIKE.sub(r"_x005F_\1", text)
    body = escape(text, _TEXT_ENTITIES)
    # Without xml:space="preserve" Excel trims leading and trailing blanks.
    space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
    style_attr = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{style_attr} t="inlineStr"><is><t{space}>{body}</t></is></c>'


def _number_cell(ref: str, number: float | int, style: int = 0) -> str:
    style_attr = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{style_attr}><v>{number!r}</v></c>'


def _finite_float(value: float | Decimal) -> float | None:
    try:
        number = float(value)
    except (ValueError, OverflowError):  # a signalling Decimal NaN will not convert
        return None
    return number if math.isfinite(number) else None


def _date_serial(value: dt.date) -> float | None:
    """Days since Excel's epoch, or None where Excel cannot show the date correctly."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        if value.date() < _FIRST_SERIAL_DATE:
            return None
        delta = value - _EXCEL_EPOCH
        return delta.days + (delta.seconds + delta.microseconds / 1_000_000) / 86_400
    if value < _FIRST_SERIAL_DATE:
        return None
    return (value - _EXCEL_EPOCH.date()).days


def _cell(ref: str, value: object) -> str:
    """One <c> element, or "" for an empty cell. Never a formula: text is always an inline string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return _number_cell(ref, value) if abs(value) < _MAX_EXACT_INT else _text_cell(ref, str(value))
    if isinstance(value, dt.date):
        serial = _date_serial(value)
        if serial is None:
            return _text_cell(ref, value.isoformat())
        return _number_cell(ref, serial, _STYLE_DATETIME if isinstance(value, dt.datetime) else _STYLE_DATE)
    if isinstance(value, str):
        return _text_cell(ref, value)
    if isinstance(value, float | Decimal):
        number = _finite_float(value)
        # NaN and infinity have no place in a numeric cell; their text at least says what they were.
        return _text_cell(ref, str(value)) if number is None else _number_cell(ref, number)
    return _text_cell(ref, str(value))


def _row(number: int, values: Iterable[object]) -> bytes:
    cells = "".join(_cell(f"{_column_name(index)}{number}", value)
                    for index, value in enumerate(islice(values, _MAX_COLUMNS)))
    return f'<row r="{number}">{cells}</row>'.encode()


def _header_row(header: Sequence[str]) -> bytes:
    cells = "".join(_text_cell(f"{_column_name(index)}1", name, _STYLE_HEADER)
                    for index, name in enumerate(header[:_MAX_COLUMNS]))
    return f'<row r="1">{cells}</row>'.encode()


def _sheet_start(header: Sequence[str]) -> bytes:
    # The header row stays in view while scrolling, and each column starts wide enough for its heading.
    frozen = ('<sheetViews><sheetView workbookViewId="0">'
              '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
              '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>')
    widths = "".join(f'<col min="{index}" max="{index}" width="{min(max(len(name) + 2, 10), 60)}" customWidth="1"/>'
                     for index, name in enumerate(header[:_MAX_COLUMNS], start=1))
    cols = f"<cols>{widths}</cols>" if widths else ""
    return (f'{_XML_DECLARATION}<worksheet xmlns="{_MAIN_NS}">{frozen}'
            f'<sheetFormatPr defaultRowHeight="15"/>{cols}<sheetData>').encode()


def _workbook(title: str) -> str:
    return _XML_DECLARATION + (
        f'<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}"><bookViews><workbookView/></bookViews>'
        f'<sheets><sheet name={quoteattr(title)} sheetId="1" r:id="rId1"/></sheets></workbook>')


def _sheet_batches(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[bytes]:
    """The worksheet XML in pieces of about _BATCH_BYTES, pulling rows only as each piece is wanted."""
    pending = [_sheet_start(header), _header_row(header)]
    pending_bytes = sum(map(len, pending))
    written = 0
    for number, row in enumerate(rows, start=2):
        xml = _row(number, row)
        # Past Excel's row limit, or the size a plain zip member can hold, the file would not open at all;
        # a shorter file that opens is the better failure, and the log says so.
        if number > _MAX_ROWS or written + pending_bytes + len(xml) > _MAX_SHEET_BYTES:
            log.warning("XLSX export %s stopped at row %d: the rest does not fit in one Excel sheet",
                        filename, number - 1)
            break
        pending.append(xml)
        pending_bytes += len(xml)
        if pending_bytes >= _BATCH_BYTES:
            yield b"".join(pending)
            written += pending_bytes
            pending, pending_bytes = [], 0
    pending.append(_SHEET_END)
    yield b"".join(pending)


def _member(name: str, when: dt.datetime) -> zipfile.ZipInfo:
    # A ZipInfo made by hand is stored uncompressed and dated 1980 unless told otherwise.
    info = zipfile.ZipInfo(name, date_time=(when.year, when.month, when.day, when.hour, when.minute, when.second))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _xlsx_chunks(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]],
                 title: str) -> Iterator[bytes]:
    sink = _Sink()
    now = dt.datetime.now()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
                           ("xl/workbook.xml", _workbook(title)), ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                           ("xl/styles.xml", _STYLES)):
            archive.writestr(_member(name, now), text)
        # The small parts go out at once, before the first row is even asked for.
        yield sink.drain()
        with archive.open(_member(_SHEET_PATH, now), "w") as sheet:
            for batch in _sheet_batches(filename, header, rows):
                sheet.write(batch)
                # The compressor keeps some output back; send whatever it has let go of so far.
                if chunk := sink.drain():
                    yield chunk
    yield sink.drain()


def xlsx_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]],
                  sheet_title: str = "Report") -> Response:
    """A streamed Excel workbook attachment with one sheet: a bold, frozen ``header`` row, then ``rows``.

    ``rows`` is consumed lazily while the response is sent, so it may be a generator over a large query; memory
    stays flat whatever the row count. Values are typed as the module docstring describes; text is never a
    formula. ``sheet_title`` is cut to Excel's 31 characters and loses the characters Excel forbids.
    """
    names = [str(name) for name in header]
    title = _sheet_name(sheet_title)

    response = Response(stream_with_context(_xlsx_chunks(filename, names, rows, title)), mimetype=XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
