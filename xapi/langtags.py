"""RFC 5646 language tags (well-formedness only, not registry validity)."""

from __future__ import annotations

import re

__all__ = ["is_language_tag"]

_ALNUM = "[a-z0-9]"
_LANGTAG = (
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})"  # language (+ up to 3 extlang)
    r"(?:-[a-z]{4})?"  # script
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"  # region
    rf"(?:-(?:{_ALNUM}{{5,8}}|[0-9]{_ALNUM}{{3}}))*"  # variants
    rf"(?:-[0-9a-wy-z](?:-{_ALNUM}{{2,8}})+)*"  # extensions (any singleton but x)
    rf"(?:-x(?:-{_ALNUM}{{1,8}})+)?"  # private use
)
_PRIVATEUSE = rf"x(?:-{_ALNUM}{{1,8}})+"
_GRANDFATHERED = (
    "en-gb-oed|i-ami|i-bnn|i-default|i-enochian|i-hak|i-klingon|i-lux|i-mingo|i-navajo|i-pwn|"
    "i-tao|i-tay|i-tsu|sgn-be-fr|sgn-be-nl|sgn-ch-de|art-lojban|cel-gaulish|no-bok|no-nyn|"
    "zh-guoyu|zh-hakka|zh-min|zh-min-nan|zh-xiang"
)
_TAG_RE = re.compile(rf"(?:{_LANGTAG}|{_PRIVATEUSE}|{_GRANDFATHERED})", re.IGNORECASE | re.ASCII)


def is_language_tag(text: object) -> bool:
    """Whether ``text`` is a well-formed RFC 5646 language tag ("en", "sv-SE", "zh-Hant-TW", "tlh").

    Well-formedness is what xAPI requires; whether the subtags are registered is not checked.
    """
    return isinstance(text, str) and _TAG_RE.fullmatch(text) is not None
