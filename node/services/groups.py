"""This node's group: the one row every request reads, and first-run setup.

Edits to the profile, which are published on the feed, are in profile.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import current_app, g
from flask_babel import gettext
from sqlalchemy import select

from ..config import load_or_create_secret
from ..extensions import db
from ..models import Group, Member
from .errors import Conflict, Invalid
from .membership import passwords
from .organising.records import commit

# Statements on paths every request takes are built once: building one costs more than
# running it.
_THE_GROUP = select(Group).limit(1)
_THE_ADDRESS = select(Group.__table__.c.base_url).limit(1)


def current_group() -> Group | None:
    """Return this node's group, once per request; None before setup."""
    if "group" not in g:
        g.group = db.session.scalar(_THE_GROUP)
    return g.group


def base_url() -> str | None:
    """Return this node's public address as stored, once per request; None before setup.

    The inbox needs only this of the group: a one-column read, not the whole profile.
    """
    if "group" in g:
        return g.group.base_url if g.group is not None else None
    if "base_url" not in g:
        g.base_url = db.session.connection().execute(_THE_ADDRESS).scalar()
    return g.base_url


def is_set_up() -> bool:
    """Say whether the node has its group and first admin."""
    return current_group() is not None


def problems(data: dict[str, Any]) -> dict[str, list[str]]:
    """Return what the node's password policy refuses in the setup form: {field: [messages]}.

    The form calls it on the fields that parsed, beside their field errors; ``set_up`` checks
    it again.
    """
    if "password" not in data:
        return {}
    try:
        passwords.check_policy(data["password"], email=data.get("admin_email") or "")
    except Invalid as exc:
        return dict(exc.fields)
    return {}


def set_up(data: dict[str, Any]) -> tuple[Group, Member]:
    """Create the group and its first admin in one transaction."""
    if db.session.scalar(select(Group.id).limit(1)) is not None:
        raise Conflict(gettext("This node is already set up."))
    email = data["admin_email"].lower()
    found = problems(data)
    if found:
        raise Invalid("Some fields are not valid.", found)
    group = Group(
        name=data["name"],
        handle=data["handle"],
        base_url=data["base_url"].rstrip("/"),
        timezone=current_app.config["TIMEZONE"],
    )
    admin = Member(
        email=email,
        display_name=data.get("admin_name") or "Admin",
        role="admin",
        status="active",
        password_hash=passwords.hash_password(data["password"]),
    )
    db.session.add_all([group, admin])
    commit()
    g.pop("group", None)
    g.pop("base_url", None)
    return group, admin


def setup_code() -> str:
    """Return the one-time code that proves the person at the setup page runs this node."""
    return load_or_create_secret(Path(current_app.instance_path), "setup_code", 12)
