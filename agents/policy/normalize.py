"""VecNormalize's statistics as JSON: one schema, :class:`VecNormalizeState`, and the frozen observation
transform an agent applies, :class:`Normalizer`.

The schema (``normalize.json`` of a run, ``vecnormalize`` in a checkpoint's ``state.json``)::

    {
        "obs_mean": [...],
        "obs_var": [...],
        "obs_count": n,
        "ret_mean": x,
        "ret_var": x,
        "ret_count": n,
        "clip_obs": 10.0,
        "clip_reward": 10.0,
        "gamma": 0.99,
        "epsilon": 1e-8,
        "norm_obs": true,
        "norm_reward": true,
    }

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
        return {
            "obs_mean": self.mean.tolist(),
            "obs_var": self.var.tolist(),
            "clip_obs": self.clip,
            "epsilon": self.epsilon,
            "count": self.count,
        }

    @classmethod
    def from_json(cls, d: Any) -> Normalizer | None:
        """The ``normalization`` block of policy.json, checked: lists of finite numbers of one length, variances
        not negative, a positive clip and a non-negative epsilon."""
        if not d:
            return None
        if not isinstance(d, dict):
            raise BundleError(f"policy.json's normalization is not an object ({type(d).__name__})")
        try:
            mean, var = _finite_vector(d["obs_mean"], "obs_mean"), _finite_vector(d["obs_var"], "obs_var")
            clip, eps, count = (
                _finite_number(d["clip_obs"], "clip_obs"),
                _finite_number(d["epsilon"], "epsilon"),
                _finite_number(d.get("count", 0), "count"),
            )
            if mean.shape != var.shape:
                raise ValueError(f"obs_mean has {mean.size} values but obs_var {var.size}")
            if np.any(var < 0) or clip <= 0 or eps < 0 or count < 0:
                raise ValueError("a variance, clip_obs, epsilon or count is negative (or clip_obs is 0)")
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"policy.json has malformed normalization statistics: {exc}") from None
        return cls(mean=mean, var=var, clip=clip, epsilon=eps, count=count)

    def check_fits(self, space) -> None:
        """Refuse statistics that do not have the observation's shape (they would fail or broadcast wrongly)."""
        shape = tuple(getattr(space, "shape", None) or ())
        if self.mean.size != int(np.prod(shape)) or not shape:
            raise BundleError(
                f"policy.json's normalization has {self.mean.size} values, but the observations have "
                f"shape {shape}: the statistics belong to another policy"
            )
        self.mean, self.var = self.mean.reshape(shape), self.var.reshape(shape)


def _finite_number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise ValueError(f"{name} is {str(v)[:40]}, not a finite number")
    return float(v)


def _finite_vector(v: Any, name: str) -> np.ndarray:
    if not isinstance(v, list) or not v or len(v) > 2**20:
        raise ValueError(f"{name} is not a list of numbers")
    return np.array([_finite_number(x, name) for x in v], dtype=np.float64)


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
        return cls(
            obs_mean=vn.obs_rms.mean.tolist(),
            obs_var=vn.obs_rms.var.tolist(),
            obs_count=float(vn.obs_rms.count),
            ret_mean=float(vn.ret_rms.mean),
            ret_var=float(vn.ret_rms.var),
            ret_count=float(vn.ret_rms.count),
            clip_obs=float(vn.clip_obs),
            clip_reward=float(vn.clip_reward),
            gamma=float(vn.gamma),
            epsilon=float(vn.epsilon),
            norm_obs=bool(vn.norm_obs),
            norm_reward=bool(vn.norm_reward),
        )

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
        return Normalizer(
            mean=np.array(self.obs_mean),
            var=np.array(self.obs_var),
            clip=float(self.clip_obs),
            epsilon=float(self.epsilon),
            count=float(self.obs_count),
        )
