"""Initial schema: sweeps, simulations, partials, runs, curve points, choices, recommendations.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22

Written by hand to mirror storage/tables.py at this revision (tests compare the two).
Constraint names follow the naming convention of storage.tables.Base.metadata.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocks_per_shard", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'cancelled')", name="ck_sweeps_status"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_sweeps"),
    )
    op.create_index("ix_sweeps_status_id", "sweeps", ["status", "id"])

    op.create_table(
        "simulations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sweep_id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(), nullable=False),
        sa.Column("model_key", sa.String(), nullable=False),
        sa.Column("parallelism", sa.Integer(), nullable=False),
        sa.Column("k_max", sa.Integer(), nullable=False),
        sa.Column("k_grid", sa.String(), nullable=False),
        sa.Column("n_blocks", sa.Integer(), nullable=False),
        sa.Column("n_shards", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sweep_id"], ["sweeps.id"], name="fk_simulations_sweep_id_sweeps", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_simulations"),
        sa.UniqueConstraint("sweep_id", "group_key", name="uq_simulations_sweep_id_group_key"),
    )

    op.create_table(
        "partials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("simulation_id", sa.Integer(), nullable=False),
        sa.Column("shard_index", sa.Integer(), nullable=False),
        sa.Column("n_shards", sa.Integer(), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["simulation_id"], ["simulations.id"],
            name="fk_partials_simulation_id_simulations", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_partials"),
        sa.UniqueConstraint("simulation_id", "shard_index", name="uq_partials_simulation_id_shard_index"),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sweep_id", sa.Integer(), nullable=False),
        sa.Column("simulation_id", sa.Integer(), nullable=False),
        sa.Column("model_key", sa.String(), nullable=False),
        sa.Column("scenario_name", sa.String(), nullable=False),
        sa.Column("model", sa.JSON(), nullable=False),
        sa.Column("scenario", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("trials", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'done', 'failed', 'cancelled')", name="ck_runs_status"),
        sa.ForeignKeyConstraint(["sweep_id"], ["sweeps.id"], name="fk_runs_sweep_id_sweeps", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["simulation_id"], ["simulations.id"], name="fk_runs_simulation_id_simulations", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.UniqueConstraint(
            "sweep_id", "model_key", "scenario_name", "revision",
            name="uq_runs_sweep_id_model_key_scenario_name_revision",
        ),
    )
    op.create_index("ix_runs_model_key_scenario_name", "runs", ["model_key", "scenario_name"])
    op.create_index("ix_runs_simulation_id", "runs", ["simulation_id"])

    op.create_table(
        "curve_points",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("cost_mean", sa.Double(), nullable=False),
        sa.Column("cost_se", sa.Double(), nullable=True),
        sa.Column("cost_p05", sa.Double(), nullable=False),
        sa.Column("cost_p50", sa.Double(), nullable=False),
        sa.Column("cost_p95", sa.Double(), nullable=False),
        sa.Column("time_mean", sa.Double(), nullable=False),
        sa.Column("time_se", sa.Double(), nullable=True),
        sa.Column("time_p05", sa.Double(), nullable=False),
        sa.Column("time_p50", sa.Double(), nullable=False),
        sa.Column("time_p95", sa.Double(), nullable=False),
        sa.Column("accuracy_mean", sa.Double(), nullable=False),
        sa.Column("accuracy_se", sa.Double(), nullable=True),
        sa.Column("accuracy_p05", sa.Double(), nullable=False),
        sa.Column("accuracy_p50", sa.Double(), nullable=False),
        sa.Column("accuracy_p95", sa.Double(), nullable=False),
        sa.Column("feasible_probability", sa.Double(), nullable=False),
        sa.Column("feasible", sa.Boolean(), nullable=False),
        sa.Column("on_frontier", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_curve_points_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "k", name="pk_curve_points"),
    )

    op.create_table(
        "choices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=True),
        sa.Column("total_cost", sa.Double(), nullable=True),
        sa.Column("total_time", sa.Double(), nullable=True),
        sa.Column("accuracy", sa.Double(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_choices_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_choices"),
        sa.UniqueConstraint("run_id", "method", name="uq_choices_run_id_method"),
    )

    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sweep_id", sa.Integer(), nullable=False),
        sa.Column("scenario_name", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("model_key", sa.String(), nullable=True),
        sa.Column("k", sa.Integer(), nullable=True),
        sa.Column("total_cost", sa.Double(), nullable=True),
        sa.Column("total_time", sa.Double(), nullable=True),
        sa.Column("accuracy", sa.Double(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.ForeignKeyConstraint(
            ["sweep_id"], ["sweeps.id"], name="fk_recommendations_sweep_id_sweeps", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_recommendations"),
        sa.UniqueConstraint(
            "sweep_id", "scenario_name", "method", "revision",
            name="uq_recommendations_sweep_id_scenario_name_method_revision",
        ),
    )


def downgrade() -> None:
    for table in ("recommendations", "choices", "curve_points", "runs", "partials", "simulations", "sweeps"):
        op.drop_table(table)
