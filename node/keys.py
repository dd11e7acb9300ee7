"""This node's own keys: RSA for HTTP signatures, Ed25519 for feed proofs, the ballot key.

The key pairs live in the instance folder's ``keys/`` (owner-only), are made by
``branchline init`` (or on first use by a node set up before keys existed), and are read
once per process. The ballot key (``BRANCHLINE_BALLOT_KEY``, or ``ballot_key`` generated in
the instance folder) hashes who has voted: it is kept apart from ``SECRET_KEY`` so that
changing the one that signs sessions never lets a member who left and came back vote again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from flask import Flask, current_app

from federation import keys as keyfiles

from .config import ensure_private_dir, load_or_create_secret

HTTP_KEY = "http-rsa.pem"
PROOF_KEY = "proof-ed25519.pem"
BALLOT_KEY = "ballot_key"
# Which keys are current: 1 until the first rotation (node.key_rotation writes it).
GENERATION = "generation"


@dataclass(frozen=True)
class NodeKeys:
    http: rsa.RSAPrivateKey
    proof: ed25519.Ed25519PrivateKey
    generation: int = 1

    @property
    def http_fragment(self) -> str:
        return key_fragments(self.generation)[0]

    @property
    def proof_fragment(self) -> str:
        return key_fragments(self.generation)[1]

    @property
    def http_public_pem(self) -> str:
        return keyfiles.public_key_to_pem(self.http.public_key())

    @property
    def proof_multikey(self) -> str:
        return keyfiles.ed25519_public_key_to_multikey(self.proof.public_key())


def key_fragments(generation: int) -> tuple[str, str]:
    """Return the actor-document fragments of a generation's RSA and Ed25519 keys."""
    if generation == 1:
        return "main-key", "ed25519-key"  # the names every node had before rotations
    return f"main-key-{generation}", f"ed25519-key-{generation}"


def current_generation(folder: Path) -> int:
    """Return the generation of the keys in ``folder`` (1 until the first rotation)."""
    try:
        return int((folder / GENERATION).read_text().strip())
    except FileNotFoundError:
        return 1


def _generation_stamp(instance: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(instance / "keys" / GENERATION)
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


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


def load_or_create(instance: Path) -> NodeKeys:
    """Read the node's keys from ``instance/keys``, generating any that are missing."""
    folder = ensure_private_dir(instance / "keys")
    http = _load_or_make(folder / HTTP_KEY, keyfiles.generate_rsa_key)
    proof = _load_or_make(folder / PROOF_KEY, keyfiles.generate_ed25519_key)
    if not isinstance(http, rsa.RSAPrivateKey) or not isinstance(proof, ed25519.Ed25519PrivateKey):
        raise RuntimeError(f"unexpected key types in {folder}")
    return NodeKeys(http=http, proof=proof, generation=current_generation(folder))


def node_keys(app: Flask | None = None) -> NodeKeys:
    """Return this node's keys, loading them once per process and again after a rotation."""
    app = app or current_app._get_current_object()
    found = app.extensions.get("branchline_keys")
    # A rotation (``branchline keys rotate``, another process) replaces the generation
    # file: a running node must sign with the new keys from then on.
    stamp = _generation_stamp(Path(app.instance_path))
    if found is None or app.extensions.get("branchline_keys_stamp") != stamp:
        found = app.extensions["branchline_keys"] = load_or_create(Path(app.instance_path))
        app.extensions["branchline_keys_stamp"] = stamp
    return found


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
