"""Time helpers shared by the features (xapi/ has its own, framework-free)."""
from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes even for timezone-aware columns; everything is stored as UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
