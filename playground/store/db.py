"""The connection to the playground's database: one SQLAlchemy engine per URL, migrated by alembic.

SQLite (the default, a file in ``PLAYGROUND_DATA``) runs in WAL mode with a busy timeout, so several app
processes and threads share the file; every write transaction starts with ``BEGIN IMMEDIATE`` so two writers
queue for the lock instead of one failing halfway; ``synchronous = NORMAL``, so a commit does not wait for the
disk (a power cut may lose the last commits, never the file). PostgreSQL (``PLAYGROUND_DATABASE_URL``, driver psycopg 3)
lets several app replicas share jobs and results.

``python -m playground.store.db revision "what changed"`` writes a new migration from the difference
between :mod:`playground.store.schema` and the migrations so far (docs/architecture.md, "The database").
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from agents.common.settings import database_url
from playground.store.errors import StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_S = 30
"""how long a SQLite writer waits for another's lock before giving up"""
MAX_CACHED = 8
"""databases :func:`get_database` keeps open per process"""
_MIGRATION_LOCK = 0x706C6179  # any fixed number: the PostgreSQL advisory lock that serialises migrations


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


class Database:
    """One database (a SQLAlchemy URL) with its engine; :meth:`migrate` brings its tables to the latest schema."""

    def __init__(self, url: str):
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(
                f"the database URL {url!r} is not a SQLAlchemy URL; give e.g. sqlite:////path/playground.sqlite "
                "or postgresql+psycopg://user@host/db"
            ) from None
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreError(
                f"the database {_redact(url)} is {self.dialect}; the playground speaks SQLite or PostgreSQL"
            )
        if self.dialect == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is installed, psycopg2 is not
        self.engine: Engine = self._engine(parsed)
        _live.add(self)

    @classmethod
    def from_settings(cls) -> Database:
        """The database ``PLAYGROUND_DATABASE_URL`` names (default: the SQLite file in ``PLAYGROUND_DATA``)."""
        return cls(database_url())

    def _engine(self, url: Any) -> Engine:
        if self.dialect == "postgresql":
            return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        if url.database and url.database != ":memory:":
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # pooled: closing a file's last connection checkpoints the WAL (two fsyncs), which a fresh connection
        # per call would pay every time
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S}, pool_size=5, max_overflow=10)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # The stdlib driver's own transaction handling would start transactions late (and never before
            # DDL); turn it off and emit BEGIN ourselves below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            cur.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: no fsync per commit; a power cut may lose the last commits, never corrupts the file
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # A write transaction takes the write lock at once: a deferred one that reads first and writes
            # later fails with SQLITE_BUSY (no wait) when another process wrote in between.
            write = conn.get_execution_options().get("playground_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on an exception."""
        with self.engine.connect() as conn:
            conn.execution_options(playground_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def lock(self, conn: Connection, key: str) -> None:
        """Serialise this transaction with any other holding ``key`` until it ends (PostgreSQL advisory lock;
        SQLite needs none: its write transactions run one at a time)."""
        if self.dialect == "postgresql":
            number = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
            conn.execute(select(func.pg_advisory_xact_lock(number)))

    def _alembic(self, conn: Connection | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("file_template", "rev%%(rev)s_%%(slug)s")
        cfg.attributes["connection"] = conn
        return cfg

    def revision(self) -> str | None:
        """The migration the database is at (None: never migrated)."""
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head(self) -> str | None:
        """The newest migration shipped with this code."""
        return ScriptDirectory.from_config(self._alembic()).get_current_head()

    def migrate(self) -> None:
        """Bring the database to the newest migration (alembic ``upgrade head``). Idempotent, and safe when
        several processes start at once: they take one lock in turn and the later ones find nothing to do."""
        try:
            if self.revision() == self.head():
                return
            with self.begin() as conn:  # on SQLite, BEGIN IMMEDIATE: the write lock is held from here on
                if self.dialect == "postgresql":
                    conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
                command.upgrade(self._alembic(conn), "head")
        except OperationalError as e:
            raise StoreError(f"cannot open the database {_redact(self.url)}: {e.orig}") from None

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    def __reduce__(self) -> tuple[type[Database], tuple[str]]:
        # pickled as its URL (a Ray task, a spawned process): the other side opens its own engine
        return (Database, (self.url,))

    def __repr__(self) -> str:
        return f"Database({_redact(self.url)!r})"


_live: weakref.WeakSet[Database] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # a forked child must not use its parent's pooled connections (SQLAlchemy's advice: dispose without closing)
    for db in list(_live):
        db.engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)

_cache: dict[tuple[int, str], Database] = {}
_cache_lock = threading.Lock()


def get_database(url: str | None = None) -> Database:
    """The migrated :class:`Database` for ``url`` (default: the settings'), one per URL per process."""
    url = url or database_url()
    key = (os.getpid(), url)  # a forked child builds its own engine
    with _cache_lock:
        db = _cache.pop(key, None)
        if db is not None and db.dialect == "sqlite" and not _sqlite_file_exists(db):
            db.dispose()
            db = None
        if db is None:
            db = Database(url)
            db.migrate()
        _cache[key] = db  # (re)inserted last: the dict's order is least recently used first
        # many URLs in one process (a test session's temporary folders): close the pools of the least recently
        # used; a Database still held elsewhere keeps working, it opens new connections when next used
        while len(_cache) > MAX_CACHED:
            _cache.pop(next(iter(_cache))).dispose()
        return db


def _sqlite_file_exists(db: Database) -> bool:
    # a file deleted under a running process (a test's tmp dir, a user resetting the board) is created anew
    name = db.engine.url.database
    return not name or name == ":memory:" or Path(name).exists()


def sqlite_url(path: Path | str) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def _new_revision(message: str) -> None:
    """Write a migration for what :mod:`playground.store.schema` has and the migrations do not yet create."""
    import tempfile

    from playground.store.schema import metadata

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(sqlite_url(Path(tmp) / "head.sqlite"))
        db.migrate()
        with db.begin() as conn:
            cfg = db._alembic(conn)
            cfg.attributes["target_metadata"] = metadata
            heads = ScriptDirectory.from_config(cfg).get_heads()
            number = f"{len(list(ScriptDirectory.from_config(cfg).walk_revisions())) + 1:04d}"
            command.revision(cfg, message=message, autogenerate=True, rev_id=number, head=heads[0])
        db.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "revision":
        sys.exit('usage: python -m playground.store.db revision "what changed"')
    _new_revision(sys.argv[2])
