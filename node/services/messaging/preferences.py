"""Members' choices per kind of message, and the one check every message passes.

`allows` is asked twice of each message: when it is queued (so nobody is queued a message
they turned off) and again by the worker just before sending (so a choice made while it
waited, by one click on an unsubscribe link, still holds). `allowed_many` is the same
check for a whole batch in two queries.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext
from sqlalchemy import select

from ...extensions import db
from ...models import MailAddress, MailPreference, Member
from ...models.types import utcnow
from ..errors import Invalid
from . import kinds
from .kinds import DIGEST, OFF, SINGLE


def choice(member_id: int, kind: str) -> str:
    """Return the member's choice for ``kind``: its default if they never chose."""
    found = kinds.get(kind)
    if found.required:
        return SINGLE
    if kind == "digest":
        return choices_for_id(member_id)[kind]
    stored = db.session.scalar(
        select(MailPreference.choice).where(
            MailPreference.member_id == member_id, MailPreference.kind == kind
        )
    )
    return stored if stored in found.choices else found.default


def choices_for(member: Member) -> dict[str, str]:
    """Return every member kind with the member's choice, in the page's order."""
    return choices_for_id(member.id)


def choices_for_id(member_id: int) -> dict[str, str]:
    """Return every member kind with the choice of the member ``member_id``."""
    stored = dict(
        db.session.execute(
            select(MailPreference.kind, MailPreference.choice).where(
                MailPreference.member_id == member_id
            )
        ).all()
    )
    result = {}
    for name in kinds.MEMBER_KINDS:
        kind = kinds.get(name)
        value = stored.get(name, kind.default)
        result[name] = value if value in kind.choices else kind.default
    if "digest" not in stored and _wants_digest(
        {(member_id, k): v for k, v in stored.items()}, member_id
    ):
        result["digest"] = SINGLE  # as allowed_many decides
    return result


def set_choice(member: Member, kind: str, value: str) -> None:
    """Record the member's choice for ``kind`` in the current unit of work."""
    found = kinds.KINDS.get(kind)
    if found is None or found.name == "guest":
        raise Invalid.on(
            "kind", gettext("There is no kind of message called %(kind)s.", kind=repr(kind))
        )
    if value not in found.choices:
        raise Invalid.on(kind, gettext("Choose one of: %(join)s.", join=", ".join(found.choices)))
    row = db.session.scalar(
        select(MailPreference).where(
            MailPreference.member_id == member.id, MailPreference.kind == kind
        )
    )
    if row is None:
        db.session.add(
            MailPreference(member_id=member.id, kind=kind, choice=value, updated_at=utcnow())
        )
    else:
        row.choice = value
        row.updated_at = utcnow()


def address_row(address: str, *, create: bool = False) -> MailAddress | None:
    """Return the record of ``address`` (lower-cased), made if asked and missing."""
    address = address.strip().lower()
    row = db.session.scalar(select(MailAddress).where(MailAddress.address == address))
    if row is None and create:
        row = MailAddress(address=address, bounces=0, total_bounces=0, last_error="")
        db.session.add(row)
        db.session.flush()
    return row


def stop_all(address: str) -> None:
    """Stop all but account mail to ``address`` (a guest's "no more mail from this node")."""
    row = address_row(address, create=True)
    if row.stopped_at is None:
        row.stopped_at = utcnow()


def resume_all(address: str) -> None:
    """Undo `stop_all`."""
    row = address_row(address)
    if row is not None:
        row.stopped_at = None


def allows(address: str, kind: str, member_id: int | None, *, digest: bool = False) -> bool:
    """Say whether a message of ``kind`` may go to ``address`` now.

    ``digest`` asks for the weekly digest's view: a digestible kind is allowed there when
    the member chose ``digest``, and not when they chose ``single`` (it went on its own).
    """
    return bool(allowed_many([(address, kind, member_id)], digest=digest))


def allowed_many(
    recipients: Iterable[tuple[str, str, int | None]], *, digest: bool = False
) -> set[tuple[str, str, int | None]]:
    """Return those of (address, kind, member id) that may be sent now, in two queries."""
    wanted = list(recipients)
    addresses = {address.strip().lower() for address, _, _ in wanted}
    members = {member_id for _, _, member_id in wanted if member_id is not None}
    blocked = set()
    if addresses:
        rows = db.session.execute(
            select(MailAddress.address, MailAddress.suppressed_at, MailAddress.stopped_at).where(
                MailAddress.address.in_(addresses)
            )
        )
        blocked = {row.address for row in rows if row.suppressed_at or row.stopped_at}
    stored: dict[tuple[int, str], str] = {}
    if members:
        rows = db.session.execute(
            select(MailPreference.member_id, MailPreference.kind, MailPreference.choice).where(
                MailPreference.member_id.in_(members)
            )
        )
        stored = {(row.member_id, row.kind): row.choice for row in rows}
    allowed = set()
    for address, kind_name, member_id in wanted:
        kind = kinds.get(kind_name)
        if kind_name == "account":
            allowed.add((address, kind_name, member_id))  # asked for: a reset, an invitation
            continue
        if address.strip().lower() in blocked:
            # Suppressed (it bounces) or stopped: even a required notice would not arrive, and
            # "stop all" promises everything but account mail stops.
            continue
        if kind.required:
            allowed.add((address, kind_name, member_id))  # the group's rules require it
            continue
        value = kind.default if member_id is None else stored.get((member_id, kind_name))
        if value not in kind.choices:
            value = kind.default
            if kind_name == "digest" and _wants_digest(stored, member_id):
                value = SINGLE  # "in the digest" for a notice asks for the digest, unless off
        if member_id is None and kind_name != "guest":
            value = SINGLE  # someone who is not (or no longer) a member: only stop-all applies
        wanted_value = "digest" if digest else SINGLE
        if value != OFF and value == wanted_value:
            allowed.add((address, kind_name, member_id))
    return allowed


def _wants_digest(stored: dict[tuple[int, str], str], member_id: int | None) -> bool:
    return any(
        stored.get((member_id, name)) == DIGEST
        for name, kind in kinds.KINDS.items()
        if kind.digestible
    )


def save(member: Member, chosen: dict[str, str]) -> None:
    """Record several choices at once: all or none."""
    try:
        for kind, value in chosen.items():
            set_choice(member, kind, value)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
