"""Head-to-head matches and OpenSkill ratings: one match moves both ratings as openskill computes them, in
one transaction (all or nothing), concurrent matches lose no update, and the board's record, Wilson
interval, 'beaten by' and recent list. Each test runs on SQLite and on PostgreSQL (conftest.py)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from openskill.models import PlackettLuce

from agents.metrics.stats import wilson_ci
from playground.store.errors import StoreError
from playground.store.ratings import RatingStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture
def store(db) -> RatingStore:
    return RatingStore(db, clock=Clock())


def play(store: RatingStore, player: str, outcome: Any, agent: str = "connect4-ppo", game: str = "connect4", **kw):
    return store.record_match(game, agent, player, 0, outcome, 7, {"moves": [3, 3, 4]}, **kw)


def test_a_win_moves_both_ratings_as_openskill_does(store):
    m = play(store, "  Ada\n", "win", score="1–0")
    assert (m.player, m.outcome, m.score, m.seed, m.detail) == ("Ada", "win", "1–0", 7, {"moves": [3, 3, 4]})
    assert store.match(m.id) == m and store.match(m.id + 1) is None and store.match("x") is None
    model = PlackettLuce()
    [[ada], [bot]] = model.rate([[model.rating()], [model.rating()]], ranks=[0, 1])
    person, agent = store.rating("connect4", "Ada", "person"), store.rating("connect4", "connect4-ppo", "agent")
    assert person is not None and agent is not None
    assert (person.mu, person.sigma, person.games) == (pytest.approx(ada.mu), pytest.approx(ada.sigma), 1)
    assert (agent.mu, agent.sigma, agent.games) == (pytest.approx(bot.mu), pytest.approx(bot.sigma), 1)
    assert person.mu > 25 > agent.mu and person.ordinal == pytest.approx(person.mu - 3 * person.sigma)


def test_ratings_are_the_replay_of_the_matches_in_order(store):
    model = PlackettLuce()
    people = {"ada": model.rating(), "bo": model.rating()}
    bot = model.rating()
    for player, outcome in [("ada", "loss"), ("bo", "draw"), ("ada", "win"), ("bo", "loss"), ("ada", "draw")]:
        play(store, player, outcome)
        ranks = {"win": [0, 1], "draw": [0, 0], "loss": [1, 0]}[outcome]
        [[people[player]], [bot]] = model.rate([[people[player]], [bot]], ranks=ranks)
    for name, expected in people.items():
        got = store.rating("connect4", name, "person")
        assert got is not None and (got.mu, got.sigma) == (pytest.approx(expected.mu), pytest.approx(expected.sigma))
    agent = store.rating("connect4", "connect4-ppo", "agent")
    assert agent is not None and agent.games == 5 and agent.mu == pytest.approx(bot.mu)
    assert [r.name for r in store.ratings("connect4", "person")] == sorted(
        people, key=lambda n: -(people[n].mu - 3 * people[n].sigma)
    )


def test_the_board_counts_the_agents_record_with_its_wilson_interval(store):
    for player, outcome in [("ada", "win"), ("bo", "loss"), ("cy", "loss"), ("ada", "draw"), ("di", "win")]:
        play(store, player, outcome)
    play(store, "ed", "win", agent="other-agent")  # another agent of the game: not on this board
    play(store, "fi", "win", game="pong")
    board = store.board("connect4", "connect4-ppo", limit=3)
    assert board.record == (2, 1, 2)  # the agent's wins (people's losses), draws, losses
    assert board.agent_win_ci == wilson_ci(2, 5)
    assert board.agent is not None and board.agent.games == 5
    assert sorted(r.name for r in board.beaten_by) == ["ada", "di"]
    assert [r.ordinal for r in board.beaten_by] == sorted((r.ordinal for r in board.beaten_by), reverse=True)
    assert [m.player for m in board.recent] == ["di", "ada", "cy"]  # newest first, at most `limit`
    assert store.board("connect4").agent.name == "connect4-ppo"  # without a name: the most-played agent
    assert [m.player for m in store.matches("connect4", player="ada")] == ["ada", "ada"]
    empty = store.board("breakout")
    assert (empty.agent, empty.record, empty.agent_win_ci, empty.recent) == (None, (0, 0, 0), (0.0, 1.0), [])


def test_bad_values_are_refused_before_anything_is_stored(store):
    with pytest.raises(StoreError, match="outcome must be one of win, draw, loss, not 'won'"):
        play(store, "ada", "won")
    with pytest.raises(StoreError, match="seat must be a small whole number"):
        store.record_match("connect4", "a", "ada", -1, "win", 1, {})
    with pytest.raises(StoreError, match="detail is not plain JSON"):
        store.record_match("connect4", "a", "ada", 0, "win", 1, {"x": object()})
    assert store.matches("connect4") == [] and store.ratings("connect4", "person") == []


class BrokenModel:
    """Plackett-Luce whose update of the first team (the person) comes out as NaN."""

    def __init__(self) -> None:
        self.inner = PlackettLuce()
        self.mu, self.sigma, self.rating = self.inner.mu, self.inner.sigma, self.inner.rating

    def rate(self, *args, **kwargs):
        [[a], [b]] = self.inner.rate(*args, **kwargs)
        a.mu = float("nan")
        return [[a], [b]]


def test_a_match_and_its_rating_updates_are_one_transaction(db):
    store = RatingStore(db, model=BrokenModel())
    with pytest.raises(StoreError, match="gave mu=nan"):
        play(store, "ada", "win")
    # the agent's rating was already updated when the person's failed: all of it was rolled back
    assert store.ratings("connect4", "agent") == [] and store.ratings("connect4", "person") == []
    assert store.matches("connect4") == []


def test_matches_recorded_at_once_lose_no_rating_update(db):
    store = RatingStore(db)
    errors: list[BaseException] = []

    def many(player: str) -> None:
        try:
            for _ in range(8):
                play(store, player, "loss")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=many, args=(f"p{k}",)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    agent = store.rating("connect4", "connect4-ppo", "agent")
    assert agent is not None and agent.games == 24 and len(store.matches("connect4", limit=100)) == 24
    assert store.board("connect4").record == (24, 0, 0)
