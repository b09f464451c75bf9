"""Cached-input prices: `model_prices.c_in_cached`.

Revision ID: 0007_cached_input_price
Revises: 0006_wide_integers
Create Date: 2026-12-02

Written by hand to mirror storage/tables.py at this revision (tests compare the two).
`c_in_cached` is what a provider charges per input token read from its prompt cache (LiteLLM's
`cache_read_input_token_cost`), used by models that bill `input_billing: cached`. NULL: the
source did not say (a model keeps its catalog's cached price, if any).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_cached_input_price"
down_revision = "0006_wide_integers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_prices") as batch:
        batch.add_column(sa.Column("c_in_cached", sa.Double(), nullable=True))
        batch.create_check_constraint("cached_nonnegative", "c_in_cached IS NULL OR c_in_cached >= 0")


def downgrade() -> None:
    with op.batch_alter_table("model_prices") as batch:
        batch.drop_constraint("cached_nonnegative", type_="check")
        batch.drop_column("c_in_cached")
