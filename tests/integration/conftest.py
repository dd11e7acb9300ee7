"""Real `branchline` processes on free 127.0.0.1 ports, each with its own instance folder.

Nodes may reach each other (and test doubles) over loopback only: 127.0.0.0/8 is allowed,
every other private address (10.x, 169.254.169.254, …) stays refused. They poll followed
peers and retry deliveries every second or two, so tests wait for seconds, not minutes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

BRANCHLINE = Path(sys.executable).parent / "branchline"
ADMIN_PASSWORD = "integration admin passphrase"
START_TIMEOUT = 30.0
CLI_TIMEOUT = 120.0
# Federation settings every test node runs with: loopback peers, and a worker that looks at
# its queue and its peers often enough for a test to see the result within seconds.
NODE_SETTINGS = {
    "ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
    "POLL_INTERVAL_SECONDS": "1",
    "WORKER_IDLE_SECONDS": "0.2",
    "DELIVERY_BACKOFF_BASE_SECONDS": "1",
    "DELIVERY_BACKOFF_CAP_SECONDS": "2",
}


@dataclass
class RunningNode:
    name: str
    handle: str
    port: int
    instance: Path
    process: subprocess.Popen
    log: Path
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def actor(self) -> str:
        return f"{self.url}/actor"

    @property
    def acct(self) -> str:
        return f"acct:{self.handle}@127.0.0.1:{self.port}"

    @property
    def admin_email(self) -> str:
        return f"admin@{self.handle}.test"

    @property
    def database(self) -> Path:
        return self.instance / "branchline.sqlite3"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the node and everything it started (it runs in its own process group)."""
        _stop(self.process)

    def restart(self) -> None:
        """Start the node again on its port, with the same instance folder, and wait for it."""
        self.stop()
        self.process = _launch(self.instance, self.port, self.log, self.settings)
        if not _wait_until_answering(self):
            raise RuntimeError(f"{self.name} did not restart:\n{self.output()}")

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `branchline ARGS` against this node's instance folder, as its operator would."""
        done = subprocess.run(
            [str(BRANCHLINE), *args],
            env=node_environment(self.instance, self.settings),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        if check:
            assert done.returncode == 0, f"branchline {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done

    def get(self, path: str = "/", **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return requests.get(self.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_environment(instance: Path, settings: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without any BRANCHLINE_* setting, plus this node's own.

    ``settings`` (names without the BRANCHLINE_ prefix) override ``NODE_SETTINGS``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
    for name, value in {**NODE_SETTINGS, **(settings or {})}.items():
        env[f"BRANCHLINE_{name}"] = value
    env.update(
        BRANCHLINE_INSTANCE_PATH=str(instance),
        BRANCHLINE_ADMIN_PASSWORD=ADMIN_PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    return env


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _wait_until_answering(node: RunningNode) -> bool:
    """Poll the node until it answers HTTP; False if the process died first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            return False
        try:
            node.get("/", timeout=2)
            return True
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(f"{node.name} did not answer within {START_TIMEOUT}s:\n{node.output()}")


@pytest.fixture
def start_node(tmp_path):
    """Start real nodes on free 127.0.0.1 ports; stop them when the test ends."""
    started: list[RunningNode] = []

    def start(
        name: str = "Leeds North Momentum",
        handle: str = "leedsnorth",
        settings: dict[str, str] | None = None,
        init_args: tuple[str, ...] = (),
    ) -> RunningNode:
        folder = tmp_path / handle
        for _attempt in range(3):  # another process may take the free port before the node binds it
            node = _start_one(folder, name, handle, settings or {}, init_args)
            started.append(node)
            if _wait_until_answering(node):
                return node
            if "Address already in use" not in node.output():
                break
            shutil.rmtree(folder)
        raise RuntimeError(f"{name} did not start:\n{node.output()}")

    yield start

    for node in reversed(started):
        node.stop()


def _start_one(
    folder: Path, name: str, handle: str, settings: dict[str, str], init_args: tuple[str, ...] = ()
) -> RunningNode:
    """Set up a node in ``folder`` with `branchline init` (and ``init_args``, such as
    ``--aggregator``), then start `branchline run`."""
    instance = folder / "instance"
    log = folder / "node.log"
    folder.mkdir(parents=True)
    env = node_environment(instance, settings)
    port = free_port()
    init = subprocess.run(
        [str(BRANCHLINE), "init", "--name", name, "--handle", handle]
        + ["--base-url", f"http://127.0.0.1:{port}", "--admin-email", f"admin@{handle}.test"]
        + list(init_args),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    process = _launch(instance, port, log, settings)
    return RunningNode(name, handle, port, instance, process, log, settings)


def _launch(instance: Path, port: int, log: Path, settings: dict[str, str]) -> subprocess.Popen:
    """Start `branchline run` for an instance folder that `branchline init` set up."""
    with log.open("ab") as out:  # a restarted node adds to the log it started
        return subprocess.Popen(
            [str(BRANCHLINE), "run", "--host", "127.0.0.1", "--port", str(port)],
            env=node_environment(instance, settings),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it stops all of it
        )
