"""xAPI version negotiation (Communication 3.3)."""

from __future__ import annotations

import re

from .errors import UnsupportedVersion

__all__ = ["LATEST", "SUPPORTED", "UnsupportedVersion", "negotiate", "statement_version_ok"]

SUPPORTED = ("2.0.0", "1.0.3")
LATEST = SUPPORTED[0]

# Both specs: "1.0" counts as 1.0.0 and any 1.0.x patch MUST be accepted; the IEEE text
# says the same of 2.0 / 2.0.x. Answer with the latest patch we implement of that line.
_HEADER_RE = re.compile(r"(1|2)\.0(?:\.(0|[1-9][0-9]*))?")

# The statement "version" property: 1.0 / 1.0.x always; 2.0 / 2.0.x only when the request
# speaks 2.0 (the 2.0 suite posts "2.0.0" and expects it kept, the 1.0.3 LRS must refuse it).
_STATEMENT_VERSION_RE = {
    "1.0.3": re.compile(r"1\.0(?:\.(?:0|[1-9][0-9]*))?"),
    "2.0.0": re.compile(r"(?:1|2)\.0(?:\.(?:0|[1-9][0-9]*))?"),
}


def negotiate(header_value: str | None) -> str:
    """Return the xAPI version ("2.0.0" or "1.0.3") to use for a request.

    ``header_value`` is the raw X-Experience-API-Version header. A missing, empty or
    unknown value (0.9, 0.95, 1.1.0, 3.0 ...) raises :class:`UnsupportedVersion`; the
    caller answers 400 (except on /about, which needs no header).
    """
    if header_value is None or not header_value.strip():
        raise UnsupportedVersion("The X-Experience-API-Version header is required.")
    match = _HEADER_RE.fullmatch(header_value.strip())
    if match is None:
        raise UnsupportedVersion(
            f"X-Experience-API-Version {header_value.strip()!r} is not supported; "
            f"use one of {', '.join(SUPPORTED)}."
        )
    return "2.0.0" if match.group(1) == "2" else "1.0.3"


def statement_version_ok(value: str, version: str) -> bool:
    """Whether ``value`` is an acceptable statement "version" property under ``version``."""
    return _STATEMENT_VERSION_RE[version].fullmatch(value) is not None
