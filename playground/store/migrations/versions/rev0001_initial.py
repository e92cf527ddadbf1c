"""The first schema: play results (adopting the stdlib leaderboard's file), lab jobs, matches and ratings.

A file written by the first release's ``playground/leaderboard.py`` already has ``results`` (same columns,
same index) and no alembic version: its rows are kept and the table is left as it is.

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "results" not in existing:
        op.create_table(
            "results",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("game", sa.Text(), nullable=False),
            sa.Column("mode", sa.Text(), nullable=False),
            sa.Column("seed", sa.BigInteger(), nullable=False),
            sa.Column("player", sa.Text(), nullable=False),
            sa.Column("human_return", sa.Float()),
            sa.Column("human_steps", sa.Integer()),
            sa.Column("agent_return", sa.Float()),
            sa.Column("agent_steps", sa.Integer()),
            sa.Column("finished_at", sa.Float(), nullable=False),
            sa.CheckConstraint("mode IN ('versus', 'solo', 'watch')", name="ck_results_mode"),
            sa.PrimaryKeyConstraint("id", name="pk_results"),
            sqlite_autoincrement=True,
        )
        op.create_index("results_game", "results", ["game", "mode"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(12), nullable=False),
        sa.Column("game", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("session", sa.String(128), nullable=False),
        sa.Column("group_id", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_dir", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float()),
        sa.Column("finished_at", sa.Float()),
        sa.Column("worker", sa.String(200)),
        sa.Column("heartbeat_at", sa.Float()),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("result", sa.JSON()),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed', 'cancelled')", name="ck_jobs_state"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("jobs_state", "jobs", ["state", "created_at"])
    op.create_index("jobs_session", "jobs", ["session", "state"])
    op.create_index("jobs_group", "jobs", ["group_id"])

    op.create_table(
        "matches",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("game", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("player", sa.String(64), nullable=False),
        sa.Column("seat", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(8), nullable=False),
        sa.Column("score", sa.String(64)),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=False),
        sa.CheckConstraint("outcome IN ('win', 'draw', 'loss')", name="ck_matches_outcome"),
        sa.PrimaryKeyConstraint("id", name="pk_matches"),
        sqlite_autoincrement=True,
    )
    op.create_index("matches_game", "matches", ["game", "agent", "finished_at"])
    op.create_index("matches_player", "matches", ["game", "player"])

    op.create_table(
        "ratings",
        sa.Column("game", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("mu", sa.Float(), nullable=False),
        sa.Column("sigma", sa.Float(), nullable=False),
        sa.Column("games", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.CheckConstraint("kind IN ('agent', 'person')", name="ck_ratings_kind"),
        sa.PrimaryKeyConstraint("game", "kind", "name", name="pk_ratings"),
    )


def downgrade() -> None:
    # results is left alone: it may hold the rows of a file this migration adopted
    op.drop_table("ratings")
    op.drop_table("matches")
    op.drop_table("jobs")
