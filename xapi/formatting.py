"""Preparing statements for storage and shaping them for the ``format`` parameter.

:func:`prepare_for_storage` applies the properties the LRS assigns (Data 2.4.1, 2.4.7-2.4.10)
and the normalisations the spec asks for; :func:`format_statement` produces the
``exact``, ``ids`` and ``canonical`` forms of GET /statements (Communication 2.1.3).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .identity import actor_ifi
from .timeutil import format_timestamp, parse_timestamp

__all__ = ["FORMATS", "format_statement", "parse_accept_language", "pick_language", "prepare_for_storage"]

FORMATS = ("exact", "ids", "canonical")

# Statement "version" the LRS records when the client gave none (Data 2.4.10): 1.0.x
# statements are "1.0.0"; a 2.0 LRS records its own version.
_DEFAULT_STATEMENT_VERSION = {"1.0.3": "1.0.0", "2.0.0": "2.0.0"}


def _normalise_context(context: dict[str, Any], utc: bool) -> dict[str, Any]:
    activities = context.get("contextActivities")
    if type(activities) is dict and any(type(v) is not list for v in activities.values()):
        # An LRS MUST return single Activity objects as a one-item array (Data 2.4.6.2).
        context = dict(context)
        context["contextActivities"] = {k: v if type(v) is list else [v] for k, v in activities.items()}
    return context


def _normalise(part: dict[str, Any], utc: bool) -> dict[str, Any]:
    """Copy-on-write normalisation shared by a Statement and a SubStatement."""
    out = dict(part)
    context = out.get("context")
    if type(context) is dict:
        out["context"] = _normalise_context(context, utc)
    if utc and isinstance(out.get("timestamp"), str):
        out["timestamp"] = format_timestamp(parse_timestamp(out["timestamp"]))
    obj = out.get("object")
    if type(obj) is dict and obj.get("objectType") == "SubStatement":
        out["object"] = _normalise(obj, utc)
    return out


def prepare_for_storage(
    stmt: dict[str, Any], *, version: str, authority: dict[str, Any] | None, stored: datetime | str
) -> dict[str, Any]:
    """Return the statement as the LRS stores it (the input is not modified).

    - ``id``: a new UUID4 when absent;
    - ``stored``: the given time (a datetime or an already formatted string);
    - ``timestamp``: ``stored`` when absent; under 2.0.0 converted to UTC (the 2.0 suite
      sends ``-05:00`` and expects the UTC instant back) in the statement and a SubStatement;
    - ``authority``: replaced by ``authority`` when given (the LRS SHOULD overwrite it
      with the credentials' agent), kept otherwise;
    - ``version``: kept when sent, else "1.0.0" (1.0.3) or "2.0.0" (2.0.0);
    - ``context.contextActivities``: single Activity objects become one-item arrays.

    Call it only on a statement that passed :func:`xapi.validation.validate_statement`.
    """
    utc = version == "2.0.0"
    out = _normalise(stmt, utc)
    if "id" not in out:
        out["id"] = str(uuid.uuid4())
    stored_text = stored if isinstance(stored, str) else format_timestamp(stored)
    out["stored"] = stored_text
    if "timestamp" not in out:
        out["timestamp"] = stored_text
    if authority is not None:
        out["authority"] = authority
    if "version" not in out:
        out["version"] = _DEFAULT_STATEMENT_VERSION[version]
    return out


# --------------------------------------------------------------------------- format=ids


def _actor_ids(obj: Any) -> Any:
    if type(obj) is not dict:
        return obj
    out: dict[str, Any] = {}
    if "objectType" in obj:
        out["objectType"] = obj["objectType"]
    ifi = actor_ifi(obj)
    if ifi is not None:
        for key in ("mbox", "mbox_sha1sum", "openid", "account"):
            if key in obj:
                out[key] = obj[key]
                break
    elif type(obj.get("member")) is list:
        # An anonymous Group is identified by its members (Communication 2.1.3, format).
        out["member"] = [_actor_ids(member) for member in obj["member"]]
    return out


def _activity_ids(obj: Any) -> Any:
    # Just the id: the 2.0 suite expects an ids-format Activity to have exactly one key.
    return {"id": obj.get("id")} if type(obj) is dict else obj


def _object_ids(obj: Any) -> Any:
    if type(obj) is not dict:
        return obj
    object_type = obj.get("objectType", "Activity")
    if object_type == "Activity":
        return _activity_ids(obj)
    if object_type in ("Agent", "Group"):
        return _actor_ids(obj)
    if object_type == "SubStatement":
        return _statement_ids(obj)
    return obj


def _context_ids(context: Any) -> Any:
    if type(context) is not dict:
        return context
    out = dict(context)
    for key in ("instructor", "team"):
        if key in out:
            out[key] = _actor_ids(out[key])
    activities = out.get("contextActivities")
    if type(activities) is dict:
        out["contextActivities"] = {
            k: [_activity_ids(a) for a in v] if type(v) is list else _activity_ids(v) for k, v in activities.items()
        }
    if type(out.get("contextAgents")) is list:
        out["contextAgents"] = [
            {**item, "agent": _actor_ids(item.get("agent"))} if type(item) is dict else item
            for item in out["contextAgents"]
        ]
    if type(out.get("contextGroups")) is list:
        out["contextGroups"] = [
            {**item, "group": _actor_ids(item.get("group"))} if type(item) is dict else item
            for item in out["contextGroups"]
        ]
    return out


def _statement_ids(stmt: dict[str, Any]) -> dict[str, Any]:
    out = dict(stmt)
    if "actor" in out:
        out["actor"] = _actor_ids(out["actor"])
    if type(out.get("verb")) is dict:
        out["verb"] = {"id": out["verb"].get("id")}
    if "object" in out:
        out["object"] = _object_ids(out["object"])
    if "context" in out:
        out["context"] = _context_ids(out["context"])
    if "authority" in out:
        out["authority"] = _actor_ids(out["authority"])
    return out


# --------------------------------------------------------------------------- format=canonical


def parse_accept_language(header: str | None) -> list[str]:
    """Turn an Accept-Language header into language tags, best first (q=0 dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        if not tag:
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:
            weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def pick_language(language_map: dict[str, str], languages: Iterable[str]) -> str | None:
    """The key of ``language_map`` that best fits ``languages`` (tags best first).

    Exact tag (case-insensitive), then the same primary language ("en" for "en-US" and
    "en-GB" for "en"), then "und", then the map's first entry, so one language is
    always returned from a non-empty map.
    """
    if not language_map:
        return None
    lowered = {key.lower(): key for key in language_map}
    for wanted in languages:
        wanted_low = wanted.lower()
        if wanted_low == "*":
            return next(iter(language_map))
        if wanted_low in lowered:
            return lowered[wanted_low]
        primary = wanted_low.split("-", 1)[0]
        if primary in lowered:
            return lowered[primary]
        for low, key in lowered.items():
            if low.split("-", 1)[0] == primary:
                return key
    if "und" in lowered:
        return lowered["und"]
    return next(iter(language_map))


def _reduce(language_map: Any, languages: list[str]) -> Any:
    if type(language_map) is not dict or len(language_map) <= 1:
        return language_map
    key = pick_language(language_map, languages)
    return {key: language_map[key]}


def _activity_canonical(obj: Any, languages: list[str]) -> Any:
    if type(obj) is not dict or type(obj.get("definition")) is not dict:
        return obj
    definition = dict(obj["definition"])
    for key in ("name", "description"):
        if key in definition:
            definition[key] = _reduce(definition[key], languages)
    for key in ("choices", "scale", "source", "target", "steps"):
        if type(definition.get(key)) is list:
            definition[key] = [
                {**c, "description": _reduce(c["description"], languages)}
                if type(c) is dict and "description" in c
                else c
                for c in definition[key]
            ]
    return {**obj, "definition": definition}


def _statement_canonical(stmt: dict[str, Any], languages: list[str]) -> dict[str, Any]:
    out = dict(stmt)
    verb = out.get("verb")
    if type(verb) is dict and "display" in verb:
        out["verb"] = {**verb, "display": _reduce(verb["display"], languages)}
    obj = out.get("object")
    if type(obj) is dict:
        object_type = obj.get("objectType", "Activity")
        if object_type == "Activity":
            out["object"] = _activity_canonical(obj, languages)
        elif object_type == "SubStatement":
            out["object"] = _statement_canonical(obj, languages)
    context = out.get("context")
    if type(context) is dict and type(context.get("contextActivities")) is dict:
        out["context"] = {
            **context,
            "contextActivities": {
                k: [_activity_canonical(a, languages) for a in v] if type(v) is list
                else _activity_canonical(v, languages)
                for k, v in context["contextActivities"].items()
            },
        }
    return out


def format_statement(stmt: dict[str, Any], fmt: str, languages: list[str]) -> dict[str, Any]:
    """Shape a stored statement for GET /statements ``format`` (the input is not modified).

    - ``exact``: as stored;
    - ``ids``: Agents and identified Groups reduced to objectType and IFI, anonymous Groups
      to their members' IFIs, Activities and Verbs to their id alone;
      everything else unchanged (also inside a SubStatement and the context);
    - ``canonical``: every language map of the verb and of activity definitions (name,
      description, interaction components) reduced to the one entry that best fits
      ``languages`` (Accept-Language, best first). Substituting the LRS's canonical
      activity definitions is the caller's job, done before this call.
    """
    if fmt == "exact":
        return stmt
    if fmt == "ids":
        return _statement_ids(stmt)
    if fmt == "canonical":
        return _statement_canonical(stmt, languages)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
