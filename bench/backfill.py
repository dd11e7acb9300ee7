"""A follower back-filling a peer's whole feed from its outbox: entries verified and stored/s.

    .venv/bin/python bench/backfill.py [--entries 10000] [--page-size 100]

The peer is a local server on 127.0.0.1 (its own process) serving outbox pages
(``?after=SEQ&limit=N``) of entries built and signed with federation.feed. The follower is
a throwaway node (SQLite, a temporary folder) that follows the peer; the clock runs over
one ``node.services.peering.sync.catch_up``, which fetches every page through the guarded client
and hands each entry to the inbox's apply_entry: proof, chain link and store. Target:
>= 1,000 entries/s. Exits 1 if the target is missed or not every entry was stored.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from federation import feed, keys  # noqa: E402

TARGET = 1000.0
ACTIVITY_JSON = "application/activity+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_feed(actor: str, size: int, key: Any) -> list[bytes]:
    """Return the canonical bytes of ``size`` chained, signed entries (as an outbox serves)."""
    entries, previous = [], None
    created = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    base = actor.rsplit("/", 1)[0]
    for seq in range(1, size + 1):
        activity = {
            "id": f"{base}/outbox/{seq}",
            "type": "Create",
            "actor": actor,
            "object": {
                "id": f"{base}/events/{seq}",
                "type": "Event",
                "name": f"Door knocking, round {seq}",
                "startTime": "2031-05-01T18:00:00Z",
                "attributedTo": actor,
                "published": "2030-01-01T10:00:00Z",
            },
        }
        previous = feed.build_entry(
            activity,
            seq=seq,
            previous=previous,
            signing_key=key,
            verification_method=f"{actor}#ed25519-key",
            created=created,
        )
        entries.append(feed.serialize_entry(previous))
    return entries


def serve_outbox(port: int, actor: str, entries: list[bytes], ready: Any) -> None:
    outbox = actor.rsplit("/", 1)[0] + "/outbox"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as separate writes; without this the body waits for the
        # client's delayed ACK (40 ms) on a kept connection, which no real server makes it do.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            if parts.path.endswith("/outbox"):
                body = self._page(parse_qs(parts.query))
            elif parts.path.endswith("/actor"):
                body = json.dumps({"id": actor, "type": "Group", "feedHead": {"seq": len(entries)}})
                body = body.encode()
            else:
                body = b""
            self.send_response_only(200 if body else 404)
            self.send_header("Content-Type", ACTIVITY_JSON)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _page(self, query: dict[str, list[str]]) -> bytes:
            after = int(query.get("after", ["0"])[0])
            limit = min(int(query.get("limit", ["100"])[0]), 500)
            head = {
                "id": f"{outbox}?after={after}&limit={limit}",
                "type": "OrderedCollectionPage",
                "partOf": {"id": outbox, "type": "OrderedCollection", "totalItems": len(entries)},
            }
            if after + limit < len(entries):
                head["next"] = f"{outbox}?after={after + limit}&limit={limit}"
            # Entries go out byte for byte as signed, as a Branchline outbox serves them.
            items = b",".join(entries[after : after + limit])
            return json.dumps(head)[:-1].encode() + b',"orderedItems":[' + items + b"]}"

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.put(True)
    server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()

    peer_port = free_port()
    actor = f"http://127.0.0.1:{peer_port}/actor"
    key = keys.generate_ed25519_key()
    print(f"signing {args.entries} entries ...", flush=True)
    entries = build_feed(actor, args.entries, key)

    ctx = multiprocessing.get_context("fork")
    ready = ctx.Queue()
    peer = ctx.Process(target=serve_outbox, args=(peer_port, actor, entries, ready), daemon=True)
    peer.start()
    ready.get(timeout=10)
    try:
        with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
            report, elapsed, stored = follow_and_backfill(Path(tmp), actor, key, args.page_size)
    finally:
        peer.terminate()
        peer.join()

    rate = report.applied / elapsed
    verdict = "met" if rate >= TARGET else "MISSED"
    print(f"pages: {report.pages}, applied: {report.applied}, stored: {stored} in {elapsed:.2f} s")
    if not report.ok:
        print(f"stopped early: {report.refused or report.error or report.skipped}")
    print(f"entries/s: {rate:,.0f}  (target >= {TARGET:,.0f}: {verdict})")
    return 0 if rate >= TARGET and report.ok and stored == args.entries else 1


def follow_and_backfill(folder: Path, actor: str, key: Any, page_size: int):
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from node import create_app
    from node.extensions import db
    from node.models import Following, Peer, RemoteEntry
    from node.services import groups
    from node.services.peering import sync

    app = create_app(
        {
            "INSTANCE_PATH": str(folder / "instance"),
            "SECRET_KEY": "bench-secret-key",
            "BASE_URL": "http://127.0.0.1:5000",
            "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
            "SYNC_PAGE_SIZE": page_size,
        }
    )
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        groups.set_up(
            {
                "name": "Leeds North",
                "handle": "leedsnorth",
                "base_url": "http://127.0.0.1:5000",
                "admin_email": "admin@example.org",
                "admin_name": "Admin",
                "password": "bench admin passphrase",
            }
        )
        multikey = keys.ed25519_public_key_to_multikey(key.public_key())
        base = actor.rsplit("/", 1)[0]
        # The peer as resolving its actor would store it; its keys are what matters here.
        peer = Peer(
            actor_id=actor,
            handle=f"acct:branch@{urlsplit(actor).netloc}",
            is_branchline=True,
            outbox=f"{base}/outbox",
            inbox=f"{base}/inbox",
            assertion_keys=json.dumps({f"{actor}#ed25519-key": multikey}),
        )
        db.session.add(peer)
        db.session.flush()
        db.session.add(
            Following(peer_id=peer.id, state="accepted", follow_activity_id=f"{actor}#f")
        )
        db.session.commit()
        from node.keys import node_keys

        node_keys()  # made before the clock starts: key generation is not back-filling

        started = time.perf_counter()
        report = sync.catch_up(peer)
        elapsed = time.perf_counter() - started
        stored = db.session.scalar(select(func.count(RemoteEntry.id))) or 0
        db.session.remove()
        db.engine.dispose()
    return report, elapsed, stored


if __name__ == "__main__":
    sys.exit(main())
