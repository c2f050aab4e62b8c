"""Settings from the environment, with safe embedded defaults.

Every setting is listed in the README's configuration table. ``load_config`` returns a plain mapping so
that ``create_app(config)`` can overlay a test mapping on top of it.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_DEV_SECRET_FILE = "secret_key"


class ConfigError(RuntimeError):
    """Raised when the configuration cannot be used (for example production without a secret)."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"expected a boolean (true/false), got {value!r}")


def _int(name: str, value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None


def _choice(name: str, value: str | None, allowed: tuple[str, ...], default: str) -> str:
    if value is None or value == "":
        return default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _persistent_secret(instance_path: Path) -> str:
    """A secret generated once and kept in instance/, so sessions survive restarts on a dev machine.

    Several gunicorn workers may start at the same moment: the secret is written to a temporary file
    and linked into place, so exactly one value wins and nobody reads a half-written file.
    """
    path = instance_path / DEFAULT_DEV_SECRET_FILE
    if path.exists():
        value = path.read_text().strip()
        if len(value) >= 32:
            return value
        path.unlink()  # too short to be ours: replace it
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    temporary = instance_path / f".{DEFAULT_DEV_SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    # Created with mode 0600: the key signs sessions and tokens.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    try:
        os.link(temporary, path)
    except FileExistsError:
        value = path.read_text().strip()  # another process won the race: use its secret
    finally:
        temporary.unlink()
    return value


def normalise_database_url(url: str) -> str:
    """Accept the common ``postgres://`` and ``postgresql://`` spellings and use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def load_config(instance_path: str, environ: os._Environ[str] | dict[str, str] | None = None) -> dict:
    """Read the settings from ``environ`` (default: os.environ)."""
    env = os.environ if environ is None else environ
    instance = Path(instance_path)
    lms_env = env.get("LMS_ENV", "development").strip().lower()
    if lms_env not in {"development", "production"}:
        raise ConfigError(f"LMS_ENV must be 'development' or 'production', got {lms_env!r}")
    production = lms_env == "production"

    secret = env.get("SECRET_KEY", "")
    if production:
        if len(secret) < 32 or secret in {"change-me", "changeme", "secret", "dev"}:
            raise ConfigError(
                "LMS_ENV=production needs SECRET_KEY set to a random value of at least 32 characters "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
    elif not secret:
        secret = _persistent_secret(instance)

    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'lms.sqlite3'}"
    base_url = env.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    mail_server = env.get("MAIL_SERVER", "")

    return {
        "LMS_ENV": lms_env,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "BASE_URL": base_url,
        "PREFERRED_URL_SCHEME": "https" if base_url.startswith("https:") else "http",
        # Cookies: Secure wherever the service is reached over https (always in production).
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production or base_url.startswith("https:")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE"), production or base_url.startswith("https:")),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": _int("SESSION_LIFETIME_HOURS", env.get("SESSION_LIFETIME_HOURS"), 12) * 3600,
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", env.get("MAX_CONTENT_LENGTH"), 50 * 1024 * 1024),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "BABEL_DEFAULT_LOCALE": "sv",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Stockholm",
        "LANGUAGES": ("sv", "en"),
        "MAIL_SERVER": mail_server,
        "MAIL_PORT": _int("MAIL_PORT", env.get("MAIL_PORT"), 587),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS"), True),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL"), False),
        "MAIL_FROM": env.get("MAIL_FROM", "lms@localhost"),
        "MAIL_FOLDER": env.get("MAIL_FOLDER", str(instance / "mail")),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        "PASSWORD_RESET_HOURS": _int("PASSWORD_RESET_HOURS", env.get("PASSWORD_RESET_HOURS"), 2),
        "INVITATION_DAYS": _int("INVITATION_DAYS", env.get("INVITATION_DAYS"), 14),
        "MODULES_PATH": env.get("MODULES_PATH", str(Path(__file__).resolve().parent.parent / "modules")),
        "MODULE_UPLOAD_MAX_BYTES": _int("MODULE_UPLOAD_MAX_BYTES", env.get("MODULE_UPLOAD_MAX_BYTES"), 20 * 1024 * 1024),
        "LRS_MAX_BODY_BYTES": _int("LRS_MAX_BODY_BYTES", env.get("LRS_MAX_BODY_BYTES"), 20 * 1024 * 1024),
        "LRS_DEFAULT_VERSION": _choice("LRS_DEFAULT_VERSION", env.get("LRS_DEFAULT_VERSION"), ("2.0.0", "1.0.3"),
                                       "2.0.0"),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        # How many reverse proxies (load balancers) sit in front and set X-Forwarded-*; 0 trusts none.
        "PROXY_COUNT": _int("PROXY_COUNT", env.get("PROXY_COUNT"), 0),
    }
