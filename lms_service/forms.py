"""Form helpers shared by the features."""
from __future__ import annotations

from collections.abc import Iterable

from wtforms import SelectChoice


def select_choices(pairs: Iterable[tuple[str, object]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms SelectChoice objects (tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, str(label)) for value, label in pairs]
