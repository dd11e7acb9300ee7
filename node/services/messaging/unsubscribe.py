"""One-click unsubscribe: a signed link per (address, kind) that needs no log-in.

The token is the address and the kind, signed with the node's secret key, so the node
stores nothing per message and a link keeps working as long as the key does (RFC 8058
asks that it keep working). Whoever holds a message can use its link; it changes only
that one kind for that one address, which is what the link says it does. Kind ``all``
(the guests' link) stops everything but account mail to the address.

Every message that may be turned off carries the link in its footer and in the
``List-Unsubscribe`` header, with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(RFC 8058), so a mail client's own "unsubscribe" button works without opening a page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, func, select

from ...extensions import db
from ...models import MailPreference, Member
from . import kinds, preferences
from .kinds import OFF, SINGLE
from .links import external_url

ALL = "all"
_SALT = "branchline.unsubscribe"


@dataclass(frozen=True)
class Subscription:
    """What an unsubscribe link is about: an address, a kind, and the member if any."""

    address: str
    kind: str
    member: Member | None

    @property
    def label(self) -> str:
        if self.kind == ALL:
            return gettext("All mail from this group, except messages about your account")
        return gettext(kinds.get(self.kind).label)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def token(address: str, kind: str) -> str:
    """Return the token of the link that stops ``kind`` for ``address``."""
    if kind != ALL and kinds.get(kind).required:
        raise ValueError(f"{kind} mail cannot be turned off")
    return _serializer().dumps([address.strip().lower(), kind])


def url(address: str, kind: str) -> str:
    """Return the absolute unsubscribe link for ``address`` and ``kind``."""
    return external_url("mail_links.unsubscribe", token=token(address, kind))


def headers(address: str, kind: str, *, link: str | None = None) -> dict[str, str]:
    """Return the RFC 8058 headers for a message of ``kind`` to ``address``."""
    # ``link``: the same address's `url`, when the caller has it (signing it twice for each
    # of thousands of recipients is most of an announcement's queueing time).
    return {
        "List-Unsubscribe": f"<{link or url(address, kind)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def read(value: str) -> Subscription | None:
    """Return what a token is about, or None if it is not one of ours."""
    if len(value) > 1000:
        return None
    try:
        address, kind = _serializer().loads(value)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(address, str) or (kind != ALL and kind not in kinds.KINDS):
        return None
    member = db.session.scalar(select(Member).where(func.lower(Member.email) == address))
    return Subscription(address, kind, member)


def apply(subscription: Subscription) -> None:
    """Turn off what the link names, in the current unit of work."""
    member = subscription.member
    if subscription.kind == ALL:
        preferences.stop_all(subscription.address)
        if member is not None:
            for name in kinds.MEMBER_KINDS:
                if not kinds.get(name).required:
                    preferences.set_choice(member, name, OFF)
    elif member is not None and subscription.kind != "guest":
        preferences.set_choice(member, subscription.kind, OFF)
    else:
        # A guest's event mail, or a member since gone: stopping all is what is left.
        preferences.stop_all(subscription.address)


def undo(subscription: Subscription) -> None:
    """Turn back on what `apply` turned off (the "I clicked by mistake" button)."""
    member = subscription.member
    if subscription.kind == ALL or member is None or subscription.kind == "guest":
        preferences.resume_all(subscription.address)
    if member is None:
        return
    if subscription.kind == ALL:
        # Back to the defaults: the choices made before are not kept anywhere.
        db.session.execute(delete(MailPreference).where(MailPreference.member_id == member.id))
    elif subscription.kind != "guest":
        preferences.set_choice(member, subscription.kind, SINGLE)


def confirm(subscription: Subscription) -> None:
    """Apply the link and commit."""
    apply(subscription)
    db.session.commit()


def revert(subscription: Subscription) -> None:
    """Undo the link and commit."""
    undo(subscription)
    db.session.commit()
