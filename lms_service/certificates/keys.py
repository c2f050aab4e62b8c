"""The Ed25519 key that signs Open Badges credentials.

Production sets CERTIFICATE_SIGNING_KEY (the PEM itself) or CERTIFICATE_SIGNING_KEY_FILE (a path), so every
process behind the load balancer signs with the same key. A development install without either gets a key
generated once and kept in instance/ (like the SECRET_KEY), so credentials issued yesterday still verify.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app

from xapi import openbadges

from ..config import ConfigError

DEFAULT_KEY_FILE = "certificate_signing_key.pem"
_CACHE_KEY = "lms_certificate_signing_key"


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    kid: str  # the RFC 7638 thumbprint; the JOSE kid is the URL of the key, which ends with it

    @property
    def public_jwk(self) -> dict[str, str]:
        return openbadges.public_jwk(self.private_key)


def _load(app: Flask) -> Ed25519PrivateKey:
    pem = app.config.get("CERTIFICATE_SIGNING_KEY") or ""
    path = app.config.get("CERTIFICATE_SIGNING_KEY_FILE") or ""
    try:
        if pem:
            return openbadges.load_private_key(pem.replace("\\n", "\n"))
        if path:
            return openbadges.load_private_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as error:
        source = "CERTIFICATE_SIGNING_KEY" if pem else f"CERTIFICATE_SIGNING_KEY_FILE ({path})"
        raise ConfigError(f"{source} is not a readable Ed25519 private key in PEM: {error}") from None
    if app.config.get("LMS_ENV") == "production":
        raise ConfigError("LMS_ENV=production needs CERTIFICATE_SIGNING_KEY or CERTIFICATE_SIGNING_KEY_FILE "
                          "(create one with: openssl genpkey -algorithm ed25519 -out signing-key.pem)")
    return _instance_key(Path(app.instance_path) / DEFAULT_KEY_FILE)


def _instance_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        return openbadges.load_private_key(path.read_bytes())
    key = openbadges.generate_private_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Several workers may start at once on a fresh instance folder: each writes a complete file of its own,
    # then links it into place. link() fails if the name exists, so exactly one key wins and nobody ever
    # reads a half-written file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(openbadges.private_key_pem(key))
        try:
            os.link(temporary, path)
        except FileExistsError:
            return openbadges.load_private_key(path.read_bytes())
    finally:
        temporary.unlink(missing_ok=True)
    return key


def init_signing_key(app: Flask) -> None:
    """Load (or, in development, create) the key at start-up, so a bad setting fails loudly and early.

    Production without a key still starts (commands such as ``flask db upgrade`` need no key), logs an
    error, and refuses to sign or publish until one is configured.
    """
    try:
        private_key = _load(app)
    except ConfigError as error:
        if app.config.get("CERTIFICATE_SIGNING_KEY") or app.config.get("CERTIFICATE_SIGNING_KEY_FILE"):
            raise
        app.logger.error("%s", error)
        app.extensions[_CACHE_KEY] = error
        return
    app.extensions[_CACHE_KEY] = SigningKey(private_key, openbadges.jwk_thumbprint(openbadges.public_jwk(private_key)))


def signing_key() -> SigningKey:
    """The current app's signing key (raises ConfigError in production when none is configured)."""
    key = current_app.extensions[_CACHE_KEY]
    if isinstance(key, ConfigError):
        raise key
    return key
