"""`flask reminders send` against a real SMTP server (aiosmtpd on a free loopback port, in a thread)."""
from __future__ import annotations

import datetime as dt
import email
import socket
import threading
from contextlib import contextmanager
from email import policy

import pytest
import sqlalchemy as sa

from lms_service.accounts.models import User
from lms_service.certificates import services
from lms_service.certificates.models import Certificate, ReminderLog, ReminderOptOut
from lms_service.extensions import db

from .helpers import BASE_IRI, pass_module

pytestmark = pytest.mark.slow
UTC = dt.UTC


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def by_recipient(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for message in self.messages:
            found.setdefault(message["To"], []).append(str(message["Subject"]))
        return found


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def mail_app(make_app, smtp_server):
    _inbox, port = smtp_server
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_USE_TLS=False, MAIL_USE_SSL=False,
                    MAIL_FROM="lms@example.se", REMINDER_DUE_DAYS=7, CERTIFICATE_EXPIRY_NOTICE_DAYS=60)


@contextmanager
def database(app):
    with app.app_context():
        yield db.session
        db.session.remove()


@pytest.fixture
def scenario(mail_app, catalogue, create_user, create_org):
    """Learners in every reminder situation (and some in none)."""
    org = create_org()
    people = {name: create_user(email=f"{name}@example.se", display_name=name.title(), organisation=org,
                                language="en" if name == "dora" else "sv")
              for name in ("anna", "bert", "cleo", "dora", "emil", "fia", "admin")}
    today = dt.date.today()
    with database(mail_app) as session:
        admin = session.get(User, people["admin"])
        services.assign(org, admin, people["anna"], BASE_IRI + "a1-energy", today + dt.timedelta(days=3))
        # Overdue: the due date passed yesterday (assigned the day before).
        services.assign(org, admin, people["bert"], BASE_IRI + "a2-iso", today - dt.timedelta(days=1),
                        today=today - dt.timedelta(days=2))
        services.assign(org, admin, people["dora"], "https://id.lms-service.org/paths/resource-efficiency",
                        today - dt.timedelta(days=2), today=today - dt.timedelta(days=3))
        # Opted out, overdue: no mail.
        services.assign(org, admin, people["emil"], BASE_IRI + "a2-iso", today - dt.timedelta(days=1),
                        today=today - dt.timedelta(days=2))
        services.set_reminder_opt_out(session.get(User, people["emil"]), True)
        # Due in 30 days: too early. Done (certificate): nothing to remind.
        services.assign(org, admin, people["fia"], BASE_IRI + "a1-energy", today + dt.timedelta(days=30))
        services.assign(org, admin, people["fia"], BASE_IRI + "a3-circular", today - dt.timedelta(days=1),
                        today=today - dt.timedelta(days=2))
        pass_module(people["fia"], "a3-circular")
        # Cleo's certificate expires in ten days.
        pass_module(people["cleo"], "a1-energy")
        cert = session.execute(sa.select(Certificate).where(Certificate.user_id == people["cleo"])).scalar_one()
        cert.valid_until = dt.datetime.now(UTC) + dt.timedelta(days=10)
        session.commit()
    return people


def test_each_reminder_is_sent_once_over_smtp_and_opt_out_is_respected(mail_app, smtp_server, scenario):
    inbox, _port = smtp_server
    runner = mail_app.test_cli_runner()
    result = runner.invoke(args=["reminders", "send"])
    assert result.exit_code == 0, result.output
    assert "sent 4 reminder(s): 1 due soon, 2 overdue, 1 expiring" in result.output
    assert "1 opted out" in result.output

    received = inbox.by_recipient()
    assert set(received) == {"anna@example.se", "bert@example.se", "cleo@example.se", "dora@example.se"}
    # In the learner's language: Swedish for most, English for Dora.
    assert received["anna@example.se"][0].startswith("Påminnelse") or "Reminder" in received["anna@example.se"][0]
    assert received["dora@example.se"] == [f"Overdue: Resource-efficient production was due on "
                                           f"{(dt.date.today() - dt.timedelta(days=2)):%-d %B %Y}"]
    assert "Energikartläggning" in received["cleo@example.se"][0] or "Energy mapping" in received["cleo@example.se"][0]
    dora = next(m for m in inbox.messages if m["To"] == "dora@example.se")
    body = dora.get_content()
    assert "Hello Dora," in body and "http://localhost/certificates/" in body and "turn these reminders off" in body
    assert dora["From"] == "lms@example.se"

    # A second run (the scheduler runs daily): nothing goes out twice.
    again = runner.invoke(args=["reminders", "send"])
    assert again.exit_code == 0 and "sent 0 reminder(s)" in again.output and "4 already sent" in again.output
    assert len(inbox.messages) == 4
    with database(mail_app) as session:
        kinds = sorted(session.execute(sa.select(ReminderLog.kind)).scalars())
        assert kinds == ["due_soon", "expiry", "overdue", "overdue"]


def test_a_new_due_date_gets_its_own_reminder(mail_app, smtp_server, scenario):
    inbox, _port = smtp_server
    with database(mail_app):
        services.send_reminders()
    assert len(inbox.messages) == 4
    with database(mail_app) as session:
        admin = session.get(User, scenario["admin"])
        anna = session.get(User, scenario["anna"])
        services.assign(anna.organisation_id, admin, anna.id, BASE_IRI + "a1-energy",
                        dt.date.today() + dt.timedelta(days=5))
        report = services.send_reminders()
    assert report.sent == {"due_soon": 1, "overdue": 0, "expiry": 0}
    assert [m["To"] for m in inbox.messages].count("anna@example.se") == 2


def test_a_mail_that_cannot_be_sent_is_not_logged_and_goes_out_next_time(make_app, smtp_server, scenario, mail_app):
    inbox, port = smtp_server
    broken = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_USE_TLS=False)
    result = broken.test_cli_runner().invoke(args=["reminders", "send"])
    assert result.exit_code == 1 and "4 failed" in result.output
    with database(broken) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(ReminderLog)).scalar() == 0
    result = mail_app.test_cli_runner().invoke(args=["reminders", "send"])
    assert "sent 4 reminder(s)" in result.output and len(inbox.messages) == 4


def test_a_reminder_logged_by_another_run_is_not_sent(mail_app, smtp_server, scenario):
    inbox, _port = smtp_server
    with database(mail_app) as session:
        keys = [r.key for r in services.due_reminders() if r.user.id not in
                set(session.execute(sa.select(ReminderOptOut.user_id)).scalars())]
        session.add(ReminderLog(key=keys[0], kind=keys[0].split(":")[0]))
        session.commit()
        report = services.send_reminders()
    assert report.total == 3 and report.already_sent == 1 and len(inbox.messages) == 3
