"""Played episodes and the per-game leaderboard, in the playground's database (:mod:`playground.store`).

The database is ``PLAYGROUND_DATABASE_URL``, by default the SQLite file ``$PLAYGROUND_DATA/playground.sqlite``
(default ``~/.local/share/ppo-playground``); a file made by the first release (stdlib ``sqlite3``) is adopted
with its rows by the store's first migration. Only the play server writes results, at the end of an episode
it stepped itself, so a score on the board is a score the server saw being played, not one a browser claimed.

Concurrent writers (several players, several app processes, several replicas on PostgreSQL) are safe: each
write is one short transaction (on SQLite ``BEGIN IMMEDIATE`` in WAL mode with a busy timeout: writers queue
for the lock, see :mod:`playground.store.db`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, insert, select

from agents.common.settings import data_dir
from playground.store.db import Database, get_database, sqlite_url
from playground.store.errors import StoreError
from playground.store.schema import PLAY_MODES, results

MAX_PLAYER = 40


def _data_dir() -> Path:
    d = data_dir()
    d.mkdir(parents=True, exist_ok=True)
    return d


def db_path() -> Path:
    """The default SQLite file (used when ``PLAYGROUND_DATABASE_URL`` is unset)."""
    return _data_dir() / "playground.sqlite"


def _database(path: Path | None, database: Database | None) -> Database:
    """``database`` if given, else the SQLite file ``path``, else the settings' database (all migrated)."""
    if database is not None:
        return database
    return get_database(sqlite_url(path) if path is not None else None)


def clean_player(name: Any) -> str:
    """A display name: printable, trimmed, at most 40 characters; ``anonymous`` when empty."""
    text = "".join(ch for ch in str(name or "") if ch.isprintable()).strip()[:MAX_PLAYER]
    return text or "anonymous"


def record(result: dict[str, Any], player: str, path: Path | None = None, *, database: Database | None = None) -> int:
    """Store a finished episode; returns its id."""
    if result.get("mode") not in PLAY_MODES:
        raise StoreError(f"a play result's mode must be one of {', '.join(PLAY_MODES)}, not {result.get('mode')!r}")
    with _database(path, database).begin() as conn:
        key = conn.execute(
            insert(results).values(
                game=result["game"],
                mode=result["mode"],
                seed=int(result["seed"]),
                player=clean_player(player),
                human_return=result.get("human_return"),
                human_steps=result.get("human_steps"),
                agent_return=result.get("agent_return"),
                agent_steps=result.get("agent_steps"),
                finished_at=time.time(),
            )
        ).inserted_primary_key
    assert key is not None  # both dialects return the new id
    return int(key[0])


def get(result_id: int, path: Path | None = None, *, database: Database | None = None) -> dict[str, Any] | None:
    """One stored episode as a dict of its columns, or None."""
    key = int(result_id)
    if not 0 < key < 2**31:  # PostgreSQL's integer column refuses a larger one; none exists
        return None
    with _database(path, database).read() as conn:
        row = conn.execute(select(results).where(results.c.id == key)).first()
    return dict(row._mapping) if row else None


def winner(result: dict[str, Any]) -> str | None:
    """``human``, ``agent`` or ``draw`` for a Versus episode; None otherwise."""
    if result.get("mode") != "versus" or result.get("human_return") is None or result.get("agent_return") is None:
        return None
    h, a = result["human_return"], result["agent_return"]
    return "human" if h > a else "agent" if a > h else "draw"


def board(game: str, limit: int = 10, path: Path | None = None, *, database: Database | None = None) -> dict[str, Any]:
    """Best human scores (Versus and Solo) and how often people beat the agent in Versus."""
    r = results.c
    best_query = (
        select(r.player, r.human_return, r.human_steps, r.mode, r.seed, r.agent_return, r.finished_at)
        .where(r.game == game, r.mode.in_(("versus", "solo")))
        .order_by(r.human_return.desc().nulls_last(), r.finished_at.asc(), r.id.asc())
        .limit(max(0, int(limit)))
    )
    # a comparison with a missing return is NULL, which counts as neither a win nor a draw (as before)
    counts_query = select(
        func.count(),
        func.coalesce(func.sum(case((r.human_return > r.agent_return, 1), else_=0)), 0),
        func.coalesce(func.sum(case((r.human_return == r.agent_return, 1), else_=0)), 0),
    ).where(r.game == game, r.mode == "versus")
    with _database(path, database).read() as conn:
        best = [dict(row._mapping) for row in conn.execute(best_query)]
        n, wins, draws = (int(v) for v in conn.execute(counts_query).one())
    return {
        "best": best,
        "versus_games": n,
        "human_wins": wins,
        "draws": draws,
        "human_win_rate": wins / n if n else None,
    }
