"""Why an agent loses: its games against a bot from one seat, and for each loss whether the agent, before one
of its moves, passed over an immediate win of its own or a four it had to block (``bots.immediate_wins`` and
``bots.forced_blocks``). Tactical misses like these are what a stronger search opponent exploits.

    python -m agents.selfplay.misses models/connect-four/agent.json --opponent random --seat 1 --games 600
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.selfplay.board import Board
from agents.selfplay.bots import Opponent, forced_blocks, immediate_wins, make_bot
from agents.selfplay.evaluate import play_game
from agents.selfplay.policy import NumpyPolicy, PolicyOpponent


@dataclass(frozen=True)
class Misses:
    """Losses among ``games``, and how many of them followed a missed win or a missed block (a loss may have both)."""

    games: int
    losses: int
    missed_win: int
    missed_block: int
    neither: int


def count_misses(agent: Opponent, opponent: Opponent, seat: int, games: int, seed: int) -> Misses:
    """Play ``games`` games with the agent in ``seat`` and classify its losses."""
    rng = np.random.default_rng(seed)
    losses = win = block = neither = 0
    for _ in range(games):
        players = (agent, opponent) if seat == 0 else (opponent, agent)
        winner, moves = play_game(players, rng)
        if winner != 1 - seat:
            continue
        losses += 1
        board, kinds = Board(), set()
        for col in moves:
            if board.to_move == seat:
                wins, blocks = immediate_wins(board), forced_blocks(board)
                if wins and col not in wins:
                    kinds.add("win")
                elif blocks and col not in blocks:
                    kinds.add("block")
            board.play(col)
        win += "win" in kinds
        block += "block" in kinds
        neither += not kinds
    return Misses(games, losses, win, block, neither)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("agent", type=Path, help="an agent.json (a bundle's or a run's final/)")
    parser.add_argument("--opponent", default="random", help="random, one-ply or negamax-N (default random)")
    parser.add_argument("--seat", type=int, choices=(0, 1), default=1, help="the agent's seat (default 1: second)")
    parser.add_argument("--games", type=int, default=600)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    policy, _ = NumpyPolicy.load(args.agent)
    m = count_misses(
        PolicyOpponent(policy, "agent", deterministic=True), make_bot(args.opponent), args.seat, args.games, args.seed
    )
    print(
        f"{m.losses} losses in {m.games} games against {args.opponent} from seat {args.seat}: {m.missed_block} after a "
        f"missed block, {m.missed_win} after a missed win of its own (a game can have both), {m.neither} neither"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
