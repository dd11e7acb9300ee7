"""Compose a message (plain text and HTML), check the recipient wants it, and queue it.

Every feature that mails members or guests goes through `queue` (one recipient) or
`queue_many` (an announcement, a notice to everyone who opted in): they check the
recipient's choices and the address's record, add the footer that says why the message
came and how to stop it, and the RFC 8058 headers, and add the rows to the current unit of
work. The worker sends them (``services/mail.py``), checking the choices once more.

A body is Markdown, sanitised as every page's Markdown is (``node/text.py``): the HTML
part is its rendering, the plain-text part its text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext
from markupsafe import Markup
from sqlalchemy import insert

from ...extensions import db
from ...models import OutboundMail
from ...models.types import utcnow
from ...text import markdown_to_plain_text, render_markdown
from .. import mail
from ..groups import base_url
from . import kinds, preferences, unsubscribe
from .links import external_url


@dataclass(frozen=True)
class Recipient:
    """Whom a message goes to: an address, a name to greet, and the member if one."""

    address: str
    name: str = ""
    member_id: int | None = None


@dataclass(frozen=True)
class Composed:
    """A message's subject and both parts, before the per-recipient footer."""

    subject: str
    text: str
    html: Markup  # sanitised by render_markdown


def compose(subject: str, markdown: str) -> Composed:
    """Render ``markdown`` once: the sanitised HTML part and the plain-text part."""
    subject = " ".join(subject.split())[:500]
    # Mail is read away from the node: its own pictures need their full address.
    root = (base_url() or current_app.config.get("BASE_URL") or "").rstrip("/")
    return Composed(subject, markdown_to_plain_text(markdown), render_markdown(markdown, root))


def queue(
    recipient: Recipient,
    kind: str,
    subject: str,
    markdown: str,
    *,
    source: str = "",
) -> bool:
    """Queue one message in the current unit of work; return False if it may not be sent."""
    return queue_many([recipient], kind, compose(subject, markdown), source=source) == 1


def queue_many(
    recipients: Iterable[Recipient], kind: str, message: Composed, *, source: str = ""
) -> int:
    """Queue ``message`` to each recipient who allows ``kind``, each address once.

    One bulk insert, so an announcement to thousands of members is one statement. Return
    how many were queued.
    """
    found = kinds.get(kind)
    unique: dict[str, Recipient] = {}
    for recipient in recipients:
        if recipient.address:
            unique.setdefault(recipient.address.strip().lower(), recipient)
    allowed = preferences.allowed_many((r.address, kind, r.member_id) for r in unique.values())
    mail_from = current_app.config["MAIL_FROM"]
    domain = mail.domain_of(mail_from)
    now = utcnow()
    prefs_link = external_url("mail_links.preferences")
    words = _Words.of(found)
    rows = []
    for recipient in unique.values():
        if (recipient.address, kind, recipient.member_id) not in allowed:
            continue
        text, html, headers = _personal(message, recipient, found, prefs_link, words)
        rows.append(
            {
                "to_address": recipient.address,
                "subject": message.subject,
                "body": text,
                "html": html,
                "headers": json.dumps(headers),
                "message_id": make_msgid(domain=domain),
                "status": mail.QUEUED,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
                "created_at": now,
                "kind": kind,
                "member_id": recipient.member_id,
                "source": source[:80],
            }
        )
    if rows:
        db.session.execute(insert(OutboundMail), rows)
    return len(rows)


@dataclass(frozen=True)
class _Words:
    """The greeting and the footer's words of one kind, translated once for every recipient."""

    hello: str  # with %(name)s
    why: str
    stop: str  # with %(link)s
    stop_link: str
    choose: str  # with %(link)s
    choose_link: str
    stop_all: str  # with %(link)s
    stop_all_link: str

    @classmethod
    def of(cls, kind: kinds.Kind) -> _Words:
        label = gettext(kind.label)
        return cls(
            hello=gettext("Hello %(name)s,"),
            why=(
                gettext("You are sent this because: %(label)s.", label=label)
                if kind.required
                else gettext("You are sent this because you get: %(label)s.", label=label)
            ),
            stop=gettext("Stop these with one click: %(link)s"),
            stop_link=gettext("Stop these with one click"),
            choose=gettext("Choose what you get: %(link)s"),
            choose_link=gettext("Choose what you get"),
            stop_all=gettext("Stop all mail from this group with one click: %(link)s"),
            stop_all_link=gettext("Stop all mail from this group with one click"),
        )


def _personal(
    message: Composed,
    recipient: Recipient,
    kind: kinds.Kind,
    prefs_link: str,
    words: _Words,
) -> tuple[str, str, dict[str, str]]:
    # Flask-Babel leaves a message without values as it is: the name goes in here, once the
    # (translated) greeting is known, and Markup escapes it in the HTML part.
    hello = words.hello % {"name": recipient.name} if recipient.name else ""
    greeting = f"{hello}\n\n" if hello else ""
    html_greeting = Markup("<p>{}</p>\n").format(hello) if hello else ""
    why = words.why
    if kind.required:
        return (
            f"{greeting}{message.text}\n\n-- \n{why}\n",
            _html(html_greeting + message.html, Markup("<p>{}</p>").format(why)),
            {},
        )
    stop_kind = kind.name if recipient.member_id is not None else unsubscribe.ALL
    link = unsubscribe.url(recipient.address, stop_kind)
    if recipient.member_id is not None:
        stop = words.stop % {"link": link}
        choose = words.choose % {"link": prefs_link}
        text_footer = f"{why}\n{stop}\n{choose}"
        html_footer = Markup('<p>{}<br><a href="{}">{}</a> · <a href="{}">{}</a></p>').format(
            why, link, words.stop_link, prefs_link, words.choose_link
        )
    else:
        text_footer = f"{why}\n{words.stop_all % {'link': link}}"
        html_footer = Markup('<p>{}<br><a href="{}">{}</a></p>').format(
            why, link, words.stop_all_link
        )
    return (
        f"{greeting}{message.text}\n\n-- \n{text_footer}\n",
        _html(html_greeting + message.html, html_footer),
        unsubscribe.headers(recipient.address, stop_kind, link=link),
    )


def _html(body: Markup, footer: Markup) -> str:
    return str(
        Markup(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>'
            '<body style="font-family: sans-serif; max-width: 40em">\n{}\n'
            '<hr><div style="color: #555; font-size: small">{}</div>\n</body></html>\n'
        ).format(body, footer)
    )


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def literal(text: str) -> str:
    """Escape ``text`` (a title, a name someone typed) so Markdown shows it as typed."""
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def local_time(at: datetime, zone: str, pattern: str = "%a %d %b %Y, %H:%M") -> str:
    """Write ``at`` as a clock in ``zone`` shows it (day and month names stay English)."""
    return at.astimezone(ZoneInfo(zone)).strftime(pattern)


def when(at: datetime, zone: str) -> str:
    """Write ``at`` in ``zone``, naming the zone: "Sat 10 May 2031, 19:00 (Europe/London time)"."""
    return gettext("%(date)s (%(zone)s time)", date=local_time(at, zone), zone=zone)


def link(url: str) -> str:
    """Write ``url`` as a Markdown link that shows the address itself (mail is read anywhere)."""
    return f"<{url}>"
