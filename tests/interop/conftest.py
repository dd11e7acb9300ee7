"""Run the Node scripts in tests/interop/fedify/ that check our output with Fedify 1.5.

They need ``npm ci --prefix tests/interop`` (``make test`` runs it when npm is present).
Without the Node dependencies these tests are skipped, except in CI (``CI=true``), where a
missing cross-check is a failure rather than a silent pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "fedify"
FEDIFY_PACKAGE = HERE / "node_modules" / "@fedify" / "fedify" / "package.json"
SCRIPT_TIMEOUT = 60  # seconds; a script that needs longer is waiting for something it won't get
NODE_MAJOR = 20  # Fedify 1.5's engines field


def _missing() -> str | None:
    node = shutil.which("node")
    if node is None:
        return "node is not on PATH"
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=SCRIPT_TIMEOUT, check=True
    ).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < NODE_MAJOR:
        return f"node {version} is older than the {NODE_MAJOR} Fedify 1.5 needs"
    if not FEDIFY_PACKAGE.is_file():
        return "tests/interop/node_modules is missing: run `npm ci --prefix tests/interop`"
    return None


@pytest.fixture(scope="session")
def fedify():
    """Return ``run(script, case)``: feed ``case`` as JSON to a Fedify script, get its verdict."""
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Fedify cross-checks cannot run in CI: {missing}")
        pytest.skip(missing)
    node = shutil.which("node")

    def run(script: str, case: dict[str, Any]) -> dict[str, Any]:
        completed = subprocess.run(
            [node, str(SCRIPTS / script)],
            input=json.dumps(case),
            capture_output=True,
            text=True,
            cwd=HERE,
            timeout=SCRIPT_TIMEOUT,
            check=False,
        )
        try:
            verdict = json.loads(completed.stdout)
        except json.JSONDecodeError:
            pytest.fail(
                f"{script} exited {completed.returncode} without a verdict:\n"
                f"{completed.stdout}\n{completed.stderr}"
            )
        assert completed.returncode == 0 and "error" not in verdict, (script, verdict)
        # Everything a script may load is handed to it; asking for more is a bug in our
        # documents (an unknown context) or in the case, and would break offline peers.
        assert verdict.pop("networkAttempts") == [], (script, verdict)
        return verdict

    return run
