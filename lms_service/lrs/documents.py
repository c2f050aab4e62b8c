"""State, Activity Profile and Agent Profile documents, with ETag concurrency and JSON merge."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from xapi import jsontext
from xapi.errors import XAPIValidationError

from ..extensions import begin_write, db
from .models import Document, utcnow

KINDS = ("state", "activity_profile", "agent_profile")


class DocumentError(Exception):
    """A document request that cannot be carried out; ``status`` is 400, 409 or 412."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class DocumentKey:
    """Where a document lives; '' stands for a part this kind does not use."""

    kind: str
    org_key: int = 0
    activity_id: str = ""
    agent_ifi: str = ""
    registration: str = ""

    def conditions(self):
        return [
            Document.kind == self.kind,
            Document.org_key == self.org_key,
            Document.activity_id == self.activity_id,
            Document.agent_ifi == self.agent_ifi,
            Document.registration == self.registration,
        ]


def is_json_type(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def etag_for(content: bytes) -> str:
    return hashlib.sha1(content).hexdigest()


def _etags(header: str) -> list[str]:
    return [part.strip().removeprefix("W/").strip('"') for part in header.split(",") if part.strip()]


def _check_preconditions(existing: Document | None, if_match: str | None, if_none_match: str | None) -> None:
    if if_match is not None:
        tags = _etags(if_match)
        if existing is None or ("*" not in tags and existing.etag not in tags):
            raise DocumentError(412, "If-Match does not match the current document")
    if if_none_match is not None:
        tags = _etags(if_none_match)
        if existing is not None and ("*" in tags or existing.etag in tags):
            raise DocumentError(412, "If-None-Match: the document exists already")


def get_document(key: DocumentKey, document_id: str) -> Document | None:
    """One document, or None."""
    return db.session.execute(
        sa.select(Document).where(*key.conditions(), Document.document_id == document_id)
    ).scalar_one_or_none()


def list_document_ids(key: DocumentKey, since: dt.datetime | None) -> list[str]:
    """Ids of the documents under ``key`` (updated after ``since`` when given)."""
    query = sa.select(Document.document_id).where(*key.conditions()).order_by(Document.id)
    if since is not None:
        query = query.where(Document.updated > since)
    return list(db.session.execute(query).scalars())


def _json_object(content: bytes, what: str) -> dict:
    try:
        value = jsontext.loads(content, what=f"the {what}")
    except XAPIValidationError as error:
        raise DocumentError(400, f"the {what} is not valid JSON the LRS can store ({error})") from None
    if not isinstance(value, dict):
        raise DocumentError(400, f"the {what} is not a JSON object")
    return value


def save_document(
    key: DocumentKey,
    document_id: str,
    content: bytes,
    content_type: str,
    *,
    merge: bool,
    if_match: str | None = None,
    if_none_match: str | None = None,
    require_precondition: bool = False,
    precondition_for_new: bool = False,
) -> Document:
    """PUT (``merge=False``) or POST (``merge=True``) a document and commit.

    POST merges the top-level properties of two JSON objects; any other combination with an existing
    document is a 400. ``require_precondition``: a PUT without If-Match/If-None-Match over an existing
    document is a 409 (profiles; every document in xAPI 2.0). ``precondition_for_new``: such a PUT is
    a 400 even when there is no document yet (profiles in xAPI 1.0.3).
    """
    content_type = (content_type or "application/octet-stream").strip()
    if len(content_type) > 255 or "\x00" in content_type:
        raise DocumentError(400, "the Content-Type is longer than 255 characters or not text")
    posted = _json_object(content, "posted document") if merge and is_json_type(content_type) else None
    try:
        begin_write()
        for _attempt in range(2):
            existing = db.session.execute(
                sa.select(Document)
                .where(*key.conditions(), Document.document_id == document_id)
                .with_for_update()
            ).scalar_one_or_none()
            document = _written(
                key, document_id, existing, content, content_type, posted, merge=merge, if_match=if_match,
                if_none_match=if_none_match, require_precondition=require_precondition,
                precondition_for_new=precondition_for_new,
            )
            if existing is not None:
                break
            try:
                with db.session.begin_nested():
                    db.session.add(document)
                break
            except IntegrityError:
                # Another request created the document after our read (PostgreSQL: SQLite writers hold the
                # write lock from begin_write on). It is committed now: decide again against it, so the
                # preconditions answer as if that request had simply come first (412, a merge, ...).
                continue
        else:  # pragma: no cover - the second read always finds the document the first insert collided with
            raise DocumentError(409, "the document was changed by a concurrent request; fetch it and retry")
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return document


def _written(
    key: DocumentKey,
    document_id: str,
    existing: Document | None,
    content: bytes,
    content_type: str,
    posted: dict | None,
    *,
    merge: bool,
    if_match: str | None,
    if_none_match: str | None,
    require_precondition: bool,
    precondition_for_new: bool,
) -> Document:
    """Check the preconditions against ``existing`` and return it updated, or a new (not yet added) document."""
    _check_preconditions(existing, if_match, if_none_match)
    if (
        existing is not None
        and not merge
        and require_precondition
        and if_match is None
        and if_none_match is None
    ):
        raise DocumentError(
            409,
            "the document exists: send If-Match with its ETag (or If-None-Match: *) "
            "to say whether to overwrite it",
        )
    if existing is None and not merge and precondition_for_new and if_match is None and if_none_match is None:
        raise DocumentError(400, "a PUT of a profile document needs If-Match or If-None-Match")
    if merge and existing is not None:
        if not (is_json_type(content_type) and is_json_type(existing.content_type)):
            raise DocumentError(
                400,
                "POST merges JSON objects only: both the stored and the posted document "
                "must have Content-Type application/json",
            )
        merged = _json_object(existing.content, "stored document")
        merged.update(posted)
        content = json.dumps(merged, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        content_type = "application/json"
    document = existing
    if document is None:
        document = Document(
            kind=key.kind,
            org_key=key.org_key,
            activity_id=key.activity_id,
            agent_ifi=key.agent_ifi,
            registration=key.registration,
            document_id=document_id,
        )
    document.content = content
    document.content_type = content_type
    document.etag = etag_for(content)
    document.updated = utcnow()
    return document


def delete_document(
    key: DocumentKey, document_id: str, *, if_match: str | None = None, if_none_match: str | None = None
) -> None:
    """Delete one document (absent: nothing to do) and commit."""
    try:
        begin_write()  # the precondition holds for the document that is deleted, not for an older copy
        existing = db.session.execute(
            sa.select(Document).where(*key.conditions(), Document.document_id == document_id).with_for_update()
        ).scalar_one_or_none()
        _check_preconditions(existing, if_match, if_none_match)
        if existing is not None:
            db.session.delete(existing)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def delete_documents(key: DocumentKey) -> int:
    """Delete every document under ``key`` (State without stateId) and commit; returns how many."""
    result = db.session.execute(sa.delete(Document).where(*key.conditions()))
    db.session.commit()
    return result.rowcount or 0
