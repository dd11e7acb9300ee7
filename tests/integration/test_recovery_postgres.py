"""The backup, restore and recovery cycle with the restored node on PostgreSQL: `pg_dump`,
`pg_restore`, recovered rows made with their old ids (the id sequences follow), and
`recover --from-followers` finding Leeds among the restored followers.

Runs when BRANCHLINE_TEST_DATABASE_URL names a PostgreSQL server; the node gets a database
of its own there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

from .test_aggregator_postgres import TEST_DATABASE_URL, _recreate
from .test_recovery import recovery_cycle

DATABASE = "branchline_recovery_it"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not TEST_DATABASE_URL.startswith("postgresql"),
        reason="BRANCHLINE_TEST_DATABASE_URL does not name a PostgreSQL server",
    ),
]


@pytest.fixture
def node_database() -> Iterator[str]:
    yield _recreate(DATABASE)
    engine = create_engine(make_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    engine.dispose()


def test_recovery_cycle_on_postgresql(start_node, tmp_path, node_database):
    recovery_cycle(start_node, tmp_path, {"DATABASE_URL": node_database}, from_followers=True)
