"""The monitors' addresses: /healthz, /readyz and /metrics, and the Grafana dashboard."""

from __future__ import annotations

import json
import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from node import create_app
from node.extensions import db
from node.models import WorkerHeartbeat, utcnow
from node.services import feed, workers
from node.services.health import code_heads
from node.worker import PassReport, Worker
from tests import factories
from tests.node import sync_support

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana-dashboard.json"
TOKEN = "metrics-token-for-the-tests-0123456789"


class FakeWorker:
    """Something a heartbeat can be kept for (the service keys its state by the object)."""


@pytest.fixture
def worker():
    return FakeWorker()


@pytest.fixture
def metrics_app(app_config, node_keys):
    config = dict(app_config, METRICS_TOKEN=TOKEN)
    built = create_app(config)
    built.extensions["branchline_keys"] = node_keys
    with built.app_context():
        factories.group()
        yield built
        db.session.remove()
        db.engine.dispose()


def scrape(client, token: str = TOKEN) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# /healthz ------------------------------------------------------------------------------


def test_healthz_answers_without_touching_the_database(tmp_path):
    # The database file's folder does not exist: any query would fail.
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'node.sqlite3'}",
            "SECRET_KEY": "x",
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "alive"}
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_not_sent_to_the_setup_form_before_setup(app):
    response = app.test_client().get("/healthz")  # no group yet
    assert response.status_code == 200


# /readyz -------------------------------------------------------------------------------


def test_readyz_is_ready_with_a_database_at_head_and_a_recent_heartbeat(client, worker):
    workers.beat(worker, None)
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["failing"] == []
    assert {"database", "migrations", "worker"} <= set(body["checks"])
    assert body["checks"]["worker"]["live_workers"] == 1
    assert body["queues"] == {"deliveries": 0, "mail": 0}
    assert "Set-Cookie" not in response.headers


def test_readyz_counts_the_queues(client, worker):
    workers.beat(worker, None)
    peer = sync_support.peer()
    sync_support.queue("http://127.0.0.1:9/inbox", peer.id)
    sync_support.queue("http://127.0.0.1:9/inbox", peer.id, state="done")
    assert client.get("/readyz").get_json()["queues"]["deliveries"] == 1


def test_readyz_names_the_database_when_it_cannot_be_reached(tmp_path):
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'node.sqlite3'}",
            "SECRET_KEY": "x",
        }
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["database"]
    assert body["checks"]["database"]["ok"] is False
    assert "missing" not in response.get_data(as_text=True)  # no paths or hosts
    assert response.headers["Retry-After"]


def test_readyz_names_migrations_when_the_database_is_behind(client, worker):
    workers.beat(worker, None)
    (head,) = code_heads(client.application.extensions["migrate"].directory)
    db.session.execute(text("UPDATE alembic_version SET version_num = 'd4f6b8c0e246'"))
    db.session.commit()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        body = response.get_json()
        assert body["failing"] == ["migrations"]
        assert body["checks"]["migrations"]["database"] == ["d4f6b8c0e246"]
        assert body["checks"]["migrations"]["code"] == [head]
    finally:
        db.session.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": head})
        db.session.commit()


def test_readyz_names_the_worker_when_its_heartbeat_is_stale(client, worker):
    workers.beat(worker, None, now=utcnow() - timedelta(seconds=600))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["last_beat_seconds_ago"] >= 600
    assert body["checks"]["worker"]["live_workers"] == 0


def test_readyz_names_the_worker_when_none_ever_beat(client):
    body = client.get("/readyz").get_json()
    assert body["failing"] == ["worker"]


def test_readyz_skips_the_worker_check_when_its_threshold_is_zero(client):
    client.application.config["WORKER_HEARTBEAT_STALE_SECONDS"] = 0
    assert client.get("/readyz").status_code == 200


def test_readyz_tells_no_worker_host(client, worker):
    workers.beat(worker, None)
    assert socket.gethostname() not in client.get("/readyz").get_data(as_text=True)


# Heartbeats ----------------------------------------------------------------------------


def test_a_worker_pass_beats_and_keeps_the_pass_before_in_its_row(app, group, monkeypatch):
    monkeypatch.setattr(workers, "WRITE_EVERY_SECONDS", 0)
    runner = Worker(app)
    runner.run_once()
    runner.run_once()
    (row,) = db.session.query(WorkerHeartbeat).all()
    assert row.passes == 2
    assert row.worker_id.split(":")[1].isdigit()  # host:pid:start
    assert json.loads(row.last_pass) == {}  # a pass that found nothing counts nothing


def test_an_idle_worker_writes_its_row_at_most_once_a_second(app, worker):
    start = utcnow()
    report = PassReport(polled=1)
    workers.beat(worker, report, now=start)
    workers.beat(worker, PassReport(), now=start + timedelta(seconds=0.3))
    row = db.session.get(WorkerHeartbeat, workers.worker_id(start))
    assert row.passes == 1
    workers.beat(worker, PassReport(), now=start + timedelta(seconds=1.5))
    db.session.refresh(row)
    assert row.passes == 3
    assert json.loads(row.last_pass) == {}  # the pass begun at 0.3 s found nothing


def test_summary_keeps_non_zero_counts_and_flattens_nested_reports():
    report = PassReport(polled=2)
    report.deliveries.sent = 3
    assert workers.summarise(report) == {"polled": 2, "deliveries.sent": 3}


def test_heartbeats_of_workers_long_silent_are_pruned(app, worker):
    old = FakeWorker()
    workers.beat(old, None, now=utcnow() - timedelta(days=3))
    workers.beat(worker, None)
    ids = {row.worker_id for row in db.session.query(WorkerHeartbeat)}
    assert len(ids) == 1


# /metrics access -----------------------------------------------------------------------


def test_metrics_are_not_there_for_a_caller_without_credentials(metrics_app):
    response = metrics_app.test_client().get("/metrics")
    assert response.status_code == 404


def test_metrics_refuse_a_wrong_token(metrics_app):
    response = metrics_app.test_client().get(
        "/metrics", headers={"Authorization": "Bearer not-the-token"}
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_metrics_refuse_a_member_token(metrics_app):
    member = factories.member(role="organiser", email="o@example.org")
    response = metrics_app.test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {factories.token(member)}"}
    )
    assert response.status_code == 401


def test_metrics_answer_the_metrics_token(metrics_app):
    response = metrics_app.test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert "branchline_database_up 1.0" in response.get_data(as_text=True)


def test_metrics_answer_an_admin_api_token(client, admin):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {factories.token(admin)}"})
    assert response.status_code == 200


def test_metrics_answer_an_allowed_network_only(app_config, node_keys):
    app = create_app(dict(app_config, METRICS_ALLOW_NETWORKS="127.0.0.0/8, ::1"))
    with app.app_context():
        inside = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        outside = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert inside.status_code == 200
    assert outside.status_code == 404


@pytest.mark.parametrize(
    ("setting", "value"),
    [("METRICS_ALLOW_NETWORKS", "10.0.0.0/8,not-a-network"), ("METRICS_TOKEN", "short")],
)
def test_a_bad_metrics_setting_stops_the_start(app_config, setting, value):
    with pytest.raises(ValueError, match=setting):
        create_app(dict(app_config, **{setting: value}))


# What the metrics count ----------------------------------------------------------------


def test_requests_are_counted_by_route_never_by_raw_path(metrics_app):
    client = metrics_app.test_client()
    event = factories.event()
    before = scrape(client)
    for _ in range(2):
        assert client.get(f"/events/{event.id}").status_code == 200
    after = scrape(client)
    labels = {"method": "GET", "route": "/events/<int:item_id>", "status": "200"}
    assert value(after, "branchline_http_requests_total", **labels) - value(
        before, "branchline_http_requests_total", **labels
    ) == pytest.approx(2)
    timed = {"method": "GET", "route": "/events/<int:item_id>"}
    assert value(after, "branchline_http_request_duration_seconds_count", **timed) >= 2
    assert not any(f"/events/{event.id}" in str(key) for key in after)


def test_an_address_no_route_matches_is_counted_as_unmatched(metrics_app):
    client = metrics_app.test_client()
    labels = {"method": "GET", "route": "unmatched", "status": "404"}
    before = value(scrape(client), "branchline_http_requests_total", **labels)
    client.get("/no/such/page/at/all")
    assert value(scrape(client), "branchline_http_requests_total", **labels) == before + 1


def test_inbox_refusals_are_counted_by_reason(metrics_app):
    client = metrics_app.test_client()
    media = {"result": "refused", "reason": "media_type"}
    invalid = {"result": "refused", "reason": "invalid"}
    before = scrape(client)
    client.post("/inbox", data="hello", content_type="text/plain")
    client.post("/inbox", data="not json", content_type="application/activity+json")
    after = scrape(client)
    name = "branchline_inbox_activities_total"
    assert value(after, name, **media) == value(before, name, **media) + 1
    assert value(after, name, **invalid) == value(before, name, **invalid) + 1


def test_deliveries_are_shown_per_peer_host_and_state(metrics_app):
    one = sync_support.peer("http://one.example/actor")
    two = sync_support.peer("http://two.example/actor")
    for _ in range(2):
        sync_support.queue("http://one.example/inbox", one.id)
    sync_support.queue("http://two.example/inbox", two.id, state="given_up")
    sync_support.queue("http://two.example/inbox", two.id, state="done")
    samples = scrape(metrics_app.test_client())
    assert value(samples, "branchline_deliveries", peer="one.example", state="pending") == 2
    assert value(samples, "branchline_deliveries", peer="two.example", state="failed") == 1
    assert ("branchline_deliveries", (("peer", "two.example"), ("state", "pending"))) not in samples


def test_delivery_series_stay_bounded_however_many_peers(metrics_app):
    for index in range(25):
        found = sync_support.peer(f"http://peer{index}.example/actor")
        for _ in range(index + 1):
            sync_support.queue(f"http://peer{index}.example/inbox", found.id)
    samples = scrape(metrics_app.test_client())
    peers = {dict(labels)["peer"] for name, labels in samples if name == "branchline_deliveries"}
    assert len(peers) == 21
    assert "peer24.example" in peers and "peer0.example" not in peers
    # The five quietest: 1 + 2 + 3 + 4 + 5 deliveries.
    assert value(samples, "branchline_deliveries", peer="other", state="pending") == 15


def test_scrape_reads_the_mail_queue_heartbeat_and_feed_head(metrics_app, worker):
    workers.beat(worker, None)
    feed.record(factories.post(), "create")
    db.session.commit()
    samples = scrape(metrics_app.test_client())
    assert value(samples, "branchline_feed_head_seq") == feed.head_seq() >= 1
    assert 0 <= value(samples, "branchline_worker_heartbeat_age_seconds") < 60
    assert value(samples, "branchline_workers_live") == 1
    assert value(samples, "branchline_mail_queue", status="queued") == 0


def test_a_scrape_says_when_the_database_is_down(tmp_path):
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'node.sqlite3'}",
            "SECRET_KEY": "x",
            "METRICS_TOKEN": TOKEN,
        }
    )
    with app.app_context():
        samples = scrape(app.test_client())
    assert value(samples, "branchline_database_up") == 0


# The dashboard -------------------------------------------------------------------------


def _dashboard_metric_names() -> set[str]:
    document = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"]
        for panel in document["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert expressions, "the dashboard queries nothing"
    return {name for expr in expressions for name in re.findall(r"\bbranchline_\w+", expr)}


def _exposed_names(samples, text_body: str) -> set[str]:
    names = {name for name, _ in samples}
    # A labelled counter or histogram nothing has touched yet has no samples, only its TYPE.
    for family, kind in re.findall(r"^# TYPE (\w+) (\w+)$", text_body, re.MULTILINE):
        names.add(family)
        if kind == "counter":
            names.add(f"{family}_total")
        if kind == "histogram":
            names.update(f"{family}_{part}" for part in ("bucket", "sum", "count"))
    return names


def test_every_metric_the_dashboard_queries_is_exposed(metrics_app):
    client = metrics_app.test_client()
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    body = response.get_data(as_text=True)
    exposed = _exposed_names(scrape(client), body)
    missing = _dashboard_metric_names() - exposed
    assert not missing, sorted(missing)


def test_the_dashboard_is_grafana_json_with_a_prometheus_data_source():
    document = json.loads(DASHBOARD.read_text())
    assert document["title"]
    assert all("gridPos" in panel for panel in document["panels"])
    uses = {panel["datasource"]["uid"] for panel in document["panels"] if "datasource" in panel}
    assert uses == {"${datasource}"}


def test_monitors_are_exempt_from_a_default_request_limit(app_config, node_keys):
    app = create_app(dict(app_config, RATELIMIT_DEFAULT="1/hour"))
    with app.app_context():
        factories.group()
        client = app.test_client()
        assert [client.get("/healthz").status_code for _ in range(3)] == [200] * 3
        assert client.get("/events").status_code == 200
        assert client.get("/events").status_code == 429  # the default does apply elsewhere


def test_a_heartbeat_the_database_refuses_is_said_once_and_never_raises(
    app, worker, caplog, monkeypatch
):
    def down(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(db.session, "get", down)
    start = utcnow()
    for second in range(3):
        pass_id = workers.beat(worker, None, now=start + timedelta(seconds=2 * second))
        assert pass_id.endswith(f"#{second + 1}")
    said = [r for r in caplog.records if "could not record the worker's heartbeat" in r.message]
    assert len(said) == 1
