"""VecNormalize's statistics as JSON: one schema, :class:`VecNormalizeState`, and the frozen observation
transform an agent applies, :class:`Normalizer`.

The schema (``normalize.json`` of a run, ``vecnormalize`` in a checkpoint's ``state.json``)::

    {"obs_mean": [...], "obs_var": [...], "obs_count": n, "ret_mean": x, "ret_var": x, "ret_count": n,
     "clip_obs": 10.0, "clip_reward": 10.0, "gamma": 0.99, "epsilon": 1e-8, "norm_obs": true, "norm_reward": true}

``policy.json``'s ``normalization`` block is the observation part of it (``obs_mean``, ``obs_var``,
``clip_obs``, ``epsilon``, and ``count`` for ``obs_count``: the name ``policy@1`` files were written with).
Checkpoints hold no pickles; ``vec_normalize.pkl`` is only ever written for SB3 users, never read from a download.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.common.errors import BundleError


@dataclass
class Normalizer:
    """VecNormalize's observation transform with frozen statistics."""

    mean: np.ndarray
    var: np.ndarray
    clip: float
    epsilon: float
    count: float = 0.0

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.clip((obs - self.mean) / np.sqrt(self.var + self.epsilon), -self.clip, self.clip).astype(np.float32)

    @classmethod
    def from_vecnormalize(cls, vn) -> Normalizer | None:
        state = VecNormalizeState.capture(vn)
        return state.normalizer() if state else None

    def to_json(self) -> dict[str, Any]:
        """``policy.json``'s ``normalization`` block."""
        return {"obs_mean": self.mean.tolist(), "obs_var": self.var.tolist(), "clip_obs": self.clip,
                "epsilon": self.epsilon, "count": self.count}

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> Normalizer | None:
        if not d:
            return None
        try:
            return cls(mean=np.array(d["obs_mean"], dtype=np.float64), var=np.array(d["obs_var"], dtype=np.float64),
                       clip=float(d["clip_obs"]), epsilon=float(d["epsilon"]), count=float(d.get("count", 0)))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"policy.json has malformed normalization statistics: {exc}") from None


@dataclass
class VecNormalizeState:
    """Everything SB3's VecNormalize keeps, as plain numbers (see the module docstring for the JSON)."""

    obs_mean: list[float]
    obs_var: list[float]
    obs_count: float
    ret_mean: float
    ret_var: float
    ret_count: float
    clip_obs: float
    clip_reward: float
    gamma: float
    epsilon: float
    norm_obs: bool
    norm_reward: bool

    @classmethod
    def capture(cls, vn) -> VecNormalizeState | None:
        """The state of a live VecNormalize (None when there is none)."""
        if vn is None:
            return None
        return cls(obs_mean=vn.obs_rms.mean.tolist(), obs_var=vn.obs_rms.var.tolist(), obs_count=float(vn.obs_rms.count),
                   ret_mean=float(vn.ret_rms.mean), ret_var=float(vn.ret_rms.var), ret_count=float(vn.ret_rms.count),
                   clip_obs=float(vn.clip_obs), clip_reward=float(vn.clip_reward), gamma=float(vn.gamma),
                   epsilon=float(vn.epsilon), norm_obs=bool(vn.norm_obs), norm_reward=bool(vn.norm_reward))

    def restore(self, vn) -> None:
        """Put these statistics into a live VecNormalize (resuming a run)."""
        vn.obs_rms.mean = np.array(self.obs_mean, dtype=np.float64)
        vn.obs_rms.var = np.array(self.obs_var, dtype=np.float64)
        vn.obs_rms.count = self.obs_count
        vn.ret_rms.mean = np.float64(self.ret_mean)
        vn.ret_rms.var = np.float64(self.ret_var)
        vn.ret_rms.count = self.ret_count

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> VecNormalizeState | None:
        if d is None:
            return None
        try:
            return cls(**{k: d[k] for k in cls.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise BundleError(f"malformed VecNormalize statistics: {exc}") from None

    def normalizer(self) -> Normalizer | None:
        """The frozen observation transform an agent applies (None when observations are not normalised)."""
        if not self.norm_obs:
            return None
        return Normalizer(mean=np.array(self.obs_mean), var=np.array(self.obs_var), clip=float(self.clip_obs),
                          epsilon=float(self.epsilon), count=float(self.obs_count))
