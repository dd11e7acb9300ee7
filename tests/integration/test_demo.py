"""`make demo`'s network, built for real and checked: five node processes on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_demo_network_builds_aggregates_every_group_and_verifies(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "demo.py"), "--check", "--dir", str(tmp_path)]
        + ["--base-port", str(free_port())],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "demo network checked: every feed aggregated and verified" in output
    for name in ("Leeds North East Momentum", "Calder Valley Labour", "National Office"):
        assert name in output
