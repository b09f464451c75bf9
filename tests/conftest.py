"""Shared fixtures. PostgreSQL must be reachable: tests that need it fail, never skip."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

POSTGRES_ADMIN_URL = os.environ.get(
    "INFSCALE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
"""A server where the tests may create and drop databases (override for other setups)."""


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    """An autocommit connection pool to the PostgreSQL server's maintenance database."""
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver or network error: say what to fix, and fail
        engine.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({type(exc).__name__}: {exc}). "
            "Start it, or point INFSCALE_TEST_POSTGRES_URL at a server where the tests may create databases.",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A fresh database for the whole test session, dropped at the end."""
    with _temporary_database(postgres_admin) as url:
        yield url


@pytest.fixture()
def fresh_postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A fresh, empty database for one test (schema and migration tests), dropped after it."""
    with _temporary_database(postgres_admin) as url:
        yield url


@contextmanager
def _temporary_database(admin: Engine) -> Iterator[str]:
    """CREATE DATABASE infscale_test_<hex>, yield its URL, then end its connections and drop it."""
    name = f"infscale_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
