"""Evaluation: run whole episodes on fixed, recorded seeds and summarise them honestly.

Episode ``i`` resets with its own seed, so any episode can be re-run alone (a replay) and gives the
same trajectory. Several envs run side by side so the policy sees a batch per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

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


def run_episodes(spec: GameSpec, act: ActFn, seeds: list[int], record: bool = False, parallel: int = 16,
                 max_steps: int | None = None) -> list[Episode]:
    """Play one episode per seed with ``act``; returns are sums of the env's own rewards in step order.

    :param record: keep every action and reward (for replays)
    :param parallel: how many envs step side by side
    :param max_steps: stop an episode after this many steps (None: the env's own time limit)
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
            for s, action in zip(active, actions):
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
