"""Price history and revision times: table `model_prices`, column `recommendations.created_at`.

Revision ID: 0002_prices
Revises: 0001_initial
Create Date: 2026-11-29

Written by hand to mirror storage/tables.py at this revision (tests compare the two).
Recommendations written before this revision get their sweep's finish time as created_at.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_prices"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_prices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_key", sa.String(), nullable=False),
        sa.Column("c_in", sa.Double(), nullable=False),
        sa.Column("c_out", sa.Double(), nullable=False),
        sa.Column("t_in", sa.Double(), nullable=True),
        sa.Column("t_out", sa.Double(), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "c_in >= 0 AND c_out >= 0 AND (t_in IS NULL OR t_in >= 0) AND (t_out IS NULL OR t_out >= 0)",
            name="ck_model_prices_nonnegative",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_model_prices"),
        sa.UniqueConstraint("model_key", "effective_at", name="uq_model_prices_model_key_effective_at"),
    )
    op.add_column("recommendations", sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE recommendations SET created_at = "
        "(SELECT sweeps.finished_at FROM sweeps WHERE sweeps.id = recommendations.sweep_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("recommendations") as batch:
        batch.drop_column("created_at")
    op.drop_table("model_prices")
