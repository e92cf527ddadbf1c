"""Turn an external SB3 PPO checkpoint (an SB3 zip, or an RL Zoo run folder) into a bundle, without
running code from it.

Every usual way of opening such a checkpoint can run code its author put in it: SB3's zip stores each
object JSON cannot hold as a cloudpickle (the ``":serialized:"`` entries of its ``data``), the Zoo's
``config.yml`` carries python tags that ``yaml.UnsafeLoader`` executes and strings the Zoo ``eval()``s,
and ``vecnormalize.pkl`` is a pickle. Here:

- the zip's members are checked (names, count, sizes) and only ``data`` and ``policy.pth`` are read, in
  memory; nothing is extracted;
- ``data`` is read as JSON and its ``":serialized:"`` entries are never decoded. The spaces are the
  game's own (checked against the readable fields of the checkpoint's spaces), the policy's arguments
  come from the readable fields of ``policy_kwargs`` through ``agents.policy.network``'s allow-lists;
- ``policy.pth`` is read with ``torch.load(weights_only=True)``: tensors only;
- ``config.yml`` goes through a safe YAML loader that reads ``OrderedDict`` tags as dicts and ignores
  every other python tag; its strings stay strings;
- ``vecnormalize.pkl`` is unpickled only when the caller trusts it (``--trust-pickle``), with a warning.

The bundle gets the game's evaluation and replays, recorded here, and is marked
``external — not reproduced here``: there are no training curves and no health verdict.
"""

from __future__ import annotations

import ast
import io
import json
import re
import shutil
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import yaml

from agents.bundle.build import write_evaluation
from agents.bundle.card import external_card
from agents.bundle.manifest import EXTERNAL, Manifest
from agents.bundle.writer import BundleWriter
from agents.common.files import sha256_file
from agents.common.provenance import package_versions
from agents.evaluation.evaluate import Protocol
from agents.common.errors import ImportCheckpointError
from agents.policy.network import ACTIVATIONS, FEATURE_EXTRACTORS, SIMPLE_KWARGS, export_policy
from agents.policy.normalize import Normalizer
from agents.common.provenance import git_state, hardware, now_iso
from envs import GameSpec, get_spec, make_env

MAX_MEMBERS = 64
MAX_MEMBER_BYTES = 256 * 2**20
MAX_TOTAL_BYTES = 512 * 2**20
MAX_RATIO = 200
"""a member that inflates more than this many times over its compressed size is refused (zip bomb)"""
POLICY_ALIASES = {"ActorCriticPolicy": "MlpPolicy", "ActorCriticCnnPolicy": "CnnPolicy"}
_TRAINING_ONLY_KWARGS = {"optimizer_class", "optimizer_kwargs"}
_HYPERPARAMS = ("n_envs", "n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "ent_coef", "vf_coef",
                "max_grad_norm", "learning_rate", "clip_range", "clip_range_vf", "normalize_advantage", "target_kl",
                "use_sde", "sde_sample_freq", "num_timesteps")


# --- the SB3 zip -----------------------------------------------------------------------------------

@dataclass
class Checkpoint:
    """What was read from an SB3 zip: ``data`` as plain JSON, the policy's tensors, and facts about the file."""

    path: Path
    sha256: str
    data: dict[str, Any]
    state_dict: dict[str, Any]
    sb3_version: str | None = None
    system_info: str | None = None


def _check_member_name(name: str, zip_path: Path) -> None:
    parts = PurePosixPath(name).parts
    if (not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name or ".." in parts
            or re.match(r"^[A-Za-z]:", name)):
        raise ImportCheckpointError(f"{zip_path} has a member with an unsafe path {name!r} (absolute or leaving the "
                                    "archive): refusing the whole file")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, zip_path: Path) -> bytes:
    with zf.open(info) as f:
        data = f.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES or len(data) != info.file_size:
        raise ImportCheckpointError(f"{zip_path}: member {info.filename} is not the size its header says "
                                    f"({len(data)} bytes read, {info.file_size} declared)")
    return data


def read_checkpoint(zip_path: Path) -> Checkpoint:
    """Read an SB3 zip's ``data`` (JSON) and ``policy.pth`` (tensors only), after checking every member."""
    import torch

    zip_path = Path(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ImportCheckpointError(f"{zip_path} has {len(infos)} members; an SB3 zip has about 6")
            names = [i.filename for i in infos]
            for name in names:
                _check_member_name(name, zip_path)
            if len(set(names)) != len(names):
                raise ImportCheckpointError(f"{zip_path} lists a member twice: refusing an ambiguous archive")
            total = 0
            for info in infos:
                total += info.file_size
                if info.file_size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                    raise ImportCheckpointError(f"{zip_path}: {info.filename} would inflate to {info.file_size:,} "
                                                f"bytes, more than an SB3 PPO checkpoint needs (limit "
                                                f"{MAX_MEMBER_BYTES:,} per member, {MAX_TOTAL_BYTES:,} in all)")
                if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                    raise ImportCheckpointError(f"{zip_path}: {info.filename} inflates {info.file_size:,} bytes from "
                                                f"{info.compress_size:,}: refusing a zip bomb")
            by_name = {i.filename: i for i in infos}
            for needed in ("data", "policy.pth"):
                if needed not in by_name:
                    raise ImportCheckpointError(f"{zip_path} is not an SB3 checkpoint: it has no {needed!r} member "
                                                f"(members: {', '.join(names) or 'none'})")
            raw_data = _read_member(zf, by_name["data"], zip_path)
            raw_policy = _read_member(zf, by_name["policy.pth"], zip_path)
            version = (_read_member(zf, by_name["_stable_baselines3_version"], zip_path).decode("utf-8", "replace")
                       .strip() if "_stable_baselines3_version" in by_name else None)
            info_txt = (_read_member(zf, by_name["system_info.txt"], zip_path).decode("utf-8", "replace")
                        if "system_info.txt" in by_name else None)
    except FileNotFoundError:
        raise ImportCheckpointError(f"no such file: {zip_path}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ImportCheckpointError(f"{zip_path} is not a readable zip (truncated or corrupt?): {exc}") from None
    try:
        data = json.loads(raw_data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ImportCheckpointError(f"{zip_path}: its 'data' member is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ImportCheckpointError(f"{zip_path}: its 'data' member is not a JSON object")
    try:
        state = torch.load(io.BytesIO(raw_policy), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, ...: anything torch's safe loader refuses
        raise ImportCheckpointError(f"{zip_path}: policy.pth is not a plain tensor state dict (torch.load with "
                                    f"weights_only=True refused it): {str(exc)[:300]}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ImportCheckpointError(f"{zip_path}: policy.pth does not hold a state dict of tensors")
    return Checkpoint(path=zip_path, sha256=sha256_file(zip_path), data=data, state_dict=dict(state),
                      sb3_version=version, system_info=info_txt)


# --- reading the readable parts of data ----------------------------------------------------------------

def _class_name(value: Any) -> str | None:
    """``"<class 'torch.nn.modules.activation.ReLU'>"`` → ``ReLU``."""
    m = re.fullmatch(r"<class '([\w.]+)'>", str(value).strip())
    return m.group(1).rsplit(".", 1)[-1] if m else None


def _policy_class(data: dict[str, Any], where: Path) -> str:
    entry = data.get("policy_class")
    name = None
    if isinstance(entry, dict):  # a class is cloudpickled; its __init__'s repr names it
        m = re.match(r"<function (\w+)\.__init__", str(entry.get("__init__", "")))
        name = m.group(1) if m else None
    elif isinstance(entry, str):
        name = _class_name(entry) or entry
    if name not in POLICY_ALIASES:
        raise ImportCheckpointError(f"{where}: policy class {name or 'unknown'} is not supported; PPO checkpoints "
                                    f"with {', '.join(POLICY_ALIASES)} (MlpPolicy, CnnPolicy) can be imported")
    return name


def _check_is_ppo(data: dict[str, Any], where: Path) -> None:
    missing = [k for k in ("n_steps", "n_epochs", "clip_range") if k not in data]
    if missing:
        raise ImportCheckpointError(f"{where} does not look like a PPO checkpoint (its data has no "
                                    f"{', '.join(missing)}); only SB3 PPO can be imported")


def _space_facts(entry: Any, what: str, where: Path) -> tuple[str, Any]:
    """The kind of a cloudpickled space and its shape (Box) or n (Discrete), from its readable fields."""
    if not isinstance(entry, dict):
        raise ImportCheckpointError(f"{where}: the {what} is missing from its data")
    kind = _class_name(entry.get(":type:", "")) or "unknown"
    try:
        if kind == "Discrete":
            return kind, int(entry["n"])
        if kind == "Box":
            shape = entry.get("_shape", entry.get("shape"))
            shape = ast.literal_eval(shape) if isinstance(shape, str) else shape
            return kind, tuple(int(s) for s in shape)
    except (KeyError, TypeError, ValueError, SyntaxError):
        raise ImportCheckpointError(f"{where}: the {what} ({kind}) has no readable size") from None
    return kind, None


def _describe(kind: str, size: Any) -> str:
    return f"Discrete({size})" if kind == "Discrete" else f"{kind}(shape={size})" if size is not None else kind


def check_spaces(data: dict[str, Any], spec: GameSpec, where: Path):
    """The game's (observation, action) spaces, after checking the checkpoint was trained on the same ones."""
    from gymnasium import spaces

    env = make_env(spec, "eval")
    try:
        game = {"observation space": env.observation_space, "action space": env.action_space}
    finally:
        env.close()
    for what, key in (("observation space", "observation_space"), ("action space", "action_space")):
        kind, size = _space_facts(data.get(key), what, where)
        space = game[what]
        game_kind = type(space).__name__
        game_size = int(space.n) if isinstance(space, spaces.Discrete) else tuple(space.shape)
        if (kind, size) != (game_kind, game_size):
            raise ImportCheckpointError(
                f"the checkpoint's {what} is {_describe(kind, size)}, but {spec.name} ({spec.env_id}) has "
                f"{_describe(game_kind, game_size)}: {where} was trained on another game; pick its game with --game")
    return game["observation space"], game["action space"]


def policy_kwargs(data: dict[str, Any], where: Path) -> dict[str, Any]:
    """The policy's constructor arguments, rebuilt from the readable fields only (classes by allow-listed name)."""
    import torch as th
    from stable_baselines3.common import torch_layers

    raw = data.get("policy_kwargs") or {}
    if not isinstance(raw, dict):
        raise ImportCheckpointError(f"{where}: policy_kwargs is not readable ({str(raw)[:80]})")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith(":") or key in _TRAINING_ONLY_KWARGS:
            continue  # the pickle itself and its type; the optimizer only matters for training
        if key == "activation_fn":
            name = _class_name(value)
            if name not in ACTIVATIONS:
                raise ImportCheckpointError(f"{where}: activation_fn {value!r} is not one of {', '.join(sorted(ACTIVATIONS))}")
            out[key] = getattr(th.nn, name)
        elif key == "features_extractor_class":
            name = _class_name(value)
            if name not in FEATURE_EXTRACTORS:
                raise ImportCheckpointError(f"{where}: features extractor {value!r} is not one of "
                                            f"{', '.join(sorted(FEATURE_EXTRACTORS))}")
            out[key] = getattr(torch_layers, name)
        elif key in SIMPLE_KWARGS or key == "features_extractor_kwargs":
            if isinstance(value, str) and key != "features_extractor_kwargs":
                raise ImportCheckpointError(f"{where}: policy_kwargs[{key!r}] is only stored pickled ({value[:80]!r})")
            out[key] = value
        else:
            raise ImportCheckpointError(f"{where}: policy_kwargs[{key!r}] = {str(value)[:80]!r} cannot be rebuilt "
                                        "without unpickling it")
    return out


# --- RL Zoo files -----------------------------------------------------------------------------------

class _ZooYamlLoader(yaml.SafeLoader):
    """SafeLoader that reads the Zoo's ``!!python/object/apply:collections.OrderedDict`` as a dict and turns
    any other python tag into a harmless placeholder string: nothing is imported or called."""


def _python_tag(loader: _ZooYamlLoader, suffix: str, node: yaml.Node):
    if suffix == "object/apply:collections.OrderedDict" and isinstance(node, yaml.SequenceNode):
        args = loader.construct_sequence(node, deep=True)
        pairs = args[0] if args else []
        if isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 for p in pairs):
            return {k: v for k, v in pairs}
    if suffix == "tuple" and isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return f"<ignored YAML tag !!python/{suffix}>"


_ZooYamlLoader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)


def zoo_yaml(text: str, where: Path) -> Any:
    try:
        return yaml.load(text, Loader=_ZooYamlLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ImportCheckpointError(f"{where} cannot be read as YAML safely: {str(exc)[:300]}") from None


def _normalize_setting(config: dict[str, Any], where: Path) -> dict[str, Any] | None:
    """The Zoo's ``normalize`` entry as VecNormalize kwargs (None: not normalised). Strings are read as
    Python literals, never evaluated."""
    value = config.get("normalize", False)
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ImportCheckpointError(f"{where}: normalize = {value!r} is not a literal; it would have to be "
                                        "eval()'d, which this importer never does") from None
    if value is True:
        return {"norm_obs": True}
    if isinstance(value, dict):
        return value
    return None


def normalizer_from_pickle(path: Path, trust: bool, warn: Callable[[str], None]) -> Normalizer | None:
    """VecNormalize's observation statistics from ``vecnormalize.pkl``: only when trusted, with a warning."""
    if not trust:
        raise ImportCheckpointError(
            f"this run normalises observations and its statistics are only in {path}, a pickle, which can run any "
            "code when loaded. If you trust where it came from, re-run with --trust-pickle; nothing was imported")
    import pickle

    warn(f"warning: --trust-pickle: unpickling {path} (sha256 {sha256_file(path)[:12]}…); a pickle can run any "
         "code its author put in it")
    with open(path, "rb") as f:
        vn = pickle.load(f)  # noqa: S301 - the user said they trust this file
    try:
        if not vn.norm_obs:
            return None
        return Normalizer.from_vecnormalize(vn)
    except AttributeError:
        raise ImportCheckpointError(f"{path} does not hold VecNormalize statistics ({type(vn).__name__})") from None


@dataclass
class Source:
    """Where the checkpoint's files are: the zip, and for an RL Zoo run its config.yml and vecnormalize.pkl."""

    kind: str
    path: Path
    zip: Path
    config: Path | None = None
    vecnormalize: Path | None = None
    env_id_hint: str | None = None
    notes: list[str] = field(default_factory=list)


def find_source(path: Path) -> Source:
    """An SB3 zip, or an RL Zoo run folder (``logs/ppo/<EnvId>_<n>/``) or a folder of Zoo/Hub files."""
    path = Path(path)
    if path.is_file():
        m = re.match(r"(?:ppo-)?(.+)\.zip$", path.name)
        return Source("sb3 zip", path, path, env_id_hint=m.group(1) if m else None)
    if not path.is_dir():
        raise ImportCheckpointError(f"no such file or folder: {path}")
    env_id = re.sub(r"_\d+$", "", path.name)
    zips = sorted(path.glob("*.zip"))
    candidates = [path / f"{env_id}.zip", path / f"ppo-{env_id}.zip", path / "best_model.zip"]
    chosen = next((c for c in candidates if c.is_file()), zips[0] if len(zips) == 1 else None)
    if chosen is None:
        found = ", ".join(z.name for z in zips) or "none"
        raise ImportCheckpointError(f"{path} is not an RL Zoo run folder: expected {env_id}.zip or best_model.zip "
                                    f"(zips found: {found}); give the zip itself")
    params = path / env_id if (path / env_id).is_dir() else path
    config = params / "config.yml" if (params / "config.yml").is_file() else None
    vn = next((params / n for n in ("vecnormalize.pkl", "vec_normalize.pkl") if (params / n).is_file()), None)
    src = Source("rl zoo run", path, chosen, config, vn, env_id_hint=env_id)
    if chosen.name == "best_model.zip":
        src.notes.append("using best_model.zip (no final model in the folder)")
    return src


# --- the bundle ------------------------------------------------------------------------------------

def _hyperparameters(data: dict[str, Any], zoo: dict[str, Any] | None) -> dict[str, Any]:
    """config.yml of the bundle: the Zoo's hyperparameters as written (strings stay strings), else the
    plain values in the checkpoint's data."""
    def plain(v):
        try:
            yaml.safe_dump(v)
            return v
        except yaml.YAMLError:  # e.g. a placeholder-free object from an exotic tag: keep its text only
            return str(v)

    if zoo:
        return {str(k): plain(v) for k, v in zoo.items()}
    out = {}
    for k in _HYPERPARAMS:
        if k in data:
            v = data[k]
            out[k] = v.get("value_schedule", str(v)) if isinstance(v, dict) else v
    out["policy_kwargs"] = {k: v for k, v in (data.get("policy_kwargs") or {}).items() if not k.startswith(":")}
    return out


def default_out(spec: GameSpec, source: Source) -> Path:
    from agents.common.settings import data_dir

    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", source.path.stem if source.path.is_file() else source.path.name)
    return data_dir() / "imported" / f"{spec.slug}-{name}"


def import_checkpoint(source_path: str | Path, game: str, out: str | Path | None = None, trust_pickle: bool = False,
                      episodes: int | None = None, replays: int = 5, command: str | None = None,
                      warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
                      register: bool = True) -> Path:
    """Import an SB3 PPO zip or RL Zoo run as a bundle (default under ``$PLAYGROUND_DATA/imported/``)."""
    from stable_baselines3 import PPO

    spec = get_spec(game)
    src = find_source(Path(source_path))
    for note in src.notes:
        warn(f"note: {note}")
    ckpt = read_checkpoint(src.zip)
    _check_is_ppo(ckpt.data, src.zip)
    policy_name = _policy_class(ckpt.data, src.zip)
    obs_space, _ = check_spaces(ckpt.data, spec, src.zip)
    kwargs = policy_kwargs(ckpt.data, src.zip)

    zoo = None
    if src.config is not None:
        zoo = zoo_yaml(src.config.read_text(), src.config)
        if not isinstance(zoo, dict):
            raise ImportCheckpointError(f"{src.config} is not a mapping of hyperparameters")
    norm = _normalize_setting(zoo, src.config) if zoo is not None else ({"norm_obs": True} if src.vecnormalize else None)
    normalizer = None
    if norm and norm.get("norm_obs", True):
        if src.vecnormalize is None:
            raise ImportCheckpointError(f"{src.config} says the run normalises observations, but there is no "
                                        f"vecnormalize.pkl beside it: the statistics are missing")
        normalizer = normalizer_from_pickle(src.vecnormalize, trust_pickle, warn)
        if normalizer is not None and normalizer.mean.shape != tuple(obs_space.shape):
            raise ImportCheckpointError(f"{src.vecnormalize}: statistics of shape {normalizer.mean.shape} do not fit "
                                        f"{spec.env_id}'s observations")

    started = now_iso()
    out_dir = Path(out) if out else default_out(spec, src)
    with BundleWriter(out_dir) as w:
        # A fresh PPO on the game's own env, with the weights loaded into it: what we export and what we
        # save as SB3's zip is built from our objects, never from the checkpoint's pickles.
        env = make_env(spec, "eval")
        d = ckpt.data
        n_steps = int(d["n_steps"]) if isinstance(d.get("n_steps"), int) and d["n_steps"] > 1 else 2048
        extra = {k: d[k] for k in ("gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm", "n_epochs")
                 if isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool)}
        model = PPO(POLICY_ALIASES[policy_name], env, policy_kwargs=kwargs, use_sde=bool(d.get("use_sde", False)),
                    n_steps=n_steps, batch_size=min(64, n_steps), device="cpu", seed=0, **extra)
        try:
            model.policy.load_state_dict(ckpt.state_dict, strict=True)
        except RuntimeError as exc:
            raise ImportCheckpointError(f"{src.zip}: the weights do not fit the policy its data describes: "
                                        f"{str(exc)[:400]}") from None
        model.policy.set_training_mode(False)
        export_policy(model.policy, normalizer, w.path)
        model.save(w.path / f"ppo-{spec.hub_env_id}.zip")
        env.close()

        config = _hyperparameters(d, zoo)
        w.write_text("config.yml", yaml.safe_dump(config, sort_keys=False))
        result = write_evaluation(w, spec, out_dir, episodes, replays)

        source = {"kind": src.kind, "path": str(src.path.resolve()), "zip": src.zip.name, "zip_sha256": ckpt.sha256,
                  "config": None if src.config is None else {"file": str(src.config.relative_to(src.path)),
                                                             "sha256": sha256_file(src.config)},
                  "vecnormalize": None if src.vecnormalize is None else {
                      "file": str(src.vecnormalize.relative_to(src.path)), "sha256": sha256_file(src.vecnormalize),
                      "unpickled": normalizer is not None},
                  "env_id_hint": src.env_id_hint, "sb3_version": ckpt.sb3_version, "system_info": ckpt.system_info,
                  "num_timesteps": d.get("num_timesteps") if isinstance(d.get("num_timesteps"), int) else None,
                  "policy_class": policy_name}
        manifest = Manifest(
            game=spec.slug, env_id=spec.env_id, env_kwargs=spec.env_kwargs, origin="external", files={},
            source=source, shipped_because="an external checkpoint: trained elsewhere, not reproduced here",
            commands={"import": command or f"playground import {src.path} --game {spec.slug}",
                      "evaluate": f"playground evaluate {out_dir}", "verify": f"playground verify {out_dir}"},
            protocol=Protocol.of_spec(spec, episodes),
            provenance={"code": {"bundling": git_state()}, "versions": package_versions(), "hardware": hardware(),
                        "bundled": {"started": started, "finished": now_iso()}})
        w.write_text("README.md", external_card(spec, manifest, result, config))
        w.finish(manifest)
    if register:
        from agents.hub import registry

        registry.add(f"import:{out_dir.resolve()}", spec.slug, out_dir.resolve(), f"imported from {src.path.name}")
    return out_dir

