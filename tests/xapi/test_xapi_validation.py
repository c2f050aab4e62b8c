"""validate_statement: each rule area with valid and invalid cases and the exact error path."""

from __future__ import annotations

import copy
import re

import pytest

from xapi.errors import XAPIValidationError
from xapi.validation import (
    is_iri,
    is_uuid,
    validate_activity_id,
    validate_agent,
    validate_statement,
    validate_statements,
    validate_timestamp,
    validate_uuid,
)

_MISSING = object()
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _tokens(path):
    return [name if name else int(index) for name, index in _TOKEN.findall(path)]


def put(doc, path, value=_MISSING):
    """Set (or with no value, delete) the property at ``path`` ("a.b[0].c") of ``doc``."""
    *parents, last = _tokens(path)
    node = doc
    for token in parents:
        if isinstance(token, str) and token not in node:
            node[token] = {}
        node = node[token]
    if value is _MISSING:
        del node[last]
    else:
        node[last] = copy.deepcopy(value)
    return doc


AGENT = {"objectType": "Agent", "mbox": "mailto:learner@example.com"}
GROUP = {"objectType": "Group", "name": "Team", "member": [{"mbox": "mailto:a@example.com"}]}
SUBSTATEMENT = {
    "objectType": "SubStatement",
    "actor": {"mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/reported"},
    "object": {"id": "http://www.example.com/meetings/34534"},
}
ACTIVITY = {"objectType": "Activity", "id": "http://www.example.com/meetings/34534"}


# --------------------------------------------------------------------------- valid statements

VALID = [
    ("cmi5 statement as is", lambda s: s),
    ("no id", lambda s: put(s, "id")),
    ("upper-case uuid", lambda s: put(s, "id", "AA97B177-9383-4934-8543-0F91A7A02836")),
    ("agent without objectType", lambda s: put(s, "actor", {"mbox": "mailto:x@example.com"})),
    ("agent mbox_sha1sum", lambda s: put(s, "actor", {"mbox_sha1sum": "CD9B00A5611F94EAA7B1661EDAB976068E364975"})),
    ("agent openid", lambda s: put(s, "actor", {"openid": "http://openid.example.org/12345"})),
    ("anonymous group", lambda s: put(s, "actor", GROUP)),
    ("identified group without members", lambda s: put(s, "actor", {"objectType": "Group", "mbox": "mailto:g@x.se"})),
    ("identified group with members", lambda s: put(s, "actor", {**GROUP, "account": {"homePage": "http://x.se", "name": "g"}})),
    ("verb without display", lambda s: put(s, "verb.display")),
    ("verb display empty", lambda s: put(s, "verb.display", {})),
    ("language tag with script", lambda s: put(s, "verb.display", {"zh-Hant-TW": "x", "tlh": "y", "x-private": "z"})),
    ("object without objectType", lambda s: put(s, "object.objectType")),
    ("object agent", lambda s: put(put(s, "context.platform"), "object", AGENT)),
    ("object group", lambda s: put(put(s, "context.platform"), "object", GROUP)),
    ("object statementref", lambda s: put(put(s, "context.platform"), "object",
                                         {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"})),
    ("object substatement", lambda s: put(put(s, "context.platform"), "object", SUBSTATEMENT)),
    ("substatement with context, result, timestamp, attachments", lambda s: put(put(s, "context.platform"), "object", {
        **SUBSTATEMENT, "result": {"success": False}, "context": {"platform": "x"},
        "timestamp": "2026-01-01T00:00:00Z",
        "attachments": [{"usageType": "http://x.se/u", "display": {"en": "a"}, "contentType": "text/plain",
                         "length": 1, "sha2": "a" * 64}]})),
    ("activity with no definition", lambda s: put(s, "object.definition")),
    ("definition empty", lambda s: put(s, "object.definition", {})),
    ("moreInfo", lambda s: put(s, "object.definition.moreInfo", "http://virtualmeeting.example.com/345256")),
    ("extension values of any kind", lambda s: put(s, "object.definition.extensions", {
        "http://example.com/a": None, "http://example.com/b": "", "http://example.com/c": {},
        "http://example.com/d": [1, {"k": None}], "urn:x:e": True})),
    ("choice interaction", lambda s: put(s, "object.definition", {
        "interactionType": "choice", "correctResponsesPattern": ["golf[,]tetris"],
        "choices": [{"id": "golf", "description": {"en-US": "Golf"}}, {"id": "tetris"}]})),
    ("likert", lambda s: put(s, "object.definition", {"interactionType": "likert", "scale": [{"id": "1"}]})),
    ("matching", lambda s: put(s, "object.definition", {"interactionType": "matching", "source": [{"id": "a"}],
                                                          "target": [{"id": "a"}]})),
    ("performance", lambda s: put(s, "object.definition", {"interactionType": "performance", "steps": [{"id": "1"}]})),
    ("sequencing", lambda s: put(s, "object.definition", {"interactionType": "sequencing", "choices": []})),
    ("true-false without pattern", lambda s: put(s, "object.definition", {"interactionType": "true-false"})),
    ("numeric with pattern", lambda s: put(s, "object.definition", {"interactionType": "numeric",
                                                                      "correctResponsesPattern": ["4[:]"]})),
    ("other", lambda s: put(s, "object.definition", {"interactionType": "other"})),
    ("empty correctResponsesPattern", lambda s: put(s, "object.definition", {"interactionType": "fill-in",
                                                                               "correctResponsesPattern": []})),
    ("score without min and max", lambda s: put(s, "result.score", {"raw": -1000})),
    ("score scaled bounds", lambda s: put(s, "result.score", {"scaled": -1})),
    ("score scaled 1", lambda s: put(s, "result.score", {"scaled": 1.0})),
    ("raw equals max", lambda s: put(s, "result.score", {"raw": 20, "min": 0, "max": 20})),
    ("largest double as an int", lambda s: put(s, "result.score", {"raw": int(1.7976931348623157e308)})),
    ("result empty", lambda s: put(s, "result", {})),
    ("result response empty string", lambda s: put(s, "result.response", "")),
    ("duration weeks", lambda s: put(s, "result.duration", "P4W")),
    ("duration years", lambda s: put(s, "result.duration", "P3Y1M29DT4H35M59.14S")),
    ("duration more than 0.01s precision", lambda s: put(s, "result.duration", "PT1.23456S")),
    ("context activities as single objects", lambda s: put(s, "context.contextActivities", {
        "parent": ACTIVITY, "grouping": {"id": "http://x.se/g"}, "other": [], "category": [ACTIVITY]})),
    ("context instructor group", lambda s: put(s, "context.instructor", GROUP)),
    ("context team", lambda s: put(s, "context.team", GROUP)),
    ("context statement ref", lambda s: put(s, "context.statement", {
        "objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"})),
    ("context language 3 letters", lambda s: put(s, "context.language", "tlh")),
    ("timestamp Z", lambda s: put(s, "timestamp", "2015-09-15T15:53:00Z")),
    ("timestamp +00:00", lambda s: put(s, "timestamp", "2008-09-15T15:53:00.601+00:00")),
    ("timestamp far future", lambda s: put(s, "timestamp", "2099-01-01T00:00:00.000Z")),
    ("timestamp without zone", lambda s: put(s, "timestamp", "2008-09-15T15:53:00.601")),
    ("timestamp +0530", lambda s: put(s, "timestamp", "2008-09-15T15:53:00+0530")),
    ("stored", lambda s: put(s, "stored", "2008-09-15T15:53:00.601Z")),
    ("version 1.0", lambda s: put(s, "version", "1.0")),
    ("version 1.0.9", lambda s: put(s, "version", "1.0.9")),
    ("version 1.0.0", lambda s: put(s, "version", "1.0.0")),
    ("authority agent", lambda s: put(s, "authority", AGENT)),
    ("authority oauth group", lambda s: put(s, "authority", {"objectType": "Group", "member": [
        {"account": {"homePage": "http://example.com/xAPI/OAuth/Token", "name": "oauth_consumer_x75db"}},
        {"mbox": "mailto:bob@example.com"}]})),
    ("attachment with fileUrl", lambda s: put(s, "attachments", [{
        "usageType": "http://example.com/attachment-usage/test", "display": {"en-US": "A test attachment"},
        "description": {"en-US": "desc"}, "contentType": "text/plain; charset=ascii", "length": 27,
        "sha2": "495395e777cd98da653df9615d09c0fd6bb2f8d4788394cd53c56a3bfdcd848a",
        "fileUrl": "http://over.there.com/file.txt"}])),
    ("attachment sha512 and float length", lambda s: put(s, "attachments", [{
        "usageType": "http://x.se/u", "display": {}, "contentType": "image/jpeg", "length": 27.0, "sha2": "b" * 128}])),
    ("voiding statement", lambda s: put(put(put(s, "context.platform"), "verb", {
        "id": "http://adlnet.gov/expapi/verbs/voided"}), "object", {
        "objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"})),
    ("unicode everywhere", lambda s: put(s, "verb.display", {"sv-SE": "klarade ✓ 😀", "ja": "合格"})),
    ("openid urn", lambda s: put(s, "actor", {"openid": "urn:example:123"})),
]


@pytest.mark.parametrize("mutate", [m for _, m in VALID], ids=[n for n, _ in VALID])
def test_valid_statements_are_accepted(stmt, version, mutate):
    statement = mutate(stmt)
    before = copy.deepcopy(statement)
    assert validate_statement(statement, version) is None
    assert statement == before  # validation never modifies its input


# --------------------------------------------------------------------------- invalid statements

INVALID = [
    # statement level
    ("unknown top-level property", lambda s: put(s, "foo", 1), "foo"),
    ("statement objectType", lambda s: put(s, "objectType", "Statement"), "objectType"),
    ("id not a uuid", lambda s: put(s, "id", "not-a-uuid"), "id"),
    ("id invalid letter", lambda s: put(s, "id", "MA97B177-9383-4934-8543-0F91A7A02836"), "id"),
    ("id too many digits", lambda s: put(s, "id", "AA97B177-9383-4934-8543-0F91A7A028368"), "id"),
    ("id number", lambda s: put(s, "id", 12345), "id"),
    ("id null", lambda s: put(s, "id", None), "id"),
    ("id uuid with braces", lambda s: put(s, "id", "{3f1d7a0c-2b54-4c4e-9a43-5d9e1c7b8a21}"), "id"),
    ("missing actor", lambda s: put(s, "actor"), "actor"),
    ("missing verb", lambda s: put(s, "verb"), "verb"),
    ("missing object", lambda s: put(s, "object"), "object"),
    ("actor null", lambda s: put(s, "actor", None), "actor"),
    ("actor a string", lambda s: put(s, "actor", "agent"), "actor"),
    ("actor an array", lambda s: put(s, "actor", [AGENT]), "actor"),
    # agents
    ("agent without IFI", lambda s: put(s, "actor", {"objectType": "Agent", "name": "x"}), "actor"),
    ("agent with two IFIs", lambda s: put(s, "actor", {"mbox": "mailto:a@b.se", "openid": "http://o.se/1"}), "actor"),
    ("agent unknown property", lambda s: put(s, "actor.foo", "bar"), "actor.foo"),
    ("agent objectType lower case", lambda s: put(s, "actor.objectType", "agent"), "actor.objectType"),
    ("agent objectType number", lambda s: put(s, "actor.objectType", 123), "actor.objectType"),
    ("agent objectType object", lambda s: put(s, "actor.objectType", {"key": "value"}), "actor.objectType"),
    ("agent objectType null", lambda s: put(s, "actor.objectType", None), "actor.objectType"),
    ("agent name number", lambda s: put(s, "actor.name", 123), "actor.name"),
    ("agent name object", lambda s: put(s, "actor.name", {"key": "value"}), "actor.name"),
    ("agent name null", lambda s: put(s, "actor.name", None), "actor.name"),
    ("mbox without mailto", lambda s: put(s, "actor", {"mbox": "learner@example.com"}), "actor.mbox"),
    ("mbox http", lambda s: put(s, "actor", {"mbox": "http://should.fail.com"}), "actor.mbox"),
    ("mbox without @", lambda s: put(s, "actor", {"mbox": "mailto:should.fail.com"}), "actor.mbox"),
    ("mbox number", lambda s: put(s, "actor", {"mbox": 5}), "actor.mbox"),
    ("mbox_sha1sum too short", lambda s: put(s, "actor", {"mbox_sha1sum": "cd9b00a5"}), "actor.mbox_sha1sum"),
    ("mbox_sha1sum not hex", lambda s: put(s, "actor", {"mbox_sha1sum": "z" * 40}), "actor.mbox_sha1sum"),
    ("openid not a uri", lambda s: put(s, "actor", {"openid": "should fail"}), "actor.openid"),
    ("openid bad scheme", lambda s: put(s, "actor", {"openid": "ab=c://should.fail.com"}), "actor.openid"),
    ("account not an object", lambda s: put(s, "actor.account", "x"), "actor.account"),
    ("account without homePage", lambda s: put(s, "actor.account.homePage"), "actor.account.homePage"),
    ("account without name", lambda s: put(s, "actor.account.name"), "actor.account.name"),
    ("account homePage not IRL", lambda s: put(s, "actor.account.homePage", "ab=c://should.fail.com"),
     "actor.account.homePage"),
    ("account name object", lambda s: put(s, "actor.account.name", {"key": "invalid"}), "actor.account.name"),
    ("account extra property", lambda s: put(s, "actor.account.id", "x"), "actor.account.id"),
    # groups
    ("anonymous group without member", lambda s: put(s, "actor", {"objectType": "Group", "name": "x"}), "actor.member"),
    ("anonymous group with empty member", lambda s: put(s, "actor", {"objectType": "Group", "member": []}),
     "actor.member"),
    ("group with two IFIs", lambda s: put(s, "actor", {"objectType": "Group", "mbox": "mailto:a@b.se",
                                                       "mbox_sha1sum": "a" * 40}), "actor"),
    ("group member not array", lambda s: put(s, "actor", {"objectType": "Group", "member": AGENT}), "actor.member"),
    ("group member is group", lambda s: put(s, "actor", {"objectType": "Group", "member": [GROUP]}),
     "actor.member[0].objectType"),
    ("group member invalid", lambda s: put(s, "actor", {"objectType": "Group", "member": [AGENT, {"name": "x"}]}),
     "actor.member[1]"),
    ("group member bad mbox", lambda s: put(s, "actor", {"objectType": "Group", "member": [{"mbox": "x"}]}),
     "actor.member[0].mbox"),
    ("group unknown property", lambda s: put(s, "actor", {**GROUP, "members": []}), "actor.members"),
    ("group objectType lower case", lambda s: put(s, "actor", {**GROUP, "objectType": "group"}), "actor.objectType"),
    # verb
    ("verb not an object", lambda s: put(s, "verb", "http://adlnet.gov/expapi/verbs/passed"), "verb"),
    ("verb without id", lambda s: put(s, "verb.id"), "verb.id"),
    ("verb id not IRI", lambda s: put(s, "verb.id", "passed"), "verb.id"),
    ("verb id bad scheme", lambda s: put(s, "verb.id", "ab=c://should.fail.com"), "verb.id"),
    ("verb id with space", lambda s: put(s, "verb.id", "http://x.se/a b"), "verb.id"),
    ("verb display string", lambda s: put(s, "verb.display", "a12345 attended"), "verb.display"),
    ("verb display number", lambda s: put(s, "verb.display", 12345), "verb.display"),
    ("verb display bad tag", lambda s: put(s, "verb.display", {"a12345": "attended"}), "verb.display.a12345"),
    ("verb display long tag", lambda s: put(s, "verb.display", {"a12345678": "x"}), "verb.display.a12345678"),
    ("verb display value number", lambda s: put(s, "verb.display", {"en": 5}), "verb.display.en"),
    ("verb display value null", lambda s: put(s, "verb.display", {"en": None}), "verb.display.en"),
    ("verb unknown property", lambda s: put(s, "verb.objectType", "Verb"), "verb.objectType"),
    ("voiding verb with activity object", lambda s: put(s, "verb", {"id": "http://adlnet.gov/expapi/verbs/voided"}),
     "object.objectType"),
    # object
    ("object objectType unknown", lambda s: put(s, "object.objectType", "Thing"), "object.objectType"),
    ("object objectType lower case", lambda s: put(s, "object.objectType", "activity"), "object.objectType"),
    ("object objectType number", lambda s: put(s, "object.objectType", 1), "object.objectType"),
    ("object string", lambda s: put(s, "object", "activity"), "object"),
    ("activity without id", lambda s: put(s, "object.id"), "object.id"),
    ("activity id not IRI", lambda s: put(s, "object.id", "should fail"), "object.id"),
    ("activity unknown property", lambda s: put(s, "object.name", "x"), "object.name"),
    ("agent object without objectType", lambda s: put(s, "object", {"mbox": "mailto:a@b.se"}), "object.mbox"),
    ("group object without objectType", lambda s: put(s, "object", {"member": [AGENT]}), "object.member"),
    ("statementref without id", lambda s: put(put(s, "context.platform"), "object", {"objectType": "StatementRef"}),
     "object.id"),
    ("statementref bad id", lambda s: put(put(s, "context.platform"), "object", {"objectType": "StatementRef",
                                                                               "id": "x"}), "object.id"),
    ("statementref extra property", lambda s: put(put(s, "context.platform"), "object", {
        "objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee", "definition": {}}),
     "object.definition"),
    # definition
    ("definition not an object", lambda s: put(s, "object.definition", "x"), "object.definition"),
    ("definition unknown property", lambda s: put(s, "object.definition.foo", 1), "object.definition.foo"),
    ("definition name string", lambda s: put(s, "object.definition.name", "name"), "object.definition.name"),
    ("definition name number", lambda s: put(s, "object.definition.name", 1), "object.definition.name"),
    ("definition name bad tag", lambda s: put(s, "object.definition.name", {"something": "x"}),
     "object.definition.name.something"),
    ("definition description bad tag", lambda s: put(s, "object.definition.description", {"en-something-AU": "x"}),
     "object.definition.description.en-something-AU"),
    ("definition type not IRI", lambda s: put(s, "object.definition.type", "block"), "object.definition.type"),
    ("definition moreInfo not IRL", lambda s: put(s, "object.definition.moreInfo", "ab=c://should.fail.com"),
     "object.definition.moreInfo"),
    ("definition extensions key not IRI", lambda s: put(s, "object.definition.extensions", {"should fail": True}),
     "object.definition.extensions.should fail"),
    ("definition extensions array", lambda s: put(s, "object.definition.extensions", []),
     "object.definition.extensions"),
    ("interactionType unknown", lambda s: put(s, "object.definition.interactionType", "should error"),
     "object.definition.interactionType"),
    ("interactionType IRI", lambda s: put(s, "object.definition.interactionType", "ab=c://should.fail.com"),
     "object.definition.interactionType"),
    ("interactionType number", lambda s: put(s, "object.definition.interactionType", 12345),
     "object.definition.interactionType"),
    ("interactionType object", lambda s: put(s, "object.definition.interactionType", {"key": "invalid"}),
     "object.definition.interactionType"),
    ("interactionType case", lambda s: put(s, "object.definition.interactionType", "Choice"),
     "object.definition.interactionType"),
    ("pattern without interactionType", lambda s: put(s, "object.definition.correctResponsesPattern", ["a"]),
     "object.definition.interactionType"),
    ("choices without interactionType", lambda s: put(s, "object.definition.choices", [{"id": "a"}]),
     "object.definition.interactionType"),
    ("scale without interactionType", lambda s: put(s, "object.definition.scale", [{"id": "a"}]),
     "object.definition.interactionType"),
    ("source without interactionType", lambda s: put(s, "object.definition.source", []),
     "object.definition.interactionType"),
    ("target without interactionType", lambda s: put(s, "object.definition.target", []),
     "object.definition.interactionType"),
    ("steps without interactionType", lambda s: put(s, "object.definition.steps", []),
     "object.definition.interactionType"),
    ("pattern not array", lambda s: put(s, "object.definition", {"interactionType": "fill-in",
                                                                 "correctResponsesPattern": "a"}),
     "object.definition.correctResponsesPattern"),
    ("pattern item not string", lambda s: put(s, "object.definition", {"interactionType": "numeric",
                                                                       "correctResponsesPattern": ["1", 2]}),
     "object.definition.correctResponsesPattern[1]"),
    ("choices for likert", lambda s: put(s, "object.definition", {"interactionType": "likert",
                                                                  "choices": [{"id": "a"}]}),
     "object.definition.choices"),
    ("scale for choice", lambda s: put(s, "object.definition", {"interactionType": "choice", "scale": []}),
     "object.definition.scale"),
    ("steps for true-false", lambda s: put(s, "object.definition", {"interactionType": "true-false", "steps": []}),
     "object.definition.steps"),
    ("component without id", lambda s: put(s, "object.definition", {"interactionType": "choice",
                                                                     "choices": [{"description": {"en": "x"}}]}),
     "object.definition.choices[0].id"),
    ("component id number", lambda s: put(s, "object.definition", {"interactionType": "choice",
                                                                   "choices": [{"id": 1}]}),
     "object.definition.choices[0].id"),
    ("component ids repeat", lambda s: put(s, "object.definition", {"interactionType": "sequencing",
                                                                    "choices": [{"id": "a"}, {"id": "a"}]}),
     "object.definition.choices[1].id"),
    ("component description bad tag", lambda s: put(s, "object.definition", {
        "interactionType": "performance", "steps": [{"id": "1"}, {"id": "2"}, {"id": "3", "description": {
            "something": "x"}}]}), "object.definition.steps[2].description.something"),
    ("component unknown property", lambda s: put(s, "object.definition", {"interactionType": "matching",
                                                                          "source": [{"id": "a", "x": 1}]}),
     "object.definition.source[0].x"),
    ("components not array", lambda s: put(s, "object.definition", {"interactionType": "likert", "scale": {}}),
     "object.definition.scale"),
    # substatement
    ("substatement with id", lambda s: put(put(s, "context.platform"), "object",
                                           {**SUBSTATEMENT, "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}), "object.id"),
    ("substatement with stored", lambda s: put(put(s, "context.platform"), "object",
                                               {**SUBSTATEMENT, "stored": "2015-01-01T00:00:00Z"}), "object.stored"),
    ("substatement with version", lambda s: put(put(s, "context.platform"), "object",
                                                {**SUBSTATEMENT, "version": "1.0.0"}), "object.version"),
    ("substatement with authority", lambda s: put(put(s, "context.platform"), "object",
                                                  {**SUBSTATEMENT, "authority": AGENT}), "object.authority"),
    ("nested substatement", lambda s: put(put(s, "context.platform"), "object",
                                          {**SUBSTATEMENT, "object": SUBSTATEMENT}), "object.object.objectType"),
    ("substatement without actor", lambda s: put(put(put(s, "context.platform"), "object", SUBSTATEMENT),
                                                 "object.actor"), "object.actor"),
    ("substatement without verb", lambda s: put(put(put(s, "context.platform"), "object", SUBSTATEMENT),
                                                "object.verb"), "object.verb"),
    ("substatement without object", lambda s: put(put(put(s, "context.platform"), "object", SUBSTATEMENT),
                                                  "object.object"), "object.object"),
    ("substatement bad verb display", lambda s: put(put(put(s, "context.platform"), "object", SUBSTATEMENT),
                                                    "object.verb.display", {"s-something": "x"}),
     "object.verb.display.s-something"),
    ("substatement bad timestamp", lambda s: put(put(put(s, "context.platform"), "object", SUBSTATEMENT),
                                                 "object.timestamp", "01/011/2015"), "object.timestamp"),
    ("substatement bad context language", lambda s: put(put(put(s, "context.platform"), "object", SUBSTATEMENT),
                                                        "object.context", {"language": "something"}),
     "object.context.language"),
    ("substatement agent object without objectType", lambda s: put(
        put(put(s, "context.platform"), "object", SUBSTATEMENT), "object.object", {"mbox": "mailto:a@b.se"}),
     "object.object.mbox"),
    ("substatement unknown property", lambda s: put(put(put(s, "context.platform"), "object", SUBSTATEMENT),
                                                    "object.foo", 1), "object.foo"),
    ("substatement voiding non-ref", lambda s: put(put(put(s, "context.platform"), "object", SUBSTATEMENT),
                                                   "object.verb.id", "http://adlnet.gov/expapi/verbs/voided"),
     "object.object.objectType"),
    # result
    ("result not object", lambda s: put(s, "result", "passed"), "result"),
    ("result unknown property", lambda s: put(s, "result.grade", "A"), "result.grade"),
    ("score not object", lambda s: put(s, "result.score", 5), "result.score"),
    ("score unknown property", lambda s: put(s, "result.score.percent", 5), "result.score.percent"),
    ("scaled above 1", lambda s: put(s, "result.score.scaled", 1.01), "result.score.scaled"),
    ("scaled below -1", lambda s: put(s, "result.score.scaled", -1.5), "result.score.scaled"),
    ("scaled string", lambda s: put(s, "result.score.scaled", "0.5"), "result.score.scaled"),
    ("scaled boolean", lambda s: put(s, "result.score.scaled", True), "result.score.scaled"),
    ("raw below min", lambda s: put(s, "result.score.raw", -1), "result.score.raw"),
    ("raw above max", lambda s: put(s, "result.score.raw", 21), "result.score.raw"),
    ("min equals max", lambda s: put(s, "result.score", {"min": 5, "max": 5}), "result.score.min"),
    ("min above max", lambda s: put(s, "result.score", {"min": 6, "max": 5}), "result.score.min"),
    ("max null", lambda s: put(s, "result.score.max", None), "result.score.max"),
    ("raw nan", lambda s: put(s, "result.score.raw", float("nan")), "result.score.raw"),
    # Numbers beyond a double overflow whoever turns the score into a float (reports, other LRSs).
    ("raw beyond a double", lambda s: put(s, "result.score", {"raw": 10**309}), "result.score.raw"),
    ("min beyond a double", lambda s: put(s, "result.score", {"min": -(10**400)}), "result.score.min"),
    ("max infinite", lambda s: put(s, "result.score", {"max": float("inf")}), "result.score.max"),
    ("scaled beyond a double", lambda s: put(s, "result.score", {"scaled": 10**500}), "result.score.scaled"),
    ("success string", lambda s: put(s, "result.success", "true"), "result.success"),
    ("completion number", lambda s: put(s, "result.completion", 1), "result.completion"),
    ("completion null", lambda s: put(s, "result.completion", None), "result.completion"),
    ("response number", lambda s: put(s, "result.response", 5), "result.response"),
    ("duration invalid", lambda s: put(s, "result.duration", "PA1H0M0S"), "result.duration"),
    ("duration string", lambda s: put(s, "result.duration", "should fail"), "result.duration"),
    ("duration number", lambda s: put(s, "result.duration", 12345), "result.duration"),
    ("duration object", lambda s: put(s, "result.duration", {"key": "invalid"}), "result.duration"),
    ("duration weeks and days", lambda s: put(s, "result.duration", "P4W1D"), "result.duration"),
    ("duration alternative format", lambda s: put(s, "result.duration", "P0003-01-29T04:35:59"), "result.duration"),
    ("duration empty T", lambda s: put(s, "result.duration", "P1DT"), "result.duration"),
    ("result extensions key", lambda s: put(s, "result.extensions", {"progress": 1}), "result.extensions.progress"),
    # context
    ("context not object", lambda s: put(s, "context", []), "context"),
    ("context unknown property", lambda s: put(s, "context.foo", 1), "context.foo"),
    ("registration not uuid", lambda s: put(s, "context.registration", "abc"), "context.registration"),
    ("instructor invalid", lambda s: put(s, "context.instructor", {"name": "x"}), "context.instructor"),
    ("team agent", lambda s: put(s, "context.team", AGENT), "context.team.objectType"),
    ("team without objectType", lambda s: put(s, "context.team", {"member": [AGENT]}), "context.team.objectType"),
    ("team anonymous without members", lambda s: put(s, "context.team", {"objectType": "Group"}),
     "context.team.member"),
    ("contextActivities unknown key", lambda s: put(s, "context.contextActivities.consequences", [ACTIVITY]),
     "context.contextActivities.consequences"),
    ("contextActivities string", lambda s: put(s, "context.contextActivities.parent", "activity"),
     "context.contextActivities.parent"),
    ("contextActivities item without id", lambda s: put(s, "context.contextActivities.category[1]", {}),
     "context.contextActivities.category[1].id"),
    ("contextActivities agent", lambda s: put(s, "context.contextActivities.other", [AGENT]),
     "context.contextActivities.other[0].objectType"),
    ("contextActivities single object bad id", lambda s: put(s, "context.contextActivities.parent", {"id": "x"}),
     "context.contextActivities.parent.id"),
    ("revision with agent object", lambda s: put(put(s, "object", AGENT), "context.revision", "1"),
     "context.revision"),
    ("platform with group object", lambda s: put(s, "object", GROUP), "context.platform"),
    ("platform with statementref", lambda s: put(s, "object", {
        "objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}), "context.platform"),
    ("platform with substatement", lambda s: put(s, "object", SUBSTATEMENT), "context.platform"),
    ("platform number", lambda s: put(s, "context.platform", 5), "context.platform"),
    ("revision object", lambda s: put(s, "context.revision", {}), "context.revision"),
    ("language invalid", lambda s: put(s, "context.language", "something"), "context.language"),
    ("language number", lambda s: put(s, "context.language", 1), "context.language"),
    ("context statement not ref", lambda s: put(s, "context.statement", ACTIVITY), "context.statement.objectType"),
    ("context statement without objectType", lambda s: put(s, "context.statement", {
        "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}), "context.statement.objectType"),
    ("context extensions key", lambda s: put(s, "context.extensions", {"session": 1}), "context.extensions.session"),
    # timestamp / stored / version / authority
    ("timestamp invalid string", lambda s: put(s, "timestamp", "should fail"), "timestamp"),
    ("timestamp invalid date", lambda s: put(s, "timestamp", "01/011/2015"), "timestamp"),
    ("timestamp -00", lambda s: put(s, "timestamp", "2008-09-15T15:53:00.601-00"), "timestamp"),
    ("timestamp -0000", lambda s: put(s, "timestamp", "2008-09-15T15:53:00.601-0000"), "timestamp"),
    ("timestamp -00:00", lambda s: put(s, "timestamp", "2008-09-15T15:53:00.601-00:00"), "timestamp"),
    ("timestamp date only", lambda s: put(s, "timestamp", "2008-09-15"), "timestamp"),
    ("timestamp month 13", lambda s: put(s, "timestamp", "2008-13-15T15:53:00Z"), "timestamp"),
    ("timestamp number", lambda s: put(s, "timestamp", 1700000000), "timestamp"),
    ("stored invalid", lambda s: put(s, "stored", "yesterday"), "stored"),
    ("version 0.9.9", lambda s: put(s, "version", "0.9.9"), "version"),
    ("version 1.1.0", lambda s: put(s, "version", "1.1.0"), "version"),
    ("version string", lambda s: put(s, "version", "should fail"), "version"),
    ("version number", lambda s: put(s, "version", 1.0), "version"),
    ("version 3.0.0", lambda s: put(s, "version", "3.0.0"), "version"),
    ("authority invalid agent", lambda s: put(s, "authority", {"name": "x"}), "authority"),
    ("authority group one member", lambda s: put(s, "authority", {"objectType": "Group", "member": [AGENT]}),
     "authority.member"),
    ("authority group three members", lambda s: put(s, "authority", {"objectType": "Group", "member": [
        AGENT, {"mbox": "mailto:b@x.se"}, {"mbox": "mailto:c@x.se"}]}), "authority.member"),
    ("authority identified group", lambda s: put(s, "authority", {"objectType": "Group", "mbox": "mailto:g@x.se",
                                                                  "member": [AGENT, {"mbox": "mailto:b@x.se"}]}),
     "authority"),
    # attachments
    ("attachments not array", lambda s: put(s, "attachments", {}), "attachments"),
    ("attachment not object", lambda s: put(s, "attachments", ["x"]), "attachments[0]"),
]

ATTACHMENT = {"usageType": "http://example.com/attachment-usage/test", "display": {"en-US": "A"},
              "contentType": "text/plain", "length": 27, "sha2": "4" * 64}
for _key in ("usageType", "display", "contentType", "length", "sha2"):
    INVALID.append((f"attachment without {_key}",
                    lambda s, k=_key: put(s, "attachments", [{x: v for x, v in ATTACHMENT.items() if x != k}]),
                    f"attachments[0].{_key}"))
for _name, _key, _value in [
    ("usageType not IRI", "usageType", "should fail"),
    ("display bad tag", "display.a12345", {"a12345": "x"}),
    ("display string", "display", "x"),
    ("description bad tag", "description.a12345678", {"a12345678": "x"}),
    ("contentType not media type", "contentType", "should fail"),
    ("contentType number", "contentType", 5),
    ("length string", "length", "27"),
    ("length negative", "length", -1),
    ("length fraction", "length", 2.5),
    ("length boolean", "length", True),
    ("sha2 not hex", "sha2", "z" * 64),
    ("sha2 wrong size", "sha2", "a" * 40),
    ("sha2 number", "sha2", 5),
    ("fileUrl not IRL", "fileUrl", "ab=c://should.fail.com"),
    ("unknown property", "foo", 1),
]:
    _prop = _key.split(".")[0]
    INVALID.append((f"attachment {_name}",
                    lambda s, k=_prop, v=_value: put(s, "attachments", [{**ATTACHMENT, k: v}]),
                    f"attachments[0].{_key}"))
# The same for a second attachment, to check the index in the path.
INVALID.append(("second attachment bad", lambda s: put(s, "attachments", [ATTACHMENT, {**ATTACHMENT, "sha2": "x"}]),
                "attachments[1].sha2"))


@pytest.mark.parametrize("mutate,path", [(m, p) for _, m, p in INVALID], ids=[n for n, _, _ in INVALID])
def test_invalid_statements_name_the_path(stmt, version, rejects, mutate, path):
    rejects(mutate(stmt), path, version)


# --------------------------------------------------------------------------- version differences

CONTEXT_AGENTS = [{"objectType": "contextAgent", "agent": {"objectType": "Agent", "mbox": "mailto:p1@example.com"},
                   "relevantTypes": ["https://example.com/types/player"]}]
CONTEXT_GROUPS = [{"objectType": "contextGroup", "group": {
    "objectType": "Group", "mbox": "mailto:team-1@example.com", "member": [{"mbox": "mailto:p1@example.com"}]},
    "relevantTypes": ["https://example.com/types/team"]}]


def test_context_agents_and_groups_are_2_0_only(stmt, rejects):
    put(stmt, "context.contextAgents", CONTEXT_AGENTS)
    put(stmt, "context.contextGroups", CONTEXT_GROUPS)
    validate_statement(stmt, "2.0.0")
    rejects(stmt, "context.contextAgents", "1.0.3")


def test_context_agent_without_relevant_types_is_valid(stmt):
    put(stmt, "context.contextAgents", [{"objectType": "contextAgent", "agent": AGENT}])
    validate_statement(stmt, "2.0.0")


CONTEXT_AGENT_CASES = [
    ("objectType wrong", lambda s: put(s, "context.contextAgents[0].objectType", "Should fail"),
     "context.contextAgents[0].objectType"),
    ("objectType missing", lambda s: put(s, "context.contextAgents[0].objectType"),
     "context.contextAgents[0].objectType"),
    ("agent invalid", lambda s: put(s, "context.contextAgents[0].agent", {"key": "Should fail"}),
     "context.contextAgents[0].agent.key"),
    ("agent missing", lambda s: put(s, "context.contextAgents[0].agent"), "context.contextAgents[0].agent"),
    ("agent is a group", lambda s: put(s, "context.contextAgents[0].agent", GROUP),
     "context.contextAgents[0].agent.objectType"),
    ("relevantTypes empty", lambda s: put(s, "context.contextAgents[0].relevantTypes", []),
     "context.contextAgents[0].relevantTypes"),
    ("relevantTypes non-IRI", lambda s: put(s, "context.contextAgents[0].relevantTypes", ["abc"]),
     "context.contextAgents[0].relevantTypes[0]"),
    ("relevantTypes string", lambda s: put(s, "context.contextAgents[0].relevantTypes", "http://x.se/t"),
     "context.contextAgents[0].relevantTypes"),
    ("not an array", lambda s: put(s, "context.contextAgents", CONTEXT_AGENTS[0]), "context.contextAgents"),
    ("unknown property", lambda s: put(s, "context.contextAgents[0].group", GROUP), "context.contextAgents[0].group"),
    ("group objectType wrong", lambda s: put(s, "context.contextGroups[0].objectType", "contextAgent"),
     "context.contextGroups[0].objectType"),
    ("group invalid", lambda s: put(s, "context.contextGroups[0].group", {"key": "Should fail"}),
     "context.contextGroups[0].group.objectType"),
    ("group is an agent", lambda s: put(s, "context.contextGroups[0].group", AGENT),
     "context.contextGroups[0].group.objectType"),
    ("group missing", lambda s: put(s, "context.contextGroups[0].group"), "context.contextGroups[0].group"),
    ("group relevantTypes empty", lambda s: put(s, "context.contextGroups[0].relevantTypes", []),
     "context.contextGroups[0].relevantTypes"),
    ("group relevantTypes non-IRI", lambda s: put(s, "context.contextGroups[0].relevantTypes", ["x", "abc"]),
     "context.contextGroups[0].relevantTypes[0]"),
    ("group member sibling", lambda s: put(s, "context.contextGroups[0].member", [AGENT]),
     "context.contextGroups[0].member"),
    ("anonymous group without members", lambda s: put(s, "context.contextGroups[0].group", {"objectType": "Group"}),
     "context.contextGroups[0].group.member"),
]


@pytest.mark.parametrize("mutate,path", [(m, p) for _, m, p in CONTEXT_AGENT_CASES],
                         ids=[n for n, _, _ in CONTEXT_AGENT_CASES])
@pytest.mark.parametrize("where", ["statement", "substatement"])
def test_context_agents_and_groups_rules(stmt, rejects, mutate, path, where):
    put(stmt, "context.contextAgents", CONTEXT_AGENTS)
    put(stmt, "context.contextGroups", CONTEXT_GROUPS)
    if where == "substatement":
        inner = copy.deepcopy(SUBSTATEMENT)
        inner["context"] = stmt.pop("context")
        inner["context"].pop("platform")
        stmt["object"] = inner
        rejects(mutate(inner) and stmt, f"object.{path}")
    else:
        rejects(mutate(stmt), path)


def test_statement_version_2_0_only_under_2_0(stmt, rejects):
    for value in ("2.0.0", "2.0", "2.0.1"):
        stmt["version"] = value
        validate_statement(stmt, "2.0.0")
        rejects(stmt, "version", "1.0.3")


def test_unknown_version_argument_is_a_programming_error(stmt):
    with pytest.raises(ValueError, match="unknown xAPI version"):
        validate_statement(stmt, "1.0.2")


def test_statement_must_be_an_object():
    for value in ([], "x", None, 5):
        with pytest.raises(XAPIValidationError) as info:
            validate_statement(value, "2.0.0")
        assert info.value.path == ""


def test_error_string_and_attributes(stmt):
    stmt["verb"]["display"] = {"a12345": "x"}
    with pytest.raises(XAPIValidationError) as info:
        validate_statement(stmt, "1.0.3")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.path == "verb.display.a12345"
    assert "language tag" in err.message
    assert str(err) == f"verb.display.a12345: {err.message}"


def test_path_prefix(stmt):
    stmt["actor"] = {"name": "x"}
    with pytest.raises(XAPIValidationError) as info:
        validate_statement(stmt, "2.0.0", path="statements[3]")
    assert info.value.path == "statements[3].actor"


# --------------------------------------------------------------------------- batches


def test_batch_single_object(stmt):
    assert validate_statements(stmt, "2.0.0") == [stmt]


def test_batch_array(stmt):
    other = copy.deepcopy(stmt)
    other.pop("id")
    assert validate_statements([stmt, other], "1.0.3") == [stmt, other]


def test_batch_error_names_the_index(stmt):
    bad = copy.deepcopy(stmt)
    bad["verb"]["display"] = "passed"
    with pytest.raises(XAPIValidationError) as info:
        validate_statements([stmt, stmt, stmt, bad], "2.0.0")
    assert info.value.path == "[3].verb.display"


@pytest.mark.parametrize("body", [[], "x", 5, None, [[]]])
def test_batch_rejects_non_statements(body):
    with pytest.raises(XAPIValidationError):
        validate_statements(body, "2.0.0")


# --------------------------------------------------------------------------- parameters


@pytest.mark.parametrize("agent", [
    {"mbox": "mailto:a@b.se"},
    {"objectType": "Agent", "account": {"homePage": "http://x.se", "name": "1"}},
    {"objectType": "Group", "openid": "http://openid.example.org/1"},
])
def test_agent_parameter_valid(agent):
    assert validate_agent(agent, "2.0.0") is None


@pytest.mark.parametrize("agent,path", [
    ({"objectType": "Group", "member": [{"mbox": "mailto:a@b.se"}]}, "agent"),
    ({"name": "x"}, "agent"),
    ("mailto:a@b.se", "agent"),
    ({"mbox": "a@b.se"}, "agent.mbox"),
    ({"mbox": "mailto:a@b.se", "extra": 1}, "agent.extra"),
    ({"objectType": "Activity", "id": "http://x.se"}, "agent.objectType"),
])
def test_agent_parameter_invalid(agent, path):
    with pytest.raises(XAPIValidationError) as info:
        validate_agent(agent, "2.0.0")
    assert info.value.path == path


def test_agent_parameter_custom_path():
    with pytest.raises(XAPIValidationError) as info:
        validate_agent({"mbox": "x"}, "1.0.3", "agent")
    assert info.value.path == "agent.mbox"


@pytest.mark.parametrize("value,ok", [
    ("http://www.example.com/meetings/occurances/34534", True),
    ("urn:uuid:6690e6c9-3ef0-4ed3-8b37-7f3964730bee", True),
    ("https://lms.example.se/a?b=c#d", True),
    ("http://example.com/ö", True),
    ("ab=c://should.fail.com", False),
    ("should fail", False),
    ("/relative/path", False),
    ("http:", False),
    ("", False),
    (5, False),
])
def test_iris(value, ok):
    assert is_iri(value) is ok
    if ok:
        validate_activity_id(value)
    else:
        with pytest.raises(XAPIValidationError) as info:
            validate_activity_id(value)
        assert info.value.path == "activityId"


@pytest.mark.parametrize("value,ok", [
    ("6690e6c9-3ef0-4ed3-8b37-7f3964730bee", True),
    ("AA97B177-9383-4934-8543-0F91A7A02836", True),
    ("6690e6c93ef04ed38b377f3964730bee", False),
    ("6690e6c9-3ef0-4ed3-8b37-7f3964730bee\n", False),
    ("MA97B177-9383-4934-8543-0F91A7A02836", False),
    (None, False),
])
def test_uuids(value, ok):
    assert is_uuid(value) is ok
    if not ok:
        with pytest.raises(XAPIValidationError) as info:
            validate_uuid(value, "registration")
        assert info.value.path == "registration"


def test_timestamp_parameter():
    validate_timestamp("2026-01-01T00:00:00Z", "since")
    with pytest.raises(XAPIValidationError) as info:
        validate_timestamp("2026-01-01", "since")
    assert info.value.path == "since"
