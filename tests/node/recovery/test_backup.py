"""`branchline backup` and `restore`: a consistent, owner-only snapshot, and putting it back."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, text

from federation import keys as keyfiles
from node import create_app
from node.extensions import db
from node.keys import HTTP_KEY, PROOF_KEY, ballot_key
from node.models import Post
from node.services import feed
from node.services.errors import Conflict, Invalid
from node.services.organising import posts
from node.services.recovery import backup, guard
from tests.conftest import TEST_DATABASE_URL

sqlite_only = pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="restores into a second SQLite database"
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def node_files(app, node_keys):
    """Give the instance folder what a real node has: keys, a ballot key, an upload."""
    instance = Path(app.instance_path)
    (instance / "keys").mkdir(mode=0o700)
    keyfiles.write_private_key(instance / "keys" / HTTP_KEY, node_keys.http)
    keyfiles.write_private_key(instance / "keys" / PROOF_KEY, node_keys.proof)
    ballot_key(app)
    (instance / "uploads").mkdir()
    (instance / "uploads" / "logo.png").write_bytes(b"\x89PNG not really")
    return instance


def test_backup_is_owner_only_and_its_manifest_names_the_heads(app, group, node_files, tmp_path):
    posts.create({"title": "Leaflets are in", "body": "At the office."})
    dest = tmp_path / "backup"

    manifest = backup.make(app, dest)

    assert _mode(dest) == 0o700
    files = [path for path in dest.rglob("*") if path.is_file()]
    assert files and all(_mode(path) == 0o600 for path in files)
    assert all(_mode(path) == 0o700 for path in dest.rglob("*") if path.is_dir())
    assert {"keys/http-rsa.pem", "keys/proof-ed25519.pem", "ballot_key", "uploads/logo.png"} <= set(
        manifest["files"]
    )
    seq, entry_hash = feed.head()
    assert manifest["feed_head"] == {"seq": seq, "hash": entry_hash}
    migration = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert manifest["migration_head"] == migration
    assert manifest["branchline_version"] and manifest["created_at"]
    assert json.loads((dest / "manifest.json").read_text()) == manifest


def test_backup_refuses_a_folder_that_holds_something(app, group, tmp_path):
    dest = tmp_path / "backup"
    dest.mkdir()
    (dest / "other").write_text("x")

    with pytest.raises(Conflict):
        backup.make(app, dest)


def test_restore_refuses_to_overwrite_a_live_node(app, group, node_files, tmp_path):
    posts.create({"title": "Leaflets are in", "body": "."})
    backup.make(app, tmp_path / "backup")

    with pytest.raises(Conflict, match="--force"):
        backup.restore(app, tmp_path / "backup")
    assert guard.pending() is None


def test_restore_refuses_a_backup_changed_since(app, group, node_files, tmp_path):
    backup.make(app, tmp_path / "backup")
    (tmp_path / "backup" / "uploads" / "logo.png").write_bytes(b"swapped")

    with pytest.raises(Invalid, match="uploads/logo.png"):
        backup.restore(app, tmp_path / "backup", force=True)


@sqlite_only
def test_restore_puts_everything_back_and_holds_publishing(
    app, group, node_files, tmp_path, _template_database
):
    posts.create({"title": "Leaflets are in", "body": "."})
    backup.make(app, tmp_path / "backup")
    database = tmp_path / "new.sqlite3"
    shutil.copy(_template_database, database)
    instance = tmp_path / "new-instance"
    new = create_app(
        {"INSTANCE_PATH": str(instance), "DATABASE_URL": f"sqlite:///{database}", "TESTING": True}
    )

    restored = backup.restore(new, tmp_path / "backup")

    assert restored.manifest["feed_head"]["seq"] == 1
    for name in ("keys/http-rsa.pem", "keys/proof-ed25519.pem", "ballot_key", "uploads/logo.png"):
        assert (instance / name).read_bytes() == (node_files / name).read_bytes()
        assert _mode(instance / name) == 0o600
    with new.app_context():
        assert [p.title for p in db.session.scalars(select(Post))] == ["Leaflets are in"]
        assert guard.pending() is not None
        db.engine.dispose()


def test_keys_only_restore_never_replaces_different_keys_unasked(app, node_files, tmp_path):
    backup.make(app, tmp_path / "backup")
    keyfiles.write_private_key(
        node_files / "keys" / PROOF_KEY, keyfiles.generate_ed25519_key(), overwrite=True
    )

    with pytest.raises(Conflict, match="--force"):
        backup.restore_keys(app, tmp_path / "backup")
    assert backup.restore_keys(app, tmp_path / "backup", force=True) == 2
