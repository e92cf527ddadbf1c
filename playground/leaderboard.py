"""Played episodes and the per-game leaderboard, in SQLite (stdlib).

The file is ``$PLAYGROUND_DATA/playground.sqlite`` (default ``~/.local/share/ppo-playground``). Only the
play server writes results, at the end of an episode it stepped itself, so a score on the board is a
score the server saw being played, not one a browser claimed.

Concurrent writers (several players, several app processes) are safe: WAL journal, a busy timeout, one
short ``BEGIN IMMEDIATE`` transaction per write and a fresh connection per call.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from agents.common.settings import data_dir

SCHEMA = """
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

MAX_PLAYER = 40


def _data_dir() -> Path:
    d = data_dir()
    d.mkdir(parents=True, exist_ok=True)
    return d


def db_path() -> Path:
    return _data_dir() / "playground.sqlite"


def _connect(path: Path | None = None) -> sqlite3.Connection:
    conn = sqlite3.connect(path or db_path(), timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(SCHEMA)
    return conn


def clean_player(name: Any) -> str:
    """A display name: printable, trimmed, at most 40 characters; ``anonymous`` when empty."""
    text = "".join(ch for ch in str(name or "") if ch.isprintable()).strip()[:MAX_PLAYER]
    return text or "anonymous"


def record(result: dict[str, Any], player: str, path: Path | None = None) -> int:
    """Store a finished episode; returns its id."""
    with closing(_connect(path)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute(
            "INSERT INTO results (game, mode, seed, player, human_return, human_steps, agent_return, agent_steps,"
            " finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                result["game"],
                result["mode"],
                int(result["seed"]),
                clean_player(player),
                result.get("human_return"),
                result.get("human_steps"),
                result.get("agent_return"),
                result.get("agent_steps"),
                time.time(),
            ),
        )
        conn.execute("COMMIT")
        assert cur.lastrowid is not None  # sqlite3 sets it after every INSERT
        return cur.lastrowid


def get(result_id: int, path: Path | None = None) -> dict[str, Any] | None:
    with closing(_connect(path)) as conn:
        row = conn.execute("SELECT * FROM results WHERE id = ?", (int(result_id),)).fetchone()
    return dict(row) if row else None


def winner(result: dict[str, Any]) -> str | None:
    """``human``, ``agent`` or ``draw`` for a Versus episode; None otherwise."""
    if result.get("mode") != "versus" or result.get("human_return") is None or result.get("agent_return") is None:
        return None
    h, a = result["human_return"], result["agent_return"]
    return "human" if h > a else "agent" if a > h else "draw"


def board(game: str, limit: int = 10, path: Path | None = None) -> dict[str, Any]:
    """Best human scores (Versus and Solo) and how often people beat the agent in Versus."""
    with closing(_connect(path)) as conn:
        best = [
            dict(r)
            for r in conn.execute(
                "SELECT player, human_return, human_steps, mode, seed, agent_return, finished_at FROM results"
                " WHERE game = ? AND mode IN ('versus', 'solo') ORDER BY human_return DESC, finished_at ASC LIMIT ?",
                (game, limit),
            )
        ]
        row = conn.execute(
            "SELECT COUNT(*) AS n, COALESCE(SUM(human_return > agent_return), 0) AS wins,"
            " COALESCE(SUM(human_return = agent_return), 0) AS draws FROM results"
            " WHERE game = ? AND mode = 'versus'",
            (game,),
        ).fetchone()
    n, wins, draws = int(row["n"]), int(row["wins"]), int(row["draws"])
    return {
        "best": best,
        "versus_games": n,
        "human_wins": wins,
        "draws": draws,
        "human_win_rate": wins / n if n else None,
    }
