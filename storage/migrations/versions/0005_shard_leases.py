"""No sweep hangs: table `shard_leases` (who holds a running shard, until when).

Revision ID: 0005_shard_leases
Revises: 0004_confidence_exact
Create Date: 2026-12-02

Written by hand to mirror storage/tables.py at this revision (tests compare the two).
A shard's lease is written when a worker starts it and renewed while it runs; the periodic
check sends again a shard whose partial is missing and whose lease ran out (scheduler.recovery).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_shard_leases"
down_revision = "0004_confidence_exact"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shard_leases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("simulation_id", sa.Integer(), nullable=False),
        sa.Column("shard_index", sa.Integer(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["simulation_id"], ["simulations.id"],
            name="fk_shard_leases_simulation_id_simulations", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_shard_leases"),
        sa.UniqueConstraint("simulation_id", "shard_index", name="uq_shard_leases_simulation_id_shard_index"),
    )


def downgrade() -> None:
    op.drop_table("shard_leases")
