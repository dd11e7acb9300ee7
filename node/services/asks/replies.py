"""Tell askers what became of their asks: one signed answer per ask, counts only.

Run by the worker: an ask passed on is answered once its announcement has been sent
(``status == "sent"``, with how many it was queued to), an ask declined at once. The
answer is an ``Accept`` of the asker's Offer with an ``AskOutcome`` of ``reachedCount``,
or a ``Reject``, signed with the node's proof key and queued as a Delivery to the asker's
inbox (the delivery worker signs the request). Nothing else goes: no names, no addresses,
not the text of the announcement.
"""

from __future__ import annotations

from sqlalchemy import select, update

from federation.feed import entry_context
from federation.proofs import sign_object

from ...activitypub import asks as ask_documents
from ...extensions import db
from ...keys import node_keys
from ...models import Announcement, InboundAsk
from ...models.types import utcnow
from ..peering import follows, outbound
from .received import DECLINED, PASSED_ON

SENT = "sent"


def _signed(document: dict) -> dict:
    return sign_object(
        {"@context": entry_context(), **document},
        node_keys().proof,
        outbound.proof_key_id(),
        utcnow(),
    )


def _answer(ask: InboundAsk, kind: str, members: int | None) -> None:
    activity_id = follows.new_activity_id()
    # Claimed with a conditional UPDATE: two workers never both answer the same ask.
    claimed = db.session.execute(
        update(InboundAsk)
        .where(InboundAsk.id == ask.id, InboundAsk.reply_activity_id.is_(None))
        .values(reply_activity_id=activity_id, reply_members=members, replied_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return
    document = ask_documents.answer(
        kind,
        outbound.actor_id(),
        ask.peer.actor_id,
        ask.offer_activity_id,
        ask.object_id,
        members,
    )
    follows.queue(ask.peer, _signed({"id": activity_id, **document}))


def send_due(limit: int = 100) -> int:
    """Queue the answers now due (asks declined, or passed on and sent) and commit them."""
    passed = db.session.execute(
        select(InboundAsk, Announcement.recipients)
        .join(Announcement, Announcement.id == InboundAsk.announcement_id)
        .where(
            InboundAsk.state == PASSED_ON,
            InboundAsk.reply_activity_id.is_(None),
            Announcement.status == SENT,
        )
        .limit(limit)
    ).all()
    declined = db.session.scalars(
        select(InboundAsk)
        .where(InboundAsk.state == DECLINED, InboundAsk.reply_activity_id.is_(None))
        .limit(limit)
    ).all()
    if not passed and not declined:
        return 0
    for ask, recipients in passed:
        _answer(ask, "Accept", recipients or 0)
    for ask in declined:
        _answer(ask, "Reject", None)
    db.session.commit()
    return len(passed) + len(declined)
