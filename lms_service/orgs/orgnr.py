"""Swedish organisation numbers (organisationsnummer).

Ten digits NNNNNN-NNNN, the last a Luhn check digit over the first nine. Legal entities have a third digit of
2 or more (that keeps personal identity numbers, which sole traders use, out of this register). The
century prefix "16" that some registers print is accepted and dropped.
"""
from __future__ import annotations

import re

_SHAPE = re.compile(r"^(16)?(\d{6})-?(\d{4})$")


class OrgNumberError(ValueError):
    """The number is not a valid Swedish organisation number; ``code`` says why."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(digits):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def normalise_org_number(text: str) -> str:
    """Return the number as NNNNNN-NNNN or raise OrgNumberError('format'|'check_digit'|'not_legal_entity')."""
    cleaned = re.sub(r"\s+", "", text or "")
    match = _SHAPE.match(cleaned)
    if not match:
        raise OrgNumberError("format")
    digits = match.group(2) + match.group(3)
    if not luhn_ok(digits):
        raise OrgNumberError("check_digit")
    if int(digits[2]) < 2:
        raise OrgNumberError("not_legal_entity")
    return f"{digits[:6]}-{digits[6:]}"
