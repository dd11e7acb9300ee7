"""Fixtures for the protocol library: published test keys and documents from tests/data/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from federation.keys import PrivateKey, PublicKey, load_private_key_pem, load_public_key_pem

DATA = Path(__file__).resolve().parent.parent / "data" / "federation"


def private_key(name: str) -> PrivateKey:
    """Load a published private test key from tests/data/federation/."""
    return load_private_key_pem((DATA / f"{name}.key").read_bytes())


def public_key(name: str) -> PublicKey:
    """Load a published public test key from tests/data/federation/."""
    return load_public_key_pem((DATA / f"{name}.pem").read_bytes())


def document(name: str) -> dict[str, Any]:
    """Load a published JSON document from tests/data/federation/."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def serve():
    """Start local HTTP(S) servers on free 127.0.0.1 ports; stop them when the test ends."""
    from tests.federation.local_http import LocalServer

    started: list[LocalServer] = []

    def start(tls=None) -> LocalServer:
        server = LocalServer(tls)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
