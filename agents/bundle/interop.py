"""What a bundle carries for people who use other tools than the playground: plain SB3, the RL Zoo, the Deep RL
course's ``huggingface_sb3``, onnxruntime (``docs/interop.md``).

- ``config.yml`` with the Zoo's keys beside our hyperparameters: ``normalize``, and for Atari ``frame_stack`` and
  ``env_wrapper``; ``policy_kwargs`` as the Zoo writes it (a ``dict(...)`` expression). A plain mapping, which
  the Zoo's ``yaml.load`` and our bounded reader both read; :func:`hyperparameters` turns it back into ours.
- ``args.yml`` and ``env_kwargs.yml``: what ``rl_zoo3.enjoy`` reads for the env (id and constructor arguments).
- ``train_eval_metrics.zip``: ``rl_zoo3.load_from_hub`` downloads it unconditionally; it holds the shipped
  seed's training and periodic-evaluation CSVs.
- ``vec_normalize.pkl``: SB3's own ``VecNormalize``, pickled by SB3's ``save``. For games trained with
  VecNormalize it holds the observation statistics of ``policy.json``; for the others it is an identity
  (``norm_obs`` and ``norm_reward`` false) that nothing loads: ``rl_zoo3.load_from_hub`` (2.9.2) stops at a
  missing one with huggingface_hub ≥ 1 (it catches ``requests``' HTTPError, which huggingface_hub no longer
  raises). We write it for SB3 and Zoo users; the playground never unpickles one (pull downloads it as a
  listed file and leaves it alone, import refuses it without ``--trust-pickle``).
- ``policy.onnx``: the policy with the normalisation folded in (``agents.policy.onnx_export``).

The env ids are the ones gymnasium registers for exactly the game: ``LunarLanderContinuous-v3`` for the
continuous lander (the catalog makes it as ``LunarLander-v3`` with ``continuous=True``, the same env).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import yaml

from agents.common.errors import BundleError
from agents.training.zoo import ATARI_WRAPPER, ZOO_ONLY_KEYS, is_zoo_config, translate
from envs import GameSpec
from envs.catalog import game_ids

VEC_NORMALIZE = "vec_normalize.pkl"
ARGS = "args.yml"
ENV_KWARGS = "env_kwargs.yml"
METRICS_ZIP = "train_eval_metrics.zip"
ONNX = "policy.onnx"
INTEROP_FILES = (ONNX, ARGS, ENV_KWARGS, METRICS_ZIP, VEC_NORMALIZE)
"""files every bundle gains for other tools"""
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
"""a fixed time stamp in the zip, so the same evidence gives the same bytes"""


def registered_env_id(spec: GameSpec) -> str:
    """The id gymnasium registers for exactly this game: ``LunarLanderContinuous-v3`` for the continuous lander
    (whose catalog entry is ``LunarLander-v3`` with ``continuous=True``), the env id otherwise."""
    return game_ids(spec)[0]


def public_env_kwargs(spec: GameSpec) -> dict[str, Any]:
    """The env kwargs to pass with :func:`registered_env_id`: the catalog's, less those the id already sets."""
    import gymnasium as gym

    try:
        if spec.is_atari:
            import ale_py

            gym.register_envs(ale_py)
        registered = gym.spec(registered_env_id(spec)).kwargs
    except Exception:  # an id this gymnasium lacks: pass every kwarg
        registered = {}
    return {k: v for k, v in spec.env_kwargs.items() if registered.get(k, object()) != v}


# --- config.yml both ways ------------------------------------------------------------------------------


def zoo_policy_kwargs(pk: dict[str, Any]) -> str:
    """Our ``policy_kwargs`` mapping as the Zoo writes it, e.g.
    ``dict(net_arch=dict(pi=[64], vf=[64]), activation_fn=nn.ReLU)``."""
    from agents.training.config import ACTIVATIONS

    def expr(v: Any) -> str:
        if isinstance(v, dict):
            return "dict(" + ", ".join(f"{k}={expr(x)}" for k, x in v.items()) + ")"
        if isinstance(v, list):
            return "[" + ", ".join(expr(x) for x in v) + "]"
        return repr(v)

    parts = []
    for k, v in pk.items():
        parts.append(f"{k}=nn.{ACTIVATIONS[v]}" if k == "activation_fn" and v in ACTIVATIONS else f"{k}={expr(v)}")
    return "dict(" + ", ".join(parts) + ")"


def zoo_config(spec: GameSpec, config: dict[str, Any], normalized: bool | None = None) -> dict[str, Any]:
    """config.yml with the Zoo's keys: ``normalize`` (and for Atari ``frame_stack``, ``env_wrapper``) as the game
    was trained and evaluated, ``policy_kwargs`` as a Zoo expression. ``normalized`` overrides the spec's
    setting (an imported agent may have come without statistics)."""
    out = {k: v for k, v in config.items() if k not in ZOO_ONLY_KEYS}
    if isinstance(out.get("policy_kwargs"), dict):
        out["policy_kwargs"] = zoo_policy_kwargs(out["policy_kwargs"])
    out["normalize"] = spec.normalize if normalized is None else normalized
    if spec.frame_stack:
        out["frame_stack"] = spec.frame_stack
    if spec.is_atari:
        out["env_wrapper"] = [ATARI_WRAPPER]
    return out


def hyperparameters(spec: GameSpec, data: dict[str, Any], where: str) -> dict[str, Any]:
    """Our hyperparameters from a bundle's config.yml: the Zoo's wrapper keys checked against the game and
    dropped, ``policy_kwargs`` parsed (never eval'd). A config.yml without Zoo keys is returned as it is."""
    from agents.common.errors import ConfigError

    if not is_zoo_config(data):
        return data
    try:
        return translate(data, spec, where)
    except ConfigError as exc:
        raise BundleError(str(exc)) from None


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


# --- the files -------------------------------------------------------------------------------------------


def zoo_args(spec: GameSpec, config: dict[str, Any], seed: int | None) -> dict[str, Any]:
    """args.yml: the command-line arguments of a Zoo run, as far as they apply (enjoy reads ``env_kwargs``)."""
    return {
        "algo": "ppo",
        "env": registered_env_id(spec),
        "env_kwargs": public_env_kwargs(spec) or None,
        "seed": seed,
        "n_timesteps": config.get("n_timesteps"),
        "trained_with": "ppo-playground",
    }


def vec_normalize_bytes(spec: GameSpec, normalizer, gamma: float) -> bytes:
    """SB3's VecNormalize with ``normalizer``'s observation statistics, pickled by SB3 (what ``VecNormalize.load``
    reads). Frozen (``training=False``); rewards are not normalised: only the observation statistics are kept.
    Without a normalizer: an identity (``norm_obs=False``), for tools that expect the file."""
    import tempfile

    import numpy as np
    from stable_baselines3.common.running_mean_std import RunningMeanStd
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from envs.make import make_env

    venv = DummyVecEnv([lambda: make_env(spec, "eval")])
    if normalizer is None:
        vn = VecNormalize(venv, training=False, norm_obs=False, norm_reward=False, gamma=float(gamma))
    else:
        vn = VecNormalize(
            venv,
            training=False,
            norm_obs=True,
            norm_reward=False,
            clip_obs=float(normalizer.clip),
            gamma=float(gamma),
            epsilon=float(normalizer.epsilon),
        )
        rms = vn.obs_rms
        assert isinstance(rms, RunningMeanStd)  # a Box observation: one RunningMeanStd, not a dict of them
        rms.mean = np.asarray(normalizer.mean, dtype=np.float64).reshape(rms.mean.shape)
        rms.var = np.asarray(normalizer.var, dtype=np.float64).reshape(rms.var.shape)
        rms.count = float(normalizer.count)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / VEC_NORMALIZE
        vn.save(str(path))
        data = path.read_bytes()
    venv.close()
    return data  # SB3's pickle: written here for SB3 users, never loaded by the playground


def metrics_zip(files: dict[str, bytes]) -> bytes:
    """A zip of ``files`` with fixed time stamps (the same evidence gives the same bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, content)
    return buf.getvalue()


def write_interop_files(
    staged: Path,
    spec: GameSpec,
    config: dict[str, Any],
    seed: int | None,
    metrics: dict[str, bytes],
    normalized: bool | None = None,
) -> list[str]:
    """Write the files other tools need into the staged bundle folder ``staged`` (its policy.json and
    safetensors already there): the Zoo's config.yml, args.yml, env_kwargs.yml, train_eval_metrics.zip,
    vec_normalize.pkl (an identity where observations are not normalised) and policy.onnx. Returns the names
    written."""
    from agents.bundle.validate import game_spaces
    from agents.policy.network import load_policy
    from agents.policy.onnx_export import export_onnx

    loaded = load_policy(staged, game_spaces(spec.slug))
    has_stats = loaded.normalizer is not None
    if normalized is None:
        normalized = has_stats
    written = ["config.yml", ARGS, ENV_KWARGS, METRICS_ZIP, VEC_NORMALIZE, ONNX]
    (staged / "config.yml").write_text(dump_yaml(zoo_config(spec, config, normalized)))
    (staged / ARGS).write_text(dump_yaml(zoo_args(spec, config, seed)))
    (staged / ENV_KWARGS).write_text(dump_yaml(public_env_kwargs(spec)))
    (staged / METRICS_ZIP).write_bytes(metrics_zip(metrics))
    gamma = float(config.get("gamma", 0.99)) if isinstance(config.get("gamma"), (int, float)) else 0.99
    (staged / VEC_NORMALIZE).write_bytes(vec_normalize_bytes(spec, loaded.normalizer if normalized else None, gamma))
    export_onnx(loaded, staged / ONNX)
    return written
