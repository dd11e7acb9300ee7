"""Real `branchline` processes on free 127.0.0.1 ports, each with its own instance folder."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

BRANCHLINE = Path(sys.executable).parent / "branchline"
ADMIN_PASSWORD = "integration admin passphrase"
START_TIMEOUT = 30.0


@dataclass
class RunningNode:
    name: str
    handle: str
    port: int
    instance: Path
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the node and everything it started (it runs in its own process group)."""
        _stop(self.process)

    def get(self, path: str = "/", **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return requests.get(self.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_environment(instance: Path) -> dict[str, str]:
    """The caller's environment without any BRANCHLINE_* setting, plus this node's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
    env.update(
        BRANCHLINE_INSTANCE_PATH=str(instance),
        BRANCHLINE_ADMIN_PASSWORD=ADMIN_PASSWORD,
        BRANCHLINE_ALLOW_PRIVATE_ADDRESSES="1",
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

    def start(name: str = "Leeds North Momentum", handle: str = "leedsnorth") -> RunningNode:
        folder = tmp_path / handle
        for _attempt in range(3):  # another process may take the free port before the node binds it
            node = _start_one(folder, name, handle)
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


def _start_one(folder: Path, name: str, handle: str) -> RunningNode:
    """Set up a node in ``folder`` with `branchline init`, then start `branchline run`."""
    instance = folder / "instance"
    log = folder / "node.log"
    folder.mkdir(parents=True)
    env = node_environment(instance)
    port = free_port()
    init = subprocess.run(
        [str(BRANCHLINE), "init", "--name", name, "--handle", handle]
        + ["--base-url", f"http://127.0.0.1:{port}", "--admin-email", f"admin@{handle}.test"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BRANCHLINE), "run", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it stops all of it
        )
    return RunningNode(name, handle, port, instance, process, log)
