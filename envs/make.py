"""One function that turns a game spec into an env for a purpose: train, eval, human play or replay."""

from __future__ import annotations

import os
from collections import deque
from typing import Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.catalog import GameSpec, get_spec
from envs.errors import GameUnavailableError

Purpose = Literal["train", "eval", "human", "replay", "preview"]
PURPOSES: tuple[str, ...] = ("train", "eval", "human", "replay", "preview")

_ale_registered = False

# The games render off-screen only (rgb_array): SDL's dummy video driver keeps pygame from probing for a
# display, which on a server prints "XDG_RUNTIME_DIR is invalid or not set" at the first render.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def make_env(game: GameSpec | str, purpose: Purpose, render_mode: str | None = None) -> gym.Env:
    """Make ``game``'s env wrapped for ``purpose``.

    - ``train``: SB3's Monitor first (so episode stats are true game scores), then for Atari SB3's
      AtariWrapper with life loss as episode end and clipped rewards, then the frame stack.
    - ``eval`` / ``replay``: the same observation pipeline, but whole games and unclipped rewards, so
      returns are the game's score. ``replay`` renders RGB frames.
    - ``human``: as ``eval``, rendering RGB frames for the play page.
    - ``preview``: the bare game rendering RGB frames, no wrappers: a still picture for the gallery,
      made without importing SB3 (and torch).

    VecNormalize is not applied here: it wraps the vectorised training env, and its statistics travel
    with the agent (see ``agents.policy.network``).
    """
    spec = get_spec(game) if isinstance(game, str) else game
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose '{purpose}'; use one of {', '.join(PURPOSES)}")
    if render_mode is None and purpose in ("human", "replay", "preview"):
        render_mode = "rgb_array"
    env = _gym_make(spec, render_mode)
    if purpose == "preview":
        return env
    if purpose == "train":
        from stable_baselines3.common.monitor import Monitor

        env = Monitor(env)
    if spec.is_atari:
        from stable_baselines3.common.atari_wrappers import AtariWrapper

        training = purpose == "train"
        env = AtariWrapper(env, terminal_on_life_loss=training, clip_reward=training)
        if spec.frame_stack:
            env = FrameStackLast(env, spec.frame_stack)
    return env


def _gym_make(spec: GameSpec, render_mode: str | None) -> gym.Env:
    kwargs = dict(spec.env_kwargs)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    if spec.is_atari:
        _register_ale()
    try:
        return gym.make(spec.env_id, **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        raise GameUnavailableError(f"{spec.name} ({spec.env_id}) needs a package that is missing: {exc}") from exc
    except Exception as exc:
        if spec.is_atari:
            roms = os.environ.get("ALE_ROMS_DIR")
            hint = (
                f"ALE_ROMS_DIR is set to {roms}: unset it or put the ROM there"
                if roms
                else "ale-py ships the ROMs, so reinstall it: pip install --force-reinstall ale-py"
            )
            raise GameUnavailableError(
                f"{spec.name} ({spec.env_id}) could not start, its ROM is missing or unreadable ({exc}); {hint}"
            ) from exc
        raise


def _register_ale() -> None:
    global _ale_registered
    if not _ale_registered:
        try:
            import ale_py
        except ImportError as exc:
            raise GameUnavailableError("Atari games need ale-py: `pip install 'gymnasium[atari]'`") from exc
        gym.register_envs(ale_py)
        _ale_registered = True


class FrameStackLast(gym.ObservationWrapper):
    """Stack the last ``n`` frames on the channel (last) axis, zero-filled after a reset.

    This is what SB3's VecFrameStack does to an Atari env, done per env so that one env (evaluation,
    replay, human play) sees exactly the observations the vectorised training env produced.
    """

    def __init__(self, env: gym.Env, n: int):
        super().__init__(env)
        space = env.observation_space
        assert isinstance(space, spaces.Box) and len(space.shape) == 3, "FrameStackLast expects HxWxC images"
        self.n = n
        self.observation_space = spaces.Box(
            low=np.repeat(space.low, n, axis=-1), high=np.repeat(space.high, n, axis=-1), dtype=space.dtype
        )
        self._frames: deque[np.ndarray] = deque(maxlen=n)
        self._zero = np.zeros(space.shape, dtype=space.dtype)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._frames.clear()
        self._frames.extend([self._zero] * (self.n - 1))
        self._frames.append(obs)
        return np.concatenate(self._frames, axis=-1), info

    def observation(self, observation):
        self._frames.append(observation)
        return np.concatenate(self._frames, axis=-1)
