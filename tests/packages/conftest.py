"""Package tests read English messages unless a test asks for another language (the terminal's LANG
would otherwise pick the CLI locale)."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _english_cli_locale(monkeypatch):
    monkeypatch.setenv("LMS_LANGUAGE", "en")
