"""Target secrets at rest (Fernet) and the key of the forwarded pseudonyms, both derived from one setting.

FORWARD_SECRET_KEY, or SECRET_KEY when it is unset. Changing it makes stored target secrets unreadable:
the health page then says so and ``flask lrs targets update NAME --secret`` stores the secret again.
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


class SecretUnreadable(Exception):
    """The stored secret cannot be decrypted with the current key."""


def _master() -> bytes:
    value = current_app.config.get("FORWARD_SECRET_KEY") or current_app.config["SECRET_KEY"]
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _fernet() -> Fernet:
    digest = hmac.new(_master(), b"lms-forwarding:target-secrets", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(secret: str) -> str:
    """A target secret as a Fernet token (text) to store."""
    return _fernet().encrypt(secret.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str) -> str:
    """The secret back from its token; SecretUnreadable when the key changed since it was stored."""
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        raise SecretUnreadable(
            "the stored secret cannot be decrypted (FORWARD_SECRET_KEY or SECRET_KEY changed?): "
            "set it again with flask lrs targets update NAME --secret") from None


def pseudonym_key() -> bytes:
    """The HMAC key of the ``ext-`` pseudonyms of agents that are not users of the service."""
    return hmac.new(_master(), b"lms-forwarding:pseudonyms", hashlib.sha256).digest()
