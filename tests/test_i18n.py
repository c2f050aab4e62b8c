"""The Swedish catalog is complete: every message the code and templates use has a translation."""
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def test_swedish_catalog_translates_every_message(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
                    "-k", "_l", "-o", str(pot), "lms_service"], cwd=ROOT, check=True)
    with pot.open("rb") as handle:
        template = read_po(handle)
    with (ROOT / "lms_service/translations/sv/LC_MESSAGES/messages.po").open("rb") as handle:
        swedish = read_po(handle, locale="sv")
    missing = []
    for message in template:
        if not message.id:
            continue
        translated = swedish.get(message.id, message.context)
        if translated is None or not translated.string or translated.fuzzy or (
                isinstance(translated.string, tuple) and not all(translated.string)):
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    assert not missing, f"{len(missing)} messages lack a Swedish translation, e.g. {missing[:10]}"
