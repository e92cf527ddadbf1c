"""Turn an external SB3 PPO checkpoint (an SB3 zip, or an RL Zoo run folder) into a bundle, without
running code from it, and without letting it cost unbounded memory (``docs/security.md``).

Every usual way of opening such a checkpoint can run code its author put in it: SB3's zip stores each
object JSON cannot hold as a cloudpickle (the ``":serialized:"`` entries of its ``data``), the Zoo's
``config.yml`` carries python tags that ``yaml.UnsafeLoader`` executes and strings the Zoo ``eval()``s,
and ``vecnormalize.pkl`` is a pickle. Here:

- the zip's members are checked (names, count, inflated sizes) and only ``data`` and ``policy.pth`` are
  read, in memory; nothing is extracted. ``policy.pth`` is itself a zip (torch's format): its members are
  bounded by inflated size too, counted with the outer archive's, before torch reads it;
- ``data`` is read as bounded JSON (size, nesting, finite numbers) and its ``":serialized:"`` entries are
  never decoded. The spaces are the game's own (checked against the readable fields of the checkpoint's
  spaces), the policy's arguments come from the readable fields of ``policy_kwargs`` through
  ``agents.policy.network``'s allow-lists, and the policy's parameter count is computed from them and
  refused above ``PLAYGROUND_MAX_PARAMETERS`` before any tensor is built;
- ``policy.pth`` is read with ``torch.load(weights_only=True)``: tensors only, which must be finite;
- ``config.yml`` goes through a bounded safe YAML loader (no aliases, bounded nesting) that reads
  ``OrderedDict`` tags as dicts and ignores every other python tag; its strings stay strings;
- a Zoo run folder's files must be regular files in the folder: a symlink is refused;
- ``vecnormalize.pkl`` is unpickled only when the caller trusts it (``--trust-pickle``), with a warning.

The bundle gets the game's evaluation and replays, recorded here, is marked ``external — not reproduced
here`` (no training curves, no health verdict), and must pass every check of ``playground verify`` before it
is installed and registered.
"""

from __future__ import annotations

import ast
import io
import os
import re
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from agents.bundle.build import write_evaluation
from agents.bundle.card import external_card
from agents.bundle.interop import registered_env_id, write_interop_files
from agents.bundle.manifest import EXTERNAL, Manifest
from agents.bundle.writer import BundleWriter
from agents.common import untrusted
from agents.common.errors import BundleError, ImportCheckpointError
from agents.common.files import sha256_file
from agents.common.provenance import git_state, hardware, now_iso, package_versions
from agents.common.settings import max_config_bytes, max_file_bytes, max_json_bytes
from agents.evaluation.evaluate import Protocol
from agents.policy.network import (
    ACTIVATIONS,
    FEATURE_EXTRACTORS,
    SIMPLE_KWARGS,
    check_finite_weights,
    check_policy_kwargs,
    check_size,
    export_policy,
    image_transposed,
    sb3_kwargs,
)
from agents.policy.normalize import Normalizer
from envs import GameSpec, get_spec, make_env

__all__ = ["EXTERNAL", "import_checkpoint", "read_checkpoint"]

MAX_MEMBERS = 64
MAX_RATIO = 200
"""a member that inflates more than this many times over its compressed size is refused (zip bomb)"""
MAX_VALUE_CHARS = 200
"""a hyperparameter's text in the checkpoint's data: longer is no hyperparameter (it would land in the card)"""
POLICY_ALIASES = {"ActorCriticPolicy": "MlpPolicy", "ActorCriticCnnPolicy": "CnnPolicy"}
_TRAINING_ONLY_KWARGS = {"optimizer_class", "optimizer_kwargs"}
_HYPERPARAMS = (
    "n_envs",
    "n_steps",
    "batch_size",
    "n_epochs",
    "gamma",
    "gae_lambda",
    "ent_coef",
    "vf_coef",
    "max_grad_norm",
    "learning_rate",
    "clip_range",
    "clip_range_vf",
    "normalize_advantage",
    "target_kl",
    "use_sde",
    "sde_sample_freq",
    "num_timesteps",
)
_RANGES: dict[str, tuple[type, float, float]] = {
    "n_steps": (int, 2, 2**20),
    "n_epochs": (int, 1, 10_000),
    "batch_size": (int, 1, 2**24),
    "n_envs": (int, 1, 4096),
    "gamma": (float, 0, 1),
    "gae_lambda": (float, 0, 1),
    "ent_coef": (float, -1e3, 1e3),
    "vf_coef": (float, 0, 1e3),
    "max_grad_norm": (float, 0, 1e9),
    "num_timesteps": (int, 0, 10**13),
    "sde_sample_freq": (int, -1, 10**9),
    "target_kl": (float, 0, 1e9),
}
"""the ranges a PPO hyperparameter in ``data`` must be in to be used (or shown)"""
_BUILD_N_STEPS = 64
"""the importer's PPO is a shell for the weights: its rollout buffer (n_steps × observation) is allocated at
this size, and the checkpoint's n_steps is put back before the zip is saved (SB3 allocates it again on load)"""


def _error(message: str) -> ImportCheckpointError:
    return ImportCheckpointError(message)


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
    if (
        not name
        or name.startswith(("/", "\\"))
        or "\\" in name
        or "\x00" in name
        or ".." in parts
        or re.match(r"^[A-Za-z]:", name)
    ):
        raise _error(
            f"{zip_path} has a member with an unsafe path {name!r} (absolute or leaving the "
            "archive): refusing the whole file"
        )


def _check_members(infos: list, where: Path | str, max_members: int) -> None:
    if len(infos) > max_members:
        raise _error(f"{where} has {len(infos)} members; an SB3 zip has about 6 (at most {max_members})")
    names = [i.filename for i in infos]
    for name in names:
        _check_member_name(name, Path(str(where)))
    if len(set(names)) != len(names):
        raise _error(f"{where} lists a member twice: refusing an ambiguous archive")
    for info in infos:
        if info.file_size > 2**20 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise _error(
                f"{where}: {info.filename} inflates {info.file_size:,} bytes from "
                f"{info.compress_size:,}: refusing a zip bomb"
            )


def _read_policy_pth(raw: bytes, limits: untrusted.ArchiveLimits, where: str) -> dict[str, Any]:
    """``policy.pth`` (torch's zip format) as a state dict of tensors, its members bounded by inflated size
    before torch reads them, and loaded with ``weights_only=True``."""
    import torch

    if raw[:2] == b"PK":  # torch's zip format; the legacy format is stored uncompressed (bounded by its size)
        zf = untrusted.open_zip(raw, where, ImportCheckpointError)
        with zf:
            infos = limits.check_listing(zf, where)
            _check_members(infos, where, 4096)
            for info in infos:  # inflate each once, counting: torch's own reader trusts the declared sizes
                limits.read(zf, info, where, keep=False)
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, RuntimeError, ...: anything torch's safe loader refuses
        raise _error(
            f"{where} is not a plain tensor state dict (torch.load with weights_only=True refused it): {str(exc)[:300]}"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _error(f"{where} does not hold a state dict of tensors")
    try:
        check_finite_weights(state, where)
    except BundleError as exc:
        raise _error(str(exc)) from None
    return dict(state)


def read_checkpoint(zip_path: Path) -> Checkpoint:
    """Read an SB3 zip's ``data`` (bounded JSON) and ``policy.pth`` (tensors only), after checking every
    member, and the members of ``policy.pth``, by name, count and inflated size."""
    zip_path = Path(zip_path)
    untrusted.regular_file_size(zip_path, "the checkpoint", ImportCheckpointError, max_file_bytes())
    limits = untrusted.ArchiveLimits(str(zip_path), ImportCheckpointError, MAX_MEMBERS)
    zf = untrusted.open_zip(zip_path, str(zip_path), ImportCheckpointError)
    with zf:
        infos = limits.check_listing(zf, str(zip_path))
        _check_members(infos, zip_path, MAX_MEMBERS)
        by_name = {i.filename: i for i in infos}
        for needed in ("data", "policy.pth"):
            if needed not in by_name:
                raise _error(
                    f"{zip_path} is not an SB3 checkpoint: it has no {needed!r} member "
                    f"(members: {', '.join(by_name)[:300] or 'none'})"
                )
        raw_data = limits.read(
            zf, by_name["data"], str(zip_path), limit=max_json_bytes(), setting="PLAYGROUND_MAX_JSON_MB"
        )
        raw_policy = limits.read(zf, by_name["policy.pth"], str(zip_path))
        version = info_txt = None
        if "_stable_baselines3_version" in by_name:
            text = (
                limits.read(zf, by_name["_stable_baselines3_version"], str(zip_path), limit=1000)
                .decode("utf-8", "replace")
                .strip()
            )
            version = text if re.fullmatch(r"[0-9A-Za-z.+_-]{1,40}", text) else None
        if "system_info.txt" in by_name:
            text = limits.read(
                zf,
                by_name["system_info.txt"],
                str(zip_path),
                limit=max_config_bytes(),
                setting="PLAYGROUND_MAX_CONFIG_KB",
            ).decode("utf-8", "replace")
            info_txt = text[:2000]
    data = untrusted.parse_json(raw_data, f"{zip_path}: its 'data' member", ImportCheckpointError)
    if not isinstance(data, dict):
        raise _error(f"{zip_path}: its 'data' member is not a JSON object")
    state = _read_policy_pth(raw_policy, limits, f"{zip_path}: policy.pth")
    return Checkpoint(
        path=zip_path,
        sha256=sha256_file(zip_path),
        data=data,
        state_dict=state,
        sb3_version=version,
        system_info=info_txt,
    )


# --- reading the readable parts of data ----------------------------------------------------------------


def _class_name(value: Any) -> str | None:
    """``"<class 'torch.nn.modules.activation.ReLU'>"`` → ``ReLU``."""
    if not isinstance(value, str) or len(value) > 300:
        return None
    m = re.fullmatch(r"<class '([\w.]+)'>", value.strip())
    return m.group(1).rsplit(".", 1)[-1] if m else None


def _policy_class(data: dict[str, Any], where: Path) -> str:
    entry = data.get("policy_class")
    name = None
    if isinstance(entry, dict):  # a class is cloudpickled; its __init__'s repr names it
        m = re.match(r"<function (\w+)\.__init__", str(entry.get("__init__", ""))[:300])
        name = m.group(1) if m else None
    elif isinstance(entry, str):
        name = _class_name(entry) or entry[:60]
    if name not in POLICY_ALIASES:
        raise _error(
            f"{where}: policy class {name or 'unknown'} is not supported; PPO checkpoints "
            f"with {', '.join(POLICY_ALIASES)} (MlpPolicy, CnnPolicy) can be imported"
        )
    return name


def _check_is_ppo(data: dict[str, Any], where: Path) -> None:
    missing = [k for k in ("n_steps", "n_epochs", "clip_range") if k not in data]
    if missing:
        raise _error(
            f"{where} does not look like a PPO checkpoint (its data has no "
            f"{', '.join(missing)}); only SB3 PPO can be imported"
        )


def check_hyperparameters(data: dict[str, Any], where: Path) -> None:
    """The numbers the importer uses or shows must be of their type and in range (a refusal names the field)."""
    for key, (kind, low, high) in _RANGES.items():
        if key not in data or data[key] is None or isinstance(data[key], dict):
            continue  # absent, or a schedule stored pickled: not used
        v = data[key]
        ok = (isinstance(v, int) if kind is int else isinstance(v, (int, float))) and not isinstance(v, bool)
        if not ok or not low <= v <= high:
            span = f"{int(low)}..{int(high)}" if kind is int else f"{low:g}..{high:g}"
            raise _error(
                f"{where}: data's {key} is {str(v)[:40]!r}, not {'an integer' if kind is int else 'a number'} in {span}"
            )
    if "use_sde" in data and not isinstance(data["use_sde"], bool):
        raise _error(f"{where}: data's use_sde is {str(data['use_sde'])[:40]!r}, not true or false")


_SHAPE = re.compile(r"\(\s*(\d{1,7}\s*(?:,\s*\d{1,7}\s*)*),?\s*\)")


def _space_facts(entry: Any, what: str, where: Path) -> tuple[str, Any]:
    """The kind of a cloudpickled space and its shape (Box) or n (Discrete), from its readable fields."""
    if not isinstance(entry, dict):
        raise _error(f"{where}: the {what} is missing from its data")
    kind = _class_name(entry.get(":type:", "")) or "unknown"
    if kind == "Discrete":
        n = entry.get("n")  # SB3 writes numpy integers as strings
        if isinstance(n, str) and re.fullmatch(r"\d{1,7}", n.strip()):
            n = int(n)
        if isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 10**6:
            return kind, n
    elif kind == "Box":
        shape = entry.get("_shape", entry.get("shape"))
        if isinstance(shape, str) and (m := _SHAPE.fullmatch(shape.strip())):
            return kind, tuple(int(s) for s in m.group(1).split(","))
        if (
            isinstance(shape, list)
            and 0 < len(shape) <= 4
            and all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= 10**6 for s in shape)
        ):
            return kind, tuple(shape)
    else:
        return kind, None
    raise _error(f"{where}: the {what} ({kind}) has no readable size") from None


def _describe(kind: str, size: Any) -> str:
    return f"Discrete({size})" if kind == "Discrete" else f"{kind}(shape={size})" if size is not None else kind


def check_spaces(data: dict[str, Any], spec: GameSpec, where: Path):
    """The game's (observation, action) spaces, after checking the checkpoint was trained on the same ones
    (a CNN checkpoint records its image channel-first, as SB3 hands it to the policy)."""
    from gymnasium import spaces

    from agents.bundle.validate import game_spaces

    game = dict(zip(("observation space", "action space"), game_spaces(spec.slug), strict=True))
    for what, key in (("observation space", "observation_space"), ("action space", "action_space")):
        kind, size = _space_facts(data.get(key), what, where)
        space = game[what]
        game_kind = type(space).__name__
        sizes = [int(space.n)] if isinstance(space, spaces.Discrete) else [tuple(space.shape)]
        if what == "observation space" and image_transposed(space) is not None:
            sizes.append(tuple(image_transposed(space).shape))
        if kind != game_kind or size not in sizes:
            raise _error(
                f"the checkpoint's {what} is {_describe(kind, size)}, but {spec.name} ({spec.env_id}) has "
                f"{_describe(game_kind, sizes[0])}: {where} was trained on another game; pick its game "
                "with --game"
            )
    return game["observation space"], game["action space"]


def policy_kwargs(data: dict[str, Any], where: Path) -> dict[str, Any]:
    """The policy's constructor arguments in policy.json's form, rebuilt from the readable fields only
    (classes by allow-listed name); checked in full by ``agents.policy.network.check_policy_kwargs``."""
    raw = data.get("policy_kwargs") or {}
    if not isinstance(raw, dict):
        raise _error(f"{where}: policy_kwargs is not readable ({str(raw)[:80]})")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith(":") or key in _TRAINING_ONLY_KWARGS:
            continue  # the pickle itself and its type; the optimizer only matters for training
        if key == "activation_fn":
            name = _class_name(value)
            if name not in ACTIVATIONS:
                raise _error(
                    f"{where}: activation_fn {str(value)[:80]!r} is not one of {', '.join(sorted(ACTIVATIONS))}"
                )
            out[key] = name
        elif key == "features_extractor_class":
            name = _class_name(value)
            if name not in FEATURE_EXTRACTORS:
                raise _error(
                    f"{where}: features extractor {str(value)[:80]!r} is not one of "
                    f"{', '.join(sorted(FEATURE_EXTRACTORS))}"
                )
            out[key] = name
        elif key in SIMPLE_KWARGS or key == "features_extractor_kwargs":
            if isinstance(value, str):
                raise _error(f"{where}: policy_kwargs[{key!r}] is only stored pickled ({value[:80]!r})")
            out[key] = value
        else:
            raise _error(
                f"{where}: policy_kwargs[{str(key)[:40]!r}] = {str(value)[:80]!r} cannot be rebuilt "
                "without unpickling it"
            )
    return out


# --- RL Zoo files -----------------------------------------------------------------------------------


class _ZooYamlLoader(untrusted.BoundedSafeLoader):
    """The bounded SafeLoader (no aliases, bounded nesting) that reads the Zoo's
    ``!!python/object/apply:collections.OrderedDict`` as a dict and turns any other python tag into a
    harmless placeholder string: nothing is imported or called."""


def _python_tag(loader: _ZooYamlLoader, suffix: str, node: yaml.Node):
    if suffix == "object/apply:collections.OrderedDict" and isinstance(node, yaml.SequenceNode):
        args = loader.construct_sequence(node, deep=True)
        pairs = args[0] if args else []
        if isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 for p in pairs):
            return {k: v for k, v in pairs}
    if suffix == "tuple" and isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return f"<ignored YAML tag !!python/{suffix[:80]}>"


_ZooYamlLoader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)


def zoo_yaml(text: str, where: Path) -> Any:
    return untrusted.parse_yaml(text, str(where), ImportCheckpointError, _ZooYamlLoader)


def _normalize_setting(config: dict[str, Any], where: Path) -> dict[str, Any] | None:
    """The Zoo's ``normalize`` entry as VecNormalize kwargs (None: not normalised). Strings are read as
    Python literals, never evaluated."""
    value = config.get("normalize", False)
    if isinstance(value, str):
        try:
            if len(value) > 500:
                raise ValueError("too long")
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            raise _error(
                f"{where}: normalize = {value[:80]!r} is not a short literal; it would have to be "
                "eval()'d, which this importer never does"
            ) from None
    if value is True:
        return {"norm_obs": True}
    if isinstance(value, dict):
        return value
    return None


def normalizer_from_pickle(path: Path, trust: bool, warn: Callable[[str], None]) -> Normalizer | None:
    """VecNormalize's observation statistics from ``vecnormalize.pkl``: only when trusted, with a warning."""
    if not trust:
        raise _error(
            f"this run normalises observations and its statistics are only in {path}, a pickle, which can "
            "run any code when loaded. If you trust where it came from, re-run with --trust-pickle; nothing "
            "was imported"
        )
    import pickle

    untrusted.regular_file_size(path, "vecnormalize.pkl", ImportCheckpointError, max_file_bytes())
    warn(
        f"warning: --trust-pickle: unpickling {path} (sha256 {sha256_file(path)[:12]}…); a pickle can run any "
        "code its author put in it"
    )
    with open(path, "rb") as f:
        vn = pickle.load(f)
    try:
        if not vn.norm_obs:
            return None
        return Normalizer.from_vecnormalize(vn)
    except AttributeError:
        raise _error(f"{path} does not hold VecNormalize statistics ({type(vn).__name__})") from None


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


def _in_folder(folder: Path, name: str) -> Path | None:
    """``folder/name`` if it is there; a symlink (or anything but a regular file) is refused, so that a run
    folder cannot make the importer read (and copy into a bundle) a file from elsewhere."""
    p = folder / name
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        raise _error(f"{p} is a symbolic link; links in a run folder are refused, so that nothing outside it is read")
    if not stat.S_ISREG(st.st_mode):
        return None
    return p


def find_source(path: Path) -> Source:
    """An SB3 zip, or an RL Zoo run folder (``logs/ppo/<EnvId>_<n>/``) or a folder of Zoo/Hub files."""
    path = Path(path)
    if path.is_file():  # the file the user named (a link they made is theirs to follow)
        m = re.match(r"(?:ppo-)?(.+)\.zip$", path.name)
        return Source("sb3 zip", path, Path(os.path.realpath(path)), env_id_hint=m.group(1)[:100] if m else None)
    if not path.is_dir():
        raise _error(f"no such file or folder: {path}")
    env_id = re.sub(r"_\d+$", "", path.name)
    zips = sorted(e.name for e in os.scandir(path) if e.name.endswith(".zip"))[:100]
    candidates = [f"{env_id}.zip", f"ppo-{env_id}.zip", "best_model.zip"]
    chosen = next((p for c in candidates if (p := _in_folder(path, c)) is not None), None)
    if chosen is None and len(zips) == 1:
        chosen = _in_folder(path, zips[0])
    if chosen is None:
        raise _error(
            f"{path} is not an RL Zoo run folder: expected {env_id}.zip or best_model.zip "
            f"(zips found: {', '.join(zips) or 'none'}); give the zip itself"
        )
    params = path
    sub = path / env_id
    if os.path.isdir(sub):
        if os.path.islink(sub):
            raise _error(f"{sub} is a symbolic link; links in a run folder are refused")
        params = sub
    config = _in_folder(params, "config.yml")
    vn = _in_folder(params, "vecnormalize.pkl") or _in_folder(params, "vec_normalize.pkl")
    src = Source("rl zoo run", path, chosen, config, vn, env_id_hint=env_id[:100])
    if chosen.name == "best_model.zip":
        src.notes.append("using best_model.zip (no final model in the folder)")
    return src


# --- the bundle ------------------------------------------------------------------------------------


def _hyperparameters(data: dict[str, Any], zoo: dict[str, Any] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """config.yml of the bundle: the Zoo's hyperparameters as written (strings stay strings; the file was
    bounded by ``PLAYGROUND_MAX_CONFIG_KB``), else the readable values in the checkpoint's data (numbers,
    booleans, short strings) and the checked policy arguments. Nothing unbounded reaches the model card."""

    def plain(v):
        try:
            yaml.safe_dump(v)
            return v
        except yaml.YAMLError:  # e.g. a placeholder-free object from an exotic tag: keep its text only
            return str(v)[:MAX_VALUE_CHARS]

    if zoo:
        return {str(k): plain(v) for k, v in zoo.items()}
    out: dict[str, Any] = {}
    for k in _HYPERPARAMS:
        if k not in data:
            continue
        v = data[k]
        if isinstance(v, dict):  # a schedule: SB3 pickles the function; its readable value, if any
            v = v.get("value_schedule", "(a schedule stored pickled: not read)")
        if isinstance(v, str) and len(v) > MAX_VALUE_CHARS:
            raise _error(f"data's {k} is a {len(v):,}-character string, not a hyperparameter: refused")
        if v is not None and not isinstance(v, (bool, int, float, str)):
            v = str(v)[:MAX_VALUE_CHARS]
        out[k] = v
    out["policy_kwargs"] = {k: v for k, v in kwargs.items() if v is not None}
    return out


def default_out(spec: GameSpec, source: Source) -> Path:
    from agents.common.settings import data_dir

    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", source.path.stem if source.path.is_file() else source.path.name)[:100]
    return data_dir() / "imported" / f"{spec.slug}-{name}"


def _accept(staged: Path) -> None:
    """The staged bundle must pass every check of ``playground verify`` (what the app relies on)."""
    from agents.bundle.bundle import Bundle

    try:
        failed = [c for c in Bundle.open(staged).verify() if not c.ok]
    except BundleError as exc:
        raise _error(f"the imported bundle does not verify: {exc}; nothing was imported") from None
    if failed:
        raise _error(
            f"the imported bundle does not verify ({failed[0].name}: {failed[0].detail}); nothing was imported"
        )


def import_checkpoint(
    source_path: str | Path,
    game: str,
    out: str | Path | None = None,
    trust_pickle: bool = False,
    episodes: int | None = None,
    replays: int = 5,
    command: str | None = None,
    warn: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    register: bool = True,
    revision: str | None = None,
    endpoint: str | None = None,
    hub: dict[str, Any] | None = None,
) -> Path:
    """Import an SB3 PPO zip or RL Zoo run as a bundle (default under ``$PLAYGROUND_DATA/imported/``).

    ``source_path`` may be a Hub repo id (``ORG/NAME``, a Zoo or Deep RL course repo): its zip and Zoo files are
    downloaded through huggingface_hub first (``agents.hub.client.fetch_checkpoint``), then imported as a folder.
    """
    import tempfile

    from agents.hub.client import fetch_checkpoint, is_repo_id

    if isinstance(source_path, str) and is_repo_id(source_path):
        with tempfile.TemporaryDirectory(prefix="playground-import-") as tmp:
            folder, hub = fetch_checkpoint(source_path, Path(tmp), revision, endpoint)
            return import_checkpoint(
                folder,
                game,
                out=out or default_out(get_spec(game), find_source(folder)),
                trust_pickle=trust_pickle,
                episodes=episodes,
                replays=replays,
                command=command or f"playground import {source_path} --game {get_spec(game).slug}",
                warn=warn,
                register=register,
                hub=hub,
            )
    return _import(source_path, game, out, trust_pickle, episodes, replays, command, warn, register, hub)


def _import(
    source_path: str | Path,
    game: str,
    out: str | Path | None,
    trust_pickle: bool,
    episodes: int | None,
    replays: int,
    command: str | None,
    warn: Callable[[str], None],
    register: bool,
    hub: dict[str, Any] | None,
) -> Path:
    from stable_baselines3 import PPO

    spec = get_spec(game)
    src = find_source(Path(source_path))
    if hub is not None:
        src.kind = f"hub repo ({src.kind})"
    for note in src.notes:
        warn(f"note: {note}")
    ckpt = read_checkpoint(src.zip)
    d = ckpt.data
    _check_is_ppo(d, src.zip)
    check_hyperparameters(d, src.zip)
    policy_name = _policy_class(d, src.zip)
    obs_space, act_space = check_spaces(d, spec, src.zip)
    kwargs = policy_kwargs(d, src.zip)
    if "use_sde" in d:  # SB3 keeps it beside policy_kwargs and passes it to the policy
        kwargs.setdefault("use_sde", d["use_sde"])
    kwargs.setdefault(
        "features_extractor_class", "NatureCNN" if policy_name == "ActorCriticCnnPolicy" else "FlattenExtractor"
    )
    try:
        # the arguments in policy.json's form, checked against the allow-lists; the parameter count from
        # them and the spaces, before a tensor is built (SB3 transposes a channel-last image for its CNN)
        policy_obs = image_transposed(obs_space) if policy_name == "ActorCriticCnnPolicy" else None
        kwargs = check_policy_kwargs(kwargs, policy_obs or obs_space, act_space, f"{src.zip}: policy_kwargs")
        check_size(kwargs, policy_obs or obs_space, act_space, f"{src.zip}: policy_kwargs")
    except BundleError as exc:
        raise _error(str(exc)) from None

    zoo = None
    if src.config is not None:
        zoo = untrusted.read_yaml(src.config, str(src.config), ImportCheckpointError, _ZooYamlLoader)
        if not isinstance(zoo, dict):
            raise _error(f"{src.config} is not a mapping of hyperparameters")
    if zoo is not None:
        norm = _normalize_setting(zoo, src.config)
    else:
        norm = {"norm_obs": True} if src.vecnormalize else None
    normalizer = None
    if norm and norm.get("norm_obs", True):
        if src.vecnormalize is None:
            raise _error(
                f"{src.config} says the run normalises observations, but there is no "
                f"vecnormalize.pkl beside it: the statistics are missing"
            )
        normalizer = normalizer_from_pickle(src.vecnormalize, trust_pickle, warn)
        if normalizer is not None and normalizer.mean.shape != tuple(obs_space.shape):
            raise _error(
                f"{src.vecnormalize}: statistics of shape {normalizer.mean.shape} do not fit "
                f"{spec.env_id}'s observations"
            )

    config = _hyperparameters(d, zoo, kwargs)
    started = now_iso()
    out_dir = Path(out) if out else default_out(spec, src)
    with BundleWriter(out_dir) as w:
        # A fresh PPO on the game's own env, with the weights loaded into it: what we export and what we
        # save as SB3's zip is built from our objects, never from the checkpoint's pickles.
        env = make_env(spec, "eval")
        n_steps = d.get("n_steps") if isinstance(d.get("n_steps"), int) else 2048
        extra = {
            k: d[k]
            for k in ("gamma", "gae_lambda", "ent_coef", "vf_coef", "max_grad_norm", "n_epochs")
            if isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool)
        }
        built = sb3_kwargs(kwargs)
        use_sde = bool(built.pop("use_sde", False))
        model = PPO(
            POLICY_ALIASES[policy_name],
            env,
            policy_kwargs=built,
            use_sde=use_sde,
            n_steps=min(n_steps, _BUILD_N_STEPS),
            batch_size=min(64, n_steps),
            device="cpu",
            seed=0,
            **extra,
        )
        model.n_steps = n_steps  # see _BUILD_N_STEPS
        try:
            model.policy.load_state_dict(ckpt.state_dict, strict=True)
        except RuntimeError as exc:
            raise _error(f"{src.zip}: the weights do not fit the policy its data describes: {str(exc)[:400]}") from None
        model.policy.set_training_mode(False)
        export_policy(model.policy, normalizer, w.path)
        model.save(w.path / f"ppo-{spec.hub_env_id}.zip")
        env.close()

        # config.yml (the source's hyperparameters plus the Zoo's keys for how it is evaluated here), args.yml,
        # env_kwargs.yml, vec_normalize.pkl (written by SB3 from the statistics we read), policy.onnx
        note = b"Imported by PPO Playground: no training curves (trained elsewhere, not reproduced here).\n"
        write_interop_files(w.path, spec, config, None, {"README.txt": note}, normalized=normalizer is not None)
        try:
            result = write_evaluation(w, spec, out_dir, episodes, replays)
        except BundleError as exc:  # the policy's own checks: non-finite outputs, spaces
            raise _error(f"{src.zip}: {exc}") from None

        source = {
            "kind": src.kind,
            "path": f"hub {hub['repo']}@{hub['commit']}" if hub else str(src.path.resolve()),
            **({"hub": hub} if hub else {}),
            "zip": src.zip.name[:200],
            "zip_sha256": ckpt.sha256,
            "config": None
            if src.config is None
            else {"file": str(src.config.relative_to(src.path)), "sha256": sha256_file(src.config)},
            "vecnormalize": None
            if src.vecnormalize is None
            else {
                "file": str(src.vecnormalize.relative_to(src.path)),
                "sha256": sha256_file(src.vecnormalize),
                "unpickled": normalizer is not None,
            },
            "env_id_hint": src.env_id_hint,
            "sb3_version": ckpt.sb3_version,
            "system_info": ckpt.system_info,
            "num_timesteps": d.get("num_timesteps") if isinstance(d.get("num_timesteps"), int) else None,
            "policy_class": policy_name,
        }
        manifest = Manifest(
            game=spec.slug,
            env_id=spec.env_id,
            env_kwargs=spec.env_kwargs,
            registered_env_id=registered_env_id(spec),
            origin="external",
            files={},
            source=source,
            shipped_because="an external checkpoint: trained elsewhere, not reproduced here",
            commands={
                "import": command or f"playground import {src.path} --game {spec.slug}",
                "evaluate": f"playground evaluate {out_dir}",
                "verify": f"playground verify {out_dir}",
            },
            protocol=Protocol.of_spec(spec, episodes),
            provenance={
                "code": {"bundling": git_state()},
                "versions": package_versions(),
                "hardware": hardware(),
                "bundled": {"started": started, "finished": now_iso()},
            },
        )
        w.write_text("README.md", external_card(spec, manifest, result, config, normalizer is not None))
        w.finish(manifest)
        _accept(w.path)
    if register:
        from agents.hub import registry

        name = f"{hub['repo']}@{hub['commit'][:7]}" if hub else src.path.name
        registry.add(f"import:{out_dir.resolve()}", spec.slug, out_dir.resolve(), f"imported from {name}")
    return out_dir
