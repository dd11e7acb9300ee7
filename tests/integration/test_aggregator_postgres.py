"""An aggregator on PostgreSQL with two `branchline worker` processes, as a national office
would run it: every group's entries end up in the combined feed once each, in order, and
`branchline verify` passes on it.

Runs when BRANCHLINE_TEST_DATABASE_URL names a PostgreSQL server (CI's PostgreSQL pass runs
it); the aggregator gets a database of its own there.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

from .conftest import BRANCHLINE, _stop, node_environment
from .support import Api, outbox_entries, wait_until
from .test_aggregator import combined_feed, of_group

TEST_DATABASE_URL = os.environ.get("BRANCHLINE_TEST_DATABASE_URL", "")
DATABASE = "branchline_aggregator_it"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not TEST_DATABASE_URL.startswith("postgresql"),
        reason="BRANCHLINE_TEST_DATABASE_URL does not name a PostgreSQL server",
    ),
]


def _recreate(name: str) -> str:
    """Make an empty database ``name`` beside the test database; return its URL."""
    url = make_url(TEST_DATABASE_URL)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def aggregator_database() -> Iterator[str]:
    yield _recreate(DATABASE)
    engine = create_engine(make_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    engine.dispose()


def test_aggregator_on_postgresql_with_two_workers_serves_every_entry_once(
    start_node, aggregator_database
):
    groups = [
        start_node("Leeds North Momentum", "leedsnorth"),
        start_node("Hull Unite Branch", "hullunite"),
        start_node("York Central Labour", "yorkcentral"),
    ]
    settings = {"DATABASE_URL": aggregator_database, "WORKER_IN_PROCESS": "0"}
    national = start_node("National Office", "national", settings, init_args=("--aggregator",))
    workers = [
        subprocess.Popen(
            [str(BRANCHLINE), "worker"],
            env=node_environment(national.instance, national.settings),
            stdin=subprocess.DEVNULL,
            stdout=(national.instance.parent / f"worker{n}.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n in (1, 2)
    ]
    try:
        for group in groups:
            Api(group).event(f"Canvass with {group.name}")
            # The workers pull every feed: nothing is back-filled by the command.
            national.cli("aggregate", "add", "--no-backfill", group.acct)
        for group in groups:
            api = Api(group)
            for n in range(3):
                api.post(f"{group.name} news {n}")

        def every_entry_once_in_order() -> bool:
            entries, _text = combined_feed(national)
            return all(of_group(entries, group) == outbox_entries(group) for group in groups)

        wait_until(
            every_entry_once_in_order,
            "the two workers bring every group's whole feed into the combined feed",
            timeout=90,
            explain=lambda: "\n".join(
                (national.instance.parent / f"worker{n}.log").read_text(errors="replace")[-1500:]
                for n in (1, 2)
            ),
        )
        entries, _text = combined_feed(national)
        ids = [entry["id"] for entry in entries]
        assert len(ids) == len(set(ids)) == sum(len(outbox_entries(g)) for g in groups)

        audit = national.cli("verify", f"{national.url}/aggregate/feed", check=False)
        assert audit.returncode == 0, audit.stdout + audit.stderr
    finally:
        for worker in workers:
            _stop(worker)
