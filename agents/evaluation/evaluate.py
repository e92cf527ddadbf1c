"""Evaluation: run whole episodes on fixed, recorded seeds and summarise them honestly.

Episode ``i`` resets with its own seed, so any episode can be re-run alone (a replay) and gives the
same trajectory. Several envs run side by side so the policy sees a batch per step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agents.common.progress import Progress
from envs import GameSpec, make_env

ActFn = Callable[[np.ndarray], np.ndarray]
"""Batch of raw observations → batch of actions, exactly as they are passed to ``env.step``."""

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


@dataclass
class Episode:
    seed: int
    ret: float
    length: int
    actions: list = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)


def run_episodes(
    spec: GameSpec,
    act: ActFn,
    seeds: list[int],
    record: bool = False,
    parallel: int = 16,
    max_steps: int | None = None,
    on_episode: Callable[[Episode], None] | None = None,
) -> list[Episode]:
    """Play one episode per seed with ``act``; returns are sums of the env's own rewards in step order.

    :param record: keep every action and reward (for replays)
    :param parallel: how many envs step side by side
    :param max_steps: stop an episode after this many steps (None: the env's own time limit)
    :param on_episode: called with each finished episode (progress)
    """
    episodes: list[Episode | None] = [None] * len(seeds)
    envs = [make_env(spec, "eval") for _ in range(min(parallel, len(seeds)))]
    try:
        pending = list(range(len(seeds)))[::-1]
        slots: list[dict | None] = [None] * len(envs)

        def start(slot: int) -> None:
            if not pending:
                slots[slot] = None
                return
            i = pending.pop()
            if slots[slot] is not None:
                # a fresh env per episode: some envs (BipedalWalker) carry state across reset(seed=...),
                # and an episode must replay identically on its own
                envs[slot].close()
                envs[slot] = make_env(spec, "eval")
            obs, _ = envs[slot].reset(seed=seeds[i])
            slots[slot] = {"i": i, "obs": obs, "ep": Episode(seed=seeds[i], ret=0.0, length=0)}

        for s in range(len(envs)):
            start(s)
        while any(slots):
            active = [s for s in range(len(envs)) if slots[s] is not None]
            actions = act(np.stack([slots[s]["obs"] for s in active]))
            for s, action in zip(active, actions, strict=True):
                slot = slots[s]
                env_action = action.item() if np.ndim(action) == 0 else action
                obs, reward, terminated, truncated, _ = envs[s].step(env_action)
                ep: Episode = slot["ep"]
                ep.ret += float(reward)
                ep.length += 1
                if record:
                    ep.actions.append(_jsonable(env_action))
                    ep.rewards.append(float(reward))
                slot["obs"] = obs
                if terminated or truncated or (max_steps is not None and ep.length >= max_steps):
                    episodes[slot["i"]] = ep
                    if on_episode is not None:
                        on_episode(ep)
                    start(s)
    finally:
        for env in envs:
            env.close()
    return episodes  # type: ignore[return-value]


def _jsonable(action):
    if isinstance(action, np.ndarray):
        return [float(x) for x in action.tolist()]
    return int(action)


def summarise(returns: list[float], lengths: list[int] | None = None) -> dict:
    """Mean, std (population, as SB3's evaluate_policy), min, max and a 95 % percentile-bootstrap CI."""
    r = np.asarray(returns, dtype=np.float64)
    lo, hi = bootstrap_ci(r)
    out = {
        "episodes": int(r.size),
        "mean": float(r.mean()),
        "std": float(r.std()),
        "min": float(r.min()),
        "max": float(r.max()),
        "ci95": [lo, hi],
        "ci_method": f"percentile bootstrap of the mean, {BOOTSTRAP_RESAMPLES} resamples, numpy seed {BOOTSTRAP_SEED}",
    }
    if lengths is not None:
        out["mean_length"] = float(np.mean(lengths))
    return out


def bootstrap_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    if values.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    idx = rng.integers(0, values.size, size=(BOOTSTRAP_RESAMPLES, values.size))
    means = values[idx].mean(axis=1)
    alpha = (1 - level) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def seeds_for(base: int, n: int) -> list[int]:
    return list(range(base, base + n))


# --- the evaluation protocol and its result ---------------------------------------------------------


@dataclass(frozen=True)
class Protocol:
    """What an evaluation ran on: the env as made (id, kwargs, wrappers) and how it was played."""

    env_id: str
    env_kwargs: dict
    wrappers: str
    """the observation pipeline, e.g. ``AtariWrapper(whole games, unclipped) + FrameStackLast(4)``"""
    deterministic: bool
    seed_base: int
    episodes: int

    @classmethod
    def of_spec(cls, spec: GameSpec, episodes: int | None = None) -> Protocol:
        """Today's catalog protocol for a game."""
        return cls(
            env_id=spec.env_id,
            env_kwargs=dict(spec.env_kwargs),
            wrappers=wrappers_of(spec),
            deterministic=spec.eval.deterministic,
            seed_base=spec.eval.seed_base,
            episodes=episodes or spec.eval.episodes,
        )

    def env_differences(self, spec: GameSpec) -> list[str]:
        """How the env this protocol names differs from the catalog's (empty when it is the same)."""
        now = Protocol.of_spec(spec)
        out = []
        for name in ("env_id", "env_kwargs", "wrappers"):
            if getattr(self, name) != getattr(now, name):
                out.append(f"{name} recorded {getattr(self, name)!r}, catalog now {getattr(now, name)!r}")
        return out

    def to_json(self) -> dict:
        return {
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "wrappers": self.wrappers,
            "deterministic": self.deterministic,
            "seed_base": self.seed_base,
            "episodes": self.episodes,
        }

    @classmethod
    def from_json(cls, d: dict) -> Protocol:
        return cls(
            env_id=str(d["env_id"]),
            env_kwargs=dict(d["env_kwargs"]),
            wrappers=str(d["wrappers"]),
            deterministic=bool(d["deterministic"]),
            seed_base=int(d["seed_base"]),
            episodes=int(d["episodes"]),
        )


def wrappers_of(spec: GameSpec) -> str:
    """The evaluation env's observation pipeline in words (``make_env(spec, "eval")``), recorded with a bundle
    so that a later change of the catalog's wrappers is noticed when the bundle is opened."""
    parts = ["gymnasium.make"]
    if spec.is_atari:
        parts.append("AtariWrapper(terminal_on_life_loss=False, clip_reward=False)")
        if spec.frame_stack:
            parts.append(f"FrameStackLast({spec.frame_stack})")
    return " + ".join(parts)


@dataclass
class EvalResult:
    """``evidence/eval.json``: every episode's return and length on the recorded seeds, and their summary."""

    game: str
    env_id: str
    env_kwargs: dict
    deterministic: bool
    seeds: list[int]
    returns: list[float]
    lengths: list[int]
    summary: dict
    """``summarise(returns, lengths)``: episodes, mean, std, min, max, ci95, ci_method, mean_length"""
    policy_sha256: str | None = None
    command: str | None = None
    evaluated_at: str | None = None
    episodes: list[Episode] = field(default_factory=list, repr=False)
    """the recorded episodes (actions and rewards) when asked for; never written to eval.json"""

    @property
    def mean(self) -> float:
        return float(self.summary["mean"])

    @property
    def std(self) -> float:
        return float(self.summary["std"])

    def to_json(self) -> dict:
        out = {
            "game": self.game,
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "deterministic": self.deterministic,
            "seeds": self.seeds,
            "returns": self.returns,
            "lengths": self.lengths,
            "summary": self.summary,
        }
        for k in ("policy_sha256", "command", "evaluated_at"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return out

    @classmethod
    def from_json(cls, d: dict) -> EvalResult:
        return cls(
            game=d["game"],
            env_id=d["env_id"],
            env_kwargs=dict(d.get("env_kwargs") or {}),
            deterministic=bool(d["deterministic"]),
            seeds=[int(s) for s in d["seeds"]],
            returns=[float(r) for r in d["returns"]],
            lengths=[int(n) for n in d["lengths"]],
            summary=dict(d["summary"]),
            policy_sha256=d.get("policy_sha256"),
            command=d.get("command"),
            evaluated_at=d.get("evaluated_at"),
        )

    def protocol(self, wrappers: str) -> Protocol:
        """The protocol this result was measured on (seeds are consecutive from the first)."""
        return Protocol(
            env_id=self.env_id,
            env_kwargs=self.env_kwargs,
            wrappers=wrappers,
            deterministic=self.deterministic,
            seed_base=self.seeds[0] if self.seeds else 0,
            episodes=len(self.seeds),
        )


def evaluate_policy(
    spec: GameSpec, policy, protocol: Protocol | None = None, record: bool = False, progress: Progress | None = None
) -> EvalResult:
    """Evaluate a loaded policy (``agents.policy.network.LoadedPolicy``) on ``protocol`` (default: the catalog's).

    :param progress: advanced by one per finished episode, with the running mean as its note (closed at the end)
    """
    import torch

    protocol = protocol or Protocol.of_spec(spec)
    seeds = seeds_for(protocol.seed_base, protocol.episodes)
    torch.manual_seed(protocol.seed_base)  # stochastic (Atari) evaluation samples reproducibly too
    done: list[float] = []

    def on_episode(ep: Episode) -> None:
        done.append(ep.ret)
        if progress is not None:
            progress.advance(1, f"mean {np.mean(done):.2f}")

    eps = run_episodes(spec, policy.act_fn(protocol.deterministic), seeds, record=record, on_episode=on_episode)
    if progress is not None:
        progress.close()
    returns, lengths = [e.ret for e in eps], [e.length for e in eps]
    return EvalResult(
        game=spec.slug,
        env_id=spec.env_id,
        env_kwargs=spec.env_kwargs,
        deterministic=protocol.deterministic,
        seeds=seeds,
        returns=returns,
        lengths=lengths,
        summary=summarise(returns, lengths),
        episodes=eps if record else [],
    )
