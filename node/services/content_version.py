"""A counter that goes up, in the same transaction, whenever public content changes.

Worker processes keep rendered copies of public pages (node/page_cache.py); they compare
this counter, one indexed read, to know whether a copy is still true.
"""

from __future__ import annotations

from sqlalchemy import event, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from ..extensions import db
from ..models import Campaign, Candidate, Event, Group, Post, SiteState

CONTENT = (Group, Campaign, Event, Candidate, Post)


def current() -> int:
    """Return the content version (0 before anything was ever counted)."""
    return db.session.scalar(select(SiteState.content_version).where(SiteState.id == 1)) or 0


def _bump(connection) -> None:
    bumped = connection.execute(
        update(SiteState.__table__)
        .where(SiteState.__table__.c.id == 1)
        .values(content_version=SiteState.__table__.c.content_version + 1)
    )
    if bumped.rowcount == 0:
        connection.execute(SiteState.__table__.insert().values(id=1, content_version=1))


def _changes_content(session: Session) -> bool:
    touched = (*session.new, *session.dirty, *session.deleted)
    return any(isinstance(item, CONTENT) for item in touched)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    # new/dirty/deleted still describe what this flush wrote.
    if _changes_content(session):
        _bump(session.connection())


@event.listens_for(Session, "do_orm_execute")
def _bulk_statements(state: ORMExecuteState) -> None:
    # UPDATE/DELETE statements (the RSVP place counter) bypass the flush.
    mapper = state.bind_mapper
    bulk = state.is_update or state.is_delete
    if bulk and mapper is not None and mapper.class_ in CONTENT:
        _bump(state.session.connection())
