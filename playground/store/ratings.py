"""Head-to-head games between people and agents, and their OpenSkill ratings (per game).

A match updates the person's and the agent's rating (OpenSkill's Plackett-Luce model, Weng & Lin 2011, as
the ``openskill`` package implements it) in the same transaction that stores the match, so the ratings are
always the replay of the stored matches in the order they were recorded. The board shows the agent's
win/draw/loss record against people with a Wilson 95 % interval of its win rate (draws count as not won).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from openskill.models import PlackettLuce
from sqlalchemy import Connection, Row, and_, func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from agents.metrics.stats import wilson_ci
from playground.leaderboard import clean_player
from playground.store.db import Database
from playground.store.errors import StoreError
from playground.store.schema import matches, ratings

Outcome = Literal["win", "draw", "loss"]
"""from the PERSON's point of view"""
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
MAX_DETAIL_BYTES = 2_000_000
"""a match's detail as JSON: a replay (seed and both sides' moves) of a long Pong game is ~100 kB"""


@dataclass(frozen=True)
class MatchRecord:
    """One finished game between a person and an agent."""

    id: int
    game: str
    agent: str
    player: str
    seat: int
    """the person's seat (0 = first to move / left paddle)"""
    outcome: Outcome
    """the person's"""
    score: str | None
    """as the page shows it, e.g. ``21–17``"""
    seed: int
    detail: dict[str, Any]
    """the replay (seed and both sides' actions) and whatever else the game keeps"""
    finished_at: float


@dataclass(frozen=True)
class Rating:
    """An OpenSkill rating: ``ordinal`` = mu − 3·sigma, the conservative estimate boards rank by."""

    name: str
    kind: Literal["agent", "person"]
    mu: float
    sigma: float
    ordinal: float
    games: int


@dataclass(frozen=True)
class Board:
    """What the head-to-head page shows for one agent of one game."""

    game: str
    agent: Rating | None
    """None: nobody has played an agent of this game yet"""
    record: tuple[int, int, int]
    """the agent's wins, draws and losses against people"""
    agent_win_ci: tuple[float, float]
    """Wilson 95 % interval of the agent's win rate against people; (0, 1) before any game"""
    beaten_by: list[Rating]
    """people who won at least once against the agent, best rating first"""
    recent: list[MatchRecord]
    """newest first"""


def _match(row: Row[Any]) -> MatchRecord:
    m = row._mapping
    return MatchRecord(
        id=int(m["id"]),
        game=m["game"],
        agent=m["agent"],
        player=m["player"],
        seat=int(m["seat"]),
        outcome=cast(Outcome, m["outcome"]),
        score=m["score"],
        seed=int(m["seed"]),
        detail=dict(m["detail"]),
        finished_at=m["finished_at"],
    )


def _rating(row: Row[Any]) -> Rating:
    m = row._mapping
    return Rating(
        name=m["name"],
        kind=cast(Literal["agent", "person"], m["kind"]),
        mu=m["mu"],
        sigma=m["sigma"],
        ordinal=m["mu"] - 3 * m["sigma"],
        games=int(m["games"]),
    )


def _text(what: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise StoreError(f"a match's {what} must be text of 1 to {limit} characters, not {str(value)[:60]!r}")
    return value


def _detail(detail: Any) -> dict[str, Any]:
    if not isinstance(detail, dict):
        raise StoreError(f"a match's detail must be a dict, not {type(detail).__name__}")
    try:
        size = len(json.dumps(detail, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise StoreError(f"a match's detail is not plain JSON ({e}); store numbers, text, lists and dicts") from None
    if size > MAX_DETAIL_BYTES:
        raise StoreError(f"a match's detail is {size} bytes as JSON; the most is {MAX_DETAIL_BYTES}")
    return detail


_ORDINAL = ratings.c.mu - 3 * ratings.c.sigma


class RatingStore:
    """Matches and ratings. ``model`` is any openskill model (default Plackett-Luce with its defaults:
    mu 25, sigma 25/3)."""

    def __init__(self, db: Database, model: Any = None, clock: Callable[[], float] = time.time):
        self.db = db
        self.model = model if model is not None else PlackettLuce()
        self.clock = clock

    def _ensure(self, conn: Connection, game: str, kind: str, name: str, now: float) -> None:
        """Insert a fresh rating row unless one exists (two first games at once must not both insert)."""
        values = {
            "game": game,
            "kind": kind,
            "name": name,
            "mu": float(self.model.mu),
            "sigma": float(self.model.sigma),
            "games": 0,
            "updated_at": now,
        }
        stmt = (pg_insert if self.db.dialect == "postgresql" else sqlite_insert)(ratings).values(**values)
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["game", "kind", "name"]))

    def record_match(
        self,
        game: str,
        agent: str,
        player: str,
        seat: int,
        outcome: Outcome,
        seed: int,
        detail: dict[str, Any],
        score: str | None = None,
    ) -> MatchRecord:
        """Store a finished match and update both ratings, in one transaction. ``outcome`` is the person's."""
        if outcome not in OUTCOMES:
            raise StoreError(f"a match's outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        if isinstance(seat, bool) or not isinstance(seat, int) or not 0 <= seat < 16:
            raise StoreError(f"a match's seat must be a small whole number (0, 1, …), not {seat!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**63:
            raise StoreError(f"a match's seed must be a 64-bit whole number, not {seed!r}")
        game, agent = _text("game", game, 64), _text("agent", agent, 200)
        person = clean_player(player)
        score = None if score is None else _text("score", score, 64)
        detail = _detail(detail)
        now = self.clock()
        with self.db.begin() as conn:
            self._ensure(conn, game, "agent", agent, now)
            self._ensure(conn, game, "person", person, now)
            # lock both rows (PostgreSQL), always in the same order so two matches never deadlock
            rows = conn.execute(
                select(ratings)
                .where(
                    ratings.c.game == game,
                    tuple_(ratings.c.kind, ratings.c.name).in_([("agent", agent), ("person", person)]),
                )
                .order_by(ratings.c.kind, ratings.c.name)
                .with_for_update()
            ).all()
            by_kind = {r._mapping["kind"]: r._mapping for r in rows}
            a, p = by_kind["agent"], by_kind["person"]
            ranks = {"win": [0.0, 1.0], "draw": [0.0, 0.0], "loss": [1.0, 0.0]}[outcome]  # lower rank is better
            [[new_p], [new_a]] = self.model.rate(
                [[self.model.rating(mu=p["mu"], sigma=p["sigma"])], [self.model.rating(mu=a["mu"], sigma=a["sigma"])]],
                ranks=ranks,
            )
            for kind, name, old, new in (("agent", agent, a, new_a), ("person", person, p, new_p)):
                if not (math.isfinite(new.mu) and math.isfinite(new.sigma)):  # a guard: never store a NaN rating
                    raise StoreError(f"the rating update for {kind} {name!r} gave mu={new.mu}, sigma={new.sigma}")
                conn.execute(
                    update(ratings)
                    .where(ratings.c.game == game, ratings.c.kind == kind, ratings.c.name == name)
                    .values(mu=float(new.mu), sigma=float(new.sigma), games=old["games"] + 1, updated_at=now)
                )
            match_id = conn.execute(
                insert(matches).values(
                    game=game,
                    agent=agent,
                    player=person,
                    seat=seat,
                    outcome=outcome,
                    score=score,
                    seed=seed,
                    detail=detail,
                    finished_at=now,
                )
            ).inserted_primary_key
            assert match_id is not None
            row = conn.execute(select(matches).where(matches.c.id == match_id[0])).one()
        return _match(row)

    def rating(self, game: str, name: str, kind: Literal["agent", "person"]) -> Rating | None:
        """One agent's or person's rating in ``game``; None before their first match."""
        if kind == "person":
            name = clean_player(name)
        with self.db.read() as conn:
            row = conn.execute(
                select(ratings).where(ratings.c.game == game, ratings.c.kind == kind, ratings.c.name == name)
            ).first()
        return _rating(row) if row else None

    def ratings(self, game: str, kind: Literal["agent", "person"], *, limit: int = 50) -> list[Rating]:
        """Everyone of ``kind`` rated in ``game``, best (highest ordinal) first."""
        query = (
            select(ratings)
            .where(ratings.c.game == game, ratings.c.kind == kind)
            .order_by(_ORDINAL.desc(), ratings.c.name)
            .limit(max(0, int(limit)))
        )
        with self.db.read() as conn:
            return [_rating(r) for r in conn.execute(query)]

    def board(self, game: str, agent: str | None = None, *, limit: int = 20) -> Board:
        """The agent's record, rating and interval, who beat it and the recent matches. Without ``agent``:
        the agent of ``game`` that has played the most matches."""
        limit = max(0, int(limit))
        with self.db.read() as conn:
            if agent is None:
                agent = conn.execute(
                    select(ratings.c.name)
                    .where(ratings.c.game == game, ratings.c.kind == "agent")
                    .order_by(ratings.c.games.desc(), _ORDINAL.desc(), ratings.c.name)
                    .limit(1)
                ).scalar()
            if agent is None:
                return Board(game, None, (0, 0, 0), wilson_ci(0, 0), [], [])
            row = conn.execute(
                select(ratings).where(ratings.c.game == game, ratings.c.kind == "agent", ratings.c.name == agent)
            ).first()
            of_agent = and_(matches.c.game == game, matches.c.agent == agent)
            counts: dict[str, int] = dict(
                conn.execute(select(matches.c.outcome, func.count()).where(of_agent).group_by(matches.c.outcome)).all()
            )
            winners = select(matches.c.player).where(of_agent, matches.c.outcome == "win").distinct()
            beaten_by = conn.execute(
                select(ratings)
                .where(ratings.c.game == game, ratings.c.kind == "person", ratings.c.name.in_(winners))
                .order_by(_ORDINAL.desc(), ratings.c.name)
                .limit(limit)
            ).all()
            recent = conn.execute(
                select(matches).where(of_agent).order_by(matches.c.finished_at.desc(), matches.c.id.desc()).limit(limit)
            ).all()
        # the person's loss is the agent's win
        wins, draws, losses = (int(counts.get(k, 0)) for k in ("loss", "draw", "win"))
        return Board(
            game=game,
            agent=_rating(row) if row else None,
            record=(wins, draws, losses),
            agent_win_ci=wilson_ci(wins, wins + draws + losses),
            beaten_by=[_rating(r) for r in beaten_by],
            recent=[_match(r) for r in recent],
        )

    def match(self, match_id: int) -> MatchRecord | None:
        """One match by id (e.g. to replay it), or None."""
        try:
            key = int(match_id)
        except (TypeError, ValueError):
            return None
        if not 0 < key < 2**31:  # an id from a URL: PostgreSQL's integer column would refuse a larger one
            return None
        with self.db.read() as conn:
            row = conn.execute(select(matches).where(matches.c.id == key)).first()
        return _match(row) if row else None

    def matches(self, game: str, *, player: str | None = None, limit: int = 50) -> list[MatchRecord]:
        """Matches of ``game`` (of one player when given), newest first."""
        query = (
            select(matches)
            .where(matches.c.game == game)
            .order_by(matches.c.finished_at.desc(), matches.c.id.desc())
            .limit(max(0, int(limit)))
        )
        if player is not None:
            query = query.where(matches.c.player == clean_player(player))
        with self.db.read() as conn:
            return [_match(r) for r in conn.execute(query)]


__all__ = ["OUTCOMES", "Board", "MatchRecord", "Outcome", "Rating", "RatingStore"]
