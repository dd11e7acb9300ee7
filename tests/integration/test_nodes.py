"""Real node processes: one machine can host several groups side by side."""

from __future__ import annotations

import stat

import pytest

from node.cli.setup import startup_lines

pytestmark = pytest.mark.integration


def test_node_prints_the_address_it_serves(start_node):
    node = start_node()

    # Printed last, after the worker's line, so the address is what a person sees.
    lines = [line for line in node.output().splitlines() if line.strip()]
    at = lines.index(f"Branchline is running at {node.url}/")
    assert lines[at - 1] == "Leeds North Momentum is ready. Press Ctrl-C to stop."
    assert "Delivery worker: running in this process" in lines[:at]


def test_a_node_not_set_up_ends_its_start_with_the_setup_link():
    lines = startup_lines("http://127.0.0.1:5000/", setup_link="http://127.0.0.1:5000/setup?code=c")
    assert lines[-3:] == [
        "Branchline is running at http://127.0.0.1:5000/",
        "This node is not set up yet. Open this link to name the group and create its admin:",
        "    http://127.0.0.1:5000/setup?code=c",
    ]


def test_node_serves_its_group_page(start_node):
    node = start_node()

    response = node.get("/")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Leeds North Momentum" in response.text


def test_two_nodes_run_side_by_side_each_with_its_own_group(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")

    assert leeds.port != hull.port
    assert leeds.instance != hull.instance
    leeds_page, hull_page = leeds.get("/"), hull.get("/")
    assert leeds_page.status_code == hull_page.status_code == 200
    assert "Leeds North Momentum" in leeds_page.text
    assert "Hull Unite Branch" not in leeds_page.text
    assert "Hull Unite Branch" in hull_page.text
    assert "Leeds North Momentum" not in hull_page.text
    for node in (leeds, hull):
        assert (node.instance / "branchline.sqlite3").is_file()
        assert stat.S_IMODE(node.instance.stat().st_mode) == 0o700
        assert (node.instance / "secret_key").read_text() != ""
    assert (leeds.instance / "secret_key").read_text() != (hull.instance / "secret_key").read_text()


def test_stopping_one_node_leaves_the_other_serving(start_node):
    leeds = start_node("Leeds North Momentum", "leedsnorth")
    hull = start_node("Hull Unite Branch", "hullunite")

    leeds.stop()

    assert leeds.process.returncode is not None
    assert hull.get("/").status_code == 200
