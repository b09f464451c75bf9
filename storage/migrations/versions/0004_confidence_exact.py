"""Decisions you can trust: `recommendations.confidence`, and quantile columns that may be NULL.

Revision ID: 0004_confidence_exact
Revises: 0003_stop_reason
Create Date: 2026-12-02

Written by hand to mirror storage/tables.py at this revision (tests compare the two).
- `recommendations.confidence`: the estimated probability that a cross-model pick is right
  (engine.confidence); NULL for rows written before, for legacy and for exact mode.
- `curve_points` quantiles and `feasible_probability` may be NULL: `mode: exact` computes means
  only (NaN, stored as NULL like a 1-trial standard error).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_confidence_exact"
down_revision = "0003_stop_reason"
branch_labels = None
depends_on = None

_NULLABLE = [f"{m}_{q}" for m in ("cost", "time", "accuracy") for q in ("p05", "p50", "p95")] + ["feasible_probability"]


def upgrade() -> None:
    op.add_column("recommendations", sa.Column("confidence", sa.Double(), nullable=True))
    with op.batch_alter_table("curve_points") as batch:
        for column in _NULLABLE:
            batch.alter_column(column, existing_type=sa.Double(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("curve_points") as batch:
        for column in _NULLABLE:
            batch.alter_column(column, existing_type=sa.Double(), nullable=False)
    with op.batch_alter_table("recommendations") as batch:
        batch.drop_column("confidence")
