"""The group's public profile: edits and the logo, each published on the feed as an Update."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext

from ..config import ensure_private_dir, write_private_file
from ..models import Group
from . import feed
from .errors import Invalid
from .organising.records import assign, commit

LOGO_TYPES = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpg",
    b"RIFF": "webp",
}
LOGO_MAX_BYTES = 512 * 1024


def update(group: Group, data: dict[str, Any]) -> Group:
    """Apply validated profile changes."""
    assign(group, data)
    feed.record(group, "update")
    commit()
    return group


def store_logo(group: Group, content: bytes) -> str:
    """Save a PNG, JPEG or WebP logo in the instance folder and return its file name."""
    if len(content) > LOGO_MAX_BYTES:
        raise Invalid.on("logo", gettext("The logo must be at most 512 KiB."))
    kind = next((ext for magic, ext in LOGO_TYPES.items() if content.startswith(magic)), None)
    if kind == "webp" and content[8:12] != b"WEBP":
        kind = None
    if kind is None:
        raise Invalid.on("logo", gettext("Upload a PNG, JPEG or WebP image."))
    folder = ensure_private_dir(logo_folder())
    name = f"logo-{hashlib.sha256(content).hexdigest()[:16]}.{kind}"
    # Written beside and then renamed: a full disk leaves no half image under the real name.
    partial = folder / f".{name}.partial"
    try:
        write_private_file(partial, content)
        os.replace(partial, folder / name)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    old = group.logo_filename
    group.logo_filename = name
    feed.record(group, "update")
    commit()
    if old and old != name:
        (folder / old).unlink(missing_ok=True)
    return name


def logo_folder() -> Path:
    """Return the folder that holds uploaded images."""
    return Path(current_app.instance_path) / "uploads"
