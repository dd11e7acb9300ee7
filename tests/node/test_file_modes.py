"""The instance folder is owner-only file by file: the database and its -wal and -shm files,
keys, secrets and uploads, even when the operator's shell has the usual umask 022."""

from __future__ import annotations

import io
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from node import create_app
from node.extensions import db
from tests.conftest import log_in, post_form

BRANCHLINE = Path(sys.executable).with_name("branchline")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _branchline(instance: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANCHLINE_")}
    env.update(
        BRANCHLINE_INSTANCE_PATH=str(instance),
        BRANCHLINE_ADMIN_PASSWORD="correct horse battery",
        BRANCHLINE_PASSWORD_HASH_PROFILE="cheapest",
    )
    done = subprocess.run(
        [str(BRANCHLINE), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: os.umask(0o022),  # an operator's ordinary shell
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _modes(folder: Path) -> dict[str, str]:
    found = {}
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        wanted = 0o700 if path.is_dir() else 0o600
        if mode != wanted:
            found[str(path.relative_to(folder))] = oct(mode)
    return found


def test_a_node_made_by_the_command_line_keeps_every_file_owner_only(tmp_path):
    instance = tmp_path / "instance"
    _branchline(instance, "db", "upgrade")
    _branchline(
        instance,
        "init",
        "--name",
        "Leeds North",
        "--handle",
        "leedsnorth",
        "--base-url",
        "http://127.0.0.1:5000",
        "--admin-email",
        "admin@example.org",
    )
    database = instance / "branchline.sqlite3"
    # A write while a connection stays open: SQLite's -wal and -shm files are there now.
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("UPDATE site_state SET content_version = content_version + 1")
        connection.commit()
        assert Path(f"{database}-wal").exists() and Path(f"{database}-shm").exists()

        assert _modes(instance) == {}
    finally:
        connection.close()


def test_a_database_left_readable_by_an_older_version_is_made_owner_only(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    database = instance / "branchline.sqlite3"
    sqlite3.connect(database).close()
    os.chmod(database, 0o644)

    create_app({"INSTANCE_PATH": str(instance), "SECRET_KEY": "x"})

    assert stat.S_IMODE(database.stat().st_mode) == 0o600


def test_an_uploaded_logo_and_its_folder_are_owner_only(client, organiser):
    log_in(client, organiser)
    before = os.umask(0o022)
    try:
        response = post_form(
            client,
            "/manage/group/logo",
            {"logo": (io.BytesIO(PNG), "logo.png")},
            page="/manage/group",
            content_type="multipart/form-data",
        )
    finally:
        os.umask(before)

    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    uploads = Path(client.application.instance_path) / "uploads"
    assert uploads.is_dir() and _modes(uploads) == {}
    assert any(uploads.iterdir())
    db.session.remove()
