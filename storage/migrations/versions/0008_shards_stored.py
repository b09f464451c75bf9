"""A shard stores its partial and learns whether it completed its group in one statement:
`simulations.shards_stored`, the partials stored so far, counted as they are inserted.

Revision ID: 0008_shards_stored
Revises: 0007_cached_input_price
Create Date: 2026-12-02

Written by hand to mirror storage/tables.py. Counting partials after inserting one cannot tell
two shards finishing at once that the group is complete (neither sees the other's row), and a
lock to order them costs round trips; an UPDATE of this counter waits for the other shard's
increment and sees it, so exactly one shard completes the group (storage.partials). Existing
rows get the count of their stored partials.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_shards_stored"
down_revision = "0007_cached_input_price"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("simulations", sa.Column("shards_stored", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.execute(
        "UPDATE simulations SET shards_stored = (SELECT count(*) FROM partials WHERE partials.simulation_id = simulations.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("simulations") as batch:
        batch.drop_column("shards_stored")
