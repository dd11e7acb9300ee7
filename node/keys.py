"""This node's own keys: RSA for HTTP signatures, Ed25519 for feed proofs, the ballot key.

The key pairs live in the instance folder's ``keys/`` (owner-only), are made by
``branchline init`` (or on first use by a node set up before keys existed), and are read
once per process. The ballot key (``BRANCHLINE_BALLOT_KEY``, or ``ballot_key`` generated in
the instance folder) hashes who has voted: it is kept apart from ``SECRET_KEY`` so that
changing the one that signs sessions never lets a member who left and came back vote again.

Keys are never made for a node whose feed has entries: new keys would make every follower
refuse its feed, so a missing key file stops the node (``MissingKeys``) until it is
restored from a backup.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from flask import Flask, current_app
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from federation import keys as keyfiles

from .config import ensure_private_dir, load_or_create_secret
from .extensions import db

HTTP_KEY = "http-rsa.pem"
PROOF_KEY = "proof-ed25519.pem"
BALLOT_KEY = "ballot_key"


@dataclass(frozen=True)
class NodeKeys:
    http: rsa.RSAPrivateKey
    proof: ed25519.Ed25519PrivateKey

    @property
    def http_public_pem(self) -> str:
        return keyfiles.public_key_to_pem(self.http.public_key())

    @property
    def proof_multikey(self) -> str:
        return keyfiles.ed25519_public_key_to_multikey(self.proof.public_key())


def _load_or_make(path: Path, make) -> object:
    if not path.exists():
        candidate = path.with_name(f".{path.name}.{os.getpid()}")
        keyfiles.write_private_key(candidate, make(), overwrite=True)
        try:
            os.link(candidate, path)  # only one racing process wins; the rest read its key
        except FileExistsError:
            pass
        finally:
            candidate.unlink(missing_ok=True)
    return keyfiles.read_private_key(path)


class MissingKeys(RuntimeError):  # noqa: N818 - a refusal to start, named for the operator
    """The node has published, and some of its key files are gone."""


def load_or_create(instance: Path, *, published: Callable[[], bool] = lambda: False) -> NodeKeys:
    """Read the node's keys from ``instance/keys``, making missing ones unless it has published."""
    folder = ensure_private_dir(instance / "keys")
    missing = [name for name in (HTTP_KEY, PROOF_KEY) if not (folder / name).exists()]
    if missing and published():
        raise MissingKeys(
            f"This node has published feed entries but {', '.join(missing)} is missing from "
            f"{folder}. New keys would make every follower refuse its feed, so none are made. "
            "Restore the keys from a backup made by `branchline backup`: "
            "`branchline restore BACKUP --keys-only`."
        )
    http = _load_or_make(folder / HTTP_KEY, keyfiles.generate_rsa_key)
    proof = _load_or_make(folder / PROOF_KEY, keyfiles.generate_ed25519_key)
    if not isinstance(http, rsa.RSAPrivateKey) or not isinstance(proof, ed25519.Ed25519PrivateKey):
        raise RuntimeError(f"unexpected key types in {folder}")
    return NodeKeys(http=http, proof=proof)


def node_keys(app: Flask | None = None) -> NodeKeys:
    """Return this node's keys, loading them once per process."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("branchline_keys")
    if found is None:
        found = load_or_create(Path(app.instance_path), published=lambda: _has_published(app))
        app.extensions["branchline_keys"] = found
    return found


def _has_published(app: Flask) -> bool:
    # Asked only when a key file is missing. The table is read by name: keys sit below the
    # models. A database that cannot be read raises, so no key is made on a guess.
    with app.app_context(), db.engine.connect() as connection:
        if not inspect(connection).has_table("feed_entry"):
            return False
        return connection.execute(text("SELECT 1 FROM feed_entry LIMIT 1")).first() is not None


def check_at_start(app: Flask) -> None:
    """Load the keys as a process starts, so a node missing them refuses to start at all."""
    try:
        node_keys(app)
    except OperationalError:
        app.logger.warning("database not reachable: the node's keys are checked at first use")


def ballot_key(app: Flask | None = None) -> bytes:
    """Return the key that hashes who has voted, loading (or making) it once per process."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("branchline_ballot_key")
    if found is None:
        value = app.config.get("BALLOT_KEY") or load_or_create_secret(
            Path(app.instance_path), BALLOT_KEY
        )
        found = app.extensions["branchline_ballot_key"] = str(value).encode()
    return found
