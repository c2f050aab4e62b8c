"""Statement validation: every MUST of the xAPI data model, for 1.0.3 and 2.0.0.

The functions raise :class:`~xapi.errors.XAPIValidationError` at the first broken rule,
naming the exact property path. They never modify their input; normalisation (arrays in
contextActivities, UTC timestamps, filled-in id/stored/authority) is done by
:func:`xapi.formatting.prepare_for_storage` once a statement is known to be valid.

Validation sits on the LRS ingest path, so it is written as plain ``isinstance`` checks
against module-level constants and precompiled regexes: no schema objects, no per-call
allocation beyond the property paths.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import XAPIValidationError
from .jsontext import MAX_NUMBER
from .langtags import is_language_tag
from .timeutil import is_iso8601_duration, is_timestamp
from .versions import SUPPORTED, statement_version_ok

__all__ = [
    "INTERACTION_TYPES",
    "VOIDED_VERB",
    "is_iri",
    "is_uuid",
    "validate_activity",
    "validate_activity_id",
    "validate_actor",
    "validate_agent",
    "validate_language_map",
    "validate_statement",
    "validate_statements",
    "validate_timestamp",
    "validate_uuid",
]

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"

# An absolute IRI: a scheme (RFC 3987 / 3986 syntax) and a non-empty rest without the
# characters IRIs can never hold. Resolvability (IRLs) cannot be checked offline.
_IRI_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]+")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_MBOX_RE = re.compile(r"mailto:[^@\s:/?#]+@[^@\s/?#]+")
_SHA1_RE = re.compile(r"[0-9a-fA-F]{40}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
# RFC 6838 type/subtype with optional parameters.
_MEDIA_TYPE_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+\-]{0,126}"
    r"(?:\s*;\s*[A-Za-z0-9!#$&^_.+\-]+=(?:[^;\s\"]+|\"[^\"]*\"))*\s*"
)

IFI_KEYS = ("mbox", "mbox_sha1sum", "openid", "account")
_MAX_DOUBLE_INT = int(MAX_NUMBER)

_STATEMENT_KEYS = frozenset(
    ("id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority", "version",
     "attachments")
)
_SUBSTATEMENT_KEYS = frozenset(
    ("objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments")
)
_SUBSTATEMENT_FORBIDDEN = frozenset(("id", "stored", "version", "authority"))
_AGENT_KEYS = frozenset(("objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"))
_GROUP_KEYS = _AGENT_KEYS | {"member"}
_ACCOUNT_KEYS = frozenset(("homePage", "name"))
_VERB_KEYS = frozenset(("id", "display"))
_ACTIVITY_KEYS = frozenset(("objectType", "id", "definition"))
_STATEMENTREF_KEYS = frozenset(("objectType", "id"))
_DEFINITION_KEYS = frozenset(
    ("name", "description", "type", "moreInfo", "extensions", "interactionType", "correctResponsesPattern",
     "choices", "scale", "source", "target", "steps")
)
_COMPONENT_KEYS = frozenset(("id", "description"))
_COMPONENT_LISTS = ("choices", "scale", "source", "target", "steps")
# Which interaction component lists each interactionType may carry (Data 2.4.4.1.1).
INTERACTION_TYPES: dict[str, frozenset[str]] = {
    "true-false": frozenset(),
    "choice": frozenset(("choices",)),
    "fill-in": frozenset(),
    "long-fill-in": frozenset(),
    "matching": frozenset(("source", "target")),
    "performance": frozenset(("steps",)),
    "sequencing": frozenset(("choices",)),
    "likert": frozenset(("scale",)),
    "numeric": frozenset(),
    "other": frozenset(),
}
_RESULT_KEYS = frozenset(("score", "success", "completion", "response", "duration", "extensions"))
_SCORE_KEYS = frozenset(("scaled", "raw", "min", "max"))
_CONTEXT_KEYS_103 = frozenset(
    ("registration", "instructor", "team", "contextActivities", "revision", "platform", "language", "statement",
     "extensions")
)
_CONTEXT_KEYS_200 = _CONTEXT_KEYS_103 | {"contextAgents", "contextGroups"}
_CONTEXT_ACTIVITY_KEYS = frozenset(("parent", "grouping", "category", "other"))
_CONTEXT_AGENT_KEYS = frozenset(("objectType", "agent", "relevantTypes"))
_CONTEXT_GROUP_KEYS = frozenset(("objectType", "group", "relevantTypes"))
_ATTACHMENT_KEYS = frozenset(("usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"))


# --------------------------------------------------------------------------- small helpers


def _p(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fail(path: str, message: str) -> XAPIValidationError:
    return XAPIValidationError(path, message)


def _type_fail(path: str, expected: str, value: object) -> XAPIValidationError:
    if value is None:
        return XAPIValidationError(path, "must not be null")
    return XAPIValidationError(path, f"must be {expected}, not {_json_type(value)}")


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _object(value: object, path: str, what: str = "an object") -> dict[str, Any]:
    if type(value) is not dict:
        raise _type_fail(path, what, value)
    return value


def _unknown(obj: dict[str, Any], allowed: frozenset[str], path: str, what: str) -> None:
    for key in obj:
        if key not in allowed:
            raise _fail(_p(path, key) if isinstance(key, str) else path, f"is not a property of {what}")


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _type_fail(path, "a string", value)
    return value


def _bool(value: object, path: str) -> None:
    if not isinstance(value, bool):
        raise _type_fail(path, "true or false", value)


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_fail(path, "a number", value)
    # An int beyond a double overflows the float() of whoever reads the score (reports, other LRSs).
    if isinstance(value, int) and abs(value) > _MAX_DOUBLE_INT or not math.isfinite(value):
        raise _fail(path, f"must be a finite number within the range of a double (±{MAX_NUMBER:.4g})")
    return value


def is_iri(value: object) -> bool:
    """Whether ``value`` is an absolute IRI (a scheme followed by a non-empty remainder)."""
    return isinstance(value, str) and _IRI_RE.fullmatch(value) is not None


def is_uuid(value: object) -> bool:
    """Whether ``value`` is a UUID in the standard 8-4-4-4-12 hex string form."""
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None


def _iri(value: object, path: str, what: str = "an IRI") -> None:
    if not isinstance(value, str):
        raise _type_fail(path, f"a string holding {what}", value)
    if _IRI_RE.fullmatch(value) is None:
        raise _fail(path, f"must be {what} (absolute, with a scheme), not {value!r}")


def validate_uuid(value: object, path: str = "") -> None:
    """Raise unless ``value`` is a UUID string in standard form (statementId, registration ...)."""
    if not isinstance(value, str):
        raise _type_fail(path, "a UUID string", value)
    if _UUID_RE.fullmatch(value) is None:
        raise _fail(path, f"must be a UUID in standard form, not {value!r}")


def validate_activity_id(value: object, path: str = "activityId") -> None:
    """Raise unless ``value`` is an activity id (an absolute IRI), e.g. for the ``activityId`` parameter."""
    _iri(value, path)


def validate_timestamp(value: object, path: str = "") -> None:
    """Raise unless ``value`` is an ISO 8601 timestamp the LRS accepts (e.g. ``since``/``until``)."""
    if not isinstance(value, str):
        raise _type_fail(path, "an ISO 8601 timestamp string", value)
    if not is_timestamp(value):
        raise _fail(path, f"must be an ISO 8601 timestamp with a valid time zone, not {value!r}")


def validate_language_map(value: object, path: str) -> None:
    """Raise unless ``value`` is a language map: RFC 5646 tags mapped to strings."""
    if type(value) is not dict:
        raise _type_fail(path, "a language map (an object keyed by language tags)", value)
    for tag, text in value.items():
        if not is_language_tag(tag):
            raise _fail(_p(path, str(tag)), f"{tag!r} is not an RFC 5646 language tag")
        if not isinstance(text, str):
            raise _type_fail(_p(path, tag), "a string", text)


def _extensions(value: object, path: str) -> None:
    if type(value) is not dict:
        raise _type_fail(path, "an object keyed by IRIs", value)
    # Extension values are free JSON, null included (the suite posts null and expects 200).
    for key in value:
        if not isinstance(key, str) or _IRI_RE.fullmatch(key) is None:
            raise _fail(_p(path, str(key)), f"extension keys must be IRIs, not {key!r}")


# --------------------------------------------------------------------------- agents and groups


def _ifis(obj: dict[str, Any], path: str) -> int:
    """Validate the IFIs present in an Agent/Group and return how many there are."""
    count = 0
    if "mbox" in obj:
        count += 1
        value = obj["mbox"]
        if not isinstance(value, str):
            raise _type_fail(_p(path, "mbox"), 'a "mailto:" IRI', value)
        if _MBOX_RE.fullmatch(value) is None:
            raise _fail(_p(path, "mbox"), f'must be a "mailto:" IRI with an email address, not {value!r}')
    if "mbox_sha1sum" in obj:
        count += 1
        value = obj["mbox_sha1sum"]
        if not isinstance(value, str):
            raise _type_fail(_p(path, "mbox_sha1sum"), "a hex SHA1 string", value)
        if _SHA1_RE.fullmatch(value) is None:
            raise _fail(_p(path, "mbox_sha1sum"), "must be the 40 hex digits of a SHA1 hash")
    if "openid" in obj:
        count += 1
        _iri(obj["openid"], _p(path, "openid"), "a URI")
    if "account" in obj:
        count += 1
        apath = _p(path, "account")
        account = _object(obj["account"], apath)
        _unknown(account, _ACCOUNT_KEYS, apath, "an Account")
        if "homePage" not in account:
            raise _fail(_p(apath, "homePage"), "is required")
        _iri(account["homePage"], _p(apath, "homePage"), "an IRL")
        if "name" not in account:
            raise _fail(_p(apath, "name"), "is required")
        _string(account["name"], _p(apath, "name"))
    return count


def _agent(obj: dict[str, Any], path: str) -> None:
    _unknown(obj, _AGENT_KEYS, path, "an Agent")
    if "name" in obj:
        _string(obj["name"], _p(path, "name"))
    count = _ifis(obj, path)
    if count != 1:
        raise _fail(
            path,
            "an Agent needs exactly one inverse functional identifier (mbox, mbox_sha1sum, openid or account)"
            + ("" if count == 0 else f", not {count}"),
        )


def _group(obj: dict[str, Any], path: str, *, members: int | None = None) -> None:
    _unknown(obj, _GROUP_KEYS, path, "a Group")
    if "name" in obj:
        _string(obj["name"], _p(path, "name"))
    count = _ifis(obj, path)
    if count > 1:
        raise _fail(path, f"a Group can have at most one inverse functional identifier, not {count}")
    mpath = _p(path, "member")
    if "member" in obj:
        member = obj["member"]
        if type(member) is not list:
            raise _type_fail(mpath, "an array of Agents", member)
        for i, agent in enumerate(member):
            ipath = f"{mpath}[{i}]"
            agent = _object(agent, ipath, "an Agent")
            object_type = agent.get("objectType", "Agent")
            if object_type != "Agent":
                raise _fail(
                    _p(ipath, "objectType"),
                    "a Group's members must be Agents" if object_type == "Group" else "must be 'Agent'",
                )
            _agent(agent, ipath)
        if count == 0 and not member:
            raise _fail(mpath, "an anonymous Group must list at least one member")
        if members is not None and len(member) != members:
            raise _fail(mpath, f"must hold exactly {members} Agents")
    elif count == 0:
        raise _fail(mpath, "is required for an anonymous Group (one without an identifier)")
    elif members is not None:
        raise _fail(mpath, f"must hold exactly {members} Agents")


def validate_actor(obj: object, version: str, path: str = "actor") -> None:
    """Validate an Agent or Group (``objectType`` absent/"Agent" or "Group")."""
    obj = _object(obj, path, "an Agent or Group object")
    object_type = obj.get("objectType", "Agent")
    if object_type == "Agent":
        _agent(obj, path)
    elif object_type == "Group":
        _group(obj, path)
    elif isinstance(object_type, str):
        raise _fail(_p(path, "objectType"), f"must be 'Agent' or 'Group', not {object_type!r}")
    else:
        raise _type_fail(_p(path, "objectType"), "the string 'Agent' or 'Group'", object_type)


def validate_agent(obj: object, version: str, path: str = "agent") -> None:
    """Validate the ``agent`` query parameter / document-API agent: an Agent or identified Group.

    The parameter is matched by its IFI, so an anonymous Group (no IFI) is refused here.
    ``obj`` is the decoded JSON.
    """
    obj = _object(obj, path, "a JSON Agent object")
    validate_actor(obj, version, path)
    if obj.get("objectType") == "Group" and not any(k in obj for k in IFI_KEYS):
        raise _fail(path, "must be an Agent or an identified Group (with an inverse functional identifier)")


# --------------------------------------------------------------------------- verb, activities


def _verb(obj: object, path: str) -> str:
    obj = _object(obj, path)
    _unknown(obj, _VERB_KEYS, path, "a Verb")
    if "id" not in obj:
        raise _fail(_p(path, "id"), "is required")
    _iri(obj["id"], _p(path, "id"))
    if "display" in obj:
        validate_language_map(obj["display"], _p(path, "display"))
    return obj["id"]


def _components(value: object, path: str) -> None:
    if type(value) is not list:
        raise _type_fail(path, "an array of interaction components", value)
    seen: set[str] = set()
    for i, component in enumerate(value):
        cpath = f"{path}[{i}]"
        component = _object(component, cpath)
        _unknown(component, _COMPONENT_KEYS, cpath, "an interaction component")
        if "id" not in component:
            raise _fail(_p(cpath, "id"), "is required")
        cid = _string(component["id"], _p(cpath, "id"))
        if cid in seen:
            raise _fail(_p(cpath, "id"), f"{cid!r} is used twice in the same component list")
        seen.add(cid)
        if "description" in component:
            validate_language_map(component["description"], _p(cpath, "description"))


def _definition(obj: object, path: str) -> None:
    obj = _object(obj, path)
    _unknown(obj, _DEFINITION_KEYS, path, "an Activity Definition")
    if "name" in obj:
        validate_language_map(obj["name"], _p(path, "name"))
    if "description" in obj:
        validate_language_map(obj["description"], _p(path, "description"))
    if "type" in obj:
        _iri(obj["type"], _p(path, "type"))
    if "moreInfo" in obj:
        _iri(obj["moreInfo"], _p(path, "moreInfo"), "an IRL")
    if "extensions" in obj:
        _extensions(obj["extensions"], _p(path, "extensions"))
    if "interactionType" in obj:
        interaction = obj["interactionType"]
        if not isinstance(interaction, str) or interaction not in INTERACTION_TYPES:
            if not isinstance(interaction, str):
                raise _type_fail(_p(path, "interactionType"), "a string", interaction)
            raise _fail(
                _p(path, "interactionType"),
                f"must be one of {', '.join(INTERACTION_TYPES)}, not {interaction!r}",
            )
        allowed = INTERACTION_TYPES[interaction]
    elif "correctResponsesPattern" in obj or any(k in obj for k in _COMPONENT_LISTS):
        raise _fail(
            _p(path, "interactionType"),
            "is required when correctResponsesPattern or interaction components are given",
        )
    else:
        return
    if "correctResponsesPattern" in obj:
        pattern = obj["correctResponsesPattern"]
        ppath = _p(path, "correctResponsesPattern")
        if type(pattern) is not list:
            raise _type_fail(ppath, "an array of strings", pattern)
        for i, item in enumerate(pattern):
            _string(item, f"{ppath}[{i}]")
    for key in _COMPONENT_LISTS:
        if key in obj:
            if key not in allowed:
                raise _fail(_p(path, key), f"is not used with interactionType {interaction!r}")
            _components(obj[key], _p(path, key))


def validate_activity(obj: object, version: str, path: str = "object") -> None:
    """Validate an Activity object (``objectType`` absent or "Activity")."""
    obj = _object(obj, path, "an Activity object")
    if "objectType" in obj and obj["objectType"] != "Activity":
        raise _fail(_p(path, "objectType"), f"must be 'Activity', not {obj['objectType']!r}")
    _activity_body(obj, path)


def _activity_body(obj: dict[str, Any], path: str) -> None:
    _unknown(obj, _ACTIVITY_KEYS, path, "an Activity")
    if "id" not in obj:
        raise _fail(_p(path, "id"), "is required")
    _iri(obj["id"], _p(path, "id"))
    if "definition" in obj:
        _definition(obj["definition"], _p(path, "definition"))


def _statement_ref(obj: object, path: str) -> None:
    obj = _object(obj, path, "a StatementRef object")
    _unknown(obj, _STATEMENTREF_KEYS, path, "a StatementRef")
    if obj.get("objectType") != "StatementRef":
        raise _fail(_p(path, "objectType"), "must be 'StatementRef'")
    if "id" not in obj:
        raise _fail(_p(path, "id"), "is required")
    validate_uuid(obj["id"], _p(path, "id"))


def _object_prop(obj: object, version: str, path: str, *, in_substatement: bool) -> str:
    """Validate a statement's object; return its objectType (defaulted)."""
    obj = _object(obj, path)
    if "objectType" not in obj:
        _activity_body(obj, path)
        return "Activity"
    object_type = obj["objectType"]
    if object_type == "Activity":
        _activity_body(obj, path)
    elif object_type == "Agent":
        _agent(obj, path)
    elif object_type == "Group":
        _group(obj, path)
    elif object_type == "StatementRef":
        _statement_ref(obj, path)
    elif object_type == "SubStatement":
        if in_substatement:
            raise _fail(_p(path, "objectType"), "a SubStatement cannot contain another SubStatement")
        _substatement(obj, version, path)
    elif isinstance(object_type, str):
        raise _fail(
            _p(path, "objectType"),
            f"must be Activity, Agent, Group, StatementRef or SubStatement, not {object_type!r}",
        )
    else:
        raise _type_fail(_p(path, "objectType"), "a string", object_type)
    return object_type


# --------------------------------------------------------------------------- result, context, attachments


def _result(obj: object, path: str) -> None:
    obj = _object(obj, path)
    _unknown(obj, _RESULT_KEYS, path, "a Result")
    if "score" in obj:
        spath = _p(path, "score")
        score = _object(obj["score"], spath)
        _unknown(score, _SCORE_KEYS, spath, "a Score")
        if "scaled" in score:
            scaled = _number(score["scaled"], _p(spath, "scaled"))
            if not -1 <= scaled <= 1:
                raise _fail(_p(spath, "scaled"), "must be between -1 and 1")
        low = _number(score["min"], _p(spath, "min")) if "min" in score else None
        high = _number(score["max"], _p(spath, "max")) if "max" in score else None
        if low is not None and high is not None and not low < high:
            raise _fail(_p(spath, "min"), "must be less than max")
        if "raw" in score:
            raw = _number(score["raw"], _p(spath, "raw"))
            if low is not None and raw < low:
                raise _fail(_p(spath, "raw"), "must not be less than min")
            if high is not None and raw > high:
                raise _fail(_p(spath, "raw"), "must not be greater than max")
    if "success" in obj:
        _bool(obj["success"], _p(path, "success"))
    if "completion" in obj:
        _bool(obj["completion"], _p(path, "completion"))
    if "response" in obj:
        _string(obj["response"], _p(path, "response"))
    if "duration" in obj:
        duration = obj["duration"]
        if not isinstance(duration, str):
            raise _type_fail(_p(path, "duration"), "an ISO 8601 duration string", duration)
        if not is_iso8601_duration(duration):
            raise _fail(_p(path, "duration"), f"must be an ISO 8601 duration (e.g. PT1M30S), not {duration!r}")
    if "extensions" in obj:
        _extensions(obj["extensions"], _p(path, "extensions"))


def _context_activities(obj: object, path: str) -> None:
    obj = _object(obj, path)
    _unknown(obj, _CONTEXT_ACTIVITY_KEYS, path, "contextActivities")
    for key, value in obj.items():
        kpath = _p(path, key)
        if type(value) is list:
            for i, activity in enumerate(value):
                validate_activity(activity, "", f"{kpath}[{i}]")
        elif type(value) is dict:
            validate_activity(value, "", kpath)
        else:
            raise _type_fail(kpath, "an Activity or an array of Activities", value)


def _relevant_types(obj: dict[str, Any], path: str) -> None:
    if "relevantTypes" in obj:
        rpath = _p(path, "relevantTypes")
        types = obj["relevantTypes"]
        if type(types) is not list:
            raise _type_fail(rpath, "an array of IRIs", types)
        if not types:
            raise _fail(rpath, "must not be empty")
        for i, iri in enumerate(types):
            _iri(iri, f"{rpath}[{i}]")


def _context(obj: object, version: str, path: str, object_type: str) -> None:
    obj = _object(obj, path)
    _unknown(obj, _CONTEXT_KEYS_200 if version == "2.0.0" else _CONTEXT_KEYS_103, path, "a Context")
    if "registration" in obj:
        validate_uuid(obj["registration"], _p(path, "registration"))
    if "instructor" in obj:
        validate_actor(obj["instructor"], version, _p(path, "instructor"))
    if "team" in obj:
        tpath = _p(path, "team")
        team = _object(obj["team"], tpath, "a Group")
        if team.get("objectType") != "Group":
            raise _fail(_p(tpath, "objectType"), "must be 'Group': a team is a Group")
        _group(team, tpath)
    if "contextActivities" in obj:
        _context_activities(obj["contextActivities"], _p(path, "contextActivities"))
    for key in ("revision", "platform"):
        if key in obj:
            _string(obj[key], _p(path, key))
            if object_type != "Activity":
                raise _fail(_p(path, key), "may only be used when the statement's object is an Activity")
    if "language" in obj:
        language = obj["language"]
        if not isinstance(language, str):
            raise _type_fail(_p(path, "language"), "a language tag string", language)
        if not is_language_tag(language):
            raise _fail(_p(path, "language"), f"{language!r} is not an RFC 5646 language tag")
    if "statement" in obj:
        _statement_ref(obj["statement"], _p(path, "statement"))
    if "extensions" in obj:
        _extensions(obj["extensions"], _p(path, "extensions"))
    if "contextAgents" in obj:
        apath = _p(path, "contextAgents")
        items = obj["contextAgents"]
        if type(items) is not list:
            raise _type_fail(apath, "an array of contextAgent objects", items)
        for i, item in enumerate(items):
            ipath = f"{apath}[{i}]"
            item = _object(item, ipath, "a contextAgent object")
            _unknown(item, _CONTEXT_AGENT_KEYS, ipath, "a contextAgent")
            if item.get("objectType") != "contextAgent":
                raise _fail(_p(ipath, "objectType"), "must be 'contextAgent'")
            if "agent" not in item:
                raise _fail(_p(ipath, "agent"), "is required")
            agent = _object(item["agent"], _p(ipath, "agent"), "an Agent")
            if agent.get("objectType", "Agent") != "Agent":
                raise _fail(_p(ipath, "agent.objectType"), "must be 'Agent'")
            _agent(agent, _p(ipath, "agent"))
            _relevant_types(item, ipath)
    if "contextGroups" in obj:
        gpath = _p(path, "contextGroups")
        items = obj["contextGroups"]
        if type(items) is not list:
            raise _type_fail(gpath, "an array of contextGroup objects", items)
        for i, item in enumerate(items):
            ipath = f"{gpath}[{i}]"
            item = _object(item, ipath, "a contextGroup object")
            _unknown(item, _CONTEXT_GROUP_KEYS, ipath, "a contextGroup")
            if item.get("objectType") != "contextGroup":
                raise _fail(_p(ipath, "objectType"), "must be 'contextGroup'")
            if "group" not in item:
                raise _fail(_p(ipath, "group"), "is required")
            group = _object(item["group"], _p(ipath, "group"), "a Group")
            if group.get("objectType") != "Group":
                raise _fail(_p(ipath, "group.objectType"), "must be 'Group'")
            _group(group, _p(ipath, "group"))
            _relevant_types(item, ipath)


def _attachments(value: object, path: str) -> None:
    if type(value) is not list:
        raise _type_fail(path, "an array of Attachment objects", value)
    for i, attachment in enumerate(value):
        apath = f"{path}[{i}]"
        attachment = _object(attachment, apath, "an Attachment object")
        _unknown(attachment, _ATTACHMENT_KEYS, apath, "an Attachment")
        for key in ("usageType", "display", "contentType", "length", "sha2"):
            if key not in attachment:
                raise _fail(_p(apath, key), "is required")
        _iri(attachment["usageType"], _p(apath, "usageType"))
        validate_language_map(attachment["display"], _p(apath, "display"))
        if "description" in attachment:
            validate_language_map(attachment["description"], _p(apath, "description"))
        content_type = _string(attachment["contentType"], _p(apath, "contentType"))
        if _MEDIA_TYPE_RE.fullmatch(content_type) is None:
            raise _fail(_p(apath, "contentType"), f"must be an Internet Media Type, not {content_type!r}")
        length = attachment["length"]
        if type(length) is not int:
            if isinstance(length, float) and length.is_integer() and length >= 0:
                pass  # JSON has one number type: 12.0 is the integer 12
            else:
                raise _type_fail(_p(apath, "length"), "a non-negative integer", length)
        elif length < 0:
            raise _fail(_p(apath, "length"), "must not be negative")
        sha2 = _string(attachment["sha2"], _p(apath, "sha2"))
        if len(sha2) not in (56, 64, 96, 128) or _HEX_RE.fullmatch(sha2) is None:
            raise _fail(_p(apath, "sha2"), "must be the hex SHA-2 hash (224, 256, 384 or 512 bits) of the attachment")
        if "fileUrl" in attachment:
            _iri(attachment["fileUrl"], _p(apath, "fileUrl"), "an IRL")


# --------------------------------------------------------------------------- statements


def _core(stmt: dict[str, Any], version: str, path: str, *, in_substatement: bool) -> None:
    """The parts a Statement and a SubStatement share."""
    if "actor" not in stmt:
        raise _fail(_p(path, "actor"), "is required")
    validate_actor(stmt["actor"], version, _p(path, "actor"))
    if "verb" not in stmt:
        raise _fail(_p(path, "verb"), "is required")
    verb_id = _verb(stmt["verb"], _p(path, "verb"))
    if "object" not in stmt:
        raise _fail(_p(path, "object"), "is required")
    object_type = _object_prop(stmt["object"], version, _p(path, "object"), in_substatement=in_substatement)
    if verb_id == VOIDED_VERB and object_type != "StatementRef":
        raise _fail(_p(path, "object.objectType"), "a voiding statement's object must be a StatementRef")
    if "result" in stmt:
        _result(stmt["result"], _p(path, "result"))
    if "context" in stmt:
        _context(stmt["context"], version, _p(path, "context"), object_type)
    if "timestamp" in stmt:
        validate_timestamp(stmt["timestamp"], _p(path, "timestamp"))
    if "attachments" in stmt:
        _attachments(stmt["attachments"], _p(path, "attachments"))


def _substatement(obj: dict[str, Any], version: str, path: str) -> None:
    for key in obj:
        if key not in _SUBSTATEMENT_KEYS:
            if key in _SUBSTATEMENT_FORBIDDEN:
                raise _fail(_p(path, key), "a SubStatement must not have an id, stored, version or authority")
            raise _fail(_p(path, str(key)), "is not a property of a SubStatement")
    _core(obj, version, path, in_substatement=True)


def _authority(value: object, version: str, path: str) -> None:
    obj = _object(value, path, "an Agent or Group object")
    if obj.get("objectType") == "Group":
        # Only OAuth three-legged authority is a Group: an anonymous pair of the
        # application and the user it acts for.
        if any(key in obj for key in IFI_KEYS):
            raise _fail(path, "an authority Group must be anonymous (no inverse functional identifier)")
        _group(obj, path, members=2)
    else:
        validate_actor(obj, version, path)


def validate_statement(statement: object, version: str, *, path: str = "") -> None:
    """Validate one statement against the data model of ``version`` ("2.0.0" or "1.0.3").

    Raises :class:`XAPIValidationError` naming the first offending property
    (``path`` is prefixed to every reported path, e.g. ``"[3]"``). Returns ``None`` when the
    statement is valid. The statement is not modified.
    """
    if version not in SUPPORTED:
        raise ValueError(f"unknown xAPI version {version!r}")
    stmt = _object(statement, path, "a Statement object")
    for key in stmt:
        if key not in _STATEMENT_KEYS:
            raise _fail(_p(path, str(key)), "is not a property of a Statement")
    if "id" in stmt:
        validate_uuid(stmt["id"], _p(path, "id"))
    _core(stmt, version, path, in_substatement=False)
    if "stored" in stmt:
        validate_timestamp(stmt["stored"], _p(path, "stored"))
    if "authority" in stmt:
        _authority(stmt["authority"], version, _p(path, "authority"))
    if "version" in stmt:
        value = stmt["version"]
        if not isinstance(value, str):
            raise _type_fail(_p(path, "version"), "a version string", value)
        if not statement_version_ok(value, version):
            allowed = "1.0 or 1.0.x" if version == "1.0.3" else "1.0, 1.0.x, 2.0 or 2.0.x"
            raise _fail(_p(path, "version"), f"must be {allowed}, not {value!r}")


def validate_statements(batch: object, version: str) -> list[dict[str, Any]]:
    """Validate a POSTed body: one statement object or an array of them.

    Returns the statements as a list (a single object becomes a one-item list). Paths in
    errors of an array start with the index (``[3].verb.display``); an empty array is refused.
    """
    if type(batch) is dict:
        validate_statement(batch, version)
        return [batch]
    if type(batch) is not list:
        raise _type_fail("", "a Statement object or an array of Statements", batch)
    if not batch:
        raise _fail("", "the array of Statements is empty")
    for i, statement in enumerate(batch):
        validate_statement(statement, version, path=f"[{i}]")
    return batch
