import stat

import pytest

from lms_service import create_app
from lms_service.config import ConfigError, load_config, normalise_database_url


def test_defaults_use_sqlite_under_instance_and_persist_a_generated_secret(tmp_path):
    config = load_config(str(tmp_path), environ={})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'lms.sqlite3'}"
    secret_file = tmp_path / "secret_key"
    assert secret_file.read_text() == config["SECRET_KEY"]
    assert len(config["SECRET_KEY"]) >= 32
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    # Generated once: a restart keeps the same key, so sessions survive.
    assert load_config(str(tmp_path), environ={})["SECRET_KEY"] == config["SECRET_KEY"]


def test_production_refuses_to_start_without_a_real_secret(tmp_path):
    for secret in ("", "change-me", "short"):
        with pytest.raises(ConfigError, match="SECRET_KEY"):
            load_config(str(tmp_path), environ={"LMS_ENV": "production", "SECRET_KEY": secret})
    assert not (tmp_path / "secret_key").exists()
    config = load_config(str(tmp_path), environ={"LMS_ENV": "production", "SECRET_KEY": "x" * 40})
    assert config["SESSION_COOKIE_SECURE"] is True


def test_create_app_in_production_without_secret_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("LMS_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError):
        create_app()


@pytest.mark.parametrize("env, message", [
    ({"LMS_ENV": "staging"}, "LMS_ENV"),
    ({"MAIL_PORT": "abc"}, "MAIL_PORT"),
    ({"MAIL_USE_TLS": "maybe"}, "boolean"),
])
def test_bad_settings_are_named(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path), environ=env)


def test_database_url_spellings():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_environment_overrides(tmp_path):
    config = load_config(str(tmp_path), environ={"DATABASE_URL": "postgresql://p@127.0.0.1/x",
                                                 "BASE_URL": "https://lms.example.se/", "SECRET_KEY": "k" * 40})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://p@127.0.0.1/x"
    assert config["BASE_URL"] == "https://lms.example.se"
    assert config["SESSION_COOKIE_SECURE"] is True


def test_concurrent_starts_agree_on_one_generated_secret(tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=6) as pool:
        secrets = set(pool.map(_secret_in, [str(tmp_path)] * 12))
    assert len(secrets) == 1
    assert (tmp_path / "secret_key").read_text() in secrets
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary files left behind


def _secret_in(folder: str) -> str:
    return load_config(folder, environ={})["SECRET_KEY"]
