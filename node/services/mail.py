"""Outbound e-mail: queued in the caller's unit of work, sent by the worker with retries.

`send` only adds a row to the session, so a request never waits on the SMTP server or
fails because of it, and the caller's commit stores the message together with what it is
about (a reset link and its token): both or neither.

The rows are a lease queue (``services/queue.py``), as deliveries are: the worker's
`send_due` claims a batch of due rows, sends it over one SMTP connection and records how each
message went:

- accepted: ``sent``;
- a 5xx answer to the recipient or to the message (no such mailbox, content refused):
  ``failed`` at once, since asking again would get the same answer;
- anything else (a 4xx such as greylisting or a full mailbox, a refused or dropped
  connection, a timeout, a refused log-in, sender or STARTTLS, which are our settings
  and an admin can fix them): tried again after a doubling, jittered delay, and
  ``failed`` once MAIL_MAX_ATTEMPTS tries have failed.

Without SMTP_HOST the worker writes each message to the log and marks it ``logged``.

A worker that dies mid-batch leaves its rows ``sending``; when the claim runs out they are
queued again, so a message may (rarely) arrive twice, with the same Message-ID.
"""

from __future__ import annotations

import json
import random
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models.mail import OutboundMail
from ..models.types import utcnow
from .messaging import deliverability, preferences
from .queue import Clock, LeaseQueue, backoff_ceiling

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
LOGGED = "logged"
FAILED = "failed"
SKIPPED = "skipped"  # turned off by its recipient, or the address suppressed, after queueing

# Headers the node writes itself; a caller's extra headers may not replace them.
OWN_HEADERS = frozenset({"from", "to", "subject", "date", "message-id"})


@dataclass(frozen=True)
class MailPolicy:
    """How many messages a batch takes, how long a claim lasts, how retries are spaced."""

    batch: int = 20
    lease: timedelta = timedelta(minutes=15)
    max_attempts: int = 8
    base: float = 60.0
    cap: float = 30 * 60.0

    @classmethod
    def from_config(cls, config: Any) -> MailPolicy:
        """Read the MAIL_* settings."""
        return cls(
            batch=int(config.get("MAIL_BATCH_SIZE", 20)),
            lease=timedelta(seconds=float(config.get("MAIL_LEASE_SECONDS", 900))),
            max_attempts=max(1, int(config.get("MAIL_MAX_ATTEMPTS", 8))),
            base=float(config.get("MAIL_BACKOFF_BASE_SECONDS", 60)),
            cap=float(config.get("MAIL_BACKOFF_CAP_SECONDS", 30 * 60)),
        )

    def delay(self, attempts: int, rng: random.Random) -> float:
        """Return seconds to wait after ``attempts`` failed tries: doubling, capped, jittered."""
        ceiling = backoff_ceiling(attempts, base=self.base, cap=self.cap)
        # Half fixed, half random: the jitter spreads messages that failed together, and the
        # fixed half makes every wait really longer than the last, which is what a
        # greylisting server (the usual 4xx) needs to see before it accepts.
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Claimed:
    """A queued message this worker holds the claim on, as plain values."""

    id: int
    to: str
    subject: str
    body: str
    headers: str
    message_id: str
    created_at: datetime
    html: str = ""
    kind: str = "account"
    member_id: int | None = None


@dataclass(frozen=True)
class Outcome:
    """How one message went: accepted, refused for good, or worth another try."""

    sent: bool
    permanent: bool = False
    error: str = ""
    skipped: bool = False


@dataclass
class MailReport:
    """What one batch did."""

    taken: int = 0
    sent: int = 0
    logged: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0


def send(
    to: str,
    subject: str,
    body: str,
    *,
    headers: Mapping[str, str] | None = None,
    html: str = "",
    kind: str = "account",
    member_id: int | None = None,
    source: str = "",
) -> None:
    """Queue a message in the current unit of work; the worker sends it.

    This is the bottom layer: it checks nothing about the recipient's choices. Mail to
    members and guests goes through ``services/messaging/outbox.py``, which does.
    """
    mail_from = current_app.config["MAIL_FROM"]
    now = utcnow()
    row = OutboundMail(
        to_address=to,
        subject=subject,
        body=body,
        html=html,
        headers=json.dumps(dict(headers or {})),
        message_id=make_msgid(domain=domain_of(mail_from)),
        status=QUEUED,
        attempts=0,
        next_attempt_at=now,
        last_error="",
        created_at=now,
        kind=kind,
        member_id=member_id,
        source=source[:80],
    )
    # A header that could never be sent (a line break in it, a clash with our own) is the
    # caller's mistake: raise it here, not in the worker some time later.
    build_message(_claimed(row), mail_from)
    db.session.add(row)


def build_message(item: Claimed, mail_from: str) -> Message:
    """Return the message as it goes on the wire: our From, its To and Subject, Date, Message-ID.

    Built with the ``compat32`` classes (``email.mime``): the modern ``EmailMessage`` parses
    and refolds every header it is given, which made building a message cost more than
    sending it. Headers are checked here instead: no line breaks, none of the node's own.
    """
    extra = json.loads(item.headers or "{}")
    for name, value in extra.items():
        if name.lower() in OWN_HEADERS:
            raise ValueError(f"the {name} header is the node's own")
        _check_header(name, value)
    _check_header("Subject", item.subject)
    _check_header("To", item.to)
    if item.html:
        message: Message = MIMEMultipart("alternative")
        message.attach(_part(item.body, "plain"))
        message.attach(_part(item.html, "html"))
    else:
        message = _part(item.body, "plain")
    name, address = parseaddr(mail_from)
    message["From"] = formataddr((name, address), charset="utf-8") if address else mail_from
    message["To"] = item.to
    message["Subject"] = _header(item.subject)
    message["Date"] = format_datetime(item.created_at)
    message["Message-ID"] = item.message_id
    for name, value in extra.items():
        message[name] = _header(value)
    return message


def _part(text: str, subtype: str) -> MIMEText:
    return MIMEText(text, subtype, _UTF8_QP)


def _header(value: str) -> str | Header:
    # Plain ASCII as it is; anything else as an RFC 2047 encoded word.
    return value if value.isascii() else Header(value, "utf-8")


def _check_header(name: str, value: object) -> None:
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise ValueError(f"the {name} header must be one line of text")


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in the raw message, unlike base64


def _load(ids: list[int]) -> list[Claimed]:
    rows = db.session.scalars(
        select(OutboundMail).where(OutboundMail.id.in_(ids)).order_by(OutboundMail.id)
    )
    return [_claimed(row) for row in rows]


def _claimed(row: OutboundMail) -> Claimed:
    return Claimed(
        row.id,
        row.to_address,
        row.subject,
        row.body,
        row.headers,
        row.message_id,
        row.created_at,
        row.html or "",
        row.kind or "account",
        row.member_id,
    )


QUEUE = LeaseQueue(OutboundMail, OutboundMail.status, waiting=QUEUED, claimed=SENDING, load=_load)


def send_due(
    limit: int | None = None, *, clock: Clock = utcnow, rng: random.Random | None = None
) -> MailReport:
    """Claim one batch of due messages, send them over one SMTP connection, record each."""
    config = current_app.config
    policy = MailPolicy.from_config(config)
    rng = rng or random.Random()
    QUEUE.release_expired(clock())
    claimed = QUEUE.claim_due(limit or policy.batch, now=clock(), lease=policy.lease)
    report = MailReport(taken=len(claimed))
    if not claimed:
        return report
    # Asked again now: a member may have unsubscribed, or the address started bouncing,
    # while the message waited.
    allowed = preferences.allowed_many((item.to, item.kind, item.member_id) for item in claimed)
    wanted = [item for item in claimed if (item.to, item.kind, item.member_id) in allowed]
    db.session.rollback()  # end the checks' read: nothing is held open while SMTP talks
    # Nothing is held open in the database while the SMTP server is talked to.
    to_log = not config.get("SMTP_HOST")
    sent = _log_all(wanted) if to_log else _send_all(wanted, config)
    by_id = {item.id: outcome for item, outcome in zip(wanted, sent, strict=True)}
    outcomes = [by_id.get(item.id, Outcome(False, skipped=True)) for item in claimed]
    now = clock()
    # One read of the batch's rows, so each _record finds its row in the session.
    db.session.scalars(
        select(OutboundMail).where(OutboundMail.id.in_([item.id for item in claimed]))
    ).all()
    for item, outcome in zip(claimed, outcomes, strict=True):
        status = _record(item, outcome, now=now, policy=policy, rng=rng, logged=to_log)
        if status == SENT:
            report.sent += 1
        elif status == LOGGED:
            report.logged += 1
        elif status == QUEUED:
            report.retrying += 1
        elif status == FAILED:
            report.failed += 1
        elif status == SKIPPED:
            report.skipped += 1
    deliverability.record(
        accepted=[i.to for i, o in zip(claimed, outcomes, strict=True) if o.sent and not to_log],
        refused=[
            (i.to, o.error)
            for i, o in zip(claimed, outcomes, strict=True)
            if o.permanent and not o.skipped
        ],
        now=now,
    )
    db.session.commit()
    return report


def _log_all(claimed: list[Claimed]) -> list[Outcome]:
    for item in claimed:
        current_app.logger.warning(
            "No SMTP server configured; mail to %s:\n%s\n%s", item.to, item.subject, item.body
        )
    return [Outcome(sent=True)] * len(claimed)


def _send_all(claimed: list[Claimed], config: Any) -> list[Outcome]:
    mail_from = config["MAIL_FROM"]
    envelope_from = parseaddr(mail_from)[1] or mail_from
    outcomes: list[Outcome] = []
    smtp: smtplib.SMTP | None = None
    try:
        for index, item in enumerate(claimed):
            try:
                message = build_message(item, mail_from)
            except ValueError as error:
                outcomes.append(Outcome(False, permanent=True, error=str(error)))
                continue
            if smtp is None:
                try:
                    smtp = _connect(config)
                except OSError as error:  # smtplib's errors are OSErrors too
                    # Unreachable, or it will not let us in: the rest of the batch would
                    # only wait on the same timeout for the same answer.
                    failure = Outcome(False, error=_describe(error))
                    outcomes.extend([failure] * (len(claimed) - index))
                    break
            outcome, usable = _send_one(smtp, message, envelope_from, item.to)
            outcomes.append(outcome)
            if not usable or smtp.sock is None:  # dropped, timed out, or closed after a 421
                _close(smtp)
                smtp = None
    finally:
        if smtp is not None:
            _close(smtp)
    return outcomes


def _connect(config: Any) -> smtplib.SMTP:
    timeout = float(config.get("SMTP_TIMEOUT") or 10)
    smtp = smtplib.SMTP(config["SMTP_HOST"], int(config.get("SMTP_PORT") or 587), timeout=timeout)
    try:
        smtp.ehlo()
        if config.get("SMTP_STARTTLS"):
            # Required when on, not used only if offered: otherwise the password and every
            # reset link would cross the network in clear whenever STARTTLS went missing.
            # A relay on this machine can have it turned off.
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if config.get("SMTP_USERNAME"):
            smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
    except BaseException:
        _close(smtp)
        raise
    return smtp


def _send_one(
    smtp: smtplib.SMTP, message: Message, envelope_from: str, to: str
) -> tuple[Outcome, bool]:
    """Send one message; return how it went and whether the connection can be used again."""
    if not (to.isascii() and envelope_from.isascii()):
        # An address outside ASCII needs SMTPUTF8, which this node does not send: asking
        # again will not help.
        return Outcome(False, permanent=True, error="the address needs SMTPUTF8"), True
    try:
        smtp.send_message(message, from_addr=envelope_from, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = next(iter(error.recipients.values()))
        return _answered(code, reply, "recipient refused"), True
    except smtplib.SMTPDataError as error:
        return _answered(error.smtp_code, error.smtp_error, "message refused"), True
    except smtplib.SMTPResponseException as error:
        # The sender refused, or an answer out of turn: about our settings, not this message.
        return Outcome(False, error=_reply(error.smtp_code, error.smtp_error, "refused")), True
    except smtplib.SMTPNotSupportedError as error:
        # The address needs SMTPUTF8 and this server has not got it: asking again will not help.
        return Outcome(False, permanent=True, error=_describe(error)), True
    except OSError as error:
        return Outcome(False, error=_describe(error)), False
    return Outcome(True), True


def _answered(code: int, reply: bytes | str, what: str) -> Outcome:
    return Outcome(False, permanent=500 <= code < 600, error=_reply(code, reply, what))


def _reply(code: int, reply: bytes | str, what: str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return f"{what}: {code} {text}"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except OSError:
        smtp.close()


def _record(
    item: Claimed,
    outcome: Outcome,
    *,
    now: datetime,
    policy: MailPolicy,
    rng: random.Random,
    logged: bool,
) -> str | None:
    row = db.session.get(OutboundMail, item.id)
    if row is None:
        return None
    row.attempts += 1
    row.last_error = outcome.error[:500]
    if outcome.skipped:
        row.attempts -= 1  # not a try
        row.status = SKIPPED
        row.last_error = "turned off by the recipient, or the address is suppressed"
    elif outcome.sent:
        row.status = LOGGED if logged else SENT
        row.sent_at = now
    elif outcome.permanent or row.attempts >= policy.max_attempts:
        row.status = FAILED
    else:
        row.status = QUEUED
        row.next_attempt_at = now + timedelta(seconds=policy.delay(row.attempts, rng))
    if row.status != QUEUED:
        # Done with: drop the text, which may hold a reset link (its token is otherwise
        # stored only hashed). Address, subject and outcome stay for the record.
        row.body = ""
        row.html = ""  # an invitation's link is in its HTML part too
        row.headers = "{}"
    return row.status


def domain_of(address: str) -> str:
    """Return the domain of a From address, for Message-IDs."""
    return parseaddr(address)[1].rpartition("@")[2] or "localhost"
