"""Flask extensions, created unbound and attached in the app factory."""

import math
import sqlite3

from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
# Every user-facing message goes through gettext/ngettext (docs/translating.md); English
# needs no catalogue.
babel = Babel()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """Give every SQLite connection WAL, foreign keys, a busy timeout and secure delete."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Deleted or overwritten content is zeroed, not left in free space in the file: an
    # erased sealed ballot paper must not be readable from a copy of the database.
    cursor.execute("PRAGMA secure_delete=ON")
    _math_functions(dbapi_connection, cursor)
    cursor.close()


def _math_functions(connection, cursor) -> None:
    """Give SQLite the functions the distance searches use, if it was built without them.

    Most builds since SQLite 3.35 have them in C; one without gets Python's, which
    give the same floats.
    """
    try:
        cursor.execute("SELECT sin(0.5), cos(0.5), asin(0.5), sqrt(0.5)")
    except sqlite3.OperationalError:
        for name in ("sin", "cos", "asin", "sqrt"):
            connection.create_function(name, 1, getattr(math, name), deterministic=True)
