"""Games between two Connect Four players, win/draw/loss per seat, and Wilson 95 % intervals.

``agents/metrics/stats.py`` has no binomial interval (bootstrap CIs over runs only), so the Wilson score
interval lives here; it is the one to use for a win rate over n independent games.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from agents.selfplay.board import Board
from agents.selfplay.bots import Opponent

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95 % by default); (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def play_game(players: tuple[Opponent, Opponent], rng: np.random.Generator) -> tuple[int, list[int]]:
    """Play one game, ``players[0]`` moving first: (winner seat 0/1 or -1 for a draw, the columns played)."""
    board, moves = Board(), []
    while not board.over:
        col = players[board.to_move].move(board, rng)
        board.play(col)  # raises on an illegal column: a player that picks one is a bug, not a loss
        moves.append(col)
    return board.winner, moves


@dataclass(frozen=True)
class SeatResult:
    """One player's results from one seat against one opponent over ``games`` games."""

    opponent: str
    seat: int
    games: int
    wins: int
    draws: int
    losses: int
    seed: int

    @property
    def win_rate(self) -> float:
        return self.wins / self.games if self.games else 0.0

    def ci(self, outcome: str) -> tuple[float, float]:
        """Wilson 95 % interval of the share of ``wins``, ``draws``, ``losses`` or ``non_losses``."""
        k = self.wins + self.draws if outcome == "non_losses" else getattr(self, outcome)
        return wilson(k, self.games)

    def to_dict(self) -> dict:
        d = asdict(self)
        for outcome in ("wins", "draws", "losses", "non_losses"):
            lo, hi = self.ci(outcome)
            d[f"{outcome}_ci95"] = [round(lo, 4), round(hi, 4)]
        return d


def play_seat(
    agent: Opponent,
    opponent: Opponent,
    seat: int,
    games: int,
    seed: int,
    on_game: Callable[[], None] | None = None,
) -> SeatResult:
    """``games`` games of ``agent`` in ``seat`` (0 moves first) against ``opponent``, one seeded generator;
    ``on_game`` is called after each game (a progress bar)."""
    rng = np.random.default_rng(seed)
    wins = draws = losses = 0
    for _ in range(games):
        players = (agent, opponent) if seat == 0 else (opponent, agent)
        winner, _ = play_game(players, rng)
        if winner == -1:
            draws += 1
        elif winner == seat:
            wins += 1
        else:
            losses += 1
        if on_game is not None:
            on_game()
    return SeatResult(opponent.name, seat, games, wins, draws, losses, seed)
