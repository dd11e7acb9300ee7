"""Rotate the group's keys: publish the continuity proof in its feed, then use the new keys.

The rotation entry is an Update of the group carrying the new keys and a
``keyRotation`` statement (federation.rotation) signed by the new Ed25519 key, the entry
itself signed, like every entry, by the old one. The new keys are written to
``keys/pending/`` first, installed (the old ones archived, node.key_rotation) while the
feed's lock is held and put back if the entry's commit fails; every process of the node
signs with the new keys from its next request. A rotation cut short by a crash is put
right by the next ``branchline keys rotate`` (``finish_pending``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from federation.rotation import ROTATION_MEMBER, rotation_statement, sign_statement

from .. import key_rotation
from ..activitypub import documents
from ..extensions import db
from ..keys import NodeKeys, node_keys
from ..models import FeedEntry
from ..models.types import utcnow
from . import feed
from .errors import Invalid
from .groups import current_group

RECENT_UPDATES = 50  # where finish_pending looks for the entry that names the pending keys


@dataclass(frozen=True)
class Rotated:
    """A finished rotation: the entry that proves it and the keys before and after."""

    seq: int
    previous_key: str
    new_key: str
    new_http_key: str
    compromised_since: datetime | None


def _instance() -> Path:
    return Path(current_app.instance_path)


def rotate(*, compromised_since: datetime | None = None) -> Rotated:
    """Make new keys, publish the rotation entry (signed by old and new), install them."""
    group = current_group()
    if group is None:
        raise Invalid("This node is not set up yet: it has no keys to rotate.")
    now = utcnow().replace(microsecond=0)
    if compromised_since is not None:
        if compromised_since.tzinfo is None:
            raise Invalid.on("compromised_since", "Give a time with a timezone (or Z).")
        if compromised_since > now:
            raise Invalid.on("compromised_since", "The time is in the future.")
    repaired = finish_pending()
    if repaired:
        current_app.logger.warning("an earlier rotation was cut short: %s", repaired)
    instance = _instance()
    old = node_keys()
    new = key_rotation.make_pending(instance, old)
    actor = documents.actor_id(group)
    statement = rotation_statement(
        actor=actor,
        previous_key=f"{actor}#{old.proof_fragment}",
        new_key=f"{actor}#{new.proof_fragment}",
        new_key_value=new.proof.public_key(),
        previous_http_key=f"{actor}#{old.http_fragment}",
        new_http_key=f"{actor}#{new.http_fragment}",
        new_http_pem=new.http_public_pem,
        valid_from=now,
        compromised_since=compromised_since,
    )
    retired = [*key_rotation.retired_keys(), _retiring(old, now, compromised_since)]
    actor_now = documents.actor_object(group, new, retired)
    activity = documents.activity(group, "Update", actor_now, now)
    activity[ROTATION_MEMBER] = sign_statement(statement, new.proof, now)
    try:
        row = feed.append_exclusive(activity)
        db.session.flush()
    except BaseException:
        db.session.rollback()
        key_rotation.discard_pending(instance)
        raise
    # Installed while the feed's lock is held: another process appending next waits for
    # the commit and then reloads its keys, so nothing after this entry is signed with
    # the old ones.
    try:
        key_rotation.install_pending(
            instance, old, seq=row.seq, retired_at=now, compromised_since=compromised_since
        )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        key_rotation.reinstate(instance, old)
        raise
    current_app.logger.warning(
        "keys rotated: %s replaces %s (feed entry %d)",
        statement["newKey"]["id"],
        statement["previousKey"],
        row.seq,
    )
    return Rotated(
        seq=row.seq,
        previous_key=statement["previousKey"],
        new_key=statement["newKey"]["id"],
        new_http_key=statement["newHttpKey"]["id"],
        compromised_since=compromised_since,
    )


def _retiring(
    old: NodeKeys, now: datetime, compromised_since: datetime | None
) -> key_rotation.RetiredKeys:
    return key_rotation.RetiredKeys(
        generation=old.generation,
        http_public_pem=old.http_public_pem,
        proof_multikey=old.proof_multikey,
        retired_at=now,
        seq=0,  # not known before the entry is appended; the actor lists no seq
        compromised_since=compromised_since,
    )


def _announcing(multikey: str) -> dict[str, Any] | None:
    """Return the recent rotation entry that introduces the key ``multikey``, if any."""
    bodies = db.session.scalars(
        select(FeedEntry.body)
        .where(FeedEntry.activity_type == "Update")
        .order_by(FeedEntry.seq.desc())
        .limit(RECENT_UPDATES)
    ).all()
    for body in bodies:
        entry = json.loads(body)
        statement = entry.get(ROTATION_MEMBER)
        if isinstance(statement, dict) and (
            statement.get("newKey", {}).get("publicKeyMultibase") == multikey
        ):
            return entry
    return None


def finish_pending() -> str:
    """Put right a rotation cut short by a crash; say what was done ('' if nothing).

    Keys made but never installed are discarded. Keys installed whose entry was never
    committed (the process died in between) are replaced by the archived ones they
    were to succeed: no entry proves them, so nobody would accept what they sign.
    """
    instance = _instance()
    key_rotation.discard_pending(instance)
    current = node_keys()
    if current.generation == 1 or _announcing(current.proof_multikey) is not None:
        return ""
    previous = key_rotation.read_archived(instance, current.generation - 1)
    if previous is None:
        raise Invalid(
            f"No feed entry announces this node's keys (generation {current.generation}) and "
            "the archive lacks the keys before them: restore keys/ from a backup."
        )
    key_rotation.reinstate(instance, previous)
    return f"put back generation {previous.generation}'s keys: no entry announced the newer ones"


def rotation_entries() -> list[dict[str, Any]]:
    """Return the feed's rotation entries, oldest first (what the actor document embeds)."""
    seqs = [retired.seq for retired in key_rotation.retired_keys()]
    if not seqs:
        return []
    bodies = db.session.scalars(
        select(FeedEntry.body).where(FeedEntry.seq.in_(seqs)).order_by(FeedEntry.seq)
    ).all()
    return [json.loads(body) for body in bodies]
