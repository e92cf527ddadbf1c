"""Hyperparameters: YAML per game under ``agents/hyperparams/``, overridable with ``--set key=value``.

Values are plain data (no Python strings to eval, unlike the Zoo's ``policy_kwargs``): schedules are
written ``lin_<start>`` and activation functions by name. A Zoo ``config.yml`` or ``ppo.yml`` is accepted
too, translated by :mod:`agents.training.zoo`.
"""

from __future__ import annotations

import difflib
import inspect
from pathlib import Path
from typing import Any

import yaml

from agents.common.errors import ConfigError
from agents.common.untrusted import read_yaml
from agents.training import zoo
from envs import GameSpec

HYPERPARAMS_DIR = Path(__file__).resolve().parent.parent / "hyperparams"

EXTRA_KEYS = {"algo", "n_envs", "n_timesteps", "policy", "policy_kwargs"}
"""keys that are not PPO constructor arguments but the Zoo keeps beside them"""

ALGOS = {"PPO": "stable_baselines3", "TRPO": "sb3_contrib"}
"""``algo`` values and the package each comes from; PPO when the key is absent (TRPO is for ablations)"""

_NOT_HYPERPARAMS = {
    "self",
    "policy",
    "env",
    "tensorboard_log",
    "verbose",
    "seed",
    "device",
    "_init_setup_model",
    "stats_window_size",
}
POLICIES = {"MlpPolicy", "CnnPolicy"}
ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "elu": "ELU", "leaky_relu": "LeakyReLU", "gelu": "GELU", "silu": "SiLU"}
POLICY_KWARGS = {
    "net_arch",
    "activation_fn",
    "ortho_init",
    "log_std_init",
    "full_std",
    "use_expln",
    "squash_output",
    "share_features_extractor",
    "normalize_images",
}


def algo_class(hp: dict[str, Any]):
    """The SB3 algorithm class the config names (``algo``, default PPO)."""
    import importlib

    name = hp.get("algo", "PPO")
    if name not in ALGOS:
        raise ConfigError(f"'algo' must be one of {', '.join(ALGOS)}, got {name!r}")
    return getattr(importlib.import_module(ALGOS[name]), name)


def ppo_arguments(algo: str = "PPO") -> set[str]:
    """The constructor arguments of ``algo`` that a config may set."""
    cls = algo_class({"algo": algo})
    return set(inspect.signature(cls.__init__).parameters) - _NOT_HYPERPARAMS


def config_path(spec: GameSpec) -> Path:
    return HYPERPARAMS_DIR / f"{spec.slug}.yml"


def load_config(spec: GameSpec, config_file: str | Path | None = None, overrides: list[str] = ()) -> dict[str, Any]:
    """The hyperparameters for ``spec`` from its YAML (or ``config_file``) with ``key=value`` overrides."""
    path = Path(config_file) if config_file else config_path(spec)
    source = f"config file '{path}'"
    data = read_yaml(path, source, ConfigError, zoo.ZooLoader)
    # A Zoo ppo.yml (env id -> entry) or a Zoo run's config.yml is translated; ours is taken as written
    if zoo.is_zoo_hyperparams(data, ppo_arguments() | EXTRA_KEYS):
        data = zoo.select_entry(data, spec, source)
    if zoo.is_zoo_config(data):
        data = zoo.translate(data, spec, source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source} must be a mapping of hyperparameter: value (or a Zoo config.yml / ppo.yml)")
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got '{item}'")
        try:
            data[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"--set {key}: '{raw}' is not a valid value") from None
    validate_config(data, source=str(path))
    return data


def validate_config(hp: dict[str, Any], source: str = "config") -> None:
    """Reject unknown keys (naming them and the closest known one) and values PPO cannot take."""
    algo = hp.get("algo", "PPO")
    if algo not in ALGOS:
        raise ConfigError(f"'algo' in {source} must be one of {', '.join(ALGOS)}, got {algo!r}")
    known = ppo_arguments(algo) | EXTRA_KEYS
    for key in hp:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            what = "" if algo == "PPO" else f" for {algo}"
            raise ConfigError(
                f"unknown config key '{key}'{what} in {source}.{hint} Known keys: {', '.join(sorted(known))}."
            )
    for key in ("n_envs", "n_timesteps"):
        if key not in hp:
            raise ConfigError(f"{source} must set '{key}'")
        if not isinstance(hp[key], (int, float)) or isinstance(hp[key], bool) or hp[key] < 1:
            raise ConfigError(f"'{key}' must be a positive number, got {hp[key]!r}")
    if hp.get("policy", "MlpPolicy") not in POLICIES:
        raise ConfigError(f"'policy' must be one of {', '.join(sorted(POLICIES))}, got {hp.get('policy')!r}")
    for key in ("learning_rate", "clip_range", "clip_range_vf"):
        if key in hp and hp[key] is not None:
            _schedule(key, hp[key])
    pk = hp.get("policy_kwargs") or {}
    if not isinstance(pk, dict):
        raise ConfigError(f"'policy_kwargs' must be a mapping, got {pk!r}")
    for key in pk:
        if key not in POLICY_KWARGS:
            raise ConfigError(f"unknown policy_kwargs key '{key}'. Known: {', '.join(sorted(POLICY_KWARGS))}.")
    if "activation_fn" in pk and pk["activation_fn"] not in ACTIVATIONS:
        raise ConfigError(f"activation_fn must be one of {', '.join(ACTIVATIONS)}, got {pk['activation_fn']!r}")


def _schedule(key: str, value: Any):
    """A float, or ``lin_<x>``: linear decay from x to 0 as in the Zoo, using SB3's own schedule class."""
    from stable_baselines3.common.utils import LinearSchedule

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            start = float(value[4:])
        except ValueError:
            pass
        else:
            return LinearSchedule(start=start, end=0.0, end_fraction=1.0)
    raise ConfigError(f"'{key}' must be a number or lin_<number>, got {value!r}")


def policy_kwargs(hp: dict[str, Any]) -> dict[str, Any]:
    """``policy_kwargs`` with activation names turned into torch classes."""
    import torch.nn as nn

    pk = dict(hp.get("policy_kwargs") or {})
    if "activation_fn" in pk:
        pk["activation_fn"] = getattr(nn, ACTIVATIONS[pk["activation_fn"]])
    return pk


def ppo_kwargs(hp: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``PPO(...)`` (or the ``algo``'s class) from validated hyperparameters."""
    kwargs = {k: v for k, v in hp.items() if k not in EXTRA_KEYS}
    for key in ("learning_rate", "clip_range", "clip_range_vf"):
        if key in kwargs and kwargs[key] is not None:
            kwargs[key] = _schedule(key, kwargs[key])
    pk = policy_kwargs(hp)
    if pk:
        kwargs["policy_kwargs"] = pk
    return kwargs
