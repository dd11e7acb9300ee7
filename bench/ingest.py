"""Signed feed entries accepted per second by one node's inbox over HTTP (gunicorn, SQLite).

    .venv/bin/python bench/ingest.py [--entries 3000] [--senders 4] [--workers N] [--threads 1]
                                     [--keep-alive]

Builds a throwaway node (SQLite, a temporary folder) served by gunicorn with
deploy/gunicorn.conf.py on a free 127.0.0.1 port, with that file's defaults (sync
workers: one per core, 2 to 8) unless told otherwise. Fake followed
peers live on a local server on 127.0.0.1 (its own process) that serves their actor
documents, so the node fetches their keys as it would in the field; the node follows them
(Following rows set up through its own services). Each concurrent sender is one peer
pushing its own run of signed entries (federation.feed.build_entry) as Create activities,
in order, each POST signed (federation.httpsig.sign_request): a feed's entries must arrive
in order, so concurrency comes from several peers at once. Requests are built and signed
before the clock starts: the sender's cost is not the node's.

Each request comes on its own connection by default, as sync workers (the deploy default)
take them: a sync worker answers one request and closes, so any worker may take the next.
--keep-alive asks for one connection per peer; it matters only with --threads above 1
(gthread workers), whose workers do not share connections out, so the figure then depends
on how the four connections happened to land (two on one worker halve those peers' rate).

Counts an entry accepted when the inbox answered 202 and checks afterwards that the node
stored every one. Reports accepted/s, p50/p99 latency and the CPU the node's processes spent
per accepted entry (the figure to watch on a machine busy with other work). Target:
>= 300/s. Exits 1 if the target is missed or anything was refused.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gunicorn_server  # noqa: E402 - beside this script

from federation import feed, keys  # noqa: E402
from federation.httpsig import sign_request  # noqa: E402

TARGET = 300.0
# What deploy/gunicorn.conf.py gives a self-hoster on this machine unless told otherwise.
DEFAULT_WORKERS = gunicorn_server.DEFAULT_WORKERS
DEFAULT_THREADS = 1
ACTIVITY_JSON = "application/activity+json"


# --- The fake peers ---------------------------------------------------------------------


class FakePeer:
    """A Branchline group at http://127.0.0.1:PORT/peers/N, with its two key pairs."""

    def __init__(self, port: int, n: int) -> None:
        self.base = f"http://127.0.0.1:{port}/peers/{n}"
        self.actor = f"{self.base}/actor"
        self.http_key = keys.generate_rsa_key()
        self.proof_key = keys.generate_ed25519_key()

    def actor_document(self) -> dict[str, Any]:
        return {
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1",
                "https://w3id.org/security/data-integrity/v1",
                "https://w3id.org/security/multikey/v1",
                feed.extension_terms(),
            ],
            "id": self.actor,
            "type": "Group",
            "preferredUsername": self.base.rsplit("/", 1)[1],
            "name": f"Peer {self.base}",
            "inbox": f"{self.base}/inbox",
            "outbox": f"{self.base}/outbox",
            "publicKey": {
                "id": f"{self.actor}#main-key",
                "owner": self.actor,
                "publicKeyPem": keys.public_key_to_pem(self.http_key.public_key()),
            },
            "assertionMethod": [
                {
                    "id": f"{self.actor}#ed25519-key",
                    "type": "Multikey",
                    "controller": self.actor,
                    "publicKeyMultibase": keys.ed25519_public_key_to_multikey(
                        self.proof_key.public_key()
                    ),
                }
            ],
        }

    def requests(self, count: int, inbox: str) -> list[tuple[bytes, dict[str, str]]]:
        """Build ``count`` chained entries as signed POSTs to ``inbox``: (body, headers)."""
        built, previous = [], None
        now = datetime.now(UTC)
        for seq in range(1, count + 1):
            activity = {
                "id": f"{self.base}/outbox/{seq}",
                "type": "Create",
                "actor": self.actor,
                "object": {
                    "id": f"{self.base}/events/{seq}",
                    "type": "Event",
                    "name": f"Door knocking, round {seq}",
                    "startTime": "2031-05-01T18:00:00Z",
                    "attributedTo": self.actor,
                    "published": "2030-01-01T10:00:00Z",
                },
            }
            previous = feed.build_entry(
                activity,
                seq=seq,
                previous=previous,
                signing_key=self.proof_key,
                verification_method=f"{self.actor}#ed25519-key",
                created=now,
            )
            body = feed.serialize_entry(previous)
            headers = sign_request(
                "POST",
                inbox,
                {"Content-Type": ACTIVITY_JSON},
                body,
                f"{self.actor}#main-key",
                self.http_key,
                now,
            )
            built.append((body, headers))
        return built


def serve_actors(port: int, documents: dict[str, bytes], ready: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as separate writes; without this the body waits for the
        # client's delayed ACK (40 ms) on a kept connection, which no real server makes it do.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = documents.get(self.path.partition("?")[0])
            self.send_response_only(200 if body else 404)
            self.send_header("Content-Type", ACTIVITY_JSON)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.put(True)
    server.serve_forever()


# --- The node ---------------------------------------------------------------------------


def node_settings(instance: Path, port: int) -> dict[str, str]:
    return {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret-key",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
    }


def set_up(settings: dict[str, str], actors: list[str]) -> None:
    """Make the group and follow each peer, fetching its actor as the node would."""
    from flask_migrate import upgrade

    from node import create_app
    from node.extensions import db
    from node.models import Following
    from node.services import groups
    from node.services.peering import peers

    app = create_app(settings)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        groups.set_up(
            {
                "name": "Leeds North",
                "handle": "leedsnorth",
                "base_url": settings["BASE_URL"],
                "admin_email": "admin@example.org",
                "admin_name": "Admin",
                "password": "bench admin passphrase",
            }
        )
        for n, actor in enumerate(actors):
            peer = peers.refresh(actor)
            db.session.add(
                Following(
                    peer_id=peer.id,
                    state="accepted",
                    follow_activity_id=f"{settings['BASE_URL']}/follows/{n}",
                )
            )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def stored_entries(settings: dict[str, str]) -> tuple[int, dict[str, str]]:
    from sqlalchemy import func, select

    from node import create_app
    from node.extensions import db
    from node.models import Peer, RemoteEntry

    app = create_app(settings)
    with app.app_context():
        count = db.session.scalar(select(func.count(RemoteEntry.id))) or 0
        states = {
            p.actor_id: f"{p.state} {p.state_reason}".strip()
            for p in db.session.scalars(select(Peer))
        }
        db.engine.dispose()
    return count, states


# --- The load ---------------------------------------------------------------------------


def sender(
    port: int,
    requests: list[tuple[bytes, dict[str, str]]],
    keep_alive: bool,
    start: Any,
    out: Any,
) -> None:
    """One peer: its entries in order, each on a new connection or all on one; report latencies."""
    latencies: list[float] = []
    refused: list[str] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start.wait()
    for body, headers in requests:
        began = time.perf_counter()
        try:
            conn.request("POST", "/inbox", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException) as error:
            refused.append(f"{type(error).__name__}: {error}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if not keep_alive:
            conn.close()  # the next request connects again, and any worker may accept it
        if response.status == 202 and json.loads(answer).get("status") == "applied":
            latencies.append(time.perf_counter() - began)
        else:
            refused.append(f"{response.status} {answer[:200]!r}")
    conn.close()
    out.put((latencies, refused))


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=3000, help="entries in all")
    parser.add_argument("--senders", type=int, default=4, help="concurrent peers")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="threads each")
    parser.add_argument(
        "--keep-alive",
        action="store_true",
        help="each peer sends everything over one connection (default: one per request)",
    )
    args = parser.parse_args()
    each = max(1, args.entries // args.senders)

    node_port, peer_port = gunicorn_server.free_port(), gunicorn_server.free_port()
    inbox = f"http://127.0.0.1:{node_port}/inbox"
    print(f"signing {each * args.senders} entries from {args.senders} peers ...", flush=True)
    peers = [FakePeer(peer_port, n) for n in range(args.senders)]
    documents = {
        f"/peers/{n}/actor": json.dumps(peer.actor_document()).encode()
        for n, peer in enumerate(peers)
    }
    batches = [peer.requests(each, inbox) for peer in peers]

    ctx = multiprocessing.get_context("fork")
    ready = ctx.Queue()
    actors = ctx.Process(target=serve_actors, args=(peer_port, documents, ready), daemon=True)
    actors.start()
    ready.get(timeout=10)
    try:
        with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
            settings = node_settings(Path(tmp) / "instance", node_port)
            set_up(settings, [peer.actor for peer in peers])
            log = Path(tmp) / "gunicorn.log"
            server = gunicorn_server.start_gunicorn(
                settings, node_port, log, workers=args.workers, threads=args.threads
            )
            try:
                gunicorn_server.wait_until_answering(
                    server, node_port, log, "/.well-known/nodeinfo"
                )
                start, out = ctx.Event(), ctx.Queue()
                senders = [
                    ctx.Process(target=sender, args=(node_port, batch, args.keep_alive, start, out))
                    for batch in batches
                ]
                for process in senders:
                    process.start()
                cpu_before = gunicorn_server.cpu_seconds(server)
                began = time.perf_counter()
                start.set()
                results = [out.get(timeout=600) for _ in senders]
                elapsed = time.perf_counter() - began
                server_cpu = gunicorn_server.cpu_seconds(server) - cpu_before
                for process in senders:
                    process.join()
            finally:
                gunicorn_server.stop(server)
            stored, states = stored_entries(settings)
            server_log = log.read_text(errors="replace")
    finally:
        actors.terminate()
        actors.join()

    latencies = sorted(t for done, _ in results for t in done)
    refused = [reason for _, failed in results for reason in failed]
    rate = len(latencies) / elapsed
    verdict = "met" if rate >= TARGET else "MISSED"
    print(
        f"gunicorn: {args.workers} "
        + (f"gthread workers x {args.threads} threads" if args.threads > 1 else "sync workers")
        + f" on 127.0.0.1:{node_port}; {args.senders} concurrent peers, "
        + ("one keep-alive connection each" if args.keep_alive else "a connection per request")
    )
    print(f"accepted (202, applied): {len(latencies)} in {elapsed:.2f} s; refused: {len(refused)}")
    print(f"stored by the node: {stored}")
    print(f"latency p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms")
    if latencies:
        print(f"node CPU per accepted entry: {server_cpu / len(latencies) * 1000:.2f} ms")
    print(f"accepted/s: {rate:.0f}  (target >= {TARGET:.0f}: {verdict})")
    print(gunicorn_server.machine_speed())
    if refused:
        print("first refusals:", *refused[:5], sep="\n  ")
        print("peer states:", *states.values(), sep="\n  ")
        print(server_log[-2000:])
    ok = rate >= TARGET and not refused and stored == len(latencies)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
