"""An aggregator ingesting 1,000 groups x 100 signed entries, then answering the national view.

    .venv/bin/python bench/aggregate.py [--groups 1000] [--entries 100] [--database-url URL]
                                        [--queries 300] [--pullers 2] [--keep DIR]

1. Generates the groups' feeds (federation.feed.build_entry: every entry signed with its
   group's Ed25519 key and chained; events, campaigns, candidates and news, with places and
   seat figures spread over Great Britain) and serves them from one local HTTP server on
   127.0.0.1 (its own process): each group's actor document and its paged outbox.
2. A throwaway aggregator node (SQLite in a temporary folder, or the PostgreSQL database
   --database-url names, emptied first) lists every group (directory.add, without back-fill),
   then, timed: --pullers processes (one per core by default) each make the passes a
   `branchline worker` makes (node/worker.py) until none finds a group due: each pass claims
   the groups due and pulls each whole feed with sync.catch_up (each proof and the chain
   verified, entries stored verbatim, objects brought up to date) and admits entries to the
   combined feed; a last process admits what is left and counts. Every step runs in its own
   process; the peak memory reported is the largest of them.
3. Serves the aggregator with gunicorn (deploy/gunicorn.conf.py, one worker) and times
   /api/v1/network/events?near=…&within=… and /api/v1/network/needed?near=… from random
   places, one request at a time: p50 and p99.

Targets: ingest >= 1,000 entries/s; both queries p99 < 50 ms; aggregator peak memory
< 500 MB. Exits 1 if one is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gunicorn_server  # noqa: E402 - beside this script
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from federation import feed, keys  # noqa: E402

INGEST_TARGET = 1000.0
P99_TARGET_MS = 50.0
MEMORY_TARGET_MB = 500.0
ACTIVITY_JSON = "application/activity+json"
PAGE_LIMIT = 500
KINDS = ("canvass", "phonebank", "street_stall", "listening_session", "meeting", "picket")
OFFICES = ("council_ward", "parliamentary_seat", "mayor")
# Great Britain, roughly: where the groups and their events are.
LATITUDES, LONGITUDES = (50.2, 57.5), (-4.5, 1.6)


# --- The groups' feeds ------------------------------------------------------------------


def proof_key(n: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench group %d" % n).digest())


def group_place(n: int) -> tuple[float, float]:
    rng = random.Random(n)
    return rng.uniform(*LATITUDES), rng.uniform(*LONGITUDES)


def actor_document(base: str, n: int, http_pem: str) -> dict[str, Any]:
    actor = f"{base}/g/{n}/actor"
    lat, lon = group_place(n)
    rng = random.Random(n)
    return {
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            "https://w3id.org/security/data-integrity/v1",
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/multikey/v1",
            feed.extension_terms(),
        ],
        "id": actor,
        "type": "Group",
        "preferredUsername": f"group{n}",
        "name": f"Bench Group {n}",
        "url": f"{base}/g/{n}/",
        "inbox": f"{base}/g/{n}/inbox",
        "outbox": f"{base}/g/{n}/outbox",
        "followers": f"{base}/g/{n}/followers",
        "endpoints": {"sharedInbox": f"{base}/g/{n}/inbox"},
        "area": f"Area {n % 97}",
        "seat": f"Seat {n}",
        "seatMajority": rng.randint(50, 25_000),
        "seatMarginality": round(rng.uniform(0.2, 40.0), 1),
        "location": {"type": "Place", "name": f"Area {n % 97}", "latitude": lat, "longitude": lon},
        "publicKey": {"id": f"{actor}#main-key", "owner": actor, "publicKeyPem": http_pem},
        "assertionMethod": [
            {
                "id": f"{actor}#ed25519-key",
                "type": "Multikey",
                "controller": actor,
                "publicKeyMultibase": keys.ed25519_public_key_to_multikey(
                    proof_key(n).public_key()
                ),
            }
        ],
    }


def _object(base: str, n: int, k: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    actor = f"{base}/g/{n}/actor"
    common = {"attributedTo": actor, "published": "2030-01-01T10:00:00Z"}
    roll = rng.random()
    if roll < 0.6:
        lat, lon = group_place(n)
        start = now + timedelta(days=rng.uniform(1, 90))
        return {
            "id": f"{base}/g/{n}/events/{k}",
            "type": "Event",
            "name": f"{rng.choice(KINDS).replace('_', ' ').title()} {k}",
            "kind": rng.choice(KINDS),
            "startTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "location": {
                "type": "Place",
                "name": "Meeting point",
                "latitude": round(lat + rng.uniform(-0.1, 0.1), 5),
                "longitude": round(lon + rng.uniform(-0.1, 0.1), 5),
            },
            **common,
        }
    if roll < 0.75:
        return {
            "id": f"{base}/g/{n}/campaigns/{k}",
            "type": "Campaign",
            "name": f"Campaign {k}",
            "kind": rng.choice(("election", "community", "union_solidarity")),
            "status": rng.choice(("planned", "active", "won", "lost")),
            **common,
        }
    if roll < 0.85:
        stage = rng.choice(("selected", "elected", "defeated"))
        return {
            "id": f"{base}/g/{n}/candidates/{k}",
            "type": "Candidate",
            "name": f"Candidate {k}",
            "office": rng.choice(OFFICES),
            "stage": stage,
            "endorsement": rng.choice(("endorsed", "endorsed", "none")),
            **common,
        }
    return {
        "id": f"{base}/g/{n}/posts/{k}",
        "type": "Note",
        "name": f"News {k}",
        "content": "<p>What we did this week.</p>",
        **common,
    }


def group_feed(args: tuple[str, int, int]) -> list[bytes]:
    """Return group ``n``'s ``count`` signed, chained entries as their canonical bytes."""
    base, n, count = args
    rng = random.Random(n * 7919)
    key, actor = proof_key(n), f"{base}/g/{n}/actor"
    now, created = datetime.now(UTC), datetime(2030, 1, 1, tzinfo=UTC)
    entries, previous = [], None
    for seq in range(1, count + 1):
        activity = {
            "id": f"{base}/g/{n}/outbox/{seq}",
            "type": "Create",
            "actor": actor,
            "object": _object(base, n, seq, rng, now),
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


def generate(port: int, groups: int, entries: int) -> list[list[bytes]]:
    """Every group's feed, signed on every core."""
    base = f"http://127.0.0.1:{port}"
    with multiprocessing.get_context("fork").Pool() as pool:
        return pool.map(group_feed, [(base, n, entries) for n in range(groups)], chunksize=20)


def serve_groups(port: int, feeds: list[list[bytes]], ready: Any) -> None:
    """Serve the groups' actors and outboxes on 127.0.0.1:``port``."""
    base = f"http://127.0.0.1:{port}"
    http_pem = keys.public_key_to_pem(keys.generate_rsa_key().public_key())
    actors = {n: json.dumps(actor_document(base, n, http_pem)).encode() for n in range(len(feeds))}
    context = json.dumps(feed.entry_context()).encode()

    def outbox(n: int, query: dict[str, list[str]]) -> bytes:
        url = f"{base}/g/{n}/outbox"
        if "after" not in query:
            return json.dumps(
                {
                    "@context": json.loads(context),
                    "id": url,
                    "type": "OrderedCollection",
                    "totalItems": len(feeds[n]),
                    "first": f"{url}?after=0",
                }
            ).encode()
        after = int(query["after"][0])
        limit = min(int(query.get("limit", ["100"])[0]), PAGE_LIMIT)
        items = feeds[n][after : after + limit]
        more = after + limit < len(feeds[n])
        head = (
            b'{"@context":' + context + b',"id":"' + f"{url}?after={after}".encode() + b'",'
            b'"type":"OrderedCollectionPage","partOf":"' + url.encode() + b'",'
            b'"totalItems":' + str(len(feeds[n])).encode() + b","
        )
        tail = f',"next":"{url}?after={after + limit}&limit={limit}"' if more else ""
        return head + b'"orderedItems":[' + b",".join(items) + b"]" + tail.encode() + b"}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as separate writes; without this the body waits for the
        # client's delayed ACK (40 ms) on a kept connection, which no real server makes it do.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def _send(self, status: int, body: bytes) -> None:
            self.send_response_only(status)
            self.send_header("Content-Type", ACTIVITY_JSON)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            segments = parts.path.strip("/").split("/")
            try:
                n = int(segments[1])
                if segments[0] != "g" or n not in actors:
                    raise ValueError
            except (IndexError, ValueError):
                return self._send(404, b"{}")
            if segments[2:] == ["actor"]:
                return self._send(200, actors[n])
            if segments[2:] == ["outbox"]:
                return self._send(200, outbox(n, parse_qs(parts.query)))
            return self._send(404, b"{}")

        def do_POST(self) -> None:  # noqa: N802 - the aggregator's Follow: accepted, ignored
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(202, b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.put(True)
    server.serve_forever()


# --- The aggregator ---------------------------------------------------------------------


def node_settings(instance: Path, port: int, database_url: str | None) -> dict[str, str]:
    settings = {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "bench-secret-key",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
        "ROLE": "aggregator",
        "SYNC_PAGE_SIZE": str(PAGE_LIMIT),
    }
    if database_url:
        settings["DATABASE_URL"] = database_url
    return settings


def empty_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def prepare(settings: dict[str, str], actors: list[str], out: Any) -> None:
    """In a child process: set the aggregator up and list every group (timed)."""
    from flask_migrate import upgrade

    from node import create_app
    from node.extensions import db
    from node.services import groups
    from node.services.aggregator import directory

    app = create_app(settings)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        groups.set_up(
            {
                "name": "National Office",
                "handle": "national",
                "base_url": settings["BASE_URL"],
                "admin_email": "admin@example.org",
                "admin_name": "Admin",
                "password": "bench admin passphrase",
            }
        )
        began = time.perf_counter()
        for actor in actors:
            directory.add(actor, backfill=False)
        listed = time.perf_counter() - began
        db.session.remove()
        db.engine.dispose()
    out.put({"listed_s": listed, "peak_mb": _peak_mb()})


def pull(settings: dict[str, str], start: Any, out: Any) -> None:
    """In a child process: what a `branchline worker` does, pass after pass, until a pass
    finds no group due (each pass claims due groups, so workers share them out)."""
    from node import create_app
    from node.worker import Worker

    worker = Worker(create_app(settings))
    start.wait()
    polled = 0
    while True:
        report = worker.run_once()
        polled += report.polled
        if not report.polled:
            break
    out.put({"polled": polled, "peak_mb": _peak_mb()})


def tally(settings: dict[str, str], out: Any) -> None:
    """In a child process: admit what is left to the combined feed, then count (timed)."""
    from sqlalchemy import func, select

    from node import create_app
    from node.extensions import db
    from node.models import Peer, RemoteEntry
    from node.services.aggregator import combined_feed

    app = create_app(settings)
    with app.app_context():
        while combined_feed.admit():
            pass
        stored = db.session.scalar(select(func.count(RemoteEntry.id))) or 0
        problems = [
            f"{peer.actor_id}: {peer.state} {peer.state_reason}"
            for peer in db.session.scalars(select(Peer).where(Peer.state != "in_step"))
        ]
        served = combined_feed.total()
        db.session.remove()
        db.engine.dispose()
    out.put({"stored": stored, "served": served, "refused": problems[:5], "peak_mb": _peak_mb()})


def ingest(ctx: Any, settings: dict[str, str], actors: list[str], pullers: int) -> dict:
    """List the groups, then time ``pullers`` worker processes pulling every feed and the
    combined feed admitting it all."""
    out = ctx.Queue()
    child = ctx.Process(target=prepare, args=(settings, actors, out))
    child.start()
    prepared = out.get(timeout=3600)
    child.join()
    start = ctx.Event()
    workers = [ctx.Process(target=pull, args=(settings, start, out)) for _ in range(pullers)]
    for process in workers:
        process.start()
    time.sleep(2)  # let each load the app before the clock starts
    began = time.perf_counter()
    start.set()
    pulled = [out.get(timeout=3600) for _ in workers]
    for process in workers:
        process.join()
    child = ctx.Process(target=tally, args=(settings, out))
    child.start()
    tallied = out.get(timeout=3600)
    child.join()
    elapsed = time.perf_counter() - began
    return {
        **tallied,
        "listed_s": prepared["listed_s"],
        "elapsed": elapsed,
        "polled": sum(result["polled"] for result in pulled),
        "peak_mb": max(result["peak_mb"] for result in (prepared, *pulled, tallied)),
    }


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_queries(port: int, count: int) -> dict[str, list[float]]:
    rng = random.Random(42)
    paths = {
        "events near a place": "/api/v1/network/events?near={lat:.4f},{lon:.4f}&within=25",
        "where am I needed": "/api/v1/network/needed?near={lat:.4f},{lon:.4f}",
    }
    timings: dict[str, list[float]] = {name: [] for name in paths}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for name, template in paths.items():
        for i in range(count + 10):
            path = template.format(lat=rng.uniform(*LATITUDES), lon=rng.uniform(*LONGITUDES))
            began = time.perf_counter()
            conn.request("GET", path, headers={"Accept": "application/json"})
            response = conn.getresponse()
            body = response.read()
            took = (time.perf_counter() - began) * 1000
            if response.status != 200:
                raise SystemExit(f"{path} answered {response.status}: {body[:300]!r}")
            if i >= 10:  # the first few warm the worker up
                timings[name].append(took)
    conn.close()
    return timings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=100, help="entries per group")
    parser.add_argument("--database-url", help="PostgreSQL to use (emptied first)")
    parser.add_argument("--queries", type=int, default=300, help="requests per query kind")
    parser.add_argument("--keep", help="build the aggregator in this folder and keep it")
    parser.add_argument(
        "--pullers", type=int, default=2, help="branchline worker processes pulling the feeds"
    )
    args = parser.parse_args()

    ctx = multiprocessing.get_context("fork")
    feeds_port, node_port = gunicorn_server.free_port(), gunicorn_server.free_port()
    print(f"generating {args.groups} x {args.entries} signed entries ...", flush=True)
    began = time.perf_counter()
    feeds = generate(feeds_port, args.groups, args.entries)
    total = sum(len(entries) for entries in feeds)
    print(f"  {total} entries in {time.perf_counter() - began:.0f} s", flush=True)
    ready = ctx.Queue()
    server = ctx.Process(target=serve_groups, args=(feeds_port, feeds, ready), daemon=True)
    server.start()
    ready.get(timeout=60)
    del feeds
    actors = [f"http://127.0.0.1:{feeds_port}/g/{n}/actor" for n in range(args.groups)]
    database = "PostgreSQL" if args.database_url else "SQLite"
    try:
        with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
            tmp = args.keep or tmp
            if args.database_url:
                empty_postgres(args.database_url)
            settings = node_settings(Path(tmp) / "instance", node_port, args.database_url)
            result = ingest(ctx, settings, actors, args.pullers)
            log = Path(tmp) / "gunicorn.log"
            node = gunicorn_server.start_gunicorn(settings, node_port, log, workers=1, threads=1)
            try:
                gunicorn_server.wait_until_answering(node, node_port, log, "/api/v1/network/events")
                timings = time_queries(node_port, args.queries)
            finally:
                gunicorn_server.stop(node)
    finally:
        server.terminate()
        server.join()

    rate = result["stored"] / result["elapsed"]
    ok = rate >= INGEST_TARGET and result["peak_mb"] < MEMORY_TARGET_MB
    ok = ok and result["stored"] == total == result["served"] and not result["refused"]
    print(f"aggregator on {database}: {args.groups} groups listed in {result['listed_s']:.1f} s")
    print(f"pulled by {args.pullers} worker processes ({result['polled']} group pulls)")
    print(gunicorn_server.machine_speed())
    print(
        f"ingest: {result['stored']} of {total} entries verified and stored in "
        f"{result['elapsed']:.1f} s, {result['served']} in the combined feed: {rate:,.0f}/s "
        f"(target >= {INGEST_TARGET:,.0f}: {'met' if rate >= INGEST_TARGET else 'MISSED'})"
    )
    if result["refused"]:
        print("refused:", *result["refused"], sep="\n  ")
    memory_ok = result["peak_mb"] < MEMORY_TARGET_MB
    print(
        f"aggregator peak memory: {result['peak_mb']:.0f} MB "
        f"(target < {MEMORY_TARGET_MB:.0f}: {'met' if memory_ok else 'MISSED'})"
    )
    for name, values in timings.items():
        p50, p99 = percentile(values, 50), percentile(values, 99)
        met = p99 < P99_TARGET_MS
        ok = ok and met
        print(
            f"{name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean {statistics.mean(values):.1f} ms "
            f"over {len(values)} requests (target p99 < {P99_TARGET_MS:.0f}: "
            f"{'met' if met else 'MISSED'})"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
