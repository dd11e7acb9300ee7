"""Groups with signed feeds, for the audit's and the feed walker's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from federation import keys
from federation.feed import build_entry, entry_hash

CREATED = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class Group:
    """A group on its own origin with a signed feed of ``size`` entries."""

    host: str
    size: int = 0
    key: ed25519.Ed25519PrivateKey = field(default_factory=keys.generate_ed25519_key)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for _ in range(self.size):
            self.add()

    @property
    def actor(self) -> str:
        return f"https://{self.host}/actor"

    @property
    def outbox(self) -> str:
        return f"https://{self.host}/outbox"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#ed25519-key"

    def activity(self, seq: int, name: str | None = None) -> dict[str, Any]:
        return {
            "id": f"https://{self.host}/outbox/{seq}",
            "type": "Create",
            "actor": self.actor,
            "object": {
                "id": f"https://{self.host}/events/{seq}",
                "type": "Event",
                "name": name or f"Canvass {seq} in {self.host}",
            },
        }

    def sign(
        self,
        activity: dict[str, Any],
        seq: int,
        *,
        previous: dict[str, Any] | None = None,
        key: ed25519.Ed25519PrivateKey | None = None,
        method: str | None = None,
    ) -> dict[str, Any]:
        if previous is None and seq > 1:
            previous = self.entries[seq - 2]
        return build_entry(
            activity,
            seq=seq,
            previous=previous,
            signing_key=key or self.key,
            verification_method=method or self.key_id,
            created=CREATED,
        )

    def add(self) -> dict[str, Any]:
        seq = len(self.entries) + 1
        entry = self.sign(self.activity(seq), seq)
        self.entries.append(entry)
        return entry

    def actor_document(self) -> dict[str, Any]:
        head = self.entries[-1] if self.entries else None
        return {
            "id": self.actor,
            "type": "Group",
            "name": f"Group of {self.host}",
            "outbox": self.outbox,
            "assertionMethod": [
                {
                    "id": self.key_id,
                    "type": "Multikey",
                    "controller": self.actor,
                    "publicKeyMultibase": keys.ed25519_public_key_to_multikey(
                        self.key.public_key()
                    ),
                }
            ],
            "feedHead": (
                {"seq": 0} if head is None else {"seq": head["seq"], "hash": entry_hash(head)}
            ),
        }


def interleave(*feeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mix the groups' entries as an aggregator's ingest order would: round robin."""
    mixed: list[dict[str, Any]] = []
    for index in range(max(len(feed) for feed in feeds)):
        mixed.extend(feed[index] for feed in feeds if index < len(feed))
    return mixed
