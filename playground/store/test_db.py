"""The database itself: the migrations build exactly the tables of schema.py, migrating is idempotent and
safe when several starts race, a file of the first (stdlib) leaderboard is adopted with its rows, and bad
URLs get a one-line error."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from playground.store import db as store_db
from playground.store.db import Database, get_database, sqlite_url
from playground.store.errors import StoreError
from playground.store.schema import metadata, results

# The schema of playground/leaderboard.py up to this package, verbatim: files made by it exist in users'
# ~/.local/share/ppo-playground/playground.sqlite.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    game         TEXT    NOT NULL,
    mode         TEXT    NOT NULL CHECK (mode IN ('versus', 'solo', 'watch')),
    seed         INTEGER NOT NULL,
    player       TEXT    NOT NULL,
    human_return REAL,
    human_steps  INTEGER,
    agent_return REAL,
    agent_steps  INTEGER,
    finished_at  REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS results_game ON results (game, mode);
"""


def test_the_migrations_build_exactly_the_tables_of_schema_py(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == [], "schema.py and migrations/versions differ: write a migration (docs/architecture.md)"
    assert db.revision() == db.head() == "0001"


def test_migrating_again_or_from_several_threads_at_once_is_harmless(db_url):
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Database(db_url).migrate()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    database = Database(db_url)
    database.migrate()
    assert database.revision() == database.head()
    assert {"results", "jobs", "matches", "ratings", "alembic_version"} <= set(
        inspect(database.engine).get_table_names()
    )
    database.dispose()


def test_a_file_of_the_first_leaderboard_is_adopted_with_its_rows(tmp_path):
    path = tmp_path / "playground.sqlite"
    with closing(sqlite3.connect(path)) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.executemany(
            "INSERT INTO results (game, mode, seed, player, human_return, human_steps, agent_return, agent_steps,"
            " finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ("lunarlander", "versus", 7, "ada", 220.0, 300, 200.0, 310, 1.0),
                ("cartpole", "solo", 8, "bo", 500.0, 500, None, None, 2.0),
                ("pong", "watch", 9, "cy", None, None, 21.0, 900, 3.0),
            ],
        )
        conn.execute("DELETE FROM results WHERE id = 3")  # AUTOINCREMENT: id 3 is never handed out again
        conn.commit()
    database = Database(sqlite_url(path))
    assert database.revision() is None
    database.migrate()
    assert database.revision() == database.head()
    with database.read() as conn:
        rows = [tuple(r) for r in conn.execute(select(results.c.id, results.c.player, results.c.human_return))]
    assert rows == [(1, "ada", 220.0), (2, "bo", 500.0)]
    with database.begin() as conn:
        new = conn.execute(
            results.insert().values(game="pong", mode="solo", seed=1, player="di", human_return=3.0, finished_at=4.0)
        ).inserted_primary_key
    assert new is not None and new[0] == 4
    assert {"jobs", "matches", "ratings"} <= set(inspect(database.engine).get_table_names())
    database.dispose()


def test_get_database_is_one_migrated_database_per_url(tmp_path):
    url = sqlite_url(tmp_path / "a.sqlite")
    first = get_database(url)
    assert get_database(url) is first and first.revision() == first.head()
    (tmp_path / "a.sqlite").unlink()  # deleted under us: made again, not left without tables
    again = get_database(url)
    assert again.revision() == again.head()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a SQLAlchemy URL"),
        ("mysql://u@h/db", "is mysql; the playground speaks SQLite or PostgreSQL"),
    ],
)
def test_a_bad_url_is_one_line(url, message):
    with pytest.raises(StoreError, match=message):
        Database(url)


def test_a_database_that_cannot_be_opened_says_which(tmp_path):
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(StoreError, match=r"cannot open the database sqlite:///.*dir\.sqlite"):
        Database(sqlite_url(tmp_path / "dir.sqlite")).migrate()


def test_a_database_pickles_as_its_url(db):
    import pickle

    from playground.store.jobs import JobStore

    copy = pickle.loads(pickle.dumps(JobStore(db)))  # e.g. sent to a Ray task or a spawned worker
    assert copy.db.url == db.url and copy.db.engine is not db.engine and copy.list() == []
    copy.db.dispose()


def test_a_password_in_the_url_is_not_shown():
    assert "secret" not in repr(Database("postgresql+psycopg://u:secret@localhost:1/x"))
    assert "secret" not in store_db._redact("postgresql://u:secret@h/x")


def test_get_database_keeps_a_few_open_and_an_evicted_one_still_works(tmp_path):
    first = get_database(sqlite_url(tmp_path / "first.sqlite"))
    for i in range(store_db.MAX_CACHED):
        get_database(sqlite_url(tmp_path / f"other{i}.sqlite"))
    assert get_database(first.url) is not first  # evicted (its pool closed), made again
    with first.read() as conn:  # the evicted object opens a new connection when used
        assert conn.execute(select(results.c.id)).all() == []


def test_without_postgresql_its_tests_skip_with_the_reason_but_fail_under_ci(monkeypatch):
    from playground.store import conftest

    monkeypatch.setattr(conftest, "PG_BIN", [])
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="cannot run under CI=true: initdb, pg_ctl, postgres not found"):
        conftest._Server()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="skipped: initdb, pg_ctl, postgres not found"):
        conftest._Server()
