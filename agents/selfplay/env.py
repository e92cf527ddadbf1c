"""The single-agent self-play env: the learner plays one seat, the opponent lives inside the env.

Each PPO trajectory therefore has one point of view, the learner's: an episode is the learner's moves
only, from the seat it was given (alternating between episodes), and its last step carries the learner's
own terminal reward (+1 win, -1 loss, 0 draw), whichever side made the last move. This is what PettingZoo's
SB3 tutorial gets wrong: it steps both seats through one shared trajectory, so the loser's -1 lands on the
step the winner took. The opponent is drawn each episode from an :class:`OpponentPool`: frozen snapshots of
the learner that passed a gate, plus fixed anchors (random, one-ply) so the learner never forgets how to
beat simple play.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.selfplay.board import COLS, ROWS, Board
from agents.selfplay.bots import OnePlyBot, Opponent, RandomBot


@dataclass
class OpponentPool:
    """The opponents a training episode draws from: fixed anchors plus gated snapshots.

    An episode meets an anchor with probability ``anchor_share`` (split over the anchors by
    ``anchor_weights``, evenly when None), else a snapshot drawn uniformly; with no snapshot yet, always an
    anchor.
    """

    anchors: list[Opponent] = field(default_factory=lambda: [RandomBot(), OnePlyBot()])
    snapshots: list[Opponent] = field(default_factory=list)
    anchor_share: float = 0.3
    anchor_weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.anchor_weights is not None:
            w = np.asarray(self.anchor_weights, dtype=float)
            if len(w) != len(self.anchors) or (w < 0).any() or w.sum() <= 0:
                raise ValueError(f"anchor_weights={self.anchor_weights}: one weight >= 0 per anchor, not all 0")

    def members(self) -> list[Opponent]:
        return [*self.anchors, *self.snapshots]

    def draw(self, rng: np.random.Generator) -> Opponent:
        if self.snapshots and rng.random() >= self.anchor_share:
            return self.snapshots[int(rng.integers(len(self.snapshots)))]
        if self.anchor_weights is None:
            return self.anchors[int(rng.integers(len(self.anchors)))]
        w = np.asarray(self.anchor_weights, dtype=float)
        return self.anchors[int(rng.choice(len(self.anchors), p=w / w.sum()))]


class SelfPlayEnv(gym.Env):
    """Connect Four from the learner's seat: observations are PettingZoo's two planes from the learner's point
    of view, actions are columns, ``action_masks()`` gives the legal ones (sb3-contrib's MaskablePPO reads it).

    :param pool: where the opponent of each episode comes from (shared by every env of a run, so a snapshot
        that passes the gate reaches all of them)
    :param first_seat: the learner's seat in the first episode; it alternates after every episode
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium declares it as a class attribute)

    def __init__(self, pool: OpponentPool, first_seat: int = 0):
        super().__init__()
        self.observation_space = spaces.Box(0, 1, (ROWS, COLS, 2), np.int8)
        self.action_space = spaces.Discrete(COLS)
        self.pool = pool
        self._next_seat = first_seat
        self.board = Board()
        self.seat = first_seat
        self.opponent: Opponent = pool.anchors[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.board = Board()
        self.seat, self._next_seat = self._next_seat, 1 - self._next_seat
        self.opponent = self.pool.draw(self.np_random)
        if self.seat == 1:
            self.board.play(self.opponent.move(self.board, self.np_random))
        return self.board.planes(), self._info()

    def _info(self) -> dict:
        return {"seat": self.seat, "opponent": self.opponent.name}

    def action_masks(self) -> np.ndarray:
        return self.board.legal_mask()

    def step(self, action):
        # an illegal column raises (Board.play): with the mask applied it cannot be chosen, and a silent
        # fallback would hide a masking bug
        self.board.play(int(action))
        if not self.board.over:
            self.board.play(self.opponent.move(self.board, self.np_random))
        reward = 0.0
        if self.board.winner >= 0:
            reward = 1.0 if self.board.winner == self.seat else -1.0
        info = self._info()
        if self.board.over:
            info["outcome"] = {1.0: "win", -1.0: "loss", 0.0: "draw"}[reward]
        return self.board.planes(), reward, self.board.over, False, info
