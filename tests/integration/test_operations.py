"""Health, readiness, metrics and logs of real node processes: `branchline run`, a separate
`branchline worker`, and gunicorn with several workers counting into one set of metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .conftest import BRANCHLINE, _stop, free_port, node_environment
from .support import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "integration-metrics-token-0123456789"


def ready(node) -> bool:
    return node.get("/readyz").status_code == 200


def requests_to(body: str, route: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "branchline_http_requests_total" and sample.labels["route"] == route:
                total += sample.value
    return total


def test_a_running_node_is_ready_tags_json_lines_and_serves_metrics(start_node):
    node = start_node(settings={"LOG_FORMAT": "json", "METRICS_TOKEN": TOKEN})
    assert node.get("/healthz").json() == {"status": "alive"}
    # The in-process worker's first pass is its first heartbeat.
    wait_until(lambda: ready(node), "the node became ready", explain=node.output)

    refused = requests.post(
        f"{node.url}/inbox",
        data="hello",
        headers={"Content-Type": "text/plain", "X-Request-Id": "integration-42"},
        timeout=10,
    )
    assert refused.status_code == 415
    assert refused.headers["X-Request-Id"] == "integration-42"

    def tagged_line():
        for line in node.output().splitlines():
            if line.startswith("{") and "inbox refused" in line:
                return json.loads(line)
        return None

    line = wait_until(tagged_line, "the refusal was logged", explain=node.output)
    assert line["request_id"] == "integration-42"
    assert {"time", "level", "logger", "message"} <= set(line)

    assert node.get("/metrics").status_code == 404
    scraped = node.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scraped.status_code == 200
    assert 'branchline_inbox_activities_total{reason="media_type",result="refused"} 1.0' in (
        scraped.text
    )


def test_readiness_follows_a_separate_worker_process(start_node):
    node = start_node(settings={"WORKER_IN_PROCESS": "0", "WORKER_HEARTBEAT_STALE_SECONDS": "3"})
    assert node.get("/readyz").json()["failing"] == ["worker"]

    worker = subprocess.Popen(
        [str(BRANCHLINE), "worker"],
        env=node_environment(node.instance, node.settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: ready(node), "the worker's heartbeat made the node ready")
    finally:
        _stop(worker)
    wait_until(
        lambda: node.get("/readyz").json()["failing"] == ["worker"],
        "a stopped worker's heartbeat went stale",
    )
    assert node.get("/readyz").status_code == 503


def test_gunicorn_workers_count_into_one_set_of_metrics(start_node, tmp_path):
    node = start_node()
    node.stop()  # the same instance, served by gunicorn instead
    port = free_port()
    folder = tmp_path / "prometheus"
    env = node_environment(node.instance, {"METRICS_TOKEN": TOKEN})
    env.update(
        PROMETHEUS_MULTIPROC_DIR=str(folder),
        BRANCHLINE_BIND=f"127.0.0.1:{port}",
        BRANCHLINE_BASE_URL=f"http://127.0.0.1:{port}",
        WEB_CONCURRENCY="3",
        GUNICORN_ACCESS_LOG="",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "deploy/gunicorn.conf.py")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def answering():
            try:
                return requests.get(f"{url}/healthz", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        wait_until(answering, "gunicorn answered", timeout=60, explain=log.read_text)
        baseline = requests_to(
            requests.get(
                f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            ).text,
            "/healthz",
        )
        # New connections each time, so the requests spread over the workers.
        for _ in range(30):
            assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        scraped = requests.get(
            f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        ).text
        assert requests_to(scraped, "/healthz") - baseline == 30
        assert any(name.startswith("counter_") for name in os.listdir(folder))
    finally:
        _stop(server)
