"""Joining from the public "Join us" form: a request waits for an organiser, who approves it
(the person becomes a member and gets the usual invitation) or declines it.

A request is personal data that never leaves the node: it is never federated, and it is
deleted once an organiser decides it (an approved person's name and address live on in their
member row). Every answer to the form is the same whether or not the address is already a
member's or already waiting, so the form tells nobody who is a member.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from schemas.wording import N_

from ...extensions import db
from ...models import Group, JoinRequest, Member
from .. import groups
from ..errors import Conflict, Invalid, NotFound
from ..messaging import outbox
from ..organising.records import commit
from . import invitations
from .members import by_email

MAX_QUESTIONS = 5
MAX_QUESTION_LENGTH = 200
MAX_ANSWER_LENGTH = 1000
CLOSED = N_("This group is not taking requests to join here at the moment.")


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str


def questions(group: Group | None = None) -> list[str]:
    """Return the group's own questions for the form, in order."""
    group = group or groups.current_group()
    text = (group.join_questions if group is not None else None) or ""
    return [line.strip() for line in text.splitlines() if line.strip()][:MAX_QUESTIONS]


def is_open(group: Group | None = None) -> bool:
    """Tell whether the public form takes requests."""
    group = group or groups.current_group()
    return group is not None and bool(group.joining_open)


def save_settings(group: Group, joining_open: bool, questions_text: str) -> None:
    """Turn the form on or off and set its questions (one a line), or raise Invalid."""
    lines = [line.strip() for line in (questions_text or "").splitlines() if line.strip()]
    problems = []
    if len(lines) > MAX_QUESTIONS:
        problems.append(f"{MAX_QUESTIONS} questions at most.")
    if any(len(line) > MAX_QUESTION_LENGTH for line in lines):
        problems.append(f"Each question {MAX_QUESTION_LENGTH} characters at most.")
    if problems:
        raise Invalid(gettext("Check the questions."), {"join_questions": problems})
    group.joining_open = joining_open
    group.join_questions = "\n".join(lines) or None
    commit()


def ask(name: str, email: str, postcode: str, answers: list[str]) -> None:
    """Record a request to join and acknowledge it by mail; say nothing about the address.

    An address that is already a member's, or already waiting, gets no new request and no
    mail: the person asking sees the same answer either way.
    """
    group = groups.current_group()
    if not is_open(group):
        raise Conflict(gettext(CLOSED))
    email = email.strip().lower()
    if by_email(email) is not None or _pending_for(email) is not None:
        return
    asked = questions(group)
    found = JoinRequest(
        name=name,
        email=email,
        postcode=postcode,
        answers=json.dumps(
            [{"question": q, "answer": a} for q, a in zip(asked, answers, strict=False) if a]
        ),
    )
    db.session.add(found)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()  # the same address sent twice at once: the first one stands
        return
    # Addressed without the name typed: a stranger could type anything there, and this mail
    # goes to an address nobody has confirmed (docs/security.md: only the node's words).
    outbox.queue(
        outbox.Recipient(email),
        "account",
        gettext("We have your request to join %(group)s", group=group.name),
        gettext("Thank you for asking to join %(group)s.", group=group.name)
        + "\n\n"
        + gettext(
            "One of the organisers will look at your request soon. When they approve it we will "
            "send you a link to choose a password and finish joining."
        )
        + "\n\n"
        + gettext("If you did not ask to join, ignore this message: nothing happens without you."),
        source=f"join_request:{found.id}",
    )
    commit()


def _pending_for(email: str) -> JoinRequest | None:
    return db.session.scalar(select(JoinRequest).where(JoinRequest.email == email))


def pending() -> list[JoinRequest]:
    """List the requests waiting for a decision, oldest first."""
    return list(db.session.scalars(select(JoinRequest).order_by(JoinRequest.created_at)))


def count_pending() -> int:
    """Return how many requests wait for a decision."""
    return db.session.scalar(select(func.count()).select_from(JoinRequest)) or 0


def answers_of(found: JoinRequest) -> list[Answer]:
    """Return a request's answers to the group's questions as they were asked."""
    try:
        rows: Any = json.loads(found.answers or "[]")
    except ValueError:
        return []
    return [Answer(str(row.get("question", "")), str(row.get("answer", ""))) for row in rows]


def get(request_id: int) -> JoinRequest:
    """Fetch a waiting request, or raise NotFound."""
    found = db.session.get(JoinRequest, request_id)
    if found is None:
        raise NotFound(gettext("No such request to join: another organiser may have decided it."))
    return found


def approve(found: JoinRequest, actor: Member | None) -> Member:
    """Make the person a member and mail them the usual invitation; delete the request."""
    data = {"email": found.email, "display_name": found.name, "role": "member"}
    db.session.delete(found)
    member, _token = invitations.add_with_invite(data, actor)  # commits both, or neither
    return member


def decline(found: JoinRequest, *, tell: bool) -> None:
    """Delete the request; with ``tell``, mail the person a short, polite answer."""
    if tell:
        group_name = groups.current_group().name
        outbox.queue(
            outbox.Recipient(found.email),  # not the name typed, as for the acknowledgement
            "account",
            gettext("Your request to join %(group)s", group=group_name),
            gettext(
                "Thank you for asking to join %(group)s. The organisers are not able to accept "
                "your request through this form.",
                group=group_name,
            )
            + "\n\n"
            + gettext(
                "If you think this is a mistake, please get in touch with the group directly."
            ),
            source=f"join_request:{found.id}",
        )
    db.session.delete(found)
    commit()
