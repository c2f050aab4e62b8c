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


def _positive(name: str, value: str | None, default: int) -> int:
    number = _int(name, value, default)
    if number < 1:
        raise ConfigError(f"{name} must be at least 1, got {value!r}")
    return number


def _choice(name: str, value: str | None, allowed: tuple[str, ...], default: str) -> str:
    if value is None or value == "":
        return default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


# OWASP Password Storage Cheat Sheet: argon2id with 19 MiB, 2 passes and 1 lane at least, or one of its
# equally strong trades of memory for passes; production refuses anything below all of them.
PASSWORD_HASH_DEFAULTS = {"time_cost": 2, "memory_kib": 19 * 1024, "parallelism": 1}
OWASP_ARGON2ID_MINIMUMS = ((46 * 1024, 1), (19 * 1024, 2), (12 * 1024, 3), (9 * 1024, 4), (7 * 1024, 5))
MAX_PASSWORD_HASH_MEMORY_KIB = 1024 * 1024  # 1 GiB: a value above it is almost surely bytes, not KiB


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_password_hash_settings(time_cost, memory_kib, parallelism, concurrency, production: bool) -> None:
    """Raise ConfigError naming the PASSWORD_HASH_* setting that argon2id cannot use (or, in production, that
    is weaker than OWASP's minimum)."""
    for name, value, low, high in (("PASSWORD_HASH_TIME_COST", time_cost, 1, 100),
                                   ("PASSWORD_HASH_PARALLELISM", parallelism, 1, 64),
                                   ("PASSWORD_HASH_MEMORY_KIB", memory_kib, 8, MAX_PASSWORD_HASH_MEMORY_KIB),
                                   ("PASSWORD_HASH_CONCURRENCY", concurrency, 1, 1024)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    if memory_kib < 8 * parallelism:
        raise ConfigError(f"PASSWORD_HASH_MEMORY_KIB must be at least 8 KiB per lane (8 × PASSWORD_HASH_PARALLELISM "
                          f"= {8 * parallelism}), got {memory_kib}")
    if production and not any(memory_kib >= m and time_cost >= t for m, t in OWASP_ARGON2ID_MINIMUMS):
        raise ConfigError(
            f"LMS_ENV=production refuses argon2id with PASSWORD_HASH_MEMORY_KIB={memory_kib} and "
            f"PASSWORD_HASH_TIME_COST={time_cost}: below OWASP's minimum (for example 19456 KiB with 2 passes, "
            "or 47104 KiB with 1)")


def _password_hashing(env, production: bool) -> dict:
    time_cost = _int("PASSWORD_HASH_TIME_COST", env.get("PASSWORD_HASH_TIME_COST"), PASSWORD_HASH_DEFAULTS["time_cost"])
    memory_kib = _int("PASSWORD_HASH_MEMORY_KIB", env.get("PASSWORD_HASH_MEMORY_KIB"),
                      PASSWORD_HASH_DEFAULTS["memory_kib"])
    parallelism = _int("PASSWORD_HASH_PARALLELISM", env.get("PASSWORD_HASH_PARALLELISM"),
                       PASSWORD_HASH_DEFAULTS["parallelism"])
    # Each gunicorn worker is one process with its own gate: the cores are shared among WEB_CONCURRENCY
    # workers (gunicorn's own default for --workers; the Procfile starts 2).
    workers = _int("WEB_CONCURRENCY", env.get("WEB_CONCURRENCY"), 2)
    if workers < 1:
        raise ConfigError(f"WEB_CONCURRENCY must be at least 1, got {workers}")
    concurrency = _int("PASSWORD_HASH_CONCURRENCY", env.get("PASSWORD_HASH_CONCURRENCY"),
                       max(1, _available_cores() // workers))
    check_password_hash_settings(time_cost, memory_kib, parallelism, concurrency, production)
    return {"PASSWORD_HASH_TIME_COST": time_cost, "PASSWORD_HASH_MEMORY_KIB": memory_kib,
            "PASSWORD_HASH_PARALLELISM": parallelism, "PASSWORD_HASH_CONCURRENCY": concurrency}


def _rate_limit_storage(env) -> dict:
    uri = env.get("RATELIMIT_STORAGE_URI") or "memory://"
    # A Redis that does not answer must cost a login half a second, not the kernel's TCP timeout.
    options = ({"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
               if uri.startswith(("redis://", "rediss://", "redis+")) else {})
    return {
        "RATELIMIT_STORAGE_URI": uri,
        "RATELIMIT_STORAGE_OPTIONS": options,
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "lms"),
        # Redis down: each worker counts in its own memory until Redis answers again (checked with growing
        # pauses, up to about a minute), so logins still work and are still limited, if per worker; any other
        # failure of the limiter is logged and lets the request through rather than answering 500.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
    }


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
        **_rate_limit_storage(env),
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "LOGIN_RATE_LIMIT": env.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        **_password_hashing(env, production),
        "PASSWORD_RESET_HOURS": _int("PASSWORD_RESET_HOURS", env.get("PASSWORD_RESET_HOURS"), 2),
        "INVITATION_DAYS": _int("INVITATION_DAYS", env.get("INVITATION_DAYS"), 14),
        "MODULES_PATH": env.get("MODULES_PATH", str(Path(__file__).resolve().parent.parent / "modules")),
        "MODULE_UPLOAD_MAX_BYTES": _int("MODULE_UPLOAD_MAX_BYTES", env.get("MODULE_UPLOAD_MAX_BYTES"), 20 * 1024 * 1024),
        "LRS_MAX_BODY_BYTES": _int("LRS_MAX_BODY_BYTES", env.get("LRS_MAX_BODY_BYTES"), 20 * 1024 * 1024),
        "LRS_DEFAULT_VERSION": _choice("LRS_DEFAULT_VERSION", env.get("LRS_DEFAULT_VERSION"), ("2.0.0", "1.0.3"),
                                       "2.0.0"),
        # Deferred projections (lms_service/lrs/deferred.py): tasks per run, and how long a request that
        # committed statements may go on running other batches' tasks before it answers.
        "LRS_DEFERRED_BATCH": _positive("LRS_DEFERRED_BATCH", env.get("LRS_DEFERRED_BATCH"), 1000),
        "LRS_DEFERRED_MILLISECONDS": _positive("LRS_DEFERRED_MILLISECONDS", env.get("LRS_DEFERRED_MILLISECONDS"), 250),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        # How many reverse proxies (load balancers) sit in front and set X-Forwarded-*; 0 trusts none.
        "PROXY_COUNT": _int("PROXY_COUNT", env.get("PROXY_COUNT"), 0),
    }
