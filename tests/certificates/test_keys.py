"""The signing key: generated once into instance/ in development, configured by PEM or path in production."""
from __future__ import annotations

import os
import stat

import pytest

from lms_service import create_app
from lms_service.certificates.keys import DEFAULT_KEY_FILE, signing_key
from lms_service.config import ConfigError
from xapi import openbadges


def _kid(app) -> str:
    with app.app_context():
        return signing_key().kid


def test_a_development_key_is_generated_once_and_kept_private(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))
    first = make_app()
    path = tmp_path / DEFAULT_KEY_FILE
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # A restart (a second app) signs with the same key.
    assert _kid(make_app()) == _kid(first)


def test_the_key_can_come_from_the_environment_as_pem_or_a_file(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))
    key = openbadges.generate_private_key()
    pem = openbadges.private_key_pem(key).decode()
    expected = openbadges.jwk_thumbprint(openbadges.public_jwk(key))
    assert _kid(make_app(CERTIFICATE_SIGNING_KEY=pem)) == expected
    # One-line form, as some environments store multi-line values.
    assert _kid(make_app(CERTIFICATE_SIGNING_KEY=pem.replace("\n", "\\n"))) == expected
    key_file = tmp_path / "signing.pem"
    key_file.write_text(pem)
    assert _kid(make_app(CERTIFICATE_SIGNING_KEY_FILE=str(key_file))) == expected
    assert not (tmp_path / DEFAULT_KEY_FILE).exists()


def test_a_bad_key_setting_stops_the_start_with_a_clear_message(test_config, tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="CERTIFICATE_SIGNING_KEY"):
        create_app({**test_config, "CERTIFICATE_SIGNING_KEY": "not a key"})
    with pytest.raises(ConfigError, match="CERTIFICATE_SIGNING_KEY_FILE"):
        create_app({**test_config, "CERTIFICATE_SIGNING_KEY_FILE": str(tmp_path / "missing.pem")})


def test_production_signs_only_with_a_configured_key(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))
    # It starts (commands like `flask db upgrade` need no key) but neither signs nor publishes a key.
    app = make_app(LMS_ENV="production")
    with app.app_context(), pytest.raises(ConfigError, match="production needs CERTIFICATE_SIGNING_KEY"):
        signing_key()
    assert not (tmp_path / DEFAULT_KEY_FILE).exists()
    pem = openbadges.private_key_pem(openbadges.generate_private_key()).decode()
    assert _kid(make_app(LMS_ENV="production", CERTIFICATE_SIGNING_KEY=pem))


def test_numeric_settings_are_checked(test_config, tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("CERTIFICATE_VALIDITY_DAYS", "three years")
    with pytest.raises(ConfigError, match="CERTIFICATE_VALIDITY_DAYS"):
        create_app(test_config)
    monkeypatch.setenv("CERTIFICATE_VALIDITY_DAYS", "730")
    app = create_app(test_config)
    assert app.config["CERTIFICATE_VALIDITY_DAYS"] == 730


def test_processes_starting_together_agree_on_one_key(tmp_path):
    """Gunicorn workers on a fresh instance folder: all end up with the same, complete key."""
    import subprocess
    import sys

    script = ("import sys; from pathlib import Path; from lms_service.certificates.keys import _instance_key; "
              "from xapi import openbadges; key = _instance_key(Path(sys.argv[1])); "
              "print(openbadges.jwk_thumbprint(openbadges.public_jwk(key)))")
    target = tmp_path / DEFAULT_KEY_FILE
    processes = [subprocess.Popen([sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [p.communicate(timeout=60) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err for _out, err in results]
    assert len({out.strip() for out, _err in results}) == 1
    assert [p.name for p in tmp_path.iterdir()] == [DEFAULT_KEY_FILE]
