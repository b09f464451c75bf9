"""Where the database is, how to connect to it, and bringing its schema up to date.

SQLite (a file; the default) and PostgreSQL (`postgresql+psycopg://...`) are supported.
SQLite connections are set up for several writing processes: foreign keys on, WAL journal,
a 30 s busy timeout, and write transactions that take the write lock at BEGIN (`BEGIN
IMMEDIATE`), so a transaction never fails half way because another process wrote first.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_S = 30
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_BEGIN_OPTION = "infscale_sqlite_begin"
# Any constant works; it only has to be the same for every process migrating one database.
_MIGRATION_LOCK_ID = 0x1F5CA1E


def make_engine(url: str) -> Engine:
    """An engine for `url` (the only place engines are built; see the module docstring)."""
    sa_url = make_url(url)
    if sa_url.drivername in ("postgresql", "postgres"):
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    if sa_url.get_backend_name() != "sqlite":
        return create_engine(sa_url, pool_pre_ping=True)
    engine = create_engine(sa_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock when they begin."""
    return engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})


def upgrade(url: str) -> None:
    """Migrate the database at `url` to the newest schema (alembic `upgrade head`).

    Safe to call from several processes at once: migrations run in one transaction that
    holds SQLite's write lock or a PostgreSQL advisory lock, so one process migrates and the
    others then find the schema at head.
    """
    engine = make_engine(url)
    try:
        with writer(engine).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            command.upgrade(alembic_config(connection), "head")
    finally:
        engine.dispose()


def schema_revisions(url: str) -> tuple[str | None, str]:
    """(the database's schema revision, None if it has none; the newest this version knows),
    read without changing anything: for readers that must not migrate, such as the dashboard."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision(), head
    finally:
        engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration built in code (no ini file), so it works from an installed package.

    `migrations/env.py` runs on `connection` when given.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))  # ini-style interpolation
    config.attributes["connection"] = connection
    return config


def _sqlite_on_connect(dbapi_connection, connection_record) -> None:  # noqa: ANN001 (DB-API objects)
    # Let SQLAlchemy emit BEGIN itself (see `_sqlite_begin`): the sqlite3 module's own
    # transaction handling skips BEGIN before DDL and SELECT.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        _switch_to_wal(cursor)
    cursor.close()


def _switch_to_wal(cursor) -> None:  # noqa: ANN001 (a sqlite3 cursor)
    # WAL is a property of the file, set once. Switching needs the file to itself, and SQLite
    # answers "locked" at once (without its busy timeout) while another connection is
    # switching too, as when several processes open a new database together: retry.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql(connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))
