"""The group profile: first-run setup, edits, and the logo."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import current_app, g
from sqlalchemy import select

from ..config import ensure_private_dir, load_or_create_secret, write_private_file
from ..extensions import db
from ..models import Group, Member
from .errors import Conflict, Invalid
from .membership import passwords
from .organising.records import assign, commit

LOGO_TYPES = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpg",
    b"RIFF": "webp",
}
LOGO_MAX_BYTES = 512 * 1024


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


def set_up(data: dict[str, Any]) -> tuple[Group, Member]:
    """Create the group and its first admin in one transaction."""
    if db.session.scalar(select(Group.id).limit(1)) is not None:
        raise Conflict("This node is already set up.")
    email = data["admin_email"].lower()
    passwords.check_policy(data["password"], email=email)
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


def update(group: Group, data: dict[str, Any]) -> Group:
    """Apply validated profile changes."""
    from . import feed  # feed imports this module for current_group

    assign(group, data)
    feed.record(group, "update")
    commit()
    return group


def store_logo(group: Group, content: bytes) -> str:
    """Save a PNG, JPEG or WebP logo in the instance folder and return its file name."""
    if len(content) > LOGO_MAX_BYTES:
        raise Invalid.on("logo", "The logo must be at most 512 KiB.")
    kind = next((ext for magic, ext in LOGO_TYPES.items() if content.startswith(magic)), None)
    if kind == "webp" and content[8:12] != b"WEBP":
        kind = None
    if kind is None:
        raise Invalid.on("logo", "Upload a PNG, JPEG or WebP image.")
    folder = ensure_private_dir(logo_folder())
    name = f"logo-{hashlib.sha256(content).hexdigest()[:16]}.{kind}"
    write_private_file(folder / name, content)
    old = group.logo_filename
    group.logo_filename = name
    from . import feed  # feed imports this module for current_group

    feed.record(group, "update")
    commit()
    if old and old != name:
        (folder / old).unlink(missing_ok=True)
    return name


def logo_folder() -> Path:
    """Return the folder that holds uploaded images."""
    return Path(current_app.instance_path) / "uploads"


def setup_code() -> str:
    """Return the one-time code that proves the person at the setup page runs this node."""
    return load_or_create_secret(Path(current_app.instance_path), "setup_code", 12)
