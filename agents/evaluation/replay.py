"""Replays: one evaluation episode as its seed and actions, re-simulated step by step to check it.

A replay file (``evidence/replays/<label>.json``) is small and proves itself: ``resimulate`` re-runs the
actions from the seed in a fresh env and must get every reward, and the return, identically.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.common.errors import BundleError
from agents.evaluation.evaluate import Episode
from envs import GameSpec, get_spec, make_env

REPLAY_FORMAT = "ppo-playground/replay@1"


def replay_record(spec: GameSpec, ep: Episode, label: str, deterministic: bool) -> dict[str, Any]:
    return {"format": REPLAY_FORMAT, "game": spec.slug, "env_id": spec.env_id, "env_kwargs": spec.env_kwargs,
            "wrappers": "make_env(spec, 'eval')", "seed": ep.seed, "label": label, "deterministic": deterministic,
            "length": ep.length, "return": ep.ret, "actions": ep.actions, "rewards": ep.rewards}


def resimulate(replay: dict[str, Any], spec: GameSpec | None = None, render: bool = False) -> dict[str, Any]:
    """Re-run a replay's actions from its seed; ``ok`` when every reward and the return are identical.

    With ``render`` the frames are returned too (for the replay viewer).
    """
    if not isinstance(replay, dict) or replay.get("format") != REPLAY_FORMAT:
        raise BundleError("not a replay file (format field missing or wrong)")
    try:
        spec = spec or get_spec(replay["game"])
        if replay["game"] != spec.slug or replay["env_id"] != spec.env_id:
            raise BundleError(f"replay is of {replay['game']} ({replay['env_id']}), not {spec.slug}")
        actions, rewards, seed = replay["actions"], replay["rewards"], int(replay["seed"])
        recorded_return = float(replay["return"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"malformed replay: {exc}") from None
    env = make_env(spec, "replay" if render else "eval")
    frames = []
    try:
        obs, _ = env.reset(seed=seed)
        if render:
            frames.append(env.render())
        ret, ended_at = 0.0, None
        box = not hasattr(env.action_space, "n")
        for i, a in enumerate(actions):
            action = np.asarray(a, dtype=env.action_space.dtype) if box else int(a)
            if not env.action_space.contains(action):
                return {"ok": False, "detail": f"step {i}: action {a!r} is outside {env.action_space}"}
            obs, reward, terminated, truncated, _ = env.step(action)
            if render:
                frames.append(env.render())
            reward = float(reward)
            if i < len(rewards) and reward != rewards[i]:
                return {"ok": False, "detail": f"step {i}: reward {reward!r} but the replay recorded {rewards[i]!r}"}
            ret += reward
            if terminated or truncated:
                ended_at = i
                break
    finally:
        env.close()
    if ended_at is not None and ended_at != len(actions) - 1:
        return {"ok": False, "detail": f"the episode ended at step {ended_at}, but the replay has {len(actions)} actions"}
    if ended_at is None:
        return {"ok": False, "detail": f"the episode did not end after the replay's {len(actions)} actions"}
    if len(rewards) != len(actions):
        return {"ok": False, "detail": f"{len(actions)} actions but {len(rewards)} rewards"}
    if ret != recorded_return:
        return {"ok": False, "detail": f"return {ret!r} but the replay recorded {recorded_return!r}"}
    out = {"ok": True, "detail": f"seed {seed}: {len(actions)} steps, return {ret:.2f} identical"}
    if render:
        out["frames"] = frames
    return out
