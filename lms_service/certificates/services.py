"""Certificates: issuing from the progress projection, renewal, revocation, credentials, assignments, reminders.

Issuing is a projection of progress. ``issue_from_statements`` is an LRS ingest hook that runs after the
learning feature's progress hook in the same transaction: for each pass (or completion) it reads the
updated progress rows and issues the module's certificate and those of the learning paths the result
completes. The unique ``(user, subject, basis)`` key makes a replay or a rebuild issue nothing twice.
Certificate statements (issued, renewed, revoked) go through the LRS ingest path in the same transaction.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from xapi import builders, identity, openbadges
from xapi.timeutil import parse_timestamp
from xapi.vocabulary import Verb

from ..accounts.models import User
from ..errors import UserError
from ..extensions import db
from ..learning.models import LearnerProgress, Registration
from ..lrs import deferred
from ..mail import send_mail
from ..packages.models import LearningPath, Module, ModuleVersion
from ..timeutil import as_aware, utcnow
from .keys import signing_key
from .models import Assignment, Certificate, CertificatePolicy, ReminderLog, ReminderOptOut, aware, new_public_id

log = logging.getLogger(__name__)

DEFERRED_KIND = "certificates"  # the deferred projector that issues what passes and completions earn

REASON_MAX = 500
SUBJECT_NAMESPACE = uuid.UUID("6f1e3c1a-3d4b-5c7e-9a10-4b2f6c8d9e01")


# ---------------------------------------------------------------- settings


def setting(name: str) -> Any:
    return current_app.config[name]


def verification_url(public_id: str) -> str:
    """The public page (and the credential id) of a certificate."""
    return f"{setting('BASE_URL')}/verify/{public_id}"


def issuer_profile() -> openbadges.IssuerProfile:
    """The configured issuer as an OB 3.0 Profile, served at its own id."""
    base = setting("BASE_URL")
    return openbadges.IssuerProfile(
        id=f"{base}/certificates/issuer", name=setting("CERTIFICATE_ISSUER_NAME"),
        url=setting("CERTIFICATE_ISSUER_URL") or base, email=setting("CERTIFICATE_ISSUER_EMAIL") or None)


def key_url(kid: str) -> str:
    """The URL a credential's JOSE ``kid`` names: it returns the public JWK."""
    return f"{setting('BASE_URL')}/certificates/issuer/keys/{kid}"


# ---------------------------------------------------------------- policies


@dataclass(frozen=True)
class Policy:
    validity_days: int  # 0: no expiry
    renewal_window_days: int


def policy_for(subject_iri: str) -> Policy:
    """The subject's own policy, else the configured defaults."""
    row = db.session.execute(
        sa.select(CertificatePolicy).where(CertificatePolicy.subject_iri == subject_iri)).scalar_one_or_none()
    if row is not None:
        return Policy(row.validity_days, row.renewal_window_days)
    return Policy(int(setting("CERTIFICATE_VALIDITY_DAYS")), int(setting("CERTIFICATE_RENEWAL_WINDOW_DAYS")))


def set_policy(subject_iri: str, validity_days: int, renewal_window_days: int) -> CertificatePolicy:
    """Set how long certificates of a module or path are valid, and how early they can be renewed."""
    if find_subject(subject_iri) is None:
        raise UserError(_("There is no module or learning path %(iri)s.", iri=subject_iri), field="subject")
    if not 0 <= validity_days <= 36500:
        raise UserError(_("The validity must be between 0 (no expiry) and 36500 days."), field="validity_days")
    if not 0 <= renewal_window_days <= max(validity_days, 0):
        raise UserError(_("The renewal window must be between 0 days and the validity."),
                        field="renewal_window_days")
    try:
        row = db.session.execute(sa.select(CertificatePolicy).where(
            CertificatePolicy.subject_iri == subject_iri)).scalar_one_or_none()
        if row is None:
            row = CertificatePolicy(subject_iri=subject_iri)
            db.session.add(row)
        row.validity_days = validity_days
        row.renewal_window_days = renewal_window_days
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return row


# ---------------------------------------------------------------- subjects (modules and paths)


@dataclass(frozen=True)
class Subject:
    kind: str  # module | path
    iri: str
    title: dict[str, str]
    key: str  # module slug or path key

    def label(self, language: str) -> str:
        return self.title.get(language) or next(iter(self.title.values()), self.key)


def _latest_version(module: Module) -> ModuleVersion | None:
    return db.session.execute(
        sa.select(ModuleVersion).where(ModuleVersion.module_id == module.id)
        .order_by(ModuleVersion.published.desc(), ModuleVersion.major.desc(), ModuleVersion.minor.desc(),
                  ModuleVersion.patch.desc()).limit(1)).scalar_one_or_none()


def list_subjects() -> list[Subject]:
    """Every learning path and every module with a published version, paths first (for assignments)."""
    subjects = [Subject("path", path.iri, dict(path.certificate_title or path.title), path.key)
                for path in db.session.execute(sa.select(LearningPath).order_by(LearningPath.key)).scalars()]
    rows = db.session.execute(
        sa.select(Module, ModuleVersion).join(ModuleVersion, ModuleVersion.module_id == Module.id)
        .where(ModuleVersion.published.is_(True))
        .order_by(Module.slug, ModuleVersion.major.desc(), ModuleVersion.minor.desc(),
                  ModuleVersion.patch.desc())).all()
    seen: set[int] = set()
    for module, version in rows:
        if module.id not in seen:
            seen.add(module.id)
            subjects.append(Subject("module", module.iri, dict(version.title), module.slug))
    return subjects


def find_subject(iri: str) -> Subject | None:
    """The module or learning path with this IRI."""
    path = db.session.execute(sa.select(LearningPath).where(LearningPath.iri == iri)).scalar_one_or_none()
    if path is not None:
        return Subject("path", path.iri, dict(path.certificate_title or path.title), path.key)
    module = db.session.execute(sa.select(Module).where(Module.iri == iri)).scalar_one_or_none()
    if module is not None:
        version = _latest_version(module)
        return Subject("module", module.iri, dict(version.title) if version else {"en": module.slug}, module.slug)
    return None


# ---------------------------------------------------------------- xAPI statements


def _stage(statements: list[dict], user: User) -> None:
    """Store statements through the LRS ingest path inside the current transaction (the caller commits).

    They are stored under the learner's organisation, as the player's are, so the company's own LRS
    credentials read them too.
    """
    from ..lrs.clients import Credential, service_credential
    from ..lrs.ingest import stage_statements

    base = service_credential()
    stage_statements(statements, version=current_app.config.get("LRS_DEFAULT_VERSION", "2.0.0"),
                     authority=base.authority(),
                     client=Credential(base.client_id, base.name, base.scopes, user.organisation_id))


def _certificate_statement(verb: str, certificate: Certificate, user: User, reason: str | None = None) -> dict:
    return builders.certificate_event(
        verb, home_page=setting("BASE_URL"), account_name=user.xapi_account_name,
        certificate_iri=verification_url(certificate.public_id), certificate_id=certificate.public_id,
        title=certificate.subject_title, subject_iri=certificate.subject_iri, reason=reason)


# ---------------------------------------------------------------- issuing


@dataclass
class IssueOutcome:
    certificate: Certificate | None  # the new certificate, or the one that already covers this result
    created: bool = False
    renewed: bool = False


BOOK_KEY = "certificates.book"


@dataclass
class _Book:
    """What issuing for many results at once reads again and again, read once: the learners' certificates
    (newest first, by learner and subject) and the policies. Kept on the session while ``_issue_for_events``
    runs; ``_issue`` adds what it issues."""

    certificates: dict[tuple[int, str], list[Certificate]]
    policies: dict[str, Policy]
    versions: dict[int, tuple[dict, str]]

    @classmethod
    def of(cls, user_ids: Iterable[int], version_ids: Iterable[int]) -> _Book:
        certificates: dict[tuple[int, str], list[Certificate]] = {}
        for certificate in db.session.execute(
                sa.select(Certificate).where(Certificate.user_id.in_(sorted(set(user_ids))))
                .order_by(Certificate.issued_at.desc(), Certificate.id.desc())).scalars():
            certificates.setdefault((certificate.user_id, certificate.subject_iri), []).append(certificate)
        policies = {row.subject_iri: Policy(row.validity_days, row.renewal_window_days)
                    for row in db.session.execute(sa.select(CertificatePolicy)).scalars()}
        return cls(certificates, policies, _version_facts(version_ids))


def _earlier_certificates(user_id: int, subject_iri: str) -> list[Certificate]:
    book = db.session.info.get(BOOK_KEY)
    if book is not None:
        return list(book.certificates.get((user_id, subject_iri), []))
    return list(db.session.execute(
        sa.select(Certificate).where(Certificate.user_id == user_id, Certificate.subject_iri == subject_iri)
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())).scalars())


def _policy(subject_iri: str) -> Policy:
    book = db.session.info.get(BOOK_KEY)
    if book is not None:
        return book.policies.get(subject_iri) or Policy(int(setting("CERTIFICATE_VALIDITY_DAYS")),
                                                        int(setting("CERTIFICATE_RENEWAL_WINDOW_DAYS")))
    return policy_for(subject_iri)


def _issue(user: User, *, subject_kind: str, subject_iri: str, title: dict[str, str], version: str | None,
           basis: str, earned_at: dt.datetime, score_scaled: float | None = None,
           registration: str | None = None) -> IssueOutcome:
    """Issue inside the caller's transaction (no commit): the ingest hook and the services share it."""
    if subject_kind not in ("module", "path"):
        raise ValueError(f"unknown subject kind {subject_kind!r}")
    earned_at = aware(earned_at)
    earlier = _earlier_certificates(user.id, subject_iri)
    same = next((c for c in earlier if c.basis == basis), None)
    if same is not None:
        return IssueOutcome(same)
    current = next((c for c in earlier if not c.revoked), None)
    policy = _policy(subject_iri)
    renewal_of = None
    valid_from = earned_at
    if current is not None:
        until = as_aware(current.valid_until)
        if until is None or earned_at < until - dt.timedelta(days=policy.renewal_window_days):
            return IssueOutcome(current)  # still certified and not yet renewable: nothing to issue
        if earned_at <= until:
            # A renewal continues from the earlier certificate's end, so renewing early loses no time.
            renewal_of, valid_from = current, until
    now = utcnow()
    certificate = Certificate(
        public_id=new_public_id(), user_id=user.id, subject_kind=subject_kind, subject_iri=subject_iri, subject_title=dict(title),
        subject_version=version, basis=basis, registration=registration, score_scaled=score_scaled,
        learner_name=user.display_name, language=user.language or "sv", earned_at=earned_at, issued_at=now,
        valid_until=valid_from + dt.timedelta(days=policy.validity_days) if policy.validity_days else None,
        issuer_id=issuer_profile().id, issuer_name=setting("CERTIFICATE_ISSUER_NAME"),
        renewal_of_id=renewal_of.id if renewal_of else None)
    # Two transactions issuing for the same basis at once: the unique key fails the later one (nothing of
    # it is stored); no savepoint here, as SQLite's driver would commit on releasing one opened first.
    db.session.add(certificate)
    db.session.flush()
    book = db.session.info.get(BOOK_KEY)
    if book is not None:
        book.certificates.setdefault((user.id, subject_iri), []).insert(0, certificate)
    verb = Verb.CERTIFICATE_RENEWED if renewal_of else Verb.CERTIFICATE_ISSUED
    _stage([_certificate_statement(verb, certificate, user)], user)
    return IssueOutcome(certificate, created=True, renewed=renewal_of is not None)


def issue_for_progress(user: User, *, subject_kind: str, subject_iri: str, title: dict[str, str],
                       version: str | None, basis: str, earned_at: dt.datetime, score_scaled: float | None = None,
                       registration: str | None = None) -> IssueOutcome:
    """Issue (or renew) the certificate a result earns, in a transaction of its own.

    ``basis`` names the result (e.g. "<registration>@<timestamp of the pass>"): the same basis never issues
    twice. A learner who holds a valid certificate gets a new one only inside the renewal window before
    it expires (a renewal, linked to the earlier one); after expiry or revocation a pass issues afresh.
    """
    try:
        outcome = _issue(user, subject_kind=subject_kind, subject_iri=subject_iri, title=title, version=version,
                         basis=basis, earned_at=earned_at, score_scaled=score_scaled, registration=registration)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return outcome


def _stamp(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        return None


def _statement_stamp(statement: dict) -> str:
    """The fixed-width UTC form the progress projection uses for its timestamps (text order = time order)."""
    moment = _stamp(statement.get("timestamp") or statement.get("stored")) or utcnow()
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user_for(progress: LearnerProgress) -> tuple[User, Registration] | None:
    """The learner of a progress row: the registration's user, if the statements' actor is that user."""
    return _users_for([progress]).get(progress.registration)


def _users_for(progress_rows: Iterable[LearnerProgress]) -> dict[str, tuple[User, Registration]]:
    """``_user_for`` of many progress rows in two queries (registrations with their module and version,
    then their users), by registration."""
    by_registration = {p.registration: p for p in progress_rows}
    if not by_registration:
        return {}
    registrations = db.session.execute(
        sa.select(Registration).where(Registration.registration.in_(sorted(by_registration)))
        .options(joinedload(Registration.module))).scalars().all()
    users = {u.id: u for u in db.session.execute(
        sa.select(User).where(User.id.in_({r.user_id for r in registrations}))).scalars()}
    found = {}
    for registration in registrations:
        user = users.get(registration.user_id)
        # Someone else's statements in this registration earn this learner nothing.
        if user is not None and by_registration[registration.registration].actor_ifi.endswith(
                "|" + user.xapi_account_name):
            found[registration.registration] = (user, registration)
    return found


def _meets(move_on: str, progress: LearnerProgress | None) -> bool:
    from ..learning.services import meets_move_on as learning_meets  # the learning feature's one moveOn rule

    return learning_meets(move_on, progress)


def _qualifying_stamp(move_on: str, progress: LearnerProgress) -> str:
    """When the module met the rule (from the projection, so a rebuild gives the same value)."""
    stamps = [s for s in (progress.passed_at, progress.completed_at) if s]
    if move_on == "Passed":
        stamps = [progress.passed_at] if progress.passed_at else stamps
    elif move_on == "Completed":
        stamps = [progress.completed_at] if progress.completed_at else stamps
    elif move_on == "CompletedAndPassed":
        return max(stamps)
    return min(stamps) if stamps else progress.last_at


def _path_progress(user: User) -> dict[str, LearnerProgress]:
    """The learner's progress rows by module slug."""
    return _paths_progress([user]).get(user.id, {})


def _paths_progress(users: Iterable[User]) -> dict[int, dict[str, LearnerProgress]]:
    """``_path_progress`` of many learners in one query, by user id."""
    by_id = {user.id: user for user in users}
    rows = db.session.execute(
        sa.select(Registration.user_id, Module.slug, LearnerProgress)
        .join(Registration, Registration.module_id == Module.id)
        .join(LearnerProgress, LearnerProgress.registration == Registration.registration)
        .where(Registration.user_id.in_(sorted(by_id)))).all()
    found: dict[int, dict[str, LearnerProgress]] = {user_id: {} for user_id in by_id}
    for user_id, slug, progress in rows:
        if progress.actor_ifi.endswith("|" + by_id[user_id].xapi_account_name):
            found[user_id][slug] = progress
    return found


def _paths() -> list[LearningPath]:
    """Every learning path with its modules (one query for both)."""
    return list(db.session.execute(sa.select(LearningPath).order_by(LearningPath.key)
                                   .options(selectinload(LearningPath.modules))).scalars())


def _issue_paths(user: User, module_slug: str | None, trigger: tuple[str, str] | None,
                 paths: list[LearningPath] | None = None,
                 progress: dict[str, LearnerProgress] | None = None) -> list[IssueOutcome]:
    """Issue the certificates of the paths (containing ``module_slug``, or all) the learner now completes.

    ``paths`` (from ``_paths``) and ``progress`` (from ``_path_progress``) may be given by a caller that
    issues for many results at once and has them already."""
    progress = _path_progress(user) if progress is None else progress
    outcomes = []
    for path in _paths() if paths is None else paths:
        # Each module's rule: its own moveOn where the catalogue gives one, else the path's.
        # Optional modules count for nothing; the path is complete when every required one meets its rule.
        # A NotApplicable module is satisfied by definition (cmi5), so it adds nothing to wait for either.
        rules = {entry.module_slug: entry.move_on or path.move_on for entry in path.modules
                 if entry.required and (entry.move_on or path.move_on) != "NotApplicable"}
        slugs = list(rules)
        if not slugs or (module_slug is not None and module_slug not in rules):
            continue
        if not all(_meets(rules[slug], progress.get(slug)) for slug in slugs):
            continue
        stamps = {slug: _qualifying_stamp(rules[slug], progress[slug]) for slug in slugs}
        if trigger is not None and trigger[0] in stamps:
            # The result that just came in is what earns the path now (a re-pass can renew it).
            stamps[trigger[0]] = max(stamps[trigger[0]], trigger[1])
        parts = sorted(f"{slug}:{progress[slug].registration}@{stamps[slug]}" for slug in slugs)
        basis = "path:" + hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
        scores: list[float] = [s for s in (progress[slug].score_scaled for slug in slugs) if s is not None]
        outcomes.append(_issue(
            user, subject_kind="path", subject_iri=path.iri, title=dict(path.certificate_title or path.title),
            version=None, basis=basis, earned_at=_stamp(max(stamps.values())) or utcnow(),
            score_scaled=sum(scores) / len(scores) if len(scores) == len(slugs) else None))
    return outcomes


def _version_facts(version_ids: Iterable[int]) -> dict[int, tuple[dict, str]]:
    """(title, version) of module versions, reading only those two of a version's large manifest."""
    return {row.id: (dict(row.title or {}), row.version) for row in db.session.execute(
        sa.select(ModuleVersion.id, ModuleVersion.version, ModuleVersion.manifest["title"].label("title"))
        .where(ModuleVersion.id.in_(sorted(set(version_ids))))).all()}


def _issue_module(user: User, registration: Registration, progress: LearnerProgress, stamp: str) -> IssueOutcome:
    book = db.session.info.get(BOOK_KEY)
    facts = book.versions if book is not None else _version_facts([registration.module_version_id])
    title, version = facts[registration.module_version_id]
    return _issue(user, subject_kind="module", subject_iri=registration.module.iri,
                  title=title, version=version,
                  basis=f"{registration.registration}@{stamp}", earned_at=_stamp(stamp) or utcnow(),
                  score_scaled=progress.score_scaled, registration=registration.registration)


def issue_from_statements(statements: list[dict]) -> None:
    """Ingest hook: hand the passes and completions of the service's learners to the deferred run.

    Issuing (the certificate, its signed credential, its xAPI statement) happens right after the ingest
    commits, in the deferred run (lrs/deferred.py, ``issue_deferred``): not while the ingest holds the
    learner's progress rows. Never commits. Only the service's own learners earn certificates, and their
    actor is always a pseudonymous account on BASE_URL: statements of anyone else are passed over here.
    """
    wanted = (Verb.PASSED, Verb.COMPLETED)
    home_page = setting("BASE_URL")
    events = [s for s in statements if s["verb"]["id"] in wanted and (s.get("context") or {}).get("registration")
              and ((s.get("actor") or {}).get("account") or {}).get("homePage") == home_page]
    if events:
        deferred.defer(DEFERRED_KIND, ((s["context"]["registration"].lower(), s["id"].lower()) for s in events))


def issue_deferred(tasks: list[deferred.Task]) -> None:
    """Deferred projector: issue the certificates that the tasks' passes and completions earn.

    Reads the progress rows the ingest committed. A pass seen twice issues nothing the second time (the
    certificate's basis names the pass). Never commits; the deferred run gives it a savepoint, so if issuing
    fails the error is logged and ``flask certificates issue-missing`` issues the certificate later.
    """
    from ..lrs.models import Statement

    ids = sorted({task.statement_id for task in tasks if task.statement_id})
    if not ids:
        return
    bodies = db.session.execute(sa.select(Statement.body).where(
        Statement.statement_id.in_(ids), Statement.voided.is_(False)).order_by(Statement.pk)).scalars().all()
    if bodies:
        _issue_for_events(list(bodies))


def _issue_for_events(events: list[dict]) -> None:
    # A few queries for the whole batch, however many results it holds (the deferred run gives many).
    registrations = sorted({statement["context"]["registration"].lower() for statement in events})
    progress_rows = {p.registration: p for p in db.session.execute(
        sa.select(LearnerProgress).where(LearnerProgress.registration.in_(registrations))).scalars()}
    learners = _users_for(progress_rows.values())
    db.session.info[BOOK_KEY] = _Book.of([user.id for user, _registration in learners.values()],
                                         [registration.module_version_id for _user, registration in learners.values()])
    try:
        _issue_for_learners(events, progress_rows, learners)
    finally:
        db.session.info.pop(BOOK_KEY, None)


def _issue_for_learners(events: list[dict], progress_rows: dict[str, LearnerProgress],
                        learners: dict[str, tuple[User, Registration]]) -> None:
    # Module certificates first, then each learner's paths once per module with the batch's latest result.
    path_triggers: dict[tuple[int, str], str] = {}
    users: dict[int, User] = {}
    for statement in events:
        registration_id = statement["context"]["registration"].lower()
        progress = progress_rows.get(registration_id)
        found = learners.get(registration_id)
        if progress is None or found is None:
            continue
        user, registration = found
        if identity.actor_ifi(statement.get("actor")) != progress.actor_ifi:
            continue
        stamp = _statement_stamp(statement)
        if statement["verb"]["id"] == Verb.PASSED and progress.passed_at:
            _issue_module(user, registration, progress, stamp)
        users[user.id] = user
        key = (user.id, registration.module.slug)
        path_triggers[key] = max(path_triggers.get(key, stamp), stamp)
    paths = _paths() if path_triggers else []
    learner_progress = _paths_progress(users.values()) if path_triggers else {}
    for (user_id, slug), stamp in sorted(path_triggers.items()):
        _issue_paths(users[user_id], slug, (slug, stamp), paths, learner_progress[user_id])


def issue_missing() -> int:
    """Issue every certificate the progress projection earns and nobody holds yet (after a rebuild, or for
    passes stored before this feature existed); returns how many were issued. One transaction."""
    count = 0
    try:
        rows = db.session.execute(sa.select(LearnerProgress).where(LearnerProgress.passed_at.is_not(None))).scalars()
        users: dict[int, User] = {}
        for progress in list(rows):
            found = _user_for(progress)
            if found is None:
                continue
            user, registration = found
            users[user.id] = user
            if not _earlier_certificates(user.id, registration.module.iri):
                count += _issue_module(user, registration, progress, progress.passed_at or progress.last_at).created
        for user_id in db.session.execute(sa.select(Registration.user_id).distinct()).scalars():
            found_user = users.get(user_id) or db.session.get(User, user_id)
            if found_user is None:
                continue
            for outcome in _issue_paths(found_user, None, None):
                count += outcome.created
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return count


# ---------------------------------------------------------------- reading


def parse_public_id(text: str) -> str | None:
    """A well-formed public id (32 lower-case hex digits), else None."""
    text = (text or "").strip().lower()
    return text if len(text) == 32 and all(c in "0123456789abcdef" for c in text) else None


def get_by_public_id(public_id: str) -> Certificate | None:
    """The certificate with this public id, or None (also for a malformed id)."""
    parsed = parse_public_id(public_id)
    if parsed is None:
        return None
    return db.session.execute(sa.select(Certificate).where(Certificate.public_id == parsed)).scalar_one_or_none()


def renewed_by(certificate: Certificate) -> Certificate | None:
    """The certificate that renewed this one, if any."""
    return db.session.execute(
        sa.select(Certificate).where(Certificate.renewal_of_id == certificate.id)
        .order_by(Certificate.id).limit(1)).scalar_one_or_none()


def recent_certificates(limit: int = 200) -> list[Certificate]:
    """The newest certificates of every learner (the admin's list, where revocation starts)."""
    return list(db.session.execute(
        sa.select(Certificate).order_by(Certificate.issued_at.desc(), Certificate.id.desc()).limit(limit)).scalars())


def learner_certificates(user: User) -> list[Certificate]:
    """The learner's certificates, newest first."""
    return list(db.session.execute(
        sa.select(Certificate).where(Certificate.user_id == user.id)
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())).scalars())


def expiring_soon(certificate: Certificate, now: dt.datetime, within_days: int | None = None) -> bool:
    """Valid, not revoked, and expiring within ``within_days`` (default CERTIFICATE_EXPIRY_NOTICE_DAYS)."""
    days = setting("CERTIFICATE_EXPIRY_NOTICE_DAYS") if within_days is None else within_days
    until = as_aware(certificate.valid_until)
    return (not certificate.revoked and until is not None and now < until <= now + dt.timedelta(days=days))


def _current_certificates(user_ids: Iterable[int] | None = None) -> list[Certificate]:
    """Per learner and subject, the newest certificate that is not revoked (the one that counts)."""
    query = sa.select(Certificate).where(Certificate.revoked_at.is_(None), Certificate.user_id.is_not(None))
    if user_ids is not None:
        query = query.where(Certificate.user_id.in_(list(user_ids)))
    latest: dict[tuple[int | None, str], Certificate] = {}
    for cert in db.session.execute(query.order_by(Certificate.issued_at, Certificate.id)).scalars():
        latest[(cert.user_id, cert.subject_iri)] = cert
    return list(latest.values())


def expiring_certificates(organisation_id: int, within_days: int, now: dt.datetime | None = None) -> list[Certificate]:
    """The company's employees' certificates that expire within ``within_days`` and are not yet renewed."""
    now = now or utcnow()
    members = db.session.execute(sa.select(User.id).where(User.organisation_id == organisation_id)).scalars()
    found = [c for c in _current_certificates(members) if expiring_soon(c, now, within_days)]
    return sorted(found, key=lambda c: aware(c.valid_until or now))


# ---------------------------------------------------------------- revocation


def revoke_certificate(certificate: Certificate, by: User, reason: str) -> Certificate:
    """Revoke a certificate with a reason (shown on the verification page); records a revoked statement."""
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_("Give a reason for revoking the certificate."), field="reason")
    if len(reason) > REASON_MAX:
        raise UserError(_("The reason can be at most %(max)d characters.", max=REASON_MAX), field="reason")
    if certificate.revoked:
        raise UserError(_("This certificate was already revoked."), status=409)
    try:
        certificate.revoked_at = utcnow()
        certificate.revoked_by_id = by.id
        certificate.revocation_reason = reason
        if certificate.user is not None:
            _stage([_certificate_statement(Verb.CERTIFICATE_REVOKED, certificate, certificate.user, reason)],
                   certificate.user)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return certificate


# ---------------------------------------------------------------- Open Badges credential


def subject_urn(user_account_name: str) -> str:
    """The learner in credentials: a stable URN derived from the opaque xAPI account (no e-mail, no name)."""
    return f"urn:uuid:{uuid.uuid5(SUBJECT_NAMESPACE, user_account_name)}"


def credential_for(certificate: Certificate) -> dict:
    """The certificate as an OpenBadgeCredential (unsigned), in the language it was issued in."""
    lang = certificate.language if certificate.language in ("sv", "en") else "sv"
    with force_locale(lang):
        title = certificate.title(lang)
        if certificate.subject_kind == "path":
            criteria = _("Completed every module of the learning path %(title)s.", title=title)
        else:
            criteria = _("Passed the module %(title)s.", title=title)
        description = _("Certificate for %(title)s.", title=title)
    account = certificate.user.xapi_account_name if certificate.user else certificate.public_id
    data = openbadges.CredentialInput(
        credential_id=verification_url(certificate.public_id), subject_id=subject_urn(account),
        learner_name=certificate.learner_name, achievement_id=certificate.subject_iri, achievement_name=title,
        achievement_description=description, criteria=criteria, language=lang,
        valid_from=aware(certificate.issued_at), valid_until=as_aware(certificate.valid_until),
        version=certificate.subject_version, score_percent=certificate.score_percent,
        renewal_of=verification_url(certificate.renewal_of.public_id) if certificate.renewal_of else None)
    profile = issuer_profile()
    profile = openbadges.IssuerProfile(id=certificate.issuer_id, name=certificate.issuer_name, url=profile.url,
                                       email=profile.email)
    return openbadges.build_credential(data, profile)


def credential_jwt(certificate: Certificate) -> str:
    """The signed OpenBadgeCredential (VC-JWT, EdDSA) the learner downloads."""
    key = signing_key()
    return openbadges.sign_vc_jwt(credential_for(certificate), key.private_key, key_url(key.kid))


def public_jwks() -> dict:
    """The issuer's public keys as a JWK Set."""
    key = signing_key()
    return {"keys": [openbadges.public_jwk(key.private_key, kid=key_url(key.kid))]}


# ---------------------------------------------------------------- assignments


@dataclass
class AssignmentRow:
    assignment: Assignment
    status: str  # done | overdue | due
    certificate: Certificate | None = None


def parse_due_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat((text or "").strip())
    except ValueError:
        raise UserError(_("Give the due date as YYYY-MM-DD."), field="due_date") from None


def assign(organisation_id: int, by: User, user_id: int, subject_iri: str, due_date: dt.date,
           today: dt.date | None = None) -> Assignment:
    """Assign a module or path to an employee of the company (a second assignment moves the due date)."""
    today = today or utcnow().date()
    employee = db.session.get(User, user_id)
    if employee is None or employee.organisation_id != organisation_id or not employee.active:
        raise UserError(_("Choose an employee of this company."), field="user_id")
    subject = find_subject(subject_iri)
    if subject is None:
        raise UserError(_("Choose a module or learning path from the list."), field="subject")
    if due_date < today:
        raise UserError(_("The due date cannot be in the past."), field="due_date")
    try:
        row = db.session.execute(sa.select(Assignment).where(
            Assignment.user_id == user_id, Assignment.subject_iri == subject.iri)).scalar_one_or_none()
        if row is None:
            row = Assignment(organisation_id=organisation_id, user_id=user_id, subject_iri=subject.iri)
            db.session.add(row)
        row.subject_kind = subject.kind
        row.subject_title = subject.title
        row.due_date = due_date
        row.assigned_by_id = by.id
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return row


def remove_assignment(assignment: Assignment) -> None:
    """Withdraw an assignment (its reminder log rows stay, keyed by id: they cannot match a new one)."""
    try:
        db.session.delete(assignment)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def get_assignment(assignment_id: int) -> Assignment | None:
    return db.session.get(Assignment, assignment_id)


def _status_rows(assignments: list[Assignment], now: dt.datetime) -> list[AssignmentRow]:
    current = {(c.user_id, c.subject_iri): c for c in _current_certificates({a.user_id for a in assignments})}
    rows = []
    for assignment in assignments:
        cert = current.get((assignment.user_id, assignment.subject_iri))
        if cert is not None and not cert.expired(now):
            status = "done"
        elif assignment.due_date < now.date():
            status = "overdue"
        else:
            status = "due"
        rows.append(AssignmentRow(assignment, status, cert))
    return rows


def company_assignments(organisation_id: int, now: dt.datetime | None = None) -> list[AssignmentRow]:
    """The company's assignments with their status (done, overdue, due), overdue first."""
    assignments = list(db.session.execute(
        sa.select(Assignment).where(Assignment.organisation_id == organisation_id)
        .order_by(Assignment.due_date, Assignment.id)).scalars())
    order = {"overdue": 0, "due": 1, "done": 2}
    return sorted(_status_rows(assignments, now or utcnow()), key=lambda r: order[r.status])


def learner_assignments(user: User, now: dt.datetime | None = None) -> list[AssignmentRow]:
    """What the learner has been assigned, with due dates and status."""
    assignments = list(db.session.execute(
        sa.select(Assignment).where(Assignment.user_id == user.id)
        .order_by(Assignment.due_date, Assignment.id)).scalars())
    return _status_rows(assignments, now or utcnow())


def company_members(organisation_id: int) -> list[User]:
    return list(db.session.execute(
        sa.select(User).where(User.organisation_id == organisation_id, User.active.is_(True))
        .order_by(User.display_name, User.id)).scalars())


# ---------------------------------------------------------------- reminders


def reminders_opted_out(user: User) -> bool:
    return db.session.get(ReminderOptOut, user.id) is not None


def set_reminder_opt_out(user: User, opted_out: bool) -> None:
    """Turn reminder e-mails off (``opted_out``) or back on for the learner."""
    try:
        row = db.session.get(ReminderOptOut, user.id)
        if opted_out and row is None:
            db.session.add(ReminderOptOut(user_id=user.id))
        elif not opted_out and row is not None:
            db.session.delete(row)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


@dataclass
class Reminder:
    key: str
    kind: str  # due_soon | overdue | expiry
    user: User
    subject: str
    body: str


@dataclass
class ReminderReport:
    sent: dict[str, int] = field(default_factory=lambda: {"due_soon": 0, "overdue": 0, "expiry": 0})
    opted_out: int = 0
    already_sent: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return sum(self.sent.values())


def _format_date(value: dt.date | dt.datetime, lang: str) -> str:
    from babel.dates import format_date

    if isinstance(value, dt.datetime):
        value = aware(value).date()
    return format_date(value, format="long", locale="sv_SE" if lang == "sv" else "en_GB")


def _assignment_reminder(kind: str, row: AssignmentRow) -> Reminder:
    assignment, user = row.assignment, row.assignment.user
    lang = user.language if user.language in ("sv", "en") else "sv"
    with force_locale(lang):
        title, due = assignment.title(lang), _format_date(assignment.due_date, lang)
        link = f"{setting('BASE_URL')}/certificates/"
        if kind == "due_soon":
            subject = _("Reminder: %(title)s is due on %(date)s", title=title, date=due)
            lead = _("Your company has asked you to finish %(title)s by %(date)s.", title=title, date=due)
        else:
            subject = _("Overdue: %(title)s was due on %(date)s", title=title, date=due)
            lead = _("%(title)s was due on %(date)s and is not finished yet.", title=title, date=due)
        body = "\n\n".join([
            _("Hello %(name)s,", name=user.display_name), lead,
            _("See your assignments and certificates: %(url)s", url=link),
            _("You can turn these reminders off on the same page."),
        ])
    key = f"{kind}:assignment:{assignment.id}:{assignment.due_date.isoformat()}"
    return Reminder(key, kind, user, subject, body)


def _expiry_reminder(cert: Certificate) -> Reminder:
    user = cert.user
    lang = user.language if user.language in ("sv", "en") else "sv"
    with force_locale(lang):
        title, until = cert.title(lang), _format_date(cert.valid_until or utcnow(), lang)
        subject = _("Your certificate for %(title)s expires on %(date)s", title=title, date=until)
        body = "\n\n".join([
            _("Hello %(name)s,", name=user.display_name),
            _("Your certificate for %(title)s expires on %(date)s. Pass the module again before then to renew "
              "it.", title=title, date=until),
            _("See your certificates: %(url)s", url=f"{setting('BASE_URL')}/certificates/"),
            _("You can turn these reminders off on the same page."),
        ])
    return Reminder(f"expiry:certificate:{cert.id}", "expiry", user, subject, body)


def due_reminders(now: dt.datetime | None = None) -> list[Reminder]:
    """Every reminder that is due now, whether or not it was sent already (send_reminders filters)."""
    now = now or utcnow()
    today = now.date()
    lead = dt.timedelta(days=int(setting("REMINDER_DUE_DAYS")))
    reminders: list[Reminder] = []
    assignments = list(db.session.execute(sa.select(Assignment).order_by(Assignment.id)).scalars())
    for row in _status_rows(assignments, now):
        if row.status == "done" or not row.assignment.user.active:
            continue
        if row.status == "overdue":
            reminders.append(_assignment_reminder("overdue", row))
        elif row.assignment.due_date - lead <= today:
            reminders.append(_assignment_reminder("due_soon", row))
    for cert in _current_certificates():
        if cert.user is not None and cert.user.active and expiring_soon(cert, now):
            reminders.append(_expiry_reminder(cert))
    return reminders


def send_reminders(now: dt.datetime | None = None) -> ReminderReport:
    """Send each due reminder exactly once (the log's unique key), skipping learners who opted out.

    Each reminder is its own transaction: the log row is written first and committed only when the mail
    went out, so a mail failure leaves it to the next run and a concurrent run cannot send it twice.
    """
    report = ReminderReport()
    reminders = due_reminders(now)
    opted_out = set(db.session.execute(sa.select(ReminderOptOut.user_id)).scalars())
    sent_keys = set(db.session.execute(
        sa.select(ReminderLog.key).where(ReminderLog.key.in_([r.key for r in reminders]))).scalars()) \
        if reminders else set()
    db.session.rollback()  # end the read transaction; each send below opens its own
    for reminder in reminders:
        if reminder.user.id in opted_out:
            report.opted_out += 1
            continue
        if reminder.key in sent_keys:
            report.already_sent += 1
            continue
        try:
            db.session.add(ReminderLog(key=reminder.key, kind=reminder.kind, user_id=reminder.user.id))
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            report.already_sent += 1
            continue
        try:
            send_mail(reminder.user.email, reminder.subject, reminder.body)
        except (OSError, smtplib.SMTPException) as error:
            db.session.rollback()
            report.failed += 1
            log.warning("reminder %s to user %s not sent: %s", reminder.key, reminder.user.id, error)
            continue
        db.session.commit()
        report.sent[reminder.kind] += 1
    return report
