"""Pieces without a database: endpoint checks, status classification, backoff, pseudonymisation."""
from __future__ import annotations

import random

import pytest

from lms_service.forwarding.pseudonyms import mbox_emails, pseudonymise
from lms_service.forwarding.services import backoff_seconds
from xapi.client import CONFLICT, REJECT, RETRY, SENT, EndpointError, OutboundLRS, classify_status, validate_endpoint


@pytest.mark.parametrize("url, expected", [
    ("http://lrs.example.com/xapi", "http://lrs.example.com/xapi/"),
    ("https://lrs.example.com:8443/data/xAPI/", "https://lrs.example.com:8443/data/xAPI/"),
    ("  HTTPS://lrs.example.com/x  ", "HTTPS://lrs.example.com/x/"),
])
def test_endpoint_accepts_http_and_https(url, expected):
    assert validate_endpoint(url) == expected


@pytest.mark.parametrize("url, message", [
    ("", "required"),
    ("ftp://lrs.example.com/xapi/", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("lrs.example.com/xapi", "http:// or https://"),
    ("http:///xapi", "no host"),
    ("https://user:pw@lrs.example.com/xapi/", "not in the endpoint URL"),
    ("https://lrs.example.com/xapi/?a=1", "query"),
    ("https://lrs.example.com:99999/xapi/", "not valid"),
])
def test_endpoint_refuses_what_cannot_work(url, message):
    with pytest.raises(EndpointError, match=message):
        validate_endpoint(url)


def test_client_refuses_a_bad_endpoint_and_an_unknown_version():
    with pytest.raises(EndpointError):
        OutboundLRS("gopher://x/", "k", "s")
    with pytest.raises(ValueError, match="xAPI version"):
        OutboundLRS("http://x/", "k", "s", version="0.95")
    client = OutboundLRS("http://x/", "k", "s", version="1.0.3", timeout=3)
    assert (client.version, client.timeout, client.endpoint) == ("1.0.3", 3.0, "http://x/")


@pytest.mark.parametrize("status, outcome", [
    (200, SENT), (204, SENT), (409, CONFLICT), (429, RETRY), (500, RETRY), (502, RETRY), (503, RETRY),
    (401, RETRY), (403, RETRY), (404, RETRY), (301, RETRY), (400, REJECT), (413, REJECT), (422, REJECT),
])
def test_statuses_are_classified(status, outcome):
    assert classify_status(status) == outcome


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling():
    rng = random.Random(1)
    for failures, (low, high) in {1: (1, 2), 2: (2, 4), 3: (4, 8), 10: (30, 60), 50: (30, 60)}.items():
        values = {backoff_seconds(failures, 2, 60, rng) for _ in range(50)}
        assert all(low <= v <= high for v in values), (failures, values)
        assert len(values) > 40  # jittered, not a fixed step


HOME = "http://lms.example"


def test_pseudonymise_replaces_known_mbox_by_the_users_account_and_drops_names():
    statement = {
        "id": "6690f6f4-9f4a-4b8e-9d5e-36d1a7b0a001",
        "actor": {"objectType": "Agent", "mbox": "mailto:Lena@Example.se", "name": "Lena Lärling"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {"objectType": "Activity", "id": "https://example.com/m1"},
        "context": {"instructor": {"mbox": "mailto:teacher@example.se", "name": "T"},
                    "team": {"objectType": "Group", "name": "Team A",
                             "member": [{"mbox": "mailto:lena@example.se"}, {"mbox_sha1sum": "a" * 40}]}},
        "authority": {"objectType": "Agent", "account": {"homePage": HOME, "name": "service"}},
        "stored": "2026-11-26T10:00:00.000Z",
        "version": "2.0.0",
        "timestamp": "2026-11-26T10:00:00.000Z",
    }
    assert mbox_emails([statement]) == {"lena@example.se", "teacher@example.se"}
    out = pseudonymise(statement, home_page=HOME, accounts={"lena@example.se": "abc123"}, key=b"k" * 32)
    assert out["actor"] == {"objectType": "Agent", "account": {"homePage": HOME, "name": "abc123"}}
    assert out["context"]["team"]["member"][0] == {"account": {"homePage": HOME, "name": "abc123"}}
    teacher = out["context"]["instructor"]["account"]["name"]
    hashed = out["context"]["team"]["member"][1]["account"]["name"]
    assert teacher.startswith("ext-") and hashed.startswith("ext-") and teacher != hashed
    assert out["context"]["team"]["name"] == "Team A"  # a group's name is not a person's
    for prop in ("authority", "stored", "version"):
        assert prop not in out
    assert out["timestamp"] == statement["timestamp"]
    assert "mbox" not in repr(out) and "Lärling" not in repr(out)
    assert statement["actor"]["mbox"] == "mailto:Lena@Example.se"  # the stored statement is untouched
    # The same unknown address always gets the same pseudonym; another key gives another.
    again = pseudonymise(statement, home_page=HOME, accounts={}, key=b"k" * 32)
    assert again["context"]["instructor"]["account"]["name"] == teacher
    other = pseudonymise(statement, home_page=HOME, accounts={}, key=b"x" * 32)
    assert other["context"]["instructor"]["account"]["name"] != teacher


def test_pseudonymise_reaches_substatements_and_agent_objects():
    statement = {
        "id": "6690f6f4-9f4a-4b8e-9d5e-36d1a7b0a002",
        "actor": {"account": {"homePage": HOME, "name": "x1"}, "name": "Someone"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/planned"},
        "object": {"objectType": "SubStatement", "actor": {"mbox": "mailto:a@b.se"},
                   "verb": {"id": "http://adlnet.gov/expapi/verbs/mentored"},
                   "object": {"objectType": "Agent", "mbox": "mailto:c@d.se", "name": "C"}},
    }
    out = pseudonymise(statement, home_page=HOME, accounts={}, key=b"k" * 32)
    assert out["actor"] == {"account": {"homePage": HOME, "name": "x1"}}
    assert "account" in out["object"]["actor"] and "account" in out["object"]["object"]
    assert "mbox" not in repr(out) and "name': 'C'" not in repr(out)


@pytest.mark.parametrize("name, raw, message", [
    ("FORWARD_TIMEOUT_SECONDS", "soon", "must be a number"),
    ("FORWARD_BATCH_SIZE", "1.5", "must be a whole number"),
    ("FORWARD_LEASE_SECONDS", "0", "must be positive"),
    ("FORWARD_RETRY_MAX_SECONDS", "-1", "must be positive"),
])
def test_bad_settings_stop_the_start_with_a_clear_message(monkeypatch, name, raw, message):
    from lms_service.config import ConfigError
    from lms_service.forwarding import _setting

    monkeypatch.setenv(name, raw)
    with pytest.raises(ConfigError, match=f"{name} {message}"):
        _setting(name, {"FORWARD_BATCH_SIZE": 100}.get(name, 10.0))


def test_settings_from_the_environment(monkeypatch):
    from lms_service.forwarding import _setting

    monkeypatch.setenv("FORWARD_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("FORWARD_KEEP_SENT_DAYS", "0")
    assert _setting("FORWARD_TIMEOUT_SECONDS", 10.0) == 2.5
    assert _setting("FORWARD_KEEP_SENT_DAYS", 7.0) == 0
    assert _setting("FORWARD_BATCH_SIZE", 100) == 100
