"""Fixtures for the framework-free xAPI core: sample statements and an error-path assertion."""

from __future__ import annotations

import copy

import pytest

from xapi.errors import XAPIValidationError
from xapi.validation import validate_statement

VERSIONS = ("2.0.0", "1.0.3")

# A cmi5-shaped "passed" statement: the kind the native player emits most.
CMI5_PASSED = {
    "id": "3f1d7a0c-2b54-4c4e-9a43-5d9e1c7b8a21",
    "actor": {"objectType": "Agent", "name": "Anna Svensson", "account": {
        "homePage": "https://lms.example.se", "name": "user-1042"}},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en-US": "passed", "sv-SE": "klarade"}},
    "object": {
        "objectType": "Activity",
        "id": "https://lms.example.se/modules/green-transition/au/1",
        "definition": {
            "name": {"en-US": "Electrification basics", "sv-SE": "Grunder i elektrifiering"},
            "description": {"en-US": "Module 1"},
            "type": "https://w3id.org/xapi/cmi5/activitytype/block",
        },
    },
    "result": {
        "score": {"scaled": 0.85, "raw": 17, "min": 0, "max": 20},
        "success": True,
        "completion": True,
        "duration": "PT12M30.5S",
        "extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": 100},
    },
    "context": {
        "registration": "9b2e6c55-7d0a-4a0b-8f6e-0c1d2e3f4a5b",
        "contextActivities": {
            "category": [{"id": "https://w3id.org/xapi/cmi5/context/categories/moveon"},
                         {"id": "https://w3id.org/xapi/cmi5/context/categories/cmi5"}],
            "grouping": [{"objectType": "Activity", "id": "https://lms.example.se/courses/green-transition"}],
        },
        "extensions": {"https://w3id.org/xapi/cmi5/context/extensions/sessionid": "c7f2a1"},
        "language": "sv-SE",
        "platform": "lms_service",
    },
    "timestamp": "2026-03-04T10:15:30.123+01:00",
}


@pytest.fixture
def stmt():
    """A fresh copy of a valid cmi5-shaped statement, free to mutate."""
    return copy.deepcopy(CMI5_PASSED)


@pytest.fixture(params=VERSIONS)
def version(request):
    """Each supported xAPI version in turn."""
    return request.param


def error_path(statement, version="2.0.0"):
    """The path of the error validate_statement raises (fails the test if it accepts)."""
    with pytest.raises(XAPIValidationError) as info:
        validate_statement(statement, version)
    assert str(info.value).startswith(info.value.path)
    return info.value.path


@pytest.fixture
def rejects():
    """``rejects(statement, path, version)``: assert the statement is refused at exactly ``path``."""

    def check(statement, path, version="2.0.0"):
        assert error_path(statement, version) == path

    return check
