"""`make demo`: a Branchline network on this machine, one process per node, until Ctrl-C.

    .venv/bin/python deploy/demo.py [--dir .demo] [--base-port 5101] [--check]

Starts four group nodes (two safe seats, each twinned with a marginal one) and a national
aggregator that lists them all, each as its own `branchline run` on 127.0.0.1 with its own
instance folder under --dir (wiped first). Each group publishes the sample campaigns, events,
candidates and news in deploy/demo_data.py through its JSON API, proposes or accepts its
twin, and the aggregator adds every group. Then it prints the addresses, the log-ins and a
short tour, and waits; Ctrl-C stops every node. --check builds the network, checks that the
aggregator holds and re-serves every group's feed and that `branchline verify` passes on it,
then stops (what the test suite runs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import demo_data
import requests

ROOT = Path(__file__).resolve().parent.parent
BRANCHLINE = Path(sys.executable).parent / "branchline"
WAIT_SECONDS = 60.0
# What every demo node runs with: peers on loopback, and a worker quick enough for a demo.
SETTINGS = {
    "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
    "POLL_INTERVAL_SECONDS": "5",
    "WORKER_IDLE_SECONDS": "0.5",
    "DELIVERY_BACKOFF_BASE_SECONDS": "2",
    "DELIVERY_BACKOFF_CAP_SECONDS": "10",
}


@dataclass
class Node:
    handle: str
    name: str
    port: int
    folder: Path
    process: subprocess.Popen | None = None
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def acct(self) -> str:
        return f"acct:{self.handle}@127.0.0.1:{self.port}"

    @property
    def admin_email(self) -> str:
        return f"admin@{self.handle}.demo.test"

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
        env.update({f"BRANCHLINE_{k}": v for k, v in {**SETTINGS, **(extra or {})}.items()})
        env.update(
            BRANCHLINE_INSTANCE_PATH=str(self.folder / "instance"),
            BRANCHLINE_BASE_URL=self.url,
            BRANCHLINE_ADMIN_PASSWORD=demo_data.PASSWORD,
            PYTHONUNBUFFERED="1",
        )
        return env

    def cli(self, *args: str) -> str:
        """Run `branchline ARGS` for this node; return what it printed, stop on failure."""
        done = subprocess.run(
            [str(BRANCHLINE), *args],
            env=self.environment(),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(
                f"{self.name}: branchline {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
            )
        return done.stdout

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = requests.request(
            method,
            f"{self.url}/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        if answer.status_code not in (200, 201):
            raise SystemExit(
                f"{self.name}: {method} {path} answered {answer.status_code}: {answer.text}"
            )
        return answer.json()


# Starting and stopping ---------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_ports(base: int, count: int) -> list[int]:
    """``count`` free ports from ``base`` upwards (skipping any in use)."""
    ports, candidate = [], base
    while len(ports) < count and candidate < base + 200:
        if port_is_free(candidate):
            ports.append(candidate)
        candidate += 1
    if len(ports) < count:
        raise SystemExit(f"no {count} free ports from {base}: pass --base-port")
    return ports


def start(node: Node, *, aggregator: bool = False) -> None:
    node.folder.mkdir(parents=True)
    init = ["init", "--name", node.name, "--handle", node.handle, "--base-url", node.url]
    init += ["--admin-email", node.admin_email] + (["--aggregator"] if aggregator else [])
    node.cli(*init)
    log = (node.folder / "node.log").open("ab")
    node.process = subprocess.Popen(
        [str(BRANCHLINE), "run", "--host", "127.0.0.1", "--port", str(node.port)],
        env=node.environment(),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopping it stops all of it
    )
    wait_for(lambda: _answers(node), f"{node.name} to start (see {node.folder / 'node.log'})")
    node.token = node.cli("token", "create", node.admin_email).strip()


def _answers(node: Node) -> bool:
    if node.process is not None and node.process.poll() is not None:
        raise SystemExit(f"{node.name} exited:\n{(node.folder / 'node.log').read_text()}")
    try:
        return requests.get(node.url + "/", timeout=2, allow_redirects=False).status_code < 500
    except requests.ConnectionError:
        return False


def stop(nodes: list[Node]) -> None:
    for node in nodes:
        process = node.process
        if process is None or process.poll() is not None:
            continue
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        except ProcessLookupError:
            pass


def wait_for(condition, what: str, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.3)


# What the groups publish ---------------------------------------------------------------


def _when(days: int, hour: int) -> str:
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC).isoformat()


def publish(node: Node, group: dict[str, Any]) -> None:
    node.api("PATCH", "/group", group["profile"])
    campaigns = [node.api("POST", "/campaigns", item) for item in group.get("campaigns", [])]
    for item in group.get("events", []):
        event = {k: v for k, v in item.items() if k not in ("days", "hour")}
        event["starts_at"] = _when(item["days"], item["hour"])
        if campaigns and item["kind"] in ("canvass", "phonebank", "carpool"):
            event["campaign_id"] = campaigns[0]["id"]
        node.api("POST", "/events", event)
    for item in group.get("candidates", []):
        node.api("POST", "/candidates", item)
    for item in group.get("posts", []):
        node.api("POST", "/posts", item)


def twin(proposer: Node, other: Node) -> None:
    """``proposer`` proposes a twinning; ``other`` accepts it once it has arrived."""
    proposer.cli("follow", other.acct)
    other.cli("follow", proposer.acct)
    proposer.cli("twin", "propose", other.acct, "--note", "Safe seat twinned with a marginal")
    incoming = wait_for(
        lambda: _incoming_twin(other, proposer), f"{other.name} to receive the twinning"
    )
    other.cli("twin", "accept", incoming)


def _incoming_twin(node: Node, proposer: Node) -> str | None:
    # `branchline twin list` prints one twinning per line: ID, state, group, …
    for line in node.cli("twin", "list").splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[1] == "incoming" and proposer.name in line:
            return fields[0]
    return None


def feed_length(node: Node) -> int:
    outbox = requests.get(
        f"{node.url}/outbox", headers={"Accept": "application/activity+json"}, timeout=10
    ).json()
    return int(outbox.get("totalItems", 0))


def aggregated(aggregator: Node) -> dict[str, int]:
    """Each group's held seq as the aggregator's combined feed states it."""
    feed = requests.get(
        f"{aggregator.url}/aggregate/feed",
        headers={"Accept": "application/activity+json"},
        timeout=10,
    ).json()
    return {group["actor"]: group.get("heldSeq", 0) for group in feed.get("groups", [])}


# The network ---------------------------------------------------------------------------


def build(folder: Path, base_port: int) -> tuple[list[Node], Node]:
    shutil.rmtree(folder, ignore_errors=True)
    ports = pick_ports(base_port, len(demo_data.GROUPS) + 1)
    groups = [
        Node(group["handle"], group["name"], port, folder / group["handle"])
        for group, port in zip(demo_data.GROUPS, ports, strict=False)
    ]
    spec = demo_data.AGGREGATOR
    national = Node(spec["handle"], spec["name"], ports[-1], folder / spec["handle"])
    nodes = [*groups, national]
    try:
        for node in groups:
            print(f"starting {node.name} on {node.url} …", flush=True)
            start(node)
        print(f"starting {national.name} (aggregator) on {national.url} …", flush=True)
        start(national, aggregator=True)
        by_handle = {node.handle: node for node in groups}
        for node, group in zip(groups, demo_data.GROUPS, strict=True):
            print(f"publishing {node.name}'s campaigns, events, candidates and news …", flush=True)
            publish(node, group)
        for node, group in zip(groups, demo_data.GROUPS, strict=True):
            if group.get("twin"):
                other = by_handle[group["twin"]]
                print(f"twinning {node.name} with {other.name} …", flush=True)
                twin(node, other)
        national.api("PATCH", "/group", spec["profile"])
        for node in groups:
            print(f"listing {node.name} on the aggregator …", flush=True)
            national.cli("aggregate", "add", node.acct)
    except BaseException:
        stop(nodes)
        raise
    return groups, national


def tour(groups: list[Node], national: Node) -> str:
    lines = ["", "Branchline demo network: every node on 127.0.0.1", ""]
    for node, group in zip(groups, demo_data.GROUPS, strict=True):
        margin = group["profile"]["seat_marginality"]
        lines.append(f"  {node.name:<34} {node.url}/   (seat margin {margin}%)")
    lines.append(f"  {national.name + ' (aggregator)':<34} {national.url}/")
    lines += [
        "",
        f"Log in to any node as admin@<handle>.demo.test, password: {demo_data.PASSWORD}",
        f"  e.g. {groups[0].admin_email} on {groups[0].url}/login",
        "",
        "A short tour:",
        f"  1. {groups[0].url}/  a group's public page, with its twin",
        f"  2. {national.url}/  the national view: events near you, groups, seats, sync state",
        f"  3. {national.url}/network/needed?near=Leeds  where am I needed, from Leeds",
        f"  4. {national.url}/network/events?near=Hebden+Bridge  events near a town "
        "(or a postcode: ?near=LS7)",
        f"  5. {national.url}/network/candidates  endorsed candidates and their win rate",
        f"  6. {national.url}/aggregate/feed  the combined feed, each entry as its group signed it",
        "  7. check it yourself:",
        "     BRANCHLINE_ALLOW_PRIVATE_ADDRESSES=127.0.0.0/8 \\",
        f"     .venv/bin/branchline verify {national.url}/aggregate/feed",
        "",
        "Ctrl-C stops every node.",
    ]
    return "\n".join(lines)


def check(groups: list[Node], national: Node) -> None:
    """Wait until the aggregator holds every group's whole feed, then audit it."""
    heads = {f"{node.url}/actor": feed_length(node) for node in groups}
    wait_for(
        lambda: all(aggregated(national).get(actor, 0) >= head for actor, head in heads.items()),
        "the aggregator to hold every group's feed",
        timeout=120,
    )
    report = national.cli("verify", f"{national.url}/aggregate/feed")
    print(report)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=str(ROOT / ".demo"), help="where the nodes live")
    parser.add_argument("--base-port", type=int, default=5101, help="first port to try")
    parser.add_argument("--check", action="store_true", help="build, check, stop")
    args = parser.parse_args()

    groups, national = build(Path(args.dir), args.base_port)
    nodes = [*groups, national]
    try:
        if args.check:
            check(groups, national)
            print("demo network checked: every feed aggregated and verified")
            return 0
        print(tour(groups, national), flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while all(node.process is not None and node.process.poll() is None for node in nodes):
            time.sleep(1)
        print("a node stopped; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        print("stopping every node …", flush=True)
        stop(nodes)


if __name__ == "__main__":
    sys.exit(main())
