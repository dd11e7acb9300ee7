"""The mark a restore leaves: "restored, must reconcile before publishing".

A backup is older than what followers hold. Appending to a restored feed would hand out
seqs the followers already hold with other entries, and they would mark the group's chain
broken. So a restore writes ``reconcile-required.json`` into the instance folder, and the
feed refuses every new entry while it is there, until ``branchline recover --from URL``
has brought the feed up to the followers' head (or an admin forces publishing, knowingly,
with ``branchline recover --force-publish``). A file, not a row: the restore writes it
whatever database it restored, and every process of the node sees it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import current_app

from ...config import write_private_file
from ...models.types import utcnow
from ..errors import ServiceError

MARK = "reconcile-required.json"


class PublishingHeld(ServiceError):
    """The node was restored and has not reconciled its feed with its followers yet."""

    status = 503

    def __init__(self) -> None:
        super().__init__(
            "This node was restored from a backup and publishes nothing until its feed is "
            "reconciled with its followers: an admin runs `branchline recover --from URL` "
            "(or `branchline recover --force-publish`)."
        )


def mark_path(instance: Path | None = None) -> Path:
    """Return where the mark lives in ``instance`` (default: this app's instance folder)."""
    return Path(instance or current_app.instance_path) / MARK


def hold(instance: Path, details: dict[str, Any]) -> None:
    """Mark the node in ``instance`` as restored: no new feed entry until it reconciles."""
    body = {"restored_at": utcnow().isoformat(), **details}
    write_private_file(mark_path(instance), json.dumps(body, indent=2).encode())


def pending(instance: Path | None = None) -> dict[str, Any] | None:
    """Return the restore mark's details, or None when the node may publish."""
    path = mark_path(instance)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        return {"restored_at": None}  # a damaged mark still holds publishing


def require_reconciled() -> None:
    """Refuse to go on (503) while the node must reconcile its feed before publishing."""
    if mark_path().exists():
        raise PublishingHeld()


def release(how: str) -> None:
    """Clear the mark, saying in the log how the feed was reconciled (or that it was forced)."""
    path = mark_path()
    if path.exists():
        path.unlink()
        current_app.logger.warning("publishing released after a restore: %s", how)
