"""ISO 8601 timestamps and durations as xAPI uses them (Data 4.5, 4.6)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["format_timestamp", "is_iso8601_duration", "is_timestamp", "parse_duration", "parse_timestamp"]

# ISO 8601 extended combined date-time (which covers RFC 3339), seconds and fraction optional,
# "." or "," as decimal sign, zone Z / +hh:mm / +hhmm / +hh or absent. ISO 8601 forbids a
# negative zero offset and RFC 3339 uses it for "unknown local offset": the 2.0 suite posts
# -00, -0000 and -00:00 and expects a 400, so those are refused separately.
_TIMESTAMP_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?",
    re.ASCII,
)

_DURATION_RE = re.compile(
    r"P(?!$)(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?"
    r"|P(\d+(?:[.,]\d+)?)W",
    re.ASCII,
)


def _match_timestamp(text: str) -> datetime | None:
    match = _TIMESTAMP_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if sign == "-" and int(off_h) == 0 and int(off_m or 0) == 0:
        return None
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        if zulu or sign is None:
            tz = UTC
        else:
            offset = timedelta(hours=int(off_h), minutes=int(off_m or 0))
            if offset >= timedelta(hours=24) or int(off_m or 0) >= 60:
                return None
            tz = timezone(-offset if sign == "-" else offset)
        value = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=tz
        )
        return value.astimezone(UTC)
    except ValueError:  # month 13, 25:00, Feb 30 ...
        return None
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first moment UTC can hold
        return None


def is_timestamp(text: object) -> bool:
    """Whether ``text`` is a Timestamp the LRS accepts (ISO 8601 combined date and time)."""
    return isinstance(text, str) and _match_timestamp(text) is not None


def parse_timestamp(text: str) -> datetime:
    """Parse an xAPI Timestamp into an aware UTC datetime (precision kept to microseconds).

    A timestamp without a zone is read as UTC. Raises ``ValueError`` for anything else.
    """
    value = _match_timestamp(text) if isinstance(text, str) else None
    if value is None:
        raise ValueError(f"{text!r} is not an ISO 8601 timestamp")
    return value


def format_timestamp(dt: datetime) -> str:
    """Format a datetime as the LRS returns timestamps: UTC, "Z", at least millisecond precision.

    ``2008-09-15T15:53:00.601Z``; microseconds are kept when present
    (``2008-09-15T15:53:00.601234Z``). A naive datetime is taken to be UTC.
    """
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    else:
        dt = dt.astimezone(UTC)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    micro = dt.microsecond
    if micro % 1000 == 0:
        return f"{base}.{micro // 1000:03d}Z"
    return f"{base}.{micro:06d}Z"


def is_iso8601_duration(text: object) -> bool:
    """Whether ``text`` is an ISO 8601:2004 4.4.3.2 duration (``PT1H0M0.1S``, ``P3Y``, ``P4W``).

    The alternative format (``P0003-01-29T04:35:59``) is refused, as is mixing weeks
    with other designators (``P4W1D``).
    """
    return isinstance(text, str) and _DURATION_RE.fullmatch(text) is not None


def _num(text: str | None) -> float:
    return float(text.replace(",", ".")) if text else 0.0


def parse_duration(text: str) -> timedelta:
    """Convert a duration to a timedelta.

    Years and months have no fixed length; they are counted as 365 and 30 days, which is
    fine for sorting and statistics but not for calendar arithmetic. Raises ``ValueError``
    for a string that is not a duration.
    """
    match = _DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration")
    years, months, days, hours, minutes, seconds, weeks = match.groups()
    if weeks is not None:
        return timedelta(weeks=_num(weeks))
    return timedelta(
        days=_num(years) * 365 + _num(months) * 30 + _num(days),
        hours=_num(hours),
        minutes=_num(minutes),
        seconds=_num(seconds),
    )
