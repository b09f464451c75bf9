"""Adaptive trials: column `runs.stop_reason` (why a `trials: auto` run stopped adding trials).

Revision ID: 0003_stop_reason
Revises: 0002_prices
Create Date: 2026-12-06

Written by hand to mirror storage/tables.py at this revision (tests compare the two).
Runs written before this revision had a fixed trial count: their stop_reason is NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_stop_reason"
down_revision = "0002_prices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("stop_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("stop_reason")
