"""An aggregator ingesting 1,000 groups x 100 signed entries, then answering the national view.

    .venv/bin/python bench/aggregate.py [--groups 1000] [--entries 100] [--database-url URL]
                                        [--queries 300] [--pullers 2] [--feeds DIR] [--keep DIR]
                                        [--queries-only]

The national target is a million entries on PostgreSQL, two worker processes:

    .venv/bin/python bench/aggregate.py --groups 2000 --entries 500 --feeds /tmp/feeds-1m \
        --database-url postgresql+psycopg://USER@127.0.0.1:PORT/DB

1. Writes the groups' feeds (federation.feed.build_entry: every entry signed with its
   group's Ed25519 key and chained; events, campaigns, candidates and news, with places and
   seat figures spread over Great Britain) to one file per group, from a pool of processes,
   and serves them from one local HTTP server on 127.0.0.1 (its own process), reading a
   group's file when its outbox is asked for: neither the harness nor the aggregator holds
   the feeds (about 3 GB at a million entries). --feeds keeps them for the next run of the
   same size (the entries name the server's port, which is kept with them).
2. A throwaway aggregator node (SQLite in a temporary folder, or the PostgreSQL database
   --database-url names, emptied first) lists every group (directory.add, without back-fill),
   then, timed from when every process has loaded the app: --pullers processes each make the
   passes a `branchline worker` makes (node/worker.py) until none finds a group due: each
   pass claims the groups due and pulls each whole feed with sync.catch_up (each proof and
   the chain verified, entries stored verbatim, objects brought up to date) and admits
   entries to the combined feed; a last process admits what is left and counts.
3. Serves the aggregator with gunicorn (deploy/gunicorn.conf.py, one worker) and times
   /api/v1/network/events?near=…&within=… and /api/v1/network/needed?near=… from random
   places, one request at a time: p50 and p99. --queries-only times them again on what the
   last run left in --database-url, after its migrations.

The aggregator's processes are started afresh (spawn), not forked from the harness, and
their memory is sampled from /proc while they run: the most they held together (PSS summed:
a page two share counts half to each; RSS summed is printed too) and each kind's largest
process. The harness, the feed server and PostgreSQL are not counted. CPU is printed beside
the clock: per entry and per request, in the aggregator's processes and in the PostgreSQL
server (when it runs on this machine): on a shared machine the rates and latencies move
with the load, the CPU much less.

Targets: ingest >= 2,000 entries/s; both queries p99 < 50 ms; aggregator memory < 300 MB.
Exits 1 if one is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
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

INGEST_TARGET = 2000.0
P99_TARGET_MS = 50.0
MEMORY_TARGET_MB = 300.0
ACTIVITY_JSON = "application/activity+json"
# Entries per outbox page: 250 of the bench's (about 3 kB each) stay under the 1 MB a
# response may hold (federation.client); 500 would not.
PAGE_LIMIT = 250
DEADLINE_S = 6 * 3600  # for any one step, at a million entries on a slow machine
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


def write_group_feed(args: tuple[str, int, int, str]) -> int:
    """Write group ``n``'s feed to ``folder/n.jsonl``, one entry a line; return its size."""
    base, n, count, folder = args
    lines = b"\n".join(group_feed((base, n, count)))
    Path(folder, f"{n}.jsonl").write_bytes(lines)
    return len(lines)


def write_feeds(folder: Path, groups: int, entries: int) -> int:
    """Write every group's feed under ``folder`` (or keep what a run with the same sizes
    wrote there, ``--feeds``) and return the port the entries' URLs name.

    The feeds are written by a pool of processes and read back by the feed server a group
    at a time, so neither the harness nor the aggregator's processes ever hold them (at a
    million entries they are about 3 GB).
    """
    folder.mkdir(parents=True, exist_ok=True)
    described = folder / "feeds.json"
    if described.exists():
        kept = json.loads(described.read_text())
        if (kept["groups"], kept["entries"]) == (groups, entries):
            print(f"  reusing the feeds in {folder} (port {kept['port']})", flush=True)
            return int(kept["port"])
        described.unlink()
    port = gunicorn_server.free_port()
    base = f"http://127.0.0.1:{port}"
    work = [(base, n, entries, str(folder)) for n in range(groups)]
    with multiprocessing.get_context("fork").Pool() as pool:
        written = sum(pool.imap_unordered(write_group_feed, work, chunksize=4))
    print(f"  {written / 2**20:,.0f} MB of feeds written", flush=True)
    described.write_text(json.dumps({"groups": groups, "entries": entries, "port": port}))
    return port


def serve_groups(port: int, folder: str, groups: int, ready: Any) -> None:
    """Serve the groups' actors and outboxes on 127.0.0.1:``port``, reading each page's
    entries from the group's file when asked."""
    base = f"http://127.0.0.1:{port}"
    http_pem = keys.public_key_to_pem(keys.generate_rsa_key().public_key())
    context = json.dumps(feed.entry_context()).encode()

    def entries_of(n: int) -> list[bytes]:
        return Path(folder, f"{n}.jsonl").read_bytes().split(b"\n")

    def outbox(n: int, query: dict[str, list[str]]) -> bytes:
        url = f"{base}/g/{n}/outbox"
        held = entries_of(n)
        if "after" not in query:
            return json.dumps(
                {
                    "@context": json.loads(context),
                    "id": url,
                    "type": "OrderedCollection",
                    "totalItems": len(held),
                    "first": f"{url}?after=0",
                }
            ).encode()
        after = int(query["after"][0])
        limit = min(int(query.get("limit", ["100"])[0]), PAGE_LIMIT)
        items = held[after : after + limit]
        more = after + limit < len(held)
        head = (
            b'{"@context":' + context + b',"id":"' + f"{url}?after={after}".encode() + b'",'
            b'"type":"OrderedCollectionPage","partOf":"' + url.encode() + b'",'
            b'"totalItems":' + str(len(held)).encode() + b","
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
                if segments[0] != "g" or not 0 <= n < groups:
                    raise ValueError
            except (IndexError, ValueError):
                return self._send(404, b"{}")
            if segments[2:] == ["actor"]:
                return self._send(200, json.dumps(actor_document(base, n, http_pem)).encode())
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


def database_cpu_s(url: str | None) -> float | None:
    """CPU time used so far by the whole PostgreSQL server ``url`` names, if it runs on this
    machine (Linux): its postmaster, its live processes, and those that ended (whose time
    the postmaster collected when it reaped them). None for SQLite or a remote server."""
    if not url:
        return None
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            backend = conn.scalar(text("SELECT pg_backend_pid()"))
            postmaster = int(_stat(backend)[1])
            fields = _stat(postmaster)
            ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
            ticks += sum(sum(int(v) for v in _stat(pid)[11:13]) for pid in _children(postmaster))
    except (OSError, IndexError, ValueError):
        return None
    finally:
        engine.dispose()
    return ticks / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name: [state, ppid, ...]."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


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
    out.put({"listed_s": listed, "cpu_s": _cpu_s()})


def migrate(settings: dict[str, str]) -> None:
    """In a child process: bring the database a last run left up to date (--queries-only)."""
    from flask_migrate import upgrade

    from node import create_app

    app = create_app(settings)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)


def pull(settings: dict[str, str], ready: Any, start: Any, out: Any) -> None:
    """In a child process: what a `branchline worker` does, pass after pass, until a pass
    finds no group due (each pass claims due groups, so workers share them out)."""
    from node import create_app
    from node.worker import Worker

    worker = Worker(create_app(settings))
    ready.put(True)
    start.wait()
    cpu = _cpu_s()
    polled = 0
    while True:
        report = worker.run_once()
        polled += report.polled
        if not report.polled:
            break
    out.put({"polled": polled, "cpu_s": _cpu_s() - cpu})


def tally(settings: dict[str, str], ready: Any, pulled: Any, out: Any) -> None:
    """In a child process: once the pullers are done, admit what is left to the combined
    feed, then count (timed)."""
    from sqlalchemy import func, select

    from node import create_app
    from node.extensions import db
    from node.models import Peer, RemoteEntry
    from node.services.aggregator import combined_feed

    app = create_app(settings)
    ready.put(True)
    pulled.wait()
    with app.app_context():
        cpu = _cpu_s()
        while combined_feed.admit():
            pass
        admitting = _cpu_s() - cpu
        stored = db.session.scalar(select(func.count(RemoteEntry.id))) or 0
        problems = [
            f"{peer.actor_id}: {peer.state} {peer.state_reason}"
            for peer in db.session.scalars(select(Peer).where(Peer.state != "in_step"))
        ]
        served = combined_feed.total()
        db.session.remove()
        db.engine.dispose()
    out.put({"stored": stored, "served": served, "refused": problems[:5], "cpu_s": admitting})


def _cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


class MemoryWatch:
    """Sample, in a thread, the memory of the aggregator's processes (Linux /proc): the
    processes handed to ``watch`` and their children (a gunicorn master's workers).

    ``peak_total_mb`` is the most they held together at one sample, their proportional
    set sizes summed (PSS: a page two of them share counts half to each, as the machine
    pays for it once); ``peak_rss_total_mb`` the same with resident sizes (pages shared
    count once per process: an upper bound); ``largest`` each kind of process's high-water
    mark (the kernel's VmHWM). The harness, the feed server and PostgreSQL are not counted.
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.roots: dict[int, str] = {}
        self.peak_total_mb = 0.0
        self.peak_rss_total_mb = 0.0
        self.largest: dict[str, float] = {}
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.done.set()
        self.thread.join()

    def watch(self, pid: int, kind: str) -> None:
        """Count ``pid`` (a ``kind`` of process) and, from now on, its children."""
        self.roots[pid] = kind
        self.sample()

    def sample(self) -> None:
        """Read every watched process's memory once."""
        with self.lock:
            pss = rss = 0.0
            for root, kind in list(self.roots.items()):
                for pid in (root, *_children(root)):
                    status = _memory_mb(pid)
                    pss += status.get("Pss", 0.0)
                    rss += status.get("VmRSS", 0.0)
                    high = max(self.largest.get(kind, 0.0), status.get("VmHWM", 0.0))
                    self.largest[kind] = high
            self.peak_total_mb = max(self.peak_total_mb, pss)
            self.peak_rss_total_mb = max(self.peak_rss_total_mb, rss)

    def describe(self) -> str:
        """Say the peaks in one line."""
        largest = ", ".join(f"{kind} {mb:.0f}" for kind, mb in self.largest.items())
        return (
            f"{self.peak_total_mb:.0f} MB at most (PSS summed over its processes; RSS summed "
            f"{self.peak_rss_total_mb:.0f} MB); each kind's largest process (MB): {largest}"
        )

    def _run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()


def _children(pid: int) -> list[int]:
    try:
        return gunicorn_server._children(pid)
    except OSError:
        return []  # exited meanwhile


def _memory_mb(pid: int) -> dict[str, float]:
    found = {}
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return found  # exited meanwhile
    for line in (*status, *rollup):
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "Pss"):
            found[name] = int(value.split()[0]) / 1024
    return found


def _run_child(ctx: Any, memory: MemoryWatch, target: Any, *args: Any) -> Any:
    process = ctx.Process(target=target, args=args)
    process.start()
    memory.watch(process.pid, target.__name__)
    return process


def ingest(ctx: Any, settings: dict[str, str], actors: list[str], pullers: int) -> dict:
    """List the groups, then time ``pullers`` worker processes pulling every feed and the
    combined feed admitting it all, watching the memory of each of these processes."""
    out = ctx.Queue()
    with MemoryWatch() as memory:
        child = _run_child(ctx, memory, prepare, settings, actors, out)
        prepared = out.get(timeout=DEADLINE_S)
        memory.sample()
        child.join()
        ready, start, pulled = ctx.Queue(), ctx.Event(), ctx.Event()
        workers = [
            _run_child(ctx, memory, pull, settings, ready, start, out) for _ in range(pullers)
        ]
        # Started now so that loading it is not timed; counted once it starts its work.
        child = ctx.Process(target=tally, args=(settings, ready, pulled, out))
        child.start()
        for _ in range(pullers + 1):  # each has loaded the app: the clock starts
            ready.get(timeout=600)
        database_began = database_cpu_s(settings.get("DATABASE_URL"))
        began = time.perf_counter()
        start.set()
        done = [out.get(timeout=DEADLINE_S) for _ in workers]
        pulling = time.perf_counter() - began
        memory.sample()
        for process in workers:
            process.join()
        pulled.set()
        memory.watch(child.pid, "tally")
        tallied = out.get(timeout=DEADLINE_S)
        memory.sample()
        child.join()
        elapsed = time.perf_counter() - began
        database_used = database_cpu_s(settings.get("DATABASE_URL"))
    return {
        **tallied,
        "listed_s": prepared["listed_s"],
        "elapsed": elapsed,
        "pulling": pulling,
        "polled": sum(result["polled"] for result in done),
        "cpu_s": sum(result["cpu_s"] for result in done) + tallied["cpu_s"],
        "memory": memory,
        "database_cpu_s": (
            None
            if database_began is None or database_used is None
            else database_used - database_began
        ),
    }


def time_queries(
    port: int, count: int, node: Any, database_url: str | None
) -> dict[str, dict[str, Any]]:
    """Time each query kind from random places, one request at a time, with the CPU the
    gunicorn worker and the database spent on it (what it would take on an idle machine)."""
    rng = random.Random(42)
    paths = {
        "events near a place": "/api/v1/network/events?near={lat:.4f},{lon:.4f}&within=25",
        "where am I needed": "/api/v1/network/needed?near={lat:.4f},{lon:.4f}",
    }
    timings: dict[str, dict[str, Any]] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for name, template in paths.items():
        took_ms: list[float] = []
        for i in range(count + 10):
            if i == 10:  # the first few warm the worker up
                cpu, database = gunicorn_server.cpu_seconds(node), database_cpu_s(database_url)
            path = template.format(lat=rng.uniform(*LATITUDES), lon=rng.uniform(*LONGITUDES))
            began = time.perf_counter()
            conn.request("GET", path, headers={"Accept": "application/json"})
            response = conn.getresponse()
            body = response.read()
            took = (time.perf_counter() - began) * 1000
            if response.status != 200:
                raise SystemExit(f"{path} answered {response.status}: {body[:300]!r}")
            if i >= 10:
                took_ms.append(took)
        used = database_cpu_s(database_url)
        timings[name] = {
            "ms": took_ms,
            "cpu_ms": (gunicorn_server.cpu_seconds(node) - cpu) / count * 1000,
            "database_cpu_ms": None if used is None else (used - database) / count * 1000,
        }
    conn.close()
    return timings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def build(ctx: Any, args: argparse.Namespace, settings: dict[str, str], folder: Path) -> dict:
    """Write (or reuse) the groups' feeds, serve them, and time the aggregator ingesting them."""
    total = args.groups * args.entries
    print(f"generating {args.groups} x {args.entries} signed entries ...", flush=True)
    began = time.perf_counter()
    feeds_port = write_feeds(folder, args.groups, args.entries)
    print(f"  {total} entries in {time.perf_counter() - began:.0f} s", flush=True)
    ready = ctx.Queue()
    server = ctx.Process(
        target=serve_groups, args=(feeds_port, str(folder), args.groups, ready), daemon=True
    )
    server.start()
    ready.get(timeout=60)
    actors = [f"http://127.0.0.1:{feeds_port}/g/{n}/actor" for n in range(args.groups)]
    try:
        if args.database_url:
            empty_postgres(args.database_url)
        print("ingesting ...", flush=True)
        return ingest(ctx, settings, actors, args.pullers)
    finally:
        server.terminate()
        server.join()


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
    parser.add_argument(
        "--feeds", help="write the groups' feeds in this folder and keep them for the next run"
    )
    parser.add_argument(
        "--queries-only",
        action="store_true",
        help="time the queries on what the last run left in --database-url (or --keep)",
    )
    args = parser.parse_args()

    # The aggregator's processes start afresh (spawn): none inherits the harness's memory.
    ctx = multiprocessing.get_context("spawn")
    node_port = gunicorn_server.free_port()
    total = args.groups * args.entries
    database = "PostgreSQL" if args.database_url else "SQLite"
    with tempfile.TemporaryDirectory(prefix="branchline-bench-") as tmp:
        settings = node_settings(Path(args.keep or tmp) / "instance", node_port, args.database_url)
        result = None
        if args.queries_only:
            child = ctx.Process(target=migrate, args=(settings,))
            child.start()
            child.join()
        else:
            result = build(ctx, args, settings, Path(args.feeds or Path(tmp) / "feeds"))
        log = Path(tmp) / "gunicorn.log"
        node = gunicorn_server.start_gunicorn(settings, node_port, log, workers=1, threads=1)
        try:
            with MemoryWatch() as serving:
                serving.watch(node.pid, "gunicorn")
                gunicorn_server.wait_until_answering(node, node_port, log, "/api/v1/network/events")
                timings = time_queries(node_port, args.queries, node, args.database_url)
        finally:
            gunicorn_server.stop(node)

    print(f"aggregator on {database}, {args.groups} groups x {args.entries} entries")
    print(gunicorn_server.machine_speed())
    ok = True
    peak = serving.peak_total_mb
    if result is not None:
        print(f"{args.groups} groups listed in {result['listed_s']:.1f} s")
        rate = result["stored"] / result["elapsed"]
        cpu_ms = result["cpu_s"] / max(result["stored"], 1) * 1000
        print(
            f"ingest: {result['stored']} of {total} entries verified and stored in "
            f"{result['elapsed']:.1f} s ({result['pulling']:.1f} s until the pulls were done) "
            f"by {args.pullers} worker processes "
            f"({result['polled']} group pulls), {result['served']} in the combined feed: "
            f"{rate:,.0f}/s, {cpu_ms:.2f} ms CPU per entry in the aggregator's processes "
            f"(target >= {INGEST_TARGET:,.0f}/s: {'met' if rate >= INGEST_TARGET else 'MISSED'})"
        )
        if result["database_cpu_s"] is not None:
            used = result["database_cpu_s"] / max(result["stored"], 1) * 1000
            print(
                f"  and {used:.2f} ms CPU per entry in PostgreSQL (the whole server); both "
                f"together at {cpu_ms + used:.2f} ms are {1000 / (cpu_ms + used):,.0f} entries/s "
                f"a core, on an otherwise idle machine"
            )
        if result["refused"]:
            print("refused:", *result["refused"], sep="\n  ")
        ok = rate >= INGEST_TARGET
        ok = ok and result["stored"] == total == result["served"] and not result["refused"]
        ingesting = result["memory"]
        print(f"aggregator memory while ingesting: {ingesting.describe()}")
        peak = max(peak, ingesting.peak_total_mb)
    print(f"aggregator memory while answering: {serving.describe()}")
    memory_ok = peak < MEMORY_TARGET_MB
    ok = ok and memory_ok
    print(
        f"aggregator memory: {peak:.0f} MB at most "
        f"(target < {MEMORY_TARGET_MB:.0f}: {'met' if memory_ok else 'MISSED'})"
    )
    for name, timed in timings.items():
        values = timed["ms"]
        p50, p99 = percentile(values, 50), percentile(values, 99)
        met = p99 < P99_TARGET_MS
        ok = ok and met
        database = timed["database_cpu_ms"]
        in_database = "" if database is None else f" + {database:.1f} ms in PostgreSQL"
        print(
            f"{name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean {statistics.mean(values):.1f} ms "
            f"over {len(values)} requests (target p99 < {P99_TARGET_MS:.0f}: "
            f"{'met' if met else 'MISSED'}); CPU per request {timed['cpu_ms']:.1f} ms in "
            f"the worker{in_database}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
