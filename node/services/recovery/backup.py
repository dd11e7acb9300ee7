"""One-command backups of a node, and restoring one into an instance.

A backup is a folder, owner-only (0700, files 0600): a consistent snapshot of the database
(SQLite's online backup API, or ``pg_dump``'s custom format for PostgreSQL), the node's
keys, its generated secrets (``secret_key``, ``ballot_key``) and its uploads, and
``manifest.json``: the Branchline version, the migration head, the feed's head (seq and
hash), when it was made, and the SHA-256 of every file, checked before anything is restored.

A restore puts all of that back and leaves the restore mark (``guard``): the backup is
older than what followers hold, so the feed takes no new entry until it is reconciled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL, make_url

from ...config import ensure_private_dir, write_private_file
from ...extensions import db
from ...models.types import utcnow
from ..errors import Conflict, Invalid
from . import guard

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_DUMP_FILE = "database.pgdump"
KEYS = "keys"
UPLOADS = "uploads"
SECRETS = ("secret_key", "ballot_key")


@dataclass(frozen=True)
class Restored:
    """What a restore put back."""

    manifest: dict[str, Any]
    files: int


def _database_url(app: Flask) -> URL:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"])


def _backend(url: URL) -> str:
    name = url.get_backend_name()
    if name == "sqlite":
        return "sqlite"
    if name == "postgresql":
        return "postgresql"
    raise Invalid(f"Backups of a {name} database are not supported.")


def _pg_environment(url: URL) -> dict[str, str]:
    # libpq reads the connection from the environment, so the password never shows in `ps`.
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


def _run(command: list[str], url: URL) -> None:
    found = shutil.which(command[0])
    if found is None:
        raise Invalid(f"{command[0]} is not installed: it is needed for a PostgreSQL database.")
    done = subprocess.run(  # noqa: S603 - a fixed program, arguments we built
        [found, *command[1:]], env=_pg_environment(url), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise Invalid(f"{command[0]} failed: {done.stderr.strip()[-500:]}")


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise Invalid("An in-memory SQLite database cannot be backed up.")
    return Path(url.database)


def _head_and_migration(connection: Connection) -> dict[str, Any]:
    """Read the feed's head and the migration head from a database connection."""
    tables = inspect(connection)
    found: dict[str, Any] = {"migration": None, "feed_head": None}
    if tables.has_table("alembic_version"):
        found["migration"] = connection.execute(
            text("SELECT version_num FROM alembic_version")
        ).scalar()
    if tables.has_table("feed_entry"):
        row = connection.execute(
            text("SELECT seq, entry_hash FROM feed_entry ORDER BY seq DESC LIMIT 1")
        ).first()
        if row is not None:
            found["feed_head"] = {"seq": row[0], "hash": row[1]}
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_private(source: Path, target: Path) -> None:
    write_private_file(target, source.read_bytes())


def _copy_tree_private(source: Path, target: Path) -> None:
    ensure_private_dir(target)
    for path in sorted(source.rglob("*")):
        if path.is_symlink():
            continue  # a link could point anywhere: back up what the node wrote itself
        relative = path.relative_to(source)
        if path.is_dir():
            ensure_private_dir(target / relative)
        elif path.is_file():
            ensure_private_dir((target / relative).parent)
            _copy_private(path, target / relative)


def make(app: Flask, dest: Path) -> dict[str, Any]:
    """Write a backup of the node ``app`` serves into the new folder ``dest``; return its
    manifest."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Conflict(f"{dest} already exists and is not an empty folder.")
    instance = Path(app.instance_path)
    url = _database_url(app)
    backend = _backend(url)
    ensure_private_dir(dest)
    if backend == "sqlite":
        copy = dest / SQLITE_FILE
        write_private_file(copy, b"")
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(copy)
        try:
            with target:
                source.backup(target)  # a consistent snapshot, while the node keeps writing
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            target.close()
            source.close()
        with sqlite3.connect(copy) as snapshot:
            described = _describe_sqlite(snapshot)
        snapshot.close()
    else:
        # Read first: pg_dump's snapshot is then at least as new as the head noted here.
        with app.app_context(), db.engine.connect() as connection:
            described = _head_and_migration(connection)
        dump = dest / PG_DUMP_FILE
        write_private_file(dump, b"")
        _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}"], url)
        os.chmod(dump, 0o600)
    keys = instance / KEYS
    if keys.is_dir():
        _copy_tree_private(keys, dest / KEYS)
    for name in SECRETS:
        if (instance / name).is_file():
            _copy_private(instance / name, dest / name)
    if (instance / UPLOADS).is_dir():
        _copy_tree_private(instance / UPLOADS, dest / UPLOADS)
    manifest = {
        "format": FORMAT,
        "branchline_version": _version(),
        "created_at": utcnow().isoformat(),
        "database": backend,
        "migration_head": described["migration"],
        "feed_head": described["feed_head"],
        "files": {
            str(path.relative_to(dest)): _sha256(path)
            for path in sorted(dest.rglob("*"))
            if path.is_file()
        },
    }
    write_private_file(dest / MANIFEST, json.dumps(manifest, indent=2).encode())
    return manifest


def _describe_sqlite(snapshot: sqlite3.Connection) -> dict[str, Any]:
    tables = {row[0] for row in snapshot.execute("SELECT name FROM sqlite_master")}
    found: dict[str, Any] = {"migration": None, "feed_head": None}
    if "alembic_version" in tables:
        found["migration"] = snapshot.execute("SELECT version_num FROM alembic_version").fetchone()[
            0
        ]
    if "feed_entry" in tables:
        row = snapshot.execute(
            "SELECT seq, entry_hash FROM feed_entry ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            found["feed_head"] = {"seq": row[0], "hash": row[1]}
    return found


def _version() -> str:
    try:
        return metadata.version("branchline")
    except metadata.PackageNotFoundError:
        return "unknown"


def read_manifest(src: Path) -> dict[str, Any]:
    """Read a backup's manifest and check every file it lists against its SHA-256."""
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise Invalid(f"{src} is not a Branchline backup: it has no {MANIFEST}.") from None
    except ValueError:
        raise Invalid(f"{src / MANIFEST} is not valid JSON.") from None
    if not isinstance(manifest, Mapping) or manifest.get("format") != FORMAT:
        raise Invalid(f"{src} is a backup in a format this version does not read.")
    files = manifest.get("files")
    if not isinstance(files, Mapping):
        raise Invalid(f"{src / MANIFEST} lists no files.")
    for name, digest in files.items():
        path = (src / name).resolve()
        if not path.is_relative_to(src.resolve()) or not path.is_file():
            raise Invalid(f"The backup is missing {name}.")
        if _sha256(path) != digest:
            raise Invalid(f"The backup's {name} does not match its manifest: it was changed.")
    return dict(manifest)


def holds_data(app: Flask) -> bool:
    """Tell whether the node's database holds a group or feed entries."""
    with app.app_context(), db.engine.connect() as connection:
        tables = inspect(connection)
        for table in ("feed_entry", "group_profile"):
            found = (
                tables.has_table(table)
                and connection.execute(
                    text(f"SELECT 1 FROM {table} LIMIT 1")  # noqa: S608 - a name from the list above
                ).first()
            )
            if found:
                return True
    return False


def restore_keys(app: Flask, src: Path, *, force: bool = False) -> int:
    """Put back only the backup's keys (a node that lost ``keys/``); return how many files."""
    read_manifest(src)  # the keys must be the ones the backup was made with
    return _restore_keys(Path(app.instance_path), src, force=force)


def _restore_keys(instance: Path, src: Path, *, force: bool) -> int:
    if not (src / KEYS).is_dir():
        raise Invalid("The backup holds no keys.")
    target = instance / KEYS
    if target.is_dir() and not force:
        for path in (src / KEYS).rglob("*"):
            mine = target / path.relative_to(src / KEYS)
            if path.is_file() and mine.is_file() and mine.read_bytes() != path.read_bytes():
                raise Conflict(
                    f"{mine} differs from the backup's: pass --force to replace this node's keys."
                )
    _copy_tree_private(src / KEYS, target)
    return sum(1 for path in (src / KEYS).rglob("*") if path.is_file())


def restore(app: Flask, src: Path, *, force: bool = False) -> Restored:
    """Restore the backup in ``src`` into ``app``'s database and instance folder, and hold
    publishing until the feed is reconciled."""
    manifest = read_manifest(src)
    url = _database_url(app)
    backend = _backend(url)
    if manifest.get("database") != backend:
        raise Invalid(
            f"The backup is of a {manifest.get('database')} database; this node uses {backend}."
        )
    if not force and holds_data(app):
        raise Conflict(
            "This node already holds a group or feed entries: pass --force to replace them "
            "with the backup."
        )
    instance = Path(app.instance_path)
    with app.app_context():
        db.engine.dispose()  # no pooled connection may hold the old database open
    if backend == "sqlite":
        source = sqlite3.connect(src / SQLITE_FILE)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                f"--dbname={url.database}",
                str(src / PG_DUMP_FILE),
            ],
            url,
        )
    files = 1 + _restore_keys(instance, src, force=True) if (src / KEYS).is_dir() else 1
    for name in SECRETS:
        if (src / name).is_file():
            _copy_private(src / name, instance / name)
            files += 1
    if (src / UPLOADS).is_dir():
        shutil.rmtree(instance / UPLOADS, ignore_errors=True)
        _copy_tree_private(src / UPLOADS, instance / UPLOADS)
        files += sum(1 for path in (src / UPLOADS).rglob("*") if path.is_file())
    guard.hold(
        instance,
        {
            "backup_created_at": manifest.get("created_at"),
            "backup_feed_head": manifest.get("feed_head"),
        },
    )
    return Restored(manifest, files)
