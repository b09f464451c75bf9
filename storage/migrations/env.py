"""Alembic environment: runs migrations on the connection `storage.database` hands over.

Called through `storage.database.upgrade` (or `alembic_config`), which opens the
transaction and takes the migration lock; a URL is used only when no connection is given.
"""

from __future__ import annotations

from alembic import context

from infscale.config import database_url
from infscale.storage.database import make_engine
from infscale.storage.tables import Base


def run_migrations(connection) -> None:  # noqa: ANN001 (a SQLAlchemy Connection)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or database_url())
    try:
        with engine.begin() as own_connection:
            run_migrations(own_connection)
    finally:
        engine.dispose()
