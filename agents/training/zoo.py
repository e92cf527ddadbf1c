"""RL Baselines3 Zoo hyperparameters, translated into ours: a run's ``config.yml`` or a ``hyperparams/ppo.yml``.

The Zoo writes ``<run>/<EnvId>/config.yml`` with ``yaml.dump`` of an ``OrderedDict``, i.e. a
``!!python/object/apply:collections.OrderedDict`` tag over a list of ``[key, value]`` pairs, and keeps
``policy_kwargs`` as a Python expression that it evals. We read the tag as plain data (no object is built)
and parse ``policy_kwargs`` with :mod:`ast` into dicts, numbers and lists, never eval. The Zoo's training
wrappers (``normalize``, ``frame_stack``, ``env_wrapper``) live in our game spec, so they must agree with it.
"""

from __future__ import annotations

import ast
from typing import Any

import yaml

from agents.common.errors import ConfigError
from agents.common.untrusted import BoundedSafeLoader
from envs import GameSpec
from envs.catalog import game_ids

_ORDERED_DICT_TAG = "tag:yaml.org,2002:python/object/apply:collections.OrderedDict"
ATARI_WRAPPER = "stable_baselines3.common.atari_wrappers.AtariWrapper"
ZOO_ONLY_KEYS = ("normalize", "frame_stack", "env_wrapper")
"""Zoo keys that describe training wrappers, which our game spec owns"""
MAX_POLICY_KWARGS_CHARS = 2000
"""longer than any Zoo entry; bounds what ast.parse is given"""


class ZooLoader(BoundedSafeLoader):
    """The bounded safe loader plus the one tag a Zoo config.yml carries, read as a list of pairs."""


def _ordered_dict_as_pairs(loader: ZooLoader, node: yaml.Node) -> list:
    args = loader.construct_sequence(node, deep=True)
    if len(args) != 1 or not isinstance(args[0], list):
        raise yaml.constructor.ConstructorError(
            None, None, "an OrderedDict must hold one list of [key, value] pairs", node.start_mark
        )
    return args[0]


ZooLoader.add_constructor(_ORDERED_DICT_TAG, _ordered_dict_as_pairs)


def is_zoo_config(data: Any) -> bool:
    """A Zoo run's config.yml (pairs), or a mapping written the Zoo's way (wrapper keys, policy_kwargs as code)."""
    if isinstance(data, list):
        return True
    return isinstance(data, dict) and (
        any(k in data for k in ZOO_ONLY_KEYS) or isinstance(data.get("policy_kwargs"), str)
    )


def is_zoo_hyperparams(data: Any, hyperparam_keys: set[str]) -> bool:
    """A Zoo ``ppo.yml``: env id → entry (a mapping of mappings, none of whose keys is a hyperparameter)."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(v, dict) for v in data.values())
        and not any(k in hyperparam_keys for k in data)
    )


def zoo_entry_ids(spec: GameSpec) -> list[str]:
    """The ppo.yml keys that may hold ``spec``'s entry, best first."""
    ids = list(game_ids(spec))
    # gymnasium 1.0 renamed the Box2D games v2 -> v3 (bug fixes); the Zoo's older v2 entries hold the same values
    ids += [i[:-3] + "-v2" for i in ids if spec.family == "box2d" and i.endswith("-v3")]
    if spec.is_atari:
        ids.append("atari")
    return ids


def select_entry(data: dict[str, Any], spec: GameSpec, source: str) -> dict[str, Any]:
    """The entry of a Zoo ppo.yml for ``spec``: its env id (or an alias), or ``atari`` for Atari games."""
    for key in zoo_entry_ids(spec):
        if key in data:
            return dict(data[key])
    present = ", ".join(list(data)[:8]) + (", ..." if len(data) > 8 else "")
    raise ConfigError(
        f"{source} has no entry for {spec.slug} (looked for {', '.join(zoo_entry_ids(spec))}; it has {present})"
    )


def translate(data: Any, spec: GameSpec, source: str) -> dict[str, Any]:
    """Our hyperparameters from a Zoo config (pairs or mapping): wrapper keys checked against ``spec`` and
    dropped, ``policy_kwargs`` parsed, ``n_timesteps`` (a float in the Zoo's files) made an integer."""
    hp = _pairs_to_dict(data, source) if isinstance(data, list) else dict(data)
    _check_wrappers(hp, spec, source)
    for key in ZOO_ONLY_KEYS:
        hp.pop(key, None)
    if isinstance(hp.get("policy_kwargs"), str):
        hp["policy_kwargs"] = parse_policy_kwargs(hp["policy_kwargs"], source)
    for key in ("n_timesteps", "n_envs"):
        value = hp.get(key)
        if isinstance(value, float) and value.is_integer():
            hp[key] = int(value)
    return hp


def _pairs_to_dict(pairs: list, source: str) -> dict[str, Any]:
    hp: dict[str, Any] = {}
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ConfigError(f"{source}: a Zoo config.yml is a list of [key, value] pairs, got {str(pair)[:80]}")
        if pair[0] in hp:
            raise ConfigError(f"{source}: key '{pair[0]}' appears twice")
        hp[pair[0]] = pair[1]
    return hp


def _check_wrappers(hp: dict[str, Any], spec: GameSpec, source: str) -> None:
    normalize = hp.get("normalize", False)
    if isinstance(normalize, str) and normalize.lower() in ("true", "false"):
        normalize = normalize.lower() == "true"
    if not isinstance(normalize, bool):
        # the Zoo also takes VecNormalize kwargs ("{'norm_obs': True, 'norm_reward': False}"); ours are fixed
        raise ConfigError(
            f"{source}: normalize={normalize!r} is not supported; {spec.slug} trains with "
            f"normalize={spec.normalize} (observations and rewards), set by its game spec"
        )
    if normalize != spec.normalize:
        raise ConfigError(
            f"{source}: normalize={normalize} but {spec.slug} trains with normalize={spec.normalize} "
            "(set by its game spec, envs/catalog.py); this config is for another game or setup"
        )
    frame_stack = hp.get("frame_stack") or 0
    if frame_stack != spec.frame_stack:
        raise ConfigError(
            f"{source}: frame_stack={frame_stack} but {spec.slug} stacks {spec.frame_stack} frames (its game spec)"
        )
    wrappers = hp.get("env_wrapper") or []
    wrappers = wrappers if isinstance(wrappers, list) else [wrappers]
    wanted = [ATARI_WRAPPER] if spec.is_atari else []
    if wrappers != wanted:
        raise ConfigError(
            f"{source}: env_wrapper={wrappers or None} but {spec.slug} trains with "
            f"{wanted or 'no wrapper'} (its game spec); wrapper arguments are not supported"
        )


def parse_policy_kwargs(text: str, source: str = "config") -> dict[str, Any]:
    """The Zoo's ``policy_kwargs`` expression as data: ``dict(...)``/``{...}`` of numbers, bools, lists and
    nested dicts, with ``nn.ReLU``-style activations turned into our names. Anything else is refused."""
    what = f"{source}: policy_kwargs"
    if len(text) > MAX_POLICY_KWARGS_CHARS:
        raise ConfigError(f"{what} is {len(text)} characters long (at most {MAX_POLICY_KWARGS_CHARS})")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ConfigError(f"{what} is not a Python dict expression: {text[:80]!r}") from None
    value = _literal(tree.body, what)
    if not isinstance(value, dict):
        raise ConfigError(f"{what} must be dict(...) or {{...}}, got {text[:80]!r}")
    arch = value.get("net_arch")
    if isinstance(arch, list) and len(arch) == 1 and isinstance(arch[0], dict):
        # SB3 < 1.8 wrote the separate actor/critic layers as [dict(pi=..., vf=...)]; SB3 2 takes the dict itself
        value["net_arch"] = arch[0]
    return value


def _activation_names() -> dict[str, str]:
    from agents.training.config import ACTIVATIONS

    return {torch_name: ours for ours, torch_name in ACTIVATIONS.items()}


def _literal(node: ast.AST, what: str) -> Any:
    """One node of the restricted grammar; the error names the first construct outside it."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int, float, str))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _literal(node.operand, what)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner if isinstance(node.op, ast.USub) else inner
    elif isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, what) for e in node.elts]
    elif isinstance(node, ast.Dict):
        if all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
            return {k.value: _literal(v, what) for k, v in zip(node.keys, node.values, strict=True)}  # type: ignore[union-attr]
    elif isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
            if all(kw.arg is not None for kw in node.keywords):
                return {kw.arg: _literal(kw.value, what) for kw in node.keywords}
    elif isinstance(node, ast.Attribute) and _dotted(node.value) in ("nn", "th.nn", "torch.nn"):
        names = _activation_names()
        if node.attr in names:
            return names[node.attr]
        raise ConfigError(f"{what}: activation nn.{node.attr} is not supported (one of {', '.join(names)})")
    snippet = ast.unparse(node)[:60]
    raise ConfigError(
        f"{what}: '{snippet}' is not allowed (only dict(...), numbers, booleans, lists and nn.<Activation>)"
    )


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""
