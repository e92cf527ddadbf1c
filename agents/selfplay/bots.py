"""Test opponents for Connect Four: uniform random, one-ply and negamax with alpha-beta.

They are opponents to measure and train against, not product features. Each is an :class:`Opponent`:
``move(board, rng)`` returns a legal column for the side to move. Ties are broken with ``rng`` so that
many games against a deterministic agent are not one game repeated.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from agents.selfplay.board import _BOTTOM, _COLUMN, _TOP, CENTER_FIRST, COLS, ROWS, Board, has_four, winning_cells

WIN = 1000
"""a won position's score before the distance discount (far above any heuristic value)"""


class Opponent(Protocol):
    """Anything that picks a move: the bots here, a frozen snapshot, the agent."""

    @property
    def name(self) -> str: ...

    def move(self, board: Board, rng: np.random.Generator) -> int: ...


class RandomBot:
    """A uniformly random legal column."""

    name = "random"

    def move(self, board: Board, rng: np.random.Generator) -> int:
        return int(rng.choice(board.legal_moves()))


def immediate_wins(board: Board) -> list[int]:
    """Columns where the side to move makes four now."""
    return [c for c in board.legal_moves() if board.is_winning_move(c)]


def forced_blocks(board: Board) -> list[int]:
    """Columns where the other side would make four on its next move, so the side to move must play there."""
    other = board.current ^ board.mask
    return [c for c in board.legal_moves() if has_four(other | ((board.mask + _BOTTOM[c]) & _COLUMN[c]))]


class OnePlyBot:
    """Wins when it can, blocks when it must, else a random legal column."""

    name = "one-ply"

    def move(self, board: Board, rng: np.random.Generator) -> int:
        for choices in (immediate_wins(board), forced_blocks(board)):
            if choices:
                return int(rng.choice(choices))
        return int(rng.choice(board.legal_moves()))


def _heuristic(current: int, mask: int) -> int:
    """The side to move's open lines minus the other side's (cells that complete four), plus its centre stones."""
    other = current ^ mask
    centre = _COLUMN[3]
    return (
        2 * (winning_cells(current, mask).bit_count() - winning_cells(other, mask).bit_count())
        + (current & centre).bit_count()
        - (other & centre).bit_count()
    )


def negamax(current: int, mask: int, moves: int, depth: int, alpha: int, beta: int) -> int:
    """The side to move's score searching ``depth`` plies (alpha-beta); a win in k plies scores WIN - k."""
    if moves == ROWS * COLS:
        return 0
    playable = [c for c in CENTER_FIRST if not mask & _TOP[c]]
    for c in playable:  # a win now ends the search: nothing scores higher
        if has_four(current | ((mask + _BOTTOM[c]) & _COLUMN[c])):
            return WIN - 1
    if depth <= 1:
        # one ply left: the opponent's reply is not searched, so the position after each move is judged
        best = -WIN
        for c in playable:
            new_mask = mask | (mask + _BOTTOM[c])
            best = max(best, -_heuristic(current ^ mask, new_mask))
        return best
    for c in playable:
        new_mask = mask | (mask + _BOTTOM[c])
        score = -negamax(current ^ mask, new_mask, moves + 1, depth - 1, -beta, -alpha)
        if score > WIN // 2:
            score -= 1  # a win one ply further away is worth a little less
        elif score < -WIN // 2:
            score += 1
        if score > alpha:
            alpha = score
            if alpha >= beta:
                break
    return alpha


class NegamaxBot:
    """Negamax with alpha-beta to ``depth`` plies, a threat-count heuristic at the horizon, random ties.

    The root tries the columns in a random order and keeps the first that scores strictly best, which picks
    uniformly among the equally good ones while alpha-beta still prunes (a later equal column fails low).
    """

    def __init__(self, depth: int):
        if not 1 <= depth <= 8:
            raise ValueError(f"negamax depth {depth} is outside 1..8")
        self.depth = depth
        self.name = f"negamax-{depth}"

    def scores(self, board: Board) -> dict[int, int]:
        """Every legal column's exact score (full window): for tests and inspection."""
        out = {}
        for c in board.legal_moves():
            if board.is_winning_move(c):
                out[c] = WIN - 1
                continue
            child = board.copy()
            child.play(c)
            out[c] = -negamax(child.current, child.mask, child.moves, self.depth - 1, -WIN - 1, WIN + 1)
        return out

    def move(self, board: Board, rng: np.random.Generator) -> int:
        legal = board.legal_moves()
        wins = [c for c in legal if board.is_winning_move(c)]
        if wins:
            return int(rng.choice(wins))
        order = [legal[i] for i in rng.permutation(len(legal))]
        best_col, alpha = order[0], -WIN - 1
        for c in order:
            new_mask = board.mask | (board.mask + _BOTTOM[c])
            if self.depth == 1:
                score = -_heuristic(board.current ^ board.mask, new_mask)
            else:
                score = -negamax(
                    board.current ^ board.mask, new_mask, board.moves + 1, self.depth - 1, -WIN - 1, -alpha
                )
            if score > alpha:
                best_col, alpha = c, score
        return best_col


def make_bot(name: str) -> Opponent:
    """A test opponent by name: ``random``, ``one-ply`` or ``negamax-N`` (N in 1..8)."""
    if name == "random":
        return RandomBot()
    if name == "one-ply":
        return OnePlyBot()
    if name.startswith("negamax-") and name[len("negamax-") :].isdigit():
        return NegamaxBot(int(name[len("negamax-") :]))
    raise ValueError(f"unknown opponent '{name}': use random, one-ply or negamax-N (N in 1..8)")


TIES = (
    "random among equal choices, drawn from a numpy Generator (PCG64) the caller passes: the evaluation seeds "
    "one per (opponent, seat) block of games, a replay one per game with the replay's seed"
)


def definition(name: str) -> dict[str, Any]:
    """What a test opponent is, as data for a bundle's manifest: name, kind, parameters, how ties are broken.

    ``make_bot(d["name"])`` makes it again; ``playground verify`` compares a bundle's recorded definitions with
    these, so an opponent whose code changed meaning is noticed.
    """
    bot = make_bot(name)  # an unknown name raises here
    code = "agents/selfplay/bots.py"
    if isinstance(bot, RandomBot):
        return {
            "name": name,
            "kind": "random",
            "params": {},
            "plays": "a uniformly random legal column",
            "ties": TIES,
            "code": code,
        }
    if isinstance(bot, OnePlyBot):
        return {
            "name": name,
            "kind": "one-ply",
            "params": {},
            "plays": "a winning column if any, else one that blocks the other side's four, else a random legal one",
            "ties": TIES,
            "code": code,
        }
    assert isinstance(bot, NegamaxBot)
    return {
        "name": name,
        "kind": "negamax",
        "params": {"depth": bot.depth, "win_score": WIN, "alpha_beta": True},
        "plays": (
            f"an immediate win if any; else negamax with alpha-beta to {bot.depth} plies (a win in k plies scores "
            f"{WIN} - k), at the horizon 2 x (its cells that complete four - the other side's) + its centre-column "
            "stones - the other side's; the root tries the columns in a random order and keeps the first strictly best"
        ),
        "ties": TIES,
        "code": code,
    }


__all__ = [
    "COLS",
    "NegamaxBot",
    "OnePlyBot",
    "Opponent",
    "RandomBot",
    "definition",
    "forced_blocks",
    "immediate_wins",
    "make_bot",
]
