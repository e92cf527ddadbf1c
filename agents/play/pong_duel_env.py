"""Two-player Pong as a single-agent Gymnasium env: the learner on the right paddle (``first_0``), the opponent
inside the env, drawn each episode from a pool of scripted paddles and frozen snapshots of the learner.

Each PPO trajectory therefore has one point of view, the learner's (as ``agents.selfplay.env`` does for
Connect Four). The learner sees and acts exactly as the shipped Pong agent was trained and as it plays a
person: the env drives :class:`agents.play.pong_duel.PongDuel`, whose :class:`~agents.play.pong_duel.AgentEye`
is checked against SB3's AtariWrapper, so the shipped weights apply unchanged. One env step is one agent
decision: :data:`~agents.play.pong_duel.FRAME_SKIP` emulator frames with the learner's action held, the
opponent acting on every frame.

Reward: the game's own, from the learner's side: +1 for a point it wins, −1 for a point it concedes, −1 for
a serve it held past the two-player mode's timer (the penalty PettingZoo's pong gives; without it a learner
could stall a lost match by never serving). An episode is a whole match (to 21, as the ROM ends it, or
:data:`MAX_FRAMES` frames): the evaluation plays whole matches, the shipped agent's value function learned
whole single-player games, and a match against one opponent is what a person plays.

A snapshot on the left paddle sees the court mirrored (:func:`mirror`): PettingZoo gives both players the same
RGB screen, so the left paddle's view is that screen flipped left-right with the two paddles' colours swapped,
which puts its own paddle on the right in the right paddle's colour, as it learned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.play.pong_duel import (
    ACTIONS,
    AGENT,
    FRAME_SKIP,
    LEFT_PADDLE_RGB,
    PERSON,
    SCREEN,
    AgentEye,
    AgentPlayer,
    Bot,
    PongDuel,
    RandomPaddle,
    Tracker,
)

RIGHT_PADDLE_RGB = (92, 186, 92)
MAX_FRAMES = 40_000
"""a match's frame cap in training (11 minutes of play; the longest evidence match took ~20,000 frames)"""


def mirror(screen: np.ndarray) -> np.ndarray:
    """The court as the left paddle would see it from the right: flipped left-right, paddle colours swapped."""
    out = screen[:, ::-1].copy()
    # the red channel alone tells the court's colours apart (see pong_duel._rows)
    left = out[:, :, 0] == LEFT_PADDLE_RGB[0]
    right = out[:, :, 0] == RIGHT_PADDLE_RGB[0]
    out[left] = RIGHT_PADDLE_RGB
    out[right] = LEFT_PADDLE_RGB
    return out


class _Chosen:
    """The learner's action handed to PongDuel as a policy: probability one on the action PPO chose."""

    def __init__(self) -> None:
        self.action = 0

    def forward_info(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        probs = np.zeros((1, len(ACTIONS)))
        probs[0, self.action] = 1.0
        return {"probs": probs}

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        return np.array([self.action])


class SnapshotPaddle:
    """A frozen policy on the left paddle: it sees :func:`mirror` of the screen through its own AgentEye, with
    the same timing as the learner's (decides every FRAME_SKIP frames, max of each block's last two frames),
    and samples its action from its own seeded stream.

    :param policy: anything with ``forward_info`` (a :class:`agents.policy.network.LoadedPolicy`)
    """

    def __init__(self, name: str, policy: Any, frame_stack: int = 4):
        self.name, self.policy, self.frame_stack = name, policy, frame_stack
        self.reset(0)

    def reset(self, seed: int) -> None:
        self.eye = AgentEye(self.frame_stack)
        self.player = AgentPlayer(self.policy, int(seed) + 7)  # its own stream, not the learner's
        self.frame = 0
        self.action = 0
        self._second_last: np.ndarray | None = None

    def act(self, screen: np.ndarray) -> int:
        # ``screen`` is what frame ``self.frame - 1`` left: feed it to the eye as PongDuel feeds the learner's
        # (mirrored only on the frames the eye uses: the mirror costs more than the emulator's frame)
        if self.frame == 0:
            self.eye.reset(mirror(screen))
        else:
            k = (self.frame - 1) % FRAME_SKIP
            if k == FRAME_SKIP - 2:
                self._second_last = mirror(screen)
            elif k == FRAME_SKIP - 1:
                assert self._second_last is not None
                self.eye.block(self._second_last, mirror(screen))
        if self.frame % FRAME_SKIP == 0:
            self.action = self.player.act(self.eye.obs)
        self.frame += 1
        return self.action


def scripted_pool() -> dict[str, Callable[[], Bot]]:
    """The scripted left paddles of the fine-tuning pool: the evidence's three, plus trackers with shorter
    reaction delays (~67 and ~133 ms) between the 200 ms one and the perfect one, a curriculum's steps."""
    return {
        "random": RandomPaddle,
        "tracker-200ms": lambda: Tracker("tracker-200ms", delay=12),
        "tracker-133ms": lambda: Tracker("tracker-133ms", delay=8),
        "tracker-67ms": lambda: Tracker("tracker-67ms", delay=4),
        "perfect-tracker": lambda: Tracker("perfect-tracker", delay=0, dead_band=2.0),
    }


@dataclass
class DuelPool:
    """The opponents a training match draws from: scripted paddles (by weight) plus frozen snapshots.

    A match meets a snapshot with probability ``snapshot_share`` when there is one (uniform over them), else a
    scripted paddle drawn by ``weights``. Shared by every env of a run, so a new snapshot reaches all of them.
    """

    scripted: dict[str, Callable[[], Bot]] = field(default_factory=scripted_pool)
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "random": 0.1,
            "tracker-200ms": 0.3,
            "tracker-133ms": 0.2,
            "tracker-67ms": 0.15,
            "perfect-tracker": 0.25,
        }
    )
    snapshots: list[SnapshotPaddle] = field(default_factory=list)
    snapshot_share: float = 0.2

    def draw(self, rng: np.random.Generator) -> Bot:
        if self.snapshots and rng.random() < self.snapshot_share:
            return self.snapshots[int(rng.integers(len(self.snapshots)))]
        names = list(self.weights)
        p = np.array([self.weights[n] for n in names], dtype=np.float64)
        return self.scripted[names[int(rng.choice(len(names), p=p / p.sum()))]]()


class PongDuelEnv(gym.Env):
    """Two-player Pong from the right paddle: 84×84×``frame_stack`` uint8 observations (the shipped agent's),
    the six minimal actions, the opponent drawn from ``pool`` at every reset.

    ``info`` carries the opponent's name, both scores and the serve penalties; at a match's end also
    ``outcome`` (win, loss or draw).
    """

    metadata = {"render_modes": []}  # noqa: RUF012 (gymnasium declares it as a class attribute)

    def __init__(self, pool: DuelPool | None = None, frame_stack: int = 4, max_frames: int = MAX_FRAMES):
        super().__init__()
        self.observation_space = spaces.Box(0, 255, (SCREEN, SCREEN, frame_stack), np.uint8)
        self.action_space = spaces.Discrete(len(ACTIONS))
        self.pool = pool or DuelPool()
        self._chosen = _Chosen()
        self.duel = PongDuel(self._chosen, 0, frame_stack=frame_stack, max_frames=max_frames)
        self.opponent: Bot = RandomPaddle()  # until the first reset draws one

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        match_seed = int(self.np_random.integers(2**31 - 1))
        self.opponent = self.pool.draw(self.np_random)
        self.duel.reset(match_seed)
        self.opponent.reset(match_seed)
        return self.duel.eye.obs.copy(), self._info()

    def _info(self) -> dict[str, Any]:
        d = self.duel
        return {
            "opponent": self.opponent.name,
            "seed": d.seed,
            "score": {"agent": d.agent_points, "opponent": d.person_points},
            "serve_penalties": {"agent": d.serve_penalties[AGENT], "opponent": d.serve_penalties[PERSON]},
        }

    def step(self, action):
        d = self.duel
        before = (d.agent_points, d.person_points, d.serve_penalties[AGENT])
        self._chosen.action = int(action)
        for _ in range(FRAME_SKIP):
            if d.done:
                break
            d.step(self.opponent.act(d.screen))
        won, lost, held = (
            d.agent_points - before[0],
            d.person_points - before[1],
            d.serve_penalties[AGENT] - before[2],
        )
        reward = float(won - lost - held)
        info = self._info()
        if d.done:
            info["outcome"] = (
                "win" if d.agent_points > d.person_points else "loss" if d.agent_points < d.person_points else "draw"
            )
        return d.eye.obs.copy(), reward, d.game_over, d.done and not d.game_over, info

    def close(self) -> None:
        self.duel.close()
