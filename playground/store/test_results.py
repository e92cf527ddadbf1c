"""The leaderboard (playground/leaderboard.py) on each backend: the same ranking and counts on SQLite and
PostgreSQL, missing returns, and concurrent writers losing nothing (conftest.py gives both databases)."""

from __future__ import annotations

import threading

import pytest

from playground import leaderboard


def result(game="lunarlander", mode="versus", human=10.0, agent=200.0, seed=1):
    return {
        "game": game,
        "mode": mode,
        "seed": seed,
        "human_return": human,
        "human_steps": 100,
        "agent_return": agent,
        "agent_steps": 300,
    }


def test_the_board_ranks_and_counts_the_same_on_every_backend(db):
    for player, human, mode in [
        ("bo", -50.0, "versus"),
        ("ada", 220.0, "versus"),
        ("cy", 200.0, "versus"),
        ("di", 300.0, "solo"),
        ("ed", None, "versus"),
        ("fi", 900.0, "watch"),
    ]:
        leaderboard.record(result(human=human, mode=mode), player, database=db)
    leaderboard.record(result(game="cartpole", human=500, agent=500, seed=2**40), "gu", database=db)
    board = leaderboard.board("lunarlander", database=db)
    # a missing return ranks last (PostgreSQL would put NULL first in a descending order); watch is not ranked
    assert [r["player"] for r in board["best"]] == ["di", "ada", "cy", "bo", "ed"]
    assert (board["versus_games"], board["human_wins"], board["draws"]) == (4, 1, 1)
    assert board["human_win_rate"] == pytest.approx(1 / 4)
    assert leaderboard.board("lunarlander", limit=2, database=db)["best"][1]["player"] == "ada"
    cart = leaderboard.board("cartpole", database=db)
    assert cart["best"][0]["seed"] == 2**40 and cart["draws"] == 1
    row = leaderboard.get(1, database=db)
    assert row is not None and set(row) == {
        "id",
        "game",
        "mode",
        "seed",
        "player",
        "human_return",
        "human_steps",
        "agent_return",
        "agent_steps",
        "finished_at",
    }
    assert leaderboard.get(10**12, database=db) is None


def test_writers_in_threads_lose_nothing(db):
    def write(who: str) -> None:
        for i in range(15):
            leaderboard.record(result(human=float(i)), who, database=db)

    threads = [threading.Thread(target=write, args=(f"p{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert leaderboard.board("lunarlander", database=db)["versus_games"] == 45
