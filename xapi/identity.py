"""Agent identity (IFIs), the agents/activities a statement is "about", and statement equivalence.

The LRS stores :func:`actors_in` and :func:`activities_in` in lookup tables when a
statement is written, so the ``agent``/``activity`` query filters (with and without
``related_agents``/``related_activities``) become index lookups instead of JSON scans.
"""

from __future__ import annotations

from typing import Any

from .timeutil import parse_timestamp

__all__ = [
    "activities_in",
    "actor_ifi",
    "actor_ifis",
    "actors_in",
    "normalise_mbox",
    "statements_equivalent",
]


def normalise_mbox(mbox: str) -> str:
    """Lower-case the domain of a ``mailto:`` IRI (case-insensitive per RFC 5321), keep the local part."""
    local, at, domain = mbox.rpartition("@")
    if not at:
        return mbox
    scheme, colon, user = local.partition(":")
    return f"{scheme.lower()}{colon}{user}@{domain.lower()}"


def actor_ifi(obj: object) -> str | None:
    """Canonical key of an Agent's or identified Group's inverse functional identifier.

    ``mbox:mailto:a@b.se``, ``mbox_sha1sum:<lower-case hex>``, ``openid:<uri>`` or
    ``account:<homePage>|<name>`` (a valid IRI cannot contain "|", so the key is
    unambiguous). Returns ``None`` for an anonymous Group or anything without an IFI.
    The object is assumed to be valid (one IFI at most).
    """
    if type(obj) is not dict:
        return None
    if "mbox" in obj:
        value = obj["mbox"]
        return f"mbox:{normalise_mbox(value)}" if isinstance(value, str) else None
    if "mbox_sha1sum" in obj:
        value = obj["mbox_sha1sum"]
        return f"mbox_sha1sum:{value.lower()}" if isinstance(value, str) else None
    if "openid" in obj:
        value = obj["openid"]
        return f"openid:{value}" if isinstance(value, str) else None
    account = obj.get("account")
    if type(account) is dict:
        home, name = account.get("homePage"), account.get("name")
        if isinstance(home, str) and isinstance(name, str):
            return f"account:{home}|{name}"
    return None


def actor_ifis(obj: object) -> set[str]:
    """The IFIs an Agent/Group filter matches: its own and, for a Group, its members' IFIs.

    Communication 2.1.3 (``agent``): "Groups that have members which match the specified
    Agent ... are considered a match", so a Group answers to each member's IFI too.
    """
    found: set[str] = set()
    _add_actor(obj, found)
    return found


def _add_actor(obj: object, found: set[str]) -> None:
    if type(obj) is not dict:
        return
    ifi = actor_ifi(obj)
    if ifi is not None:
        found.add(ifi)
    members = obj.get("member")
    if obj.get("objectType") == "Group" and type(members) is list:
        for member in members:
            ifi = actor_ifi(member)
            if ifi is not None:
                found.add(ifi)


def _is_actor(obj: object) -> bool:
    return type(obj) is dict and obj.get("objectType") in ("Agent", "Group")


def _add_related_agents(stmt: dict[str, Any], found: set[str]) -> None:
    """Actor, object, instructor, team, contextAgents, contextGroups of a statement or SubStatement."""
    _add_actor(stmt.get("actor"), found)
    obj = stmt.get("object")
    if _is_actor(obj):
        _add_actor(obj, found)
    context = stmt.get("context")
    if type(context) is dict:
        _add_actor(context.get("instructor"), found)
        _add_actor(context.get("team"), found)
        # 2.0: contextAgents / contextGroups name agents the statement is about as much as
        # instructor and team do, so related_agents finds them the same way.
        for item in context.get("contextAgents") or ():
            if type(item) is dict:
                _add_actor(item.get("agent"), found)
        for item in context.get("contextGroups") or ():
            if type(item) is dict:
                _add_actor(item.get("group"), found)


def actors_in(statement: dict[str, Any], related: bool) -> set[str]:
    """IFIs a stored statement answers to in the ``agent`` filter.

    ``related=False``: the actor, and the object when it is an Agent/Group (with Group
    members). ``related=True`` (``related_agents=true``): additionally authority,
    context instructor and team, 2.0 contextAgents/contextGroups, and the same properties
    of a SubStatement object. Call it on the statement as stored (authority filled in).
    """
    found: set[str] = set()
    _add_actor(statement.get("actor"), found)
    obj = statement.get("object")
    if _is_actor(obj):
        _add_actor(obj, found)
    if not related:
        return found
    _add_related_agents(statement, found)
    _add_actor(statement.get("authority"), found)
    if type(obj) is dict and obj.get("objectType") == "SubStatement":
        _add_related_agents(obj, found)
    return found


def _activity_id(obj: object) -> str | None:
    if type(obj) is dict and obj.get("objectType", "Activity") == "Activity":
        value = obj.get("id")
        return value if isinstance(value, str) else None
    return None


def _add_context_activities(stmt: dict[str, Any], found: set[str]) -> None:
    context = stmt.get("context")
    if type(context) is not dict:
        return
    activities = context.get("contextActivities")
    if type(activities) is not dict:
        return
    for value in activities.values():
        for activity in value if type(value) is list else (value,):
            activity_id = _activity_id(activity)
            if activity_id is not None:
                found.add(activity_id)


def activities_in(statement: dict[str, Any], related: bool) -> set[str]:
    """Activity ids a stored statement answers to in the ``activity`` filter.

    ``related=False``: the object's id when the object is an Activity. ``related=True``
    (``related_activities=true``): additionally every context activity (parent, grouping,
    category, other) and the object and context activities of a SubStatement object.
    """
    found: set[str] = set()
    obj = statement.get("object")
    activity_id = _activity_id(obj)
    if activity_id is not None:
        found.add(activity_id)
    if not related:
        return found
    _add_context_activities(statement, found)
    if type(obj) is dict and obj.get("objectType") == "SubStatement":
        activity_id = _activity_id(obj.get("object"))
        if activity_id is not None:
            found.add(activity_id)
        _add_context_activities(obj, found)
    return found


# --------------------------------------------------------------------------- equivalence

# Data 2.3.1: properties the LRS may assign, and the parts of a statement that are not
# part of its immutable content (attachments, verb display, activity definitions).
_ASSIGNED = ("id", "authority", "stored", "timestamp", "version")


def _canonical(value: Any, key: str | None = None) -> Any:
    """A comparable form of a statement fragment, folding the immutability exceptions."""
    if type(value) is dict:
        out: dict[str, Any] = {}
        object_type = value.get("objectType")
        for k, v in value.items():
            if k == "attachments":
                continue
            if k == "definition" and object_type in (None, "Activity") and "id" in value:
                continue  # activity definitions are not part of the statement
            if k in ("timestamp", "stored") and isinstance(v, str):
                try:
                    out[k] = parse_timestamp(v)
                except ValueError:
                    out[k] = v
                continue
            if k == "mbox" and isinstance(v, str):
                out[k] = normalise_mbox(v)
                continue
            if k == "mbox_sha1sum" and isinstance(v, str):
                out[k] = v.lower()
                continue
            if k == "duration" and isinstance(v, str):
                out[k] = _duration_key(v)
                continue
            out[k] = _canonical(v, k)
        if key == "verb":
            out.pop("display", None)
        if key == "contextActivities":
            out = {k: v if type(v) is list else [v] for k, v in out.items()}
            for items in out.values():
                for item in items:
                    if type(item) is dict:
                        item.setdefault("objectType", "Activity")
        if "objectType" not in out and key in ("object",) and "id" in out:
            out["objectType"] = "Activity"
        if object_type == "Group" and type(out.get("member")) is list:
            # The member list of a Group is unordered (Data 2.3.1.b5).
            out["member"] = sorted(out["member"], key=repr)
        if key in ("actor", "instructor", "authority", "agent") and "objectType" not in out:
            out["objectType"] = "Agent"
        return out
    if type(value) is list:
        return [_canonical(v) for v in value]
    return value


def _duration_key(text: str) -> str:
    # Precision beyond 0.01 s is not part of a duration's value (Data 4.6.s1.b5).
    head, dot, tail = text.partition(".")
    if not dot or not tail.endswith("S"):
        return text
    digits = tail[:-1][:2].rstrip("0")
    return f"{head}.{digits}S" if digits else f"{head}S"


def _timestamp_assigned(stmt: dict[str, Any]) -> bool:
    timestamp, stored = stmt.get("timestamp"), stmt.get("stored")
    if not isinstance(timestamp, str) or not isinstance(stored, str):
        return False
    try:
        return parse_timestamp(timestamp) == parse_timestamp(stored)
    except ValueError:
        return False


def statements_equivalent(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two statements are the same statement per Data 2.3.1 (statement comparison).

    Ignored: LRS-assigned properties (id, authority, stored, timestamp, version) when
    either side lacks them (a timestamp equal to its statement's stored time counts as
    LRS-assigned, so two stored copies of one timestamp-less statement match), the case
    of the id, timestamp serialisation (compared as points in time),
    attachments, verb display, activity definitions, Group member order, mbox domain
    case, contextActivities given as an object instead of a one-item array, and duration
    precision beyond 0.01 s. Everything else must be equal.
    """
    left, right = dict(a), dict(b)
    # A stored statement whose timestamp equals its stored time had the timestamp filled in
    # by the LRS (Data 2.4.7), so it is an assigned property like id and stored.
    for side in (left, right):
        if _timestamp_assigned(side):
            side.pop("timestamp")
        if isinstance(side.get("id"), str):
            side["id"] = side["id"].lower()
    for key in _ASSIGNED:
        if key not in left or key not in right:
            left.pop(key, None)
            right.pop(key, None)
    for key in ("authority", "stored", "version"):
        left.pop(key, None)
        right.pop(key, None)
    return _canonical(left) == _canonical(right)
