"""Replays: one evaluation episode as its seed and actions, re-simulated step by step to check it.

A replay file (``evidence/replays/<label>.json``) is small and proves itself: ``resimulate`` re-runs the
actions from the seed in a fresh env and must get every reward, and the return, identically.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from agents.common.errors import BundleError
from agents.evaluation.evaluate import Episode
from envs import GameSpec, get_spec, make_env

REPLAY_FORMAT = "ppo-playground/replay@1"


def replay_record(spec: GameSpec, ep: Episode, label: str, deterministic: bool) -> dict[str, Any]:
    return {
        "format": REPLAY_FORMAT,
        "game": spec.slug,
        "env_id": spec.env_id,
        "env_kwargs": spec.env_kwargs,
        "wrappers": "make_env(spec, 'eval')",
        "seed": ep.seed,
        "label": label,
        "deterministic": deterministic,
        "length": ep.length,
        "return": ep.ret,
        "actions": ep.actions,
        "rewards": ep.rewards,
    }


MAX_SEED = 2**31 - 1
"""seeds are non-negative and fit ALE's 32-bit signed seed"""


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_replay(replay: Any, spec: GameSpec, action_space: spaces.Space) -> None:
    """Refuse a replay that is not well-formed for ``spec`` and its action space, before anything is stepped:
    the seed a non-negative integer; every action an integer in range (a discrete game: 0.4 is not an
    action, ``int()`` would truncate it) or a list of finite numbers within the bounds (a continuous one);
    rewards finite, one per action; return and length consistent in type."""
    if not isinstance(replay, dict) or replay.get("format") != REPLAY_FORMAT:
        raise BundleError("not a replay file (format field missing or wrong)")
    if replay.get("game") != spec.slug or replay.get("env_id") != spec.env_id:
        raise BundleError(
            f"replay is of {str(replay.get('game'))[:40]} ({str(replay.get('env_id'))[:40]}), not {spec.slug}"
        )
    seed = replay.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise BundleError(f"malformed replay: seed {str(seed)[:40]} is not an integer 0..{MAX_SEED}")
    actions, rewards = replay.get("actions"), replay.get("rewards")
    if not isinstance(actions, list) or not isinstance(rewards, list) or not actions:
        raise BundleError("malformed replay: actions and rewards must be non-empty lists")
    if not _number(replay.get("return")) or not all(_number(r) for r in rewards):
        raise BundleError("malformed replay: the return and every reward must be finite numbers")
    length = replay.get("length", len(actions))
    if not isinstance(length, int) or isinstance(length, bool) or length != len(actions):
        raise BundleError(f"malformed replay: length {str(length)[:20]} but {len(actions)} actions")
    if isinstance(action_space, spaces.Discrete):
        lo, hi = int(action_space.start), int(action_space.start + action_space.n)
        for i, a in enumerate(actions):
            if not isinstance(a, int) or isinstance(a, bool) or not lo <= a < hi:
                raise BundleError(
                    f"malformed replay: action {i} is {repr(a)[:40]}, outside {spec.name}'s actions "
                    f"(the integers {lo}..{hi - 1})"
                )
    elif isinstance(action_space, spaces.Box):
        dim = int(np.prod(action_space.shape))
        low, high = action_space.low.ravel().tolist(), action_space.high.ravel().tolist()
        for i, a in enumerate(actions):
            if (
                not isinstance(a, list)
                or len(a) != dim
                or not all(_number(x) for x in a)
                or not all(lo <= x <= hi for x, lo, hi in zip(a, low, high, strict=True))
            ):
                raise BundleError(
                    f"malformed replay: action {i} is {repr(a)[:60]}, outside {spec.name}'s actions "
                    f"({dim} finite numbers within {low}..{high})"
                )
    else:
        raise BundleError(f"replays of {type(action_space).__name__} action spaces are not supported")


def resimulate(replay: dict[str, Any], spec: GameSpec | None = None, render: bool = False) -> dict[str, Any]:
    """Re-run a replay's actions from its seed; ``ok`` when every reward and the return are identical.

    The replay is checked first (:func:`check_replay`); with ``render`` the frames are returned too (for the
    replay viewer).
    """
    if not isinstance(replay, dict) or replay.get("format") != REPLAY_FORMAT:
        raise BundleError("not a replay file (format field missing or wrong)")
    if spec is None:
        game = replay.get("game")
        if not isinstance(game, str):
            raise BundleError("malformed replay: no game")
        spec = get_spec(game)
    env = make_env(spec, "replay" if render else "eval")
    frames = []
    try:
        check_replay(replay, spec, env.action_space)
        actions, rewards, seed = replay["actions"], replay["rewards"], replay["seed"]
        recorded_return = float(replay["return"])
        env.reset(seed=seed)
        if render:
            frames.append(env.render())
        ret, ended_at = 0.0, None
        box = not hasattr(env.action_space, "n")
        for i, a in enumerate(actions):
            action = np.asarray(a, dtype=env.action_space.dtype) if box else a
            if not env.action_space.contains(action):  # float32 rounding of a bound
                return {"ok": False, "detail": f"step {i}: action {a!r} is outside {env.action_space}"}
            _, reward, terminated, truncated, _ = env.step(action)
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
        return {
            "ok": False,
            "detail": f"the episode ended at step {ended_at}, but the replay has {len(actions)} actions",
        }
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
