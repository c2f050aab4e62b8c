"""Password hashing with argon2id, and single-use tokens stored as SHA-256 digests.

Each app has its own hasher, built from the PASSWORD_HASH_* settings by ``init_app`` (tests use the cheapest
parameters, production OWASP's). Hashing is CPU-bound and releases the GIL, so without a limit every thread of
every worker hashes at once: the cores thrash, a 50-person login wave takes seconds per person, and the
worker's other requests get no CPU. A first-come-first-served gate lets only as many hashes run in a process
at a time as the process has cores (PASSWORD_HASH_CONCURRENCY); the rest wait their turn in arrival order.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
from collections import deque

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, current_app

from ..config import check_password_hash_settings

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
_EXTENSION = "lms_passwords"


class FairGate:
    """A bounded semaphore that admits waiters strictly in arrival order.

    ``threading.Semaphore`` wakes a waiter on release, but a thread arriving at that moment can take the slot
    first and the woken one queues again at the back: under a login wave one request can wait behind many.
    Here a release hands the slot to the oldest waiter directly, so nobody overtakes.
    """

    def __init__(self, slots: int):
        if slots < 1:
            raise ValueError("a gate needs at least one slot")
        self._lock = threading.Lock()
        self._free = slots
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self, blocking: bool = True) -> bool:
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            if not blocking:
                return False
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by release(), which passes its slot on to this waiter
        return True

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def __enter__(self) -> FairGate:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


class PasswordHashing:
    """One app's argon2id hasher, its gate, and the hash that unknown e-mails are verified against."""

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int, concurrency: int):
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism,
                                     type=Type.ID)
        self.gate = FairGate(concurrency)
        # Verified when the e-mail is unknown, with the same parameters, so a login takes as long either way.
        self.dummy_hash = self.hasher.hash("not-a-real-password-" + secrets.token_hex(8))

    def hash(self, password: str) -> str:
        with self.gate:
            return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            with self.gate:
                return self.hasher.verify(password_hash or self.dummy_hash, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


def init_app(app: Flask) -> None:
    """Build the app's hasher from its settings; values argon2id cannot use are refused here too, for settings
    that came from a mapping (load_config checks the environment, and there also OWASP's floor in production)."""
    config = app.config
    check_password_hash_settings(config["PASSWORD_HASH_TIME_COST"], config["PASSWORD_HASH_MEMORY_KIB"],
                                 config["PASSWORD_HASH_PARALLELISM"], config["PASSWORD_HASH_CONCURRENCY"],
                                 production=False)
    app.extensions[_EXTENSION] = PasswordHashing(
        config["PASSWORD_HASH_TIME_COST"], config["PASSWORD_HASH_MEMORY_KIB"],
        config["PASSWORD_HASH_PARALLELISM"], config["PASSWORD_HASH_CONCURRENCY"])


def password_hashing() -> PasswordHashing:
    return current_app.extensions[_EXTENSION]


def hash_password(password: str) -> str:
    return password_hashing().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (unknown e-mail) a dummy is verified so timing is the same."""
    return password_hashing().verify(password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than the app's (rehash it at the next login)."""
    return password_hashing().needs_rehash(password_hash)


def new_token() -> tuple[str, str]:
    """A URL-safe random token and the SHA-256 hex digest to store."""
    token = secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
