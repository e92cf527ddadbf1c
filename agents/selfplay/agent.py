"""The Connect Four agent as a server calls it: a position in, the move, the move probabilities and V(s) out.

>>> agent = ConnectFourAgent.load(Path("~/selfplay/runs/seed1/final/agent.json").expanduser())
>>> d = agent.decide(board_from_moves([3, 3, 2]))  # columns 0..6 played so far, player_0 first
>>> d.column, d.probabilities, d.value  # 0..6, seven floats (0 on full columns), V(s)

The policy is the NumPy copy of the trained MaskablePPO policy (``agents/selfplay/policy.py``), loaded
from safetensors + JSON, never unpickled. The move is always legal: the probabilities are the policy's
softmax over the legal columns only, exactly as ``MaskablePPO.predict(obs, action_masks=...)`` computes
them (``test_agent.py`` checks both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.selfplay.board import COLS, Board
from agents.selfplay.policy import NumpyPolicy

MAX_MOVES = 42


@dataclass(frozen=True)
class Decision:
    """What the agent plays in a position and what it thinks of it."""

    column: int
    """the column it drops in, 0..6 (the person's keys 1..7 are column + 1)"""
    probabilities: tuple[float, ...]
    """seven move probabilities, summing to 1, exactly 0 on full columns"""
    value: float
    """V(s): the value head's estimate of the outcome for the side to move, about -1 (loss) .. +1 (win)"""


def board_from_moves(moves: Sequence[int]) -> Board:
    """The position after ``moves`` (columns 0..6, ``player_0`` first); ValueError names the first bad move."""
    if len(moves) > MAX_MOVES:
        raise ValueError(f"{len(moves)} moves: a game has at most {MAX_MOVES}")
    board = Board()
    for i, col in enumerate(moves):
        if not isinstance(col, (int, np.integer)) or isinstance(col, bool) or not board.can_play(int(col)):
            raise ValueError(f"move {i + 1} ({col!r}) is not a legal column here")
        board.play(int(col))
    return board


class ConnectFourAgent:
    """A trained Connect Four policy that picks moves for whichever side is to move."""

    def __init__(self, policy: NumpyPolicy, meta: dict[str, Any] | None = None):
        self.policy = policy
        self.meta = meta or {}

    @classmethod
    def load(cls, path: Path) -> ConnectFourAgent:
        """Load ``agent.json`` + ``agent.safetensors`` (either file's path, or the path without a suffix)."""
        return cls(*NumpyPolicy.load(Path(path).with_suffix("")))

    def decide(
        self, position: Board | np.ndarray, deterministic: bool = True, rng: np.random.Generator | None = None
    ) -> Decision:
        """The agent's move for the side to move in ``position``, with its probabilities and V(s).

        :param position: a :class:`Board`, or a 6x7 grid in PettingZoo's layout (row 0 at the top, 0 empty,
            1 ``player_0``, 2 ``player_1``), validated by :meth:`Board.from_grid`
        :param deterministic: the most probable column (as evaluated); else sampled with ``rng``
        :raises ValueError: the grid is not a reachable position, or the game is over
        """
        board = position if isinstance(position, Board) else Board.from_grid(position)
        legal = board.legal_mask()
        if not legal.any():
            raise ValueError("the game is over: there is no move to make")
        planes = board.planes()
        probs = self.policy.probabilities(planes, legal)[0]
        if deterministic:
            column = int(np.argmax(probs))
        else:
            column = int((rng or np.random.default_rng()).choice(COLS, p=probs))
        value = float(self.policy.value(planes)[0])
        return Decision(column, tuple(float(p) for p in probs), value)

    def move(self, board: Board, rng: np.random.Generator) -> int:
        """The best column: the agent as an opponent (``agents.selfplay.bots.Opponent``)."""
        return self.decide(board).column

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "agent"))
