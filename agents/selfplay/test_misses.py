"""count_misses classifies a loss by what the agent passed over."""

from __future__ import annotations

from agents.selfplay.board import Board
from agents.selfplay.bots import OnePlyBot, RandomBot
from agents.selfplay.misses import count_misses


class LeftmostBot:
    """Always the leftmost legal column: it never blocks, so one-ply beats it with blocks it ignored."""

    name = "leftmost"

    def move(self, board: Board, rng) -> int:
        return board.legal_moves()[0]


def test_a_bot_that_never_blocks_is_caught_missing_blocks_and_one_ply_never_is():
    m = count_misses(LeftmostBot(), OnePlyBot(), seat=1, games=40, seed=0)
    assert m.losses > 0 and m.missed_block + m.missed_win > 0
    clean = count_misses(OnePlyBot(), RandomBot(), seat=0, games=60, seed=0)
    assert clean.missed_block == clean.missed_win == 0  # one-ply takes every win and every forced block
