"""Jinja filters and globals: Markdown, local times, vocabulary labels, the viewer."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import get_locale, gettext

from schemas import vocab

from . import page_cache
from .auth import current_member
from .services.groups import current_group
from .text import render_markdown


def local_time(
    value: datetime | None, zone: str | None = None, fmt: str = "%a %d %b %Y, %H:%M"
) -> str:
    """Show a UTC time in the given zone (default: the group's), e.g. 'Sat 21 Nov 2026, 10:00'."""
    if value is None:
        return ""
    group = current_group()
    tz = ZoneInfo(zone or (group.timezone if group else "Europe/London"))
    try:
        return value.astimezone(tz).strftime(fmt)
    except OverflowError:
        # A date at the edge of the calendar (year 1, year 9999), stored before input was
        # bounded: shown as it is held rather than breaking the page for everyone.
        return value.strftime(fmt) + " UTC"


def input_time(value: datetime | None, zone: str | None = None) -> str:
    """Format a time for an <input type=datetime-local> in the given zone."""
    return local_time(value, zone, "%Y-%m-%dT%H:%M") if value else ""


def long_date(value: date | None) -> str:
    return value.strftime("%d %b %Y") if value else ""


def label(value: str) -> str:
    """Turn a vocabulary value into words for people, in the node's language."""
    return gettext(vocab.label(value))


def a_role(role: str) -> str:
    """Name a role with its article ("an organiser", "a member"), in the node's language."""
    phrases = {
        "member": gettext("a member"),
        "organiser": gettext("an organiser"),
        "admin": gettext("an admin"),
    }
    return phrases.get(role) or gettext("a %(role)s", role=label(role).lower())


def page_language() -> str:
    """The node's language as an HTML lang tag: British English unless a catalogue is chosen."""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return "en-GB"
    return str(locale).replace("_", "-")


def init_app(app: Flask) -> None:
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["input_time"] = input_time
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["a_role"] = a_role
    # A message made elsewhere (schemas/wording.py, a service), shown in the node's language.
    app.jinja_env.filters["translate"] = gettext
    app.jinja_env.globals["vocab"] = vocab
    app.jinja_env.globals["page_language"] = page_language
    # Shared page copies (node/page_cache.py): a form token is a hole while a copy is built,
    # and a members' copy shows holes where a member's own data goes.
    app.jinja_env.globals["csrf_token"] = page_cache.csrf_token
    app.jinja_env.globals["personal_holes"] = page_cache.personal_holes
    app.jinja_env.globals["hole"] = page_cache.hole

    # Flask-WTF also puts its csrf_token (and csrf_meta_tag, a global too) in every template's
    # context, where it would win over the global: a shared copy would keep a form token.
    app.template_context_processors[None] = [
        processor
        for processor in app.template_context_processors[None]
        if getattr(processor, "__module__", "") != "flask_wtf.csrf"
    ]

    @app.context_processor
    def _viewer():
        return {"viewer": current_member(), "group": current_group()}
