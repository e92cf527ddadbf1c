"""The store's tests run twice: on a SQLite file and on a PostgreSQL server this file starts (once per test
session, in a temporary folder, on a free port; Debian's postgresql binaries). Where the server cannot
start the PostgreSQL half skips with the reason, except under ``CI=true``, where it fails."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from playground.store.db import Database, sqlite_url

PG_BIN = [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


def _pg_tool(name: str) -> str | None:
    for folder in PG_BIN:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cannot(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL tests cannot run under CI=true: {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


class _Server:
    """A throw-away PostgreSQL cluster: trust auth on 127.0.0.1, fsync off (a test's data need not survive)."""

    def __init__(self) -> None:
        tools = {name: _pg_tool(name) for name in ("initdb", "pg_ctl", "postgres")}
        missing = [name for name, path in tools.items() if path is None]
        if missing:
            _cannot(f"{', '.join(missing)} not found (Debian: apt-get install postgresql)")
        self.initdb, self.pg_ctl = str(tools["initdb"]), str(tools["pg_ctl"])
        self.user: list[str] = []
        account = None
        if os.geteuid() == 0:  # postgres refuses to run as root: run it as an unprivileged account
            account = next((n for n in ("postgres", "nobody") if _has_user(n)), None)
            if account is None or shutil.which("runuser") is None:
                _cannot("running as root, and neither a 'postgres' account with runuser nor 'nobody' is available")
            self.user = ["runuser", "-u", str(account), "--"]
        self.folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))
        if account is not None:
            pw = pwd.getpwnam(account)
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        self.port = _free_port()
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.user, *args], capture_output=True, text=True, timeout=timeout, cwd=self.folder)

    def start(self) -> None:
        out = self._run(self.initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        if out.returncode != 0:
            _cannot(f"initdb failed: {(out.stderr or out.stdout).strip()[-300:]}")
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        out = self._run(
            self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start"
        )
        if out.returncode != 0:
            log = self.log.read_text(errors="replace")[-300:] if self.log.exists() else ""
            _cannot(f"pg_ctl start failed: {(out.stderr or out.stdout).strip()[-200:]} {log}")

    def stop(self) -> None:
        if self.data.exists():
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[_Server]:
    """One PostgreSQL server for the whole test session."""
    server = _Server()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _new_postgres_url(server: _Server) -> Iterator[str]:
    """An empty schema of its own per test (much quicker than a database per test): the URL sets search_path."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(server.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        yield server.url("postgres") + f"?options=-csearch_path%3D{schema}"
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "playground.sqlite")
    else:
        yield from _new_postgres_url(request.getfixturevalue("postgres_server"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database on each backend."""
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()
