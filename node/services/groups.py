"""This node's group: the one row every request reads, and first-run setup.

Edits to the profile, which are published on the feed, are in profile.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import current_app, g
from flask_babel import gettext
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import make_transient_to_detached

from ..config import load_or_create_secret
from ..extensions import db
from ..models import Group, Member
from . import content_version
from .errors import Conflict, Invalid
from .membership import passwords
from .organising.records import commit

# Statements on paths every request takes are built once: building one costs more than
# running it.
_THE_GROUP = select(Group).limit(1)
_THE_ADDRESS = select(Group.__table__.c.base_url).limit(1)

# The group's address is read by every inbox request and changes almost never (it is set
# at setup), so each process keeps it, per app, for at most ADDRESS_LIFETIME seconds: a
# change this process writes is seen at once (``forget_base_url``), one written by another
# process (another worker, an admin's SQL) within that lifetime. Only the inbox's own
# host check rests on it, and a stale address refuses requests rather than admits them.
ADDRESS_LIFETIME = 30.0
_ADDRESS_KEY = "branchline.base_url"
_clock = time.monotonic  # tests replace it


# Each process keeps a copy of the group row, filed under the content version it was read
# at. Every change to the group made through the ORM moves that version in the same
# transaction (services/content_version.py), so any process sees it on its next request; a
# change made behind the ORM's back (SQL by hand, a restored backup) is seen within
# GROUP_LIFETIME seconds, when the copy is read again whatever the version says.
GROUP_LIFETIME = 60.0
_GROUP_KEY = "branchline.group_copy"


def current_group() -> Group | None:
    """Return this node's group, once per request; None before setup."""
    if "group" not in g:
        kept = _kept_copy()
        # A copy of the kept row, attached to this request's session without a query: it can
        # be changed and saved like a loaded one, and the kept row itself is never changed.
        g.group = db.session.merge(kept, load=False) if kept is not None else _load_group()
    return g.group


def _kept_copy() -> Group | None:
    """Return this process's copy of the group row while it is still true, else None."""
    kept = current_app.extensions.get(_GROUP_KEY)
    if kept is None or _clock() >= kept[1] or kept[0] != content_version.at_start():
        return None
    return kept[2]


def _load_group() -> Group | None:
    version = content_version.at_start()  # before the row: the copy is at least this new
    group = db.session.scalar(_THE_GROUP)
    if group is not None:
        current_app.extensions[_GROUP_KEY] = (version, _clock() + GROUP_LIFETIME, _detached(group))
    return group


def _detached(group: Group) -> Group:
    columns = [column.key for column in inspect(group).mapper.column_attrs]
    copy = Group(**{key: getattr(group, key) for key in columns})
    make_transient_to_detached(copy)
    return copy


def forget_group() -> None:
    """Make this process read the group afresh on its next request."""
    current_app.extensions.pop(_GROUP_KEY, None)
    g.pop("group", None)


def base_url() -> str | None:
    """Return this node's public address as stored, once per request; None before setup.

    The inbox needs only this of the group: a one-column read, not the whole profile.
    """
    if "group" in g:
        return g.group.base_url if g.group is not None else None
    if "base_url" not in g:
        g.base_url = _kept_base_url()
    return g.base_url


def group_to_read() -> Group | None:
    """Return this node's group to read, never to change: the kept copy when it is true.

    Every request asks whether the node is set up and whether it is an aggregator; a page
    served from a copy needs nothing else of the group, so it need not attach a row.
    """
    if "group" not in g:
        kept = _kept_copy()
        if kept is not None:
            return kept
    return current_group()


def _kept_base_url() -> str | None:
    kept = current_app.extensions.get(_ADDRESS_KEY)
    now = _clock()
    if kept is not None and kept[1] > now:
        return kept[0]
    address = db.session.connection().execute(_THE_ADDRESS).scalar()
    if address is not None:  # before setup nothing is kept: setup must be seen at once
        current_app.extensions[_ADDRESS_KEY] = (address, now + ADDRESS_LIFETIME)
    return address


def forget_base_url() -> None:
    """Make this process read the group's address afresh on its next request."""
    current_app.extensions.pop(_ADDRESS_KEY, None)
    g.pop("base_url", None)


@event.listens_for(Group.base_url, "set")
def _address_changed(_group: Group, value: object, old: object, _initiator: object) -> None:
    # Whatever code changes the address in this process, the kept copy goes with it.
    if value != old and current_app:
        current_app.extensions.pop(_ADDRESS_KEY, None)


def is_set_up() -> bool:
    """Say whether the node has its group and first admin."""
    return group_to_read() is not None


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
    forget_group()
    forget_base_url()
    return group, admin


def setup_code() -> str:
    """Return the one-time code that proves the person at the setup page runs this node."""
    return load_or_create_secret(Path(current_app.instance_path), "setup_code", 12)
