"""Log lines: one handler, text or JSON, each line tagged with its request or worker pass."""

from __future__ import annotations

import json
import logging

import pytest

from node import create_app, logs
from node.extensions import db
from node.services import workers
from node.worker import Worker
from tests import factories


@pytest.fixture
def json_app(app_config, node_keys):
    built = create_app(dict(app_config, LOG_FORMAT="json"))
    built.extensions["branchline_keys"] = node_keys
    with built.app_context():
        factories.group()
        yield built
        db.session.remove()
        db.engine.dispose()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_json_lines_parse_and_carry_the_callers_request_id(json_app, capsys):
    response = json_app.test_client().post(
        "/inbox", data="hello", content_type="text/plain", headers={"X-Request-Id": "abc-123"}
    )
    assert response.status_code == 415
    assert response.headers["X-Request-Id"] == "abc-123"
    lines = json_lines(capsys.readouterr().err)
    refused = [line for line in lines if "inbox refused" in line["message"]]
    assert refused, lines
    line = refused[0]
    assert line["request_id"] == "abc-123"
    assert line["level"] == "INFO"
    assert line["logger"] == "node"
    assert line["time"].endswith("Z")


@pytest.mark.parametrize("offered", ["", "has space", "x" * 200, "semi;colon", "ü"])
def test_a_malformed_request_id_is_replaced_with_a_fresh_one(client, offered):
    response = client.get("/healthz", headers={"X-Request-Id": offered})
    echoed = response.headers["X-Request-Id"]
    assert echoed != offered
    assert len(echoed) == 32 and int(echoed, 16) >= 0


def test_each_request_gets_its_own_id(client):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert first != second


def test_every_line_of_a_request_has_its_id_for_any_handler(client, caplog):
    caplog.set_level(logging.INFO)
    response = client.post("/inbox", data="x", content_type="text/plain")
    ids = {record.request_id for record in caplog.records if record.name == "node"}
    assert ids == {response.headers["X-Request-Id"]}


def test_lines_outside_a_request_carry_no_request_id(app, caplog):
    caplog.set_level(logging.INFO)
    app.test_client().get("/healthz")
    logging.getLogger("node.test").info("after the request")
    assert caplog.records[-1].request_id is None


def test_a_worker_pass_tags_its_lines_with_the_pass_id(app, group, caplog):
    caplog.set_level(logging.INFO)
    runner = Worker(app)
    runner.run_once()
    logging.getLogger("node.worker").info("a line of the pass")
    record = caplog.records[-1]
    assert record.request_id is None
    assert record.pass_id.endswith("#1")
    runner.run_once()
    logging.getLogger("node.worker").info("a line of the next pass")
    assert caplog.records[-1].pass_id.endswith("#2")


def test_json_worker_lines_say_pass_id_and_exceptions_in_full(capsys):
    logs.configure({"LOG_FORMAT": "json"})
    pass_id = workers.worker_id(factories.soon(0)) + "#7"
    logs.start_pass(pass_id)
    try:
        raise RuntimeError("the peer went away")
    except RuntimeError:
        logging.getLogger("node.worker").exception("sending failed")
    finally:
        logs.PASS_ID.set(None)
    (line,) = json_lines(capsys.readouterr().err)
    assert line["pass_id"] == pass_id
    assert "request_id" not in line
    assert line["level"] == "ERROR"
    assert "RuntimeError: the peer went away" in line["exception"]


def test_text_lines_carry_the_request_id_in_brackets(client, capsys):
    logs.configure({"LOG_FORMAT": "text"})
    client.post("/inbox", data="x", content_type="text/plain", headers={"X-Request-Id": "r-42"})
    err = capsys.readouterr().err
    (line,) = [each for each in err.splitlines() if "inbox refused" in each]
    assert " INFO node [req=r-42] inbox refused a request: 415" in line


def test_configuring_twice_keeps_one_handler():
    logs.configure({"LOG_FORMAT": "text"})
    logs.configure({"LOG_FORMAT": "json"})
    ours = [h for h in logging.getLogger().handlers if isinstance(h, logs.StandardErrorHandler)]
    assert len(ours) == 1
    assert isinstance(ours[0].formatter, logs.JsonFormatter)


@pytest.mark.parametrize(("setting", "value"), [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "LOUD")])
def test_an_unknown_log_setting_stops_the_start(app_config, setting, value):
    with pytest.raises(ValueError, match=setting):
        create_app(dict(app_config, **{setting: value}))
