"""Fixtures for the LRS tests: credentials and an xAPI client that sends the headers every request needs."""

from __future__ import annotations

import pytest
from lrs_helpers import XAPIClient

from lms_service.lrs.clients import create_client


@pytest.fixture
def make_credential(app):
    """``make_credential("statements/read", org=None)`` -> (key, secret) of a fresh LRS client."""

    def factory(scopes: str = "all", org: int | None = None, name: str = "test client") -> tuple[str, str]:
        with app.app_context():
            client, secret = create_client(name, scopes, org)
            return client.key, secret

    return factory


@pytest.fixture
def xapi(client, make_credential):
    key, secret = make_credential("all")
    return XAPIClient(client, key, secret)


@pytest.fixture
def xapi_103(client, make_credential):
    key, secret = make_credential("all")
    return XAPIClient(client, key, secret, version="1.0.3")


@pytest.fixture(autouse=True)
def _forget_lrs_caches():
    """Tables are emptied after each test; the per-process cache of stored definitions must follow."""
    from lms_service.lrs.ingest import reset_caches

    reset_caches()
    yield
    reset_caches()


@pytest.fixture(autouse=True)
def _forget_cached_authentications():
    from lms_service.lrs.clients import clear_auth_cache

    clear_auth_cache()
    yield
    clear_auth_cache()
