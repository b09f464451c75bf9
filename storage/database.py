"""Where the database is, how to connect to it, and bringing its schema up to date.

SQLite (a file; the default) and PostgreSQL (`postgresql+psycopg://...`) are supported.
SQLite connections are set up for several writing processes: foreign keys on, WAL journal,
a 30 s busy timeout, and write transactions that take the write lock at BEGIN (`BEGIN
IMMEDIATE`), so a transaction never fails half way because another process wrote first.
PostgreSQL connections are not pinged before each use (a round trip each): a pooled connection
the server closed is replaced at checkout, seen without a round trip (`_replace_if_closed`).
"""

from __future__ import annotations

import select
import sqlite3
import time
from pathlib import Path

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError

from infscale.storage.errors import DatabaseUnavailable, SchemaMismatch

if TYPE_CHECKING:
    from alembic.config import Config

SQLITE_BUSY_TIMEOUT_S = 30
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_BEGIN_OPTION = "infscale_sqlite_begin"
# Any constant works; it only has to be the same for every process migrating one database.
_MIGRATION_LOCK_ID = 0x1F5CA1E


SUPPORTED = "sqlite:///FILE or postgresql://USER@HOST:PORT/DATABASE"


def check_url(url: str, must_exist: bool = True) -> URL:
    """The parsed URL of a supported database, or one line saying what is wrong with it (before
    any work is done). SQLite: the file's folder must exist, and the file too unless `must_exist`
    is False (a read must never create a database file)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(f"--db: not a database URL: {url!r} (use {SUPPORTED})") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise DatabaseUnavailable(f"--db: {backend!r} databases are not supported (use {SUPPORTED})")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseUnavailable(f"--db: {url!r} names no database file (use {SUPPORTED}; memory:// for none)")
        path = Path(parsed.database)
        if not path.parent.is_dir():
            raise DatabaseUnavailable(f"--db: the folder {str(path.parent)!r} of {url!r} does not exist")
        if must_exist and not path.exists():
            raise DatabaseUnavailable(f"no database at {url} (infscale run creates one; or name another with --db)")
    return parsed


def schema_revision(url: str) -> str | None:
    """The database's alembic revision; None for a database with no infscale tables."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError as exc:
        raise unavailable(url, exc) from None
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest schema revision this infscale knows.

    Read off the migration files' names (`NNNN_name.py`, each file's revision id its name;
    tests/test_storage.py checks both against alembic's own view) instead of asking alembic,
    whose import alone costs every command about 0.25 s for this check.
    """
    return known_revisions()[-1]


def known_revisions() -> list[str]:
    """Every schema revision this infscale knows, oldest first."""
    return sorted(p.stem for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def require_current_schema(url: str) -> None:
    """Refuse, in one line saying what to run, a database whose schema is not this infscale's."""
    revision, head = schema_revision(url), head_revision()
    if revision == head:
        return
    shown = _shown_url(url)
    if revision is None:
        raise SchemaMismatch(f"database {shown} has no infscale schema: run `infscale db upgrade --db {shown}`")
    if revision not in known_revisions():
        raise SchemaMismatch(
            f"database {shown} is at schema revision {revision}, which this infscale does not know "
            f"(written by a newer infscale?); this one needs {head}"
        )
    raise SchemaMismatch(
        f"database {shown} is at schema revision {revision}; this infscale needs {head}: "
        f"run `infscale db upgrade --db {shown}` (back it up first)"
    )


def unavailable(url: str, exc: DBAPIError) -> DatabaseUnavailable:
    """A database error as the one line a user sees: where, and the driver's first line."""
    first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    verb = "cannot connect to" if exc.connection_invalidated or "connect" in first.lower() else "error in"
    return DatabaseUnavailable(f"{verb} database {_shown_url(url)}: {first}")


def _shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def make_engine(url: str) -> Engine:
    """An engine for `url` (the only place engines are built; see the module docstring)."""
    sa_url = make_url(url)
    if sa_url.drivername in ("postgresql", "postgres"):
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    if sa_url.get_backend_name() != "sqlite":
        try:
            engine = create_engine(sa_url, connect_args={"connect_timeout": 10})
        except NoSuchModuleError:
            raise DatabaseUnavailable(f"--db: no driver for {sa_url.drivername!r} (use {SUPPORTED})") from None
        event.listen(engine, "checkout", _replace_if_closed)
        return engine
    engine = create_engine(sa_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _replace_if_closed(dbapi_connection, connection_record, connection_proxy) -> None:  # noqa: ANN001 (pool objects)
    # Instead of a ping at every checkout (a round trip before every transaction, the most
    # expensive part of a shard across a network): a connection the server closed (restarted,
    # the backend killed, a proxy cut) has the server's goodbye or its end of file waiting to be
    # read, seen here without a round trip; the pool then retries with a new connection. A
    # connection that is merely silent (a network down) fails at its first statement: an outage,
    # which the tasks retry as one (workers.retrying).
    if dbapi_connection.closed or select.select([dbapi_connection.fileno()], [], [], 0)[0]:
        raise DisconnectionError("the database closed this pooled connection")


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock when they begin."""
    return engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})


def upgrade(url: str) -> None:
    """Migrate the database at `url` to the newest schema (alembic `upgrade head`).

    Safe to call from several processes at once: migrations run in one transaction that
    holds SQLite's write lock or a PostgreSQL advisory lock, so one process migrates and the
    others then find the schema at head.
    """
    from alembic import command
    from alembic.util.exc import CommandError

    engine = make_engine(url)
    try:
        with writer(engine).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            command.upgrade(alembic_config(connection), "head")
    except CommandError as exc:  # e.g. a revision this infscale does not know
        raise SchemaMismatch(f"database {_shown_url(url)}: cannot upgrade: {str(exc).splitlines()[0]}") from None
    except DBAPIError as exc:
        raise unavailable(url, exc) from None
    finally:
        engine.dispose()




def alembic_config(connection: Connection | None = None) -> "Config":
    """Alembic configuration built in code (no ini file), so it works from an installed package.

    `migrations/env.py` runs on `connection` when given.
    """
    from alembic.config import Config

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
