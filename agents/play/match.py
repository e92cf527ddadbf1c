"""A match between a person and an agent: two envs on the same seed, stepped in lockstep.

No web here: the play page's WebSocket (``playground.play_server``) drives a :class:`Match` one step per
message. A person's side is the game's ``human`` env, the agent's side its ``eval`` env (the observation
pipeline the agent was trained on), so both see the same game from the same seed.

Atari for people: the same settings as the agent's evaluation. Four emulator frames per step with the
last two max-pooled (SB3's AtariWrapper), i.e. 15 decisions per second shown in real time (60 Hz
emulator); no sticky actions; no-op starts drawn from the seed; the whole game, every life; rewards
unclipped, so the score is the game's score. Same rules on both sides keep Versus fair.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.media.watch import jpeg_frame
from agents.policy.network import LoadedPolicy
from envs import GameSpec, make_env

MODES = ("versus", "solo", "watch")


@dataclass
class Side:
    """One player's env and running score."""

    env: Any
    obs: Any = None
    episode_return: float = 0.0
    steps: int = 0
    reward: float = 0.0
    done: bool = False
    frame: bytes = b""

    def reset(self, seed: int) -> None:
        self.obs, _ = self.env.reset(seed=seed)
        self.episode_return, self.steps, self.reward, self.done = 0.0, 0, 0.0, False
        self.frame = jpeg_frame(self.env.render())

    def step(self, action) -> None:
        if self.done:
            return
        self.obs, reward, terminated, truncated, _ = self.env.step(action)
        self.reward = float(reward)
        self.episode_return += self.reward
        self.steps += 1
        self.done = bool(terminated or truncated)
        self.frame = jpeg_frame(self.env.render())

    def state(self) -> dict[str, Any]:
        return {
            "return": round(self.episode_return, 4),
            "steps": self.steps,
            "reward": round(self.reward, 4),
            "done": self.done,
        }


class Match:
    """Versus (person and agent), Solo (person) or Watch (agent alone) on one seed.

    The episode is over when every side playing is done; a side that finishes first keeps its last
    frame and score while the other plays on.
    """

    def __init__(self, spec: GameSpec, mode: str, seed: int, policy: LoadedPolicy | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        if mode in ("versus", "watch") and policy is None:
            raise ValueError(f"{spec.name} has no trained agent, so only Solo can be played")
        self.spec, self.mode, self.policy = spec, mode, policy
        self.human = make_env(spec, "human") if mode != "watch" else None
        self.human_side = Side(self.human) if self.human is not None else None
        self.agent_side = Side(make_env(spec, "eval", render_mode="rgb_array")) if mode != "solo" else None
        probe = (self.human or self.agent_side.env).action_space
        self._box = not hasattr(probe, "n")
        self._low = getattr(probe, "low", None)
        self._high = getattr(probe, "high", None)
        self.reset(seed)

    # --- lifecycle -------------------------------------------------------------------------------

    def reset(self, seed: int) -> None:
        self.seed = int(seed)
        # the agent's own sampling stream (stochastic protocols, Atari): per match, so concurrent matches
        # do not share a global RNG and the same seed replays the same agent
        self._rng = np.random.default_rng(self.seed)
        for side in self.sides():
            side.reset(self.seed)

    def sides(self) -> list[Side]:
        return [s for s in (self.human_side, self.agent_side) if s is not None]

    @property
    def done(self) -> bool:
        return all(s.done for s in self.sides())

    def close(self) -> None:
        for side in self.sides():
            side.env.close()

    # --- stepping --------------------------------------------------------------------------------

    def human_action(self, keys: list[str]):
        keymap = self.spec.keymap
        if self._box:
            return keymap.resolve(keys, self._low, self._high)
        return int(keymap.resolve(keys))

    def agent_action(self, obs):
        batch = np.asarray(obs)[None]
        if self.spec.eval.deterministic:
            return self.policy.predict(batch, deterministic=True)[0]
        info = self.policy.forward_info(batch)
        if "probs" in info:
            p = np.asarray(info["probs"][0], dtype=np.float64)
            return int(self._rng.choice(len(p), p=p / p.sum()))
        action = info["mean"][0] + info["std"][0] * self._rng.standard_normal(info["mean"].shape[1])
        return np.clip(action, self._low, self._high).astype(np.float32)

    def step(self, keys: list[str]) -> dict[str, Any]:
        """One lockstep tick: the person's held ``keys`` on their side, the policy on the agent's."""
        if self.human_side is not None:
            self.human_side.step(self.human_action(keys))
        if self.agent_side is not None and not self.agent_side.done:
            self.agent_side.step(self.agent_action(self.agent_side.obs))
        return self.state()

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {"done": self.done, "seed": self.seed}
        if self.human_side is not None:
            out["human"] = self.human_side.state()
        if self.agent_side is not None:
            out["agent"] = self.agent_side.state()
        return out

    def frames(self) -> dict[str, bytes]:
        out = {}
        if self.human_side is not None:
            out["human"] = self.human_side.frame
        if self.agent_side is not None:
            out["agent"] = self.agent_side.frame
        return out

    def result(self) -> dict[str, Any]:
        """What the scoreboard and the leaderboard keep of a finished (or abandoned) episode."""
        h, a = self.human_side, self.agent_side
        return {
            "game": self.spec.slug,
            "mode": self.mode,
            "seed": self.seed,
            "human_return": h.episode_return if h else None,
            "human_steps": h.steps if h else None,
            "agent_return": a.episode_return if a else None,
            "agent_steps": a.steps if a else None,
        }
