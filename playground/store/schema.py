"""Every table the playground keeps, defined once (SQLAlchemy Core). Migrations in ``migrations/versions``
create them; ``test_schema.py`` fails when this file and the migrations drift apart.

Other modules read and write through :mod:`playground.store.jobs`, :mod:`playground.store.ratings` and
:mod:`playground.leaderboard`; extra data goes into the JSON columns (``jobs.config``, ``jobs.result``,
``matches.detail``) rather than a new migration.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

# Constraint names fixed by convention, so a later migration can name the constraint it alters.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
OUTCOMES = ("win", "draw", "loss")
PLAY_MODES = ("versus", "solo", "watch")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# One finished play episode, written only by the play server (playground/leaderboard.py). The columns and
# the index are those of the stdlib table of the first release, so an existing file is adopted as it is.
results = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("game", Text, nullable=False),
    Column("mode", Text, CheckConstraint(_in("mode", PLAY_MODES), name="mode"), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("player", Text, nullable=False),
    Column("human_return", Float),
    Column("human_steps", Integer),
    Column("agent_return", Float),
    Column("agent_steps", Integer),
    Column("finished_at", Float, nullable=False),
    Index("results_game", "game", "mode"),
    # AUTOINCREMENT as in the first release: a deleted row's id is never handed out again
    sqlite_autoincrement=True,
)

# A lab training job (playground/store/jobs.py holds its state machine).
jobs = Table(
    "jobs",
    metadata,
    Column("id", String(12), primary_key=True),
    Column("game", String(64), nullable=False),
    Column("label", String(200), nullable=False),
    Column("config", JSON, nullable=False),
    Column("session", String(128), nullable=False),
    Column("group_id", String(64)),
    Column("state", String(16), CheckConstraint(_in("state", JOB_STATES), name="state"), nullable=False),
    Column("run_dir", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("worker", String(200)),
    Column("heartbeat_at", Float),
    Column("cancel_requested", Boolean, nullable=False),
    Column("error", Text),
    Column("result", JSON),
    Index("jobs_state", "state", "created_at"),
    Index("jobs_session", "session", "state"),
    Index("jobs_group", "group_id"),
)

# A head-to-head game between a person and an agent (playground/store/ratings.py).
matches = Table(
    "matches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("game", String(64), nullable=False),
    Column("agent", String(200), nullable=False),
    Column("player", String(64), nullable=False),
    Column("seat", Integer, nullable=False),
    Column("outcome", String(8), CheckConstraint(_in("outcome", OUTCOMES), name="outcome"), nullable=False),
    Column("score", String(64)),
    Column("seed", BigInteger, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("finished_at", Float, nullable=False),
    Index("matches_game", "game", "agent", "finished_at"),
    Index("matches_player", "game", "player"),
    sqlite_autoincrement=True,
)

# The OpenSkill rating of one agent or one person in one game.
ratings = Table(
    "ratings",
    metadata,
    Column("game", String(64), primary_key=True),
    Column("kind", String(8), CheckConstraint("kind IN ('agent', 'person')", name="kind"), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("mu", Float, nullable=False),
    Column("sigma", Float, nullable=False),
    Column("games", Integer, nullable=False),
    Column("updated_at", Float, nullable=False),
)
