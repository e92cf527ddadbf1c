"""The shipped policy: SB3 policy weights in safetensors plus a JSON description, loaded without pickle.

``policy.json`` holds what is needed to rebuild the SB3 policy object (class, spaces, constructor
arguments by name) and the observation-normalisation statistics from VecNormalize. Loading reads JSON
and safetensors only: nothing in a bundle can run code when it is opened.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from agents.common.errors import BundleError
from agents.policy.normalize import Normalizer

FORMAT = "ppo-playground/policy@1"
POLICY_CLASSES = {"ActorCriticPolicy", "ActorCriticCnnPolicy"}
ACTIVATIONS = {"Tanh", "ReLU", "ELU", "LeakyReLU", "GELU", "SiLU"}
FEATURE_EXTRACTORS = {"FlattenExtractor", "NatureCNN"}
SIMPLE_KWARGS = ("net_arch", "use_sde", "log_std_init", "full_std", "use_expln", "squash_output",
                  "share_features_extractor", "normalize_images", "ortho_init")


# --- spaces <-> JSON -------------------------------------------------------------------------------

def _num(x: float):
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def _bounds(arr: np.ndarray):
    flat = np.asarray(arr, dtype=np.float64).ravel()
    if flat.size and np.all(flat == flat[0]):
        return _num(float(flat[0]))
    return [_num(float(v)) for v in flat]


def space_to_json(space: spaces.Space) -> dict[str, Any]:
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": _bounds(space.low), "high": _bounds(space.high)}
    raise BundleError(f"cannot describe space {space} in policy.json")


def space_from_json(d: dict[str, Any]) -> spaces.Space:
    try:
        if d["type"] == "Discrete":
            return spaces.Discrete(int(d["n"]), start=int(d.get("start", 0)))
        if d["type"] == "Box":
            shape = tuple(int(s) for s in d["shape"])
            dtype = np.dtype(d["dtype"])
            if dtype.kind not in "fiu":
                raise BundleError(f"unsupported Box dtype {dtype}")

            def arr(v):
                a = np.array([float(x) for x in v] if isinstance(v, list) else float(v), dtype=np.float64)
                return np.broadcast_to(a.reshape(shape) if a.ndim else a, shape).astype(dtype)

            return spaces.Box(low=arr(d["low"]), high=arr(d["high"]), shape=shape, dtype=dtype)
    except BundleError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"policy.json has a malformed space {d!r}: {exc}") from None
    raise BundleError(f"policy.json names an unsupported space type {d.get('type')!r}")


# --- export / load ---------------------------------------------------------------------------------

def describe_policy(policy) -> dict[str, Any]:
    """policy.json content for an SB3 ActorCriticPolicy (minus normalisation)."""
    params = policy._get_constructor_parameters()
    cls_name = type(policy).__name__
    if cls_name not in POLICY_CLASSES:
        raise BundleError(f"policy class {cls_name} is not supported (supported: {', '.join(sorted(POLICY_CLASSES))})")
    kwargs: dict[str, Any] = {k: params[k] for k in SIMPLE_KWARGS if k in params}
    kwargs["activation_fn"] = params["activation_fn"].__name__
    kwargs["features_extractor_class"] = params["features_extractor_class"].__name__
    kwargs["features_extractor_kwargs"] = dict(params.get("features_extractor_kwargs") or {})
    return {
        "format": FORMAT,
        "algo": "PPO",
        "policy_class": cls_name,
        "observation_space": space_to_json(policy.observation_space),
        "action_space": space_to_json(policy.action_space),
        "policy_kwargs": kwargs,
    }


def export_policy(policy, normalizer: Normalizer | None, out_dir: Path) -> None:
    """Write ``policy.safetensors`` and ``policy.json`` into ``out_dir``."""
    from safetensors.torch import save_model

    desc = describe_policy(policy)
    desc["normalization"] = normalizer.to_json() if normalizer else None
    save_model(policy, str(out_dir / "policy.safetensors"))
    (out_dir / "policy.json").write_text(json.dumps(desc, indent=1) + "\n")


class LoadedPolicy:
    """A bundle's policy: an SB3 policy rebuilt from JSON with safetensors weights, plus normalisation."""

    def __init__(self, policy, normalizer: Normalizer | None, description: dict[str, Any]):
        self.policy = policy
        self.normalizer = normalizer
        self.description = description
        self.observation_space = policy.observation_space
        self.action_space = policy.action_space

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of raw observations, as they would be passed to ``env.step``."""
        if self.normalizer is not None:
            obs = self.normalizer(obs)
        actions, _ = self.policy.predict(obs, deterministic=deterministic)
        return actions

    def act_fn(self, deterministic: bool = True):
        return lambda obs: self.predict(obs, deterministic)

    def forward_info(self, obs: np.ndarray) -> dict[str, np.ndarray]:
        """What the policy thinks of one raw observation: action probabilities (or mean/std) and V(s)."""
        import torch as th

        if self.normalizer is not None:
            obs = self.normalizer(obs)
        tensor, _ = self.policy.obs_to_tensor(obs)
        with th.no_grad():
            dist = self.policy.get_distribution(tensor)
            value = self.policy.predict_values(tensor)
        out = {"value": value.squeeze(-1).cpu().numpy()}
        if isinstance(self.action_space, spaces.Discrete):
            out["probs"] = dist.distribution.probs.cpu().numpy()
        else:
            out["mean"] = dist.distribution.mean.cpu().numpy()
            out["std"] = dist.distribution.stddev.cpu().numpy()
        return out


def load_policy(bundle_dir: Path) -> LoadedPolicy:
    """Rebuild the policy from ``policy.json`` + ``policy.safetensors``; never unpickles."""
    import torch as th
    from safetensors import SafetensorError
    from safetensors.torch import load_model
    from stable_baselines3.common import policies, torch_layers

    bundle_dir = Path(bundle_dir)
    try:
        desc = json.loads((bundle_dir / "policy.json").read_text())
    except FileNotFoundError:
        raise BundleError(f"{bundle_dir} has no policy.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{bundle_dir}/policy.json is not valid JSON: {exc}") from None
    if not isinstance(desc, dict) or desc.get("format") != FORMAT:
        raise BundleError(f"{bundle_dir}/policy.json is not a {FORMAT} file")
    cls_name = desc.get("policy_class")
    if cls_name not in POLICY_CLASSES:
        raise BundleError(f"policy.json names policy class {cls_name!r}; supported: {', '.join(sorted(POLICY_CLASSES))}")
    kwargs = dict(desc.get("policy_kwargs") or {})
    act = kwargs.pop("activation_fn", "Tanh")
    if act not in ACTIVATIONS:
        raise BundleError(f"policy.json names activation {act!r}; supported: {', '.join(sorted(ACTIVATIONS))}")
    fe = kwargs.pop("features_extractor_class", "FlattenExtractor")
    if fe not in FEATURE_EXTRACTORS:
        raise BundleError(f"policy.json names features extractor {fe!r}; supported: {', '.join(sorted(FEATURE_EXTRACTORS))}")
    unknown = set(kwargs) - set(SIMPLE_KWARGS) - {"features_extractor_kwargs"}
    if unknown:
        raise BundleError(f"policy.json has unknown policy arguments {sorted(unknown)}")
    obs_space = space_from_json(desc["observation_space"])
    act_space = space_from_json(desc["action_space"])
    try:
        policy = getattr(policies, cls_name)(
            obs_space, act_space, lr_schedule=lambda _: 0.0,
            activation_fn=getattr(th.nn, act), features_extractor_class=getattr(torch_layers, fe), **kwargs,
        )
    except (TypeError, ValueError, AssertionError) as exc:
        raise BundleError(f"policy.json describes a policy SB3 cannot build: {exc}") from None
    weights = bundle_dir / "policy.safetensors"
    if not weights.exists():
        raise BundleError(f"{bundle_dir} has no policy.safetensors")
    try:
        missing, unexpected = load_model(policy, str(weights), strict=False)
    except RuntimeError as exc:  # torch: tensor shapes differ from the policy policy.json describes
        raise BundleError(f"{weights} does not match policy.json: {str(exc)[:300]}") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{weights} cannot be read as the policy's weights: {exc}") from None
    if missing or unexpected:
        raise BundleError(f"{weights} does not match policy.json (missing {sorted(missing)[:5]}, "
                          f"unexpected {sorted(unexpected)[:5]})")
    policy.set_training_mode(False)
    return LoadedPolicy(policy, Normalizer.from_json(desc.get("normalization")), desc)
