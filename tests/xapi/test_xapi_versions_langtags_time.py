"""Version negotiation, language tags, timestamps and durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from xapi.errors import UnsupportedVersion
from xapi.langtags import is_language_tag
from xapi.timeutil import format_timestamp, is_iso8601_duration, is_timestamp, parse_duration, parse_timestamp
from xapi.versions import LATEST, SUPPORTED, negotiate, statement_version_ok


def test_supported_versions():
    assert SUPPORTED == ("2.0.0", "1.0.3")
    assert LATEST == "2.0.0"


@pytest.mark.parametrize("header,expected", [
    ("2.0.0", "2.0.0"), ("2.0", "2.0.0"), ("2.0.1", "2.0.0"), (" 2.0.0 ", "2.0.0"),
    ("1.0", "1.0.3"), ("1.0.0", "1.0.3"), ("1.0.1", "1.0.3"), ("1.0.2", "1.0.3"), ("1.0.3", "1.0.3"),
    ("1.0.9", "1.0.3"),
])
def test_negotiate_accepts(header, expected):
    assert negotiate(header) == expected


@pytest.mark.parametrize("header", [None, "", "  ", "0.9", "0.95", "1.1.0", "1.1", "3.0.0", "2.1.0", "1",
                                    "1.0.3.1", "v1.0.3", "1.0.x", "2.0.0.", "1.0.01"])
def test_negotiate_rejects(header):
    with pytest.raises(UnsupportedVersion) as info:
        negotiate(header)
    assert str(info.value)
    assert isinstance(info.value, ValueError)


def test_negotiate_missing_header_message():
    with pytest.raises(UnsupportedVersion, match="required"):
        negotiate(None)


@pytest.mark.parametrize("value,version,ok", [
    ("1.0", "1.0.3", True), ("1.0.0", "1.0.3", True), ("1.0.9", "1.0.3", True), ("2.0.0", "1.0.3", False),
    ("2.0.0", "2.0.0", True), ("1.0.3", "2.0.0", True), ("0.9.9", "2.0.0", False), ("1.1.0", "2.0.0", False),
])
def test_statement_version(value, version, ok):
    assert statement_version_ok(value, version) is ok


@pytest.mark.parametrize("tag", [
    "en", "en-US", "en-GB", "sv-SE", "tlh", "zh-Hant-TW", "zh-yue-HK", "sr-Latn-RS", "es-419", "de-CH-1901",
    "sl-rozaj-biske", "en-US-u-islamcal", "x-whatever", "en-a-bbb-x-a-ccc", "i-klingon", "zh-min-nan",
    "EN-us", "und", "qaa", "de-1996", "hy-Latn-IT-arevela",
])
def test_language_tags_valid(tag):
    assert is_language_tag(tag)


@pytest.mark.parametrize("tag", [
    "", "a12345", "a12345678", "something", "en-something-AU", "zh-something-ccc", "s-something", "en_US",
    "en-", "-en", "en--US", "e", "en-US-", "toolongtag", "en-x", "en-a", "12", "en US", "ñe", 5, None,
])
def test_language_tags_invalid(tag):
    assert not is_language_tag(tag)


@pytest.mark.parametrize("text,expected", [
    ("2008-09-15T15:53:00.601+00:00", datetime(2008, 9, 15, 15, 53, 0, 601000, UTC)),
    ("2023-05-04T12:00:00-05:00", datetime(2023, 5, 4, 17, 0, tzinfo=UTC)),
    ("2023-05-04T12:00:00+0530", datetime(2023, 5, 4, 6, 30, tzinfo=UTC)),
    ("2023-05-04T12:00:00+02", datetime(2023, 5, 4, 10, 0, tzinfo=UTC)),
    ("2023-05-04T12:00Z", datetime(2023, 5, 4, 12, 0, tzinfo=UTC)),
    ("2023-05-04T12:00:00,5Z", datetime(2023, 5, 4, 12, 0, 0, 500000, tzinfo=UTC)),
    ("2023-05-04t12:00:00.123456789z", datetime(2023, 5, 4, 12, 0, 0, 123456, tzinfo=UTC)),
    ("2023-05-04T12:00:00", datetime(2023, 5, 4, 12, 0, tzinfo=UTC)),
    ("2024-02-29T23:59:59.999Z", datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)),
])
def test_parse_timestamp(text, expected):
    value = parse_timestamp(text)
    assert value == expected
    assert value.utcoffset() == timedelta(0)
    assert is_timestamp(text)


@pytest.mark.parametrize("text", [
    "01/011/2015", "should fail", "2008-09-15T15:53:00.601-00", "2008-09-15T15:53:00.601-0000",
    "2008-09-15T15:53:00.601-00:00", "2008-09-15", "2008-09-15 15:53:00Z", "2023-02-29T12:00:00Z",
    "2023-05-04T25:00:00Z", "2023-05-04T12:60:00Z", "2023-05-04T12:00:60Z", "2023-05-04T12:00:00+24:00",
    "2023-05-04T12:00:00+05:60", "2023-05-04T12:00:00.Z", "2023-5-4T12:00:00Z", "20230504T120000Z",
    "2023-05-04T12:00:00Z\n", "",
])
def test_parse_timestamp_rejects(text):
    assert not is_timestamp(text)
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_parse_timestamp_rejects_non_strings():
    assert not is_timestamp(1700000000)
    with pytest.raises(ValueError):
        parse_timestamp(None)


@pytest.mark.parametrize("value,text", [
    (datetime(2008, 9, 15, 15, 53, 0, 601000, UTC), "2008-09-15T15:53:00.601Z"),
    (datetime(2008, 9, 15, 15, 53, tzinfo=UTC), "2008-09-15T15:53:00.000Z"),
    (datetime(2008, 9, 15, 15, 53, 0, 601234, UTC), "2008-09-15T15:53:00.601234Z"),
    (datetime(2008, 9, 15, 10, 53, tzinfo=timezone(timedelta(hours=-5))), "2008-09-15T15:53:00.000Z"),
    (datetime(2008, 9, 15, 15, 53), "2008-09-15T15:53:00.000Z"),
])
def test_format_timestamp(value, text):
    assert format_timestamp(value) == text
    assert parse_timestamp(text) == (value if value.tzinfo else value.replace(tzinfo=UTC))


@pytest.mark.parametrize("text,seconds", [
    ("PT1H0M0.1S", 3600.1), ("PT4H35M59.14S", 16559.14), ("PT16559.14S", 16559.14), ("P3Y", 3 * 365 * 86400),
    ("P4W", 28 * 86400), ("P1D", 86400), ("PT0S", 0), ("P1DT12H", 129600), ("PT1,5S", 1.5), ("P0.5D", 43200),
    ("P1M", 30 * 86400),
])
def test_durations(text, seconds):
    assert is_iso8601_duration(text)
    assert parse_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("text", [
    "PA1H0M0S", "should fail", "P", "PT", "P4W1D", "P1DT", "1D", "PT1H2", "P-1D", "PT1.S", "P0003-01-29T04:35:59",
    "pt1s", "PT1S ", "", "P1H", "PT1D",
])
def test_durations_invalid(text):
    assert not is_iso8601_duration(text)
    with pytest.raises(ValueError):
        parse_duration(text)


def test_duration_non_string():
    assert not is_iso8601_duration(12345)
    assert not is_iso8601_duration({"key": "invalid"})
