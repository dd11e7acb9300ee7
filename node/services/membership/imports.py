"""Import a member list (CSV: name, email, role) as invitations, reporting on every row.

`check` reads the file and says what each row would do, writing nothing (the preview);
`run` checks again (the list may have changed since) and invites each good row in its own
savepoint, so a row that fails to save is reported and the others stay. Nothing is
written for a bad row, and the rows that need fixing come back as a CSV (`rejected_csv`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from flask_babel import gettext
from marshmallow import ValidationError
from marshmallow.validate import Email
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from schemas import vocab

from ...extensions import db
from ...models import Invite, Member, utcnow
from ..errors import Invalid
from ..organising.records import commit
from .invitations import add_invite

MAX_BYTES = 256 * 1024  # a form field carries the list from preview to confirmation
MAX_ROWS = 2000
COLUMNS = ("name", "email", "role")

# What a row does (or would do); the first is the only one that writes anything.
INVITE = "invite"
INVITED = "invited"
MEMBER = "member"
PENDING = "pending"
DUPLICATE = "duplicate"
BAD_EMAIL = "bad_email"
BAD_NAME = "bad_name"
UNKNOWN_ROLE = "unknown_role"
ROLE_NOT_ALLOWED = "role_not_allowed"
NOT_SAVED = "not_saved"

LABELS = {
    INVITE: "will be invited",
    INVITED: "invited",
    MEMBER: "already a member",
    PENDING: "already invited (pending)",
    DUPLICATE: "duplicate in file",
    BAD_EMAIL: "bad e-mail",
    BAD_NAME: "name too long (80 characters at most)",
    UNKNOWN_ROLE: "unknown role",
    ROLE_NOT_ALLOWED: "role not allowed",
    NOT_SAVED: "could not be saved: try again",
}
# Rows the organiser can fix and upload again.
FIXABLE = frozenset({BAD_EMAIL, BAD_NAME, UNKNOWN_ROLE, ROLE_NOT_ALLOWED, NOT_SAVED})

_valid_email = Email()


@dataclass(frozen=True)
class Row:
    """One line of the file and what it does."""

    number: int  # the line in the file, header being 1, as a spreadsheet numbers it
    name: str
    email: str
    role: str
    outcome: str = INVITE
    detail: str = ""

    @property
    def label(self) -> str:
        """Say what happened to the row, in words."""
        text = LABELS[self.outcome]
        return f"{text} ({self.detail})" if self.detail else text

    @property
    def fixable(self) -> bool:
        """Say whether the row is one to fix and upload again."""
        return self.outcome in FIXABLE


@dataclass
class Report:
    """Every row of a file, in order, and the counts by outcome."""

    rows: list[Row] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        """Count the rows with ``outcome``."""
        return sum(1 for row in self.rows if row.outcome == outcome)

    @property
    def fixable(self) -> list[Row]:
        """Return the rows to fix and upload again."""
        return [row for row in self.rows if row.fixable]


def decode(content: bytes) -> str:
    """Read an uploaded file as UTF-8 (with or without a byte-order mark), within the caps."""
    if len(content) > MAX_BYTES:
        raise Invalid.on(
            "file", gettext("The file is too big: %(value)s KB at most.", value=MAX_BYTES // 1024)
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid.on(
            "file", gettext("Save the file as CSV in UTF-8, then upload it again.")
        ) from None


def parse(text: str) -> list[Row]:
    """Read the rows of a CSV with a header naming name, email and role (any order)."""
    text = text.lstrip("\ufeff")
    if len(text.encode()) > MAX_BYTES:
        raise Invalid.on(
            "file", gettext("The file is too big: %(value)s KB at most.", value=MAX_BYTES // 1024)
        )
    lines = text.splitlines()
    header_line = next((line for line in lines if line.strip()), "")
    if not header_line:
        raise Invalid.on(
            "file", gettext("The file is empty: it needs a header row and one row a person.")
        )
    separator = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header: list[str] | None = None
    rows = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, and lines of empty cells a spreadsheet leaves
        if header is None:
            header = [cell.strip().lower() for cell in cells]
            missing = [name for name in ("name", "email") if name not in header]
            if missing:
                raise Invalid.on(
                    "file",
                    gettext(
                        (
                            "The header row needs the columns name, email and role "
                            "(missing: %(join)s)."
                        ),
                        join=", ".join(missing),
                    ),
                )
            continue
        if len(rows) >= MAX_ROWS:
            raise Invalid.on(
                "file",
                gettext("Too many rows: %(max_rows)s at most. Split the file.", max_rows=MAX_ROWS),
            )
        values = dict(zip(header, (cell.strip() for cell in cells), strict=False))
        rows.append(
            Row(
                reader.line_num,
                values.get("name", ""),
                values.get("email", ""),
                values.get("role", "").lower() or "member",
            )
        )
    if header is None or not rows:
        raise Invalid.on("file", gettext("The file has no rows under its header."))
    return rows


def check(text: str, actor: Member | None) -> Report:
    """Say what each row of ``text`` would do, writing nothing."""
    rows = parse(text)
    addresses = {row.email.lower() for row in rows if row.email}
    members = set(db.session.scalars(select(Member.email).where(Member.email.in_(addresses))))
    pending = set(
        db.session.scalars(
            select(Invite.email).where(
                Invite.email.in_(addresses),
                Invite.used_at.is_(None),
                Invite.password_hash.is_(None),
                Invite.expires_at > utcnow(),
            )
        )
    )
    may_grant = actor is None or actor.has_role("admin")
    seen: dict[str, int] = {}
    report = Report()
    for row in rows:
        email = row.email.lower()
        row = replace(row, email=email)
        outcome, detail = INVITE, ""
        if not is_email(email):
            outcome = BAD_EMAIL
        elif len(row.name) > 80:
            outcome = BAD_NAME
        elif row.role not in vocab.ROLES:
            outcome, detail = UNKNOWN_ROLE, f"use one of: {', '.join(vocab.ROLES)}"
        elif row.role != "member" and not may_grant:
            outcome, detail = ROLE_NOT_ALLOWED, "organisers may import members only"
        elif email in seen:
            outcome, detail = DUPLICATE, f"as row {seen[email]}"
        elif email in pending:
            outcome = PENDING
        elif email in members:
            outcome = MEMBER
        if outcome not in FIXABLE and email not in seen:  # a fixed row may come back
            seen[email] = row.number
        report.rows.append(replace(row, outcome=outcome, detail=detail))
    return report


def is_email(value: str) -> bool:
    """Say whether ``value`` is a usable e-mail address."""
    if not value or len(value) > 254:
        return False
    try:
        _valid_email(value)
    except ValidationError:
        return False
    return True


def run(text: str, actor: Member | None) -> Report:
    """Invite every good row of ``text`` by mail, each in its own savepoint; report each row."""
    report = check(text, actor)
    done = []
    for row in report.rows:
        if row.outcome != INVITE:
            done.append(row)
            continue
        try:
            with db.session.begin_nested():
                add_invite(actor, row.role, row.email, row.name)
        except SQLAlchemyError:
            done.append(replace(row, outcome=NOT_SAVED))
        else:
            done.append(replace(row, outcome=INVITED))
    commit()
    return Report(done)


def rejected_csv(rows: Iterable[Row]) -> str:
    """Return ``rows`` as a CSV to fix and upload again, with a column saying what was wrong."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COLUMNS, "problem"])
    for row in rows:
        writer.writerow([_cell(row.name), _cell(row.email), _cell(row.role), row.label])
    return out.getvalue()


def _cell(value: str) -> str:
    # A spreadsheet runs a cell starting with = + - @ as a formula: quote it as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
