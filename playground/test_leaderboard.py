"""The leaderboard on the playground's database: what is stored, how the board ranks, that concurrent writers
lose nothing, and that a file of the first (stdlib sqlite3) release keeps its rows. The same behaviour on
PostgreSQL: playground/store/test_results.py."""

import multiprocessing as mp
import sqlite3
from contextlib import closing

import pytest

from playground import leaderboard
from playground.store.errors import StoreError
from playground.store.test_db import OLD_SCHEMA


@pytest.fixture
def db(tmp_path):
    return tmp_path / "board.sqlite"


def result(game="lunarlander", mode="versus", human=10.0, agent=200.0, seed=1):
    return {
        "game": game,
        "mode": mode,
        "seed": seed,
        "human_return": human,
        "human_steps": 100,
        "agent_return": agent if mode != "solo" else None,
        "agent_steps": 300 if mode != "solo" else None,
    }


def test_a_result_is_stored_and_read_back(db):
    rid = leaderboard.record(result(human=250.5), "  Ada\n", path=db)
    row = leaderboard.get(rid, path=db)
    assert row["player"] == "Ada" and row["human_return"] == 250.5 and row["agent_return"] == 200.0
    assert leaderboard.winner(row) == "human"
    assert leaderboard.get(rid + 1, path=db) is None


def test_the_board_ranks_people_and_counts_how_often_they_beat_the_agent(db):
    leaderboard.record(result(human=-50), "bo", path=db)
    leaderboard.record(result(human=220), "ada", path=db)
    leaderboard.record(result(human=200), "cy", path=db)  # a draw with the agent
    leaderboard.record(result(mode="solo", human=300), "di", path=db)
    leaderboard.record(result(game="cartpole", human=500, agent=500), "ed", path=db)
    board = leaderboard.board("lunarlander", path=db)
    assert [r["player"] for r in board["best"]] == ["di", "ada", "cy", "bo"]
    assert (board["versus_games"], board["human_wins"], board["draws"]) == (3, 1, 1)
    assert board["human_win_rate"] == pytest.approx(1 / 3)
    empty = leaderboard.board("pong", path=db)
    assert empty["best"] == [] and empty["human_win_rate"] is None


def test_watch_mode_has_no_winner_and_names_are_cleaned():
    assert leaderboard.winner(result(mode="watch")) is None
    assert leaderboard.clean_player("") == "anonymous"
    assert leaderboard.clean_player("x" * 100) == "x" * leaderboard.MAX_PLAYER
    assert leaderboard.clean_player("a\x00b\x1bc") == "abc"


def test_a_result_with_an_unknown_mode_is_refused(db):
    with pytest.raises(StoreError, match="mode must be one of versus, solo, watch, not 'duel'"):
        leaderboard.record(result(mode="duel"), "ada", path=db)


def test_without_a_path_the_board_is_the_file_in_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("PLAYGROUND_DATABASE_URL", raising=False)
    rid = leaderboard.record(result(), "ada")
    assert leaderboard.db_path() == tmp_path / "data" / "playground.sqlite" and leaderboard.db_path().exists()
    assert leaderboard.get(rid, path=leaderboard.db_path())["player"] == "ada"


def test_a_board_of_the_first_release_keeps_its_rows(db):
    with closing(sqlite3.connect(db)) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute(
            "INSERT INTO results (game, mode, seed, player, human_return, human_steps, agent_return, agent_steps,"
            " finished_at) VALUES ('lunarlander', 'versus', 3, 'ada', 250.0, 300, 200.0, 400, 1.0)"
        )
        conn.commit()
    assert leaderboard.get(1, path=db)["player"] == "ada"
    leaderboard.record(result(human=10), "bo", path=db)
    board = leaderboard.board("lunarlander", path=db)
    assert [r["player"] for r in board["best"]] == ["ada", "bo"] and board["human_wins"] == 1


def _write_many(path, n, who):
    for i in range(n):
        leaderboard.record(result(human=float(i)), who, path=path)


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(db):
    leaderboard.board("lunarlander", path=db)  # create the file first, as the app does
    procs = [mp.get_context("spawn").Process(target=_write_many, args=(db, 40, f"p{k}")) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert leaderboard.board("lunarlander", path=db)["versus_games"] == 160
