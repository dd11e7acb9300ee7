"""Generated secrets: created once, owner-only, the same for every process that races."""

import stat
from concurrent.futures import ProcessPoolExecutor

from node.config import load_or_create_secret


def test_racing_processes_all_read_the_same_secret(tmp_path):
    with ProcessPoolExecutor(max_workers=4) as pool:
        values = list(pool.map(load_or_create_secret, [tmp_path] * 16, ["secret_key"] * 16))
    assert len(set(values)) == 1
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no leftovers
