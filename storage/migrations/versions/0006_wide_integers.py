"""64-bit trial counts and seeds: `sweeps.trials`, `sweeps.seed` and `runs.trials` become BIGINT.

Revision ID: 0006_wide_integers
Revises: 0005_shard_leases
Create Date: 2026-12-02

A spec allows any seed and trial count below 2**63 (engine.specs.MAX_INT64). SQLite's INTEGER
always held that; PostgreSQL's INTEGER is 32-bit and refused `seed: 3000000000` with a
DataError after the work was done. Written by hand to mirror storage/tables.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_wide_integers"
down_revision = "0005_shard_leases"
branch_labels = None
depends_on = None

COLUMNS = (("sweeps", "trials", False), ("sweeps", "seed", False), ("runs", "trials", True))


def upgrade() -> None:
    for table, column, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=nullable)


def downgrade() -> None:
    for table, column, nullable in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=nullable)
