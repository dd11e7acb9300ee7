"""The members list as a CSV file for organisers: personal data, for the group's own use."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from ...extensions import db
from ...models import Member

COLUMNS = ("name", "email", "role", "status", "joined", "account")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: str) -> str:
    """Return ``value`` made safe to open in a spreadsheet: a formula start is quoted as text."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def members_csv(role: str | None = None, status: str | None = None) -> str:
    """Return the members (optionally of one role or status) as CSV, sorted by name."""
    query = select(Member).order_by(Member.display_name, Member.id)
    if role:
        query = query.where(Member.role == role)
    if status:
        query = query.where(Member.status == status)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for member in db.session.scalars(query):
        writer.writerow(
            [
                spreadsheet_cell(member.display_name),
                spreadsheet_cell(member.email),
                member.role,
                member.status,
                member.joined_at.date().isoformat(),
                "joined" if member.password_hash else "invited",
            ]
        )
    return out.getvalue()
