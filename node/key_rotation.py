"""The files of a key rotation: new keys waiting to be installed, and the archive of old ones.

In the instance folder's ``keys/`` (owner-only, like the keys themselves):

- ``http-rsa.pem``, ``proof-ed25519.pem``: the current keys; ``generation``: their
  generation (absent until the first rotation, meaning 1);
- ``pending/``: the next generation's keys, written before the rotation entry is
  appended and moved into place (``install_pending``) while the feed is still locked,
  before the entry is committed: no entry can be signed with the old keys after it. If
  the commit fails they are put back (``reinstate``);
- ``archive/<generation>/``: every retired generation's keys with ``retired.json`` (when,
  at which feed entry, and since when they are not trusted if they were compromised).
  Old keys are kept, never deleted: the node may have to prove what it signed with them.

Nothing here publishes: node.services.rotation writes the feed entry.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from flask import Flask, current_app

from federation import keys as keyfiles
from federation.proofs import format_created

from .config import ensure_private_dir, write_private_file
from .keys import GENERATION, HTTP_KEY, PROOF_KEY, NodeKeys, current_generation, key_fragments

ARCHIVE = "archive"
PENDING = "pending"
RETIRED = "retired.json"


@dataclass(frozen=True)
class RetiredKeys:
    """One retired generation of this node's keys, as its archive records it."""

    generation: int
    http_public_pem: str
    proof_multikey: str
    retired_at: datetime
    seq: int  # the feed entry that published the rotation
    compromised_since: datetime | None

    @property
    def http_fragment(self) -> str:
        return key_fragments(self.generation)[0]

    @property
    def proof_fragment(self) -> str:
        return key_fragments(self.generation)[1]


def keys_folder(instance: Path) -> Path:
    """Return the instance's ``keys/`` folder (owner-only), making it if needed."""
    return ensure_private_dir(instance / "keys")


def make_pending(instance: Path, current: NodeKeys) -> NodeKeys:
    """Generate the next generation's keys into ``keys/pending/`` and return them."""
    pending = keys_folder(instance) / PENDING
    if pending.exists():
        shutil.rmtree(pending)  # a rotation that never published its entry: start again
    ensure_private_dir(pending)
    made = NodeKeys(
        http=keyfiles.generate_rsa_key(),
        proof=keyfiles.generate_ed25519_key(),
        generation=current.generation + 1,
    )
    keyfiles.write_private_key(pending / HTTP_KEY, made.http)
    keyfiles.write_private_key(pending / PROOF_KEY, made.proof)
    write_private_file(pending / GENERATION, f"{made.generation}\n".encode())
    return made


def read_pending(instance: Path) -> NodeKeys | None:
    """Return the keys waiting in ``keys/pending/``, or None when there are none."""
    pending = instance / "keys" / PENDING
    try:
        http = keyfiles.read_private_key(pending / HTTP_KEY)
        proof = keyfiles.read_private_key(pending / PROOF_KEY)
        generation = current_generation(pending)
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(http, rsa.RSAPrivateKey) or not isinstance(proof, ed25519.Ed25519PrivateKey):
        return None
    return NodeKeys(http=http, proof=proof, generation=generation)


def discard_pending(instance: Path) -> None:
    """Forget keys that were made but never announced (no entry names them)."""
    shutil.rmtree(instance / "keys" / PENDING, ignore_errors=True)


def install_pending(
    instance: Path,
    old: NodeKeys,
    *,
    seq: int,
    retired_at: datetime,
    compromised_since: datetime | None,
) -> None:
    """Archive ``old`` and make the pending keys current; running processes follow.

    The archive is written first and the generation file replaced last: a process reloads
    its keys when that file changes (node.keys.node_keys), by which time both key files
    are the new ones.
    """
    folder = keys_folder(instance)
    pending = folder / PENDING
    archived = ensure_private_dir(folder / ARCHIVE / str(old.generation))
    for name, key in ((HTTP_KEY, old.http), (PROOF_KEY, old.proof)):
        keyfiles.write_private_key(archived / name, key, overwrite=True)
    record = {
        "generation": old.generation,
        "httpPublicKeyPem": old.http_public_pem,
        "proofMultikey": old.proof_multikey,
        "retiredAt": format_created(retired_at),
        "seq": seq,
        "compromisedSince": None
        if compromised_since is None
        else format_created(compromised_since),
    }
    write_private_file(archived / RETIRED, json.dumps(record, indent=2).encode())
    os.replace(pending / HTTP_KEY, folder / HTTP_KEY)
    os.replace(pending / PROOF_KEY, folder / PROOF_KEY)
    os.replace(pending / GENERATION, folder / GENERATION)
    shutil.rmtree(pending, ignore_errors=True)


def reinstate(instance: Path, old: NodeKeys) -> None:
    """Make ``old`` current again and drop its archive entry (a rotation that did not publish)."""
    folder = keys_folder(instance)
    keyfiles.write_private_key(folder / HTTP_KEY, old.http, overwrite=True)
    keyfiles.write_private_key(folder / PROOF_KEY, old.proof, overwrite=True)
    marker = folder / f".{GENERATION}.new"
    write_private_file(marker, f"{old.generation}\n".encode())
    os.replace(marker, folder / GENERATION)  # a new file: running processes reload
    shutil.rmtree(folder / ARCHIVE / str(old.generation), ignore_errors=True)
    shutil.rmtree(folder / PENDING, ignore_errors=True)


def read_archived(instance: Path, generation: int) -> NodeKeys | None:
    """Return the archived keys of ``generation``, or None when the archive lacks them."""
    archived = instance / "keys" / ARCHIVE / str(generation)
    try:
        http = keyfiles.read_private_key(archived / HTTP_KEY)
        proof = keyfiles.read_private_key(archived / PROOF_KEY)
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(http, rsa.RSAPrivateKey) or not isinstance(proof, ed25519.Ed25519PrivateKey):
        return None
    return NodeKeys(http=http, proof=proof, generation=generation)


def _moment(value: object) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else None


def read_retired(instance: Path) -> list[RetiredKeys]:
    """Return the retired generations the archive holds, oldest first."""
    found: list[RetiredKeys] = []
    archive = instance / "keys" / ARCHIVE
    if not archive.is_dir():
        return found
    for folder in archive.iterdir():
        try:
            record = json.loads((folder / RETIRED).read_text())
            retired_at = _moment(record["retiredAt"])
            found.append(
                RetiredKeys(
                    generation=int(record["generation"]),
                    http_public_pem=str(record["httpPublicKeyPem"]),
                    proof_multikey=str(record["proofMultikey"]),
                    retired_at=retired_at,  # type: ignore[arg-type]
                    seq=int(record["seq"]),
                    compromised_since=_moment(record.get("compromisedSince")),
                )
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a retired generation's folder: leave it alone
    return sorted(found, key=lambda retired: retired.generation)


def retired_keys(app: Flask | None = None) -> list[RetiredKeys]:
    """Return this node's retired keys, read once per generation of its keys."""
    app = app or current_app._get_current_object()
    instance = Path(app.instance_path)
    generation = current_generation(instance / "keys")
    cached = app.extensions.get("branchline_retired_keys")
    if cached is None or cached[0] != generation:
        cached = app.extensions["branchline_retired_keys"] = (generation, read_retired(instance))
    return cached[1]
