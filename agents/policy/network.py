"""The shipped policy: SB3 policy weights in safetensors plus a JSON description, loaded without pickle.

``policy.json`` holds what is needed to rebuild the SB3 policy object (class, spaces, constructor
arguments by name) and the observation-normalisation statistics from VecNormalize. Loading reads JSON
and safetensors only: nothing in a bundle can run code when it is opened.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
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
SIMPLE_KWARGS = (
    "net_arch",
    "use_sde",
    "log_std_init",
    "full_std",
    "use_expln",
    "squash_output",
    "share_features_extractor",
    "normalize_images",
    "ortho_init",
)


# --- spaces <-> JSON -------------------------------------------------------------------------------

MAX_SPACE_ELEMENTS = 2**20
"""elements of a Box space (its bounds are arrays of this many numbers); Atari's stacked frames have 28,224"""
BOX_DTYPES = ("float32", "float64", "uint8", "int8", "int16", "int32", "int64", "uint16")
MAX_LAYERS = 64
MAX_WIDTH = 2**16


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
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": _bounds(space.low),
            "high": _bounds(space.high),
        }
    raise BundleError(f"cannot describe space {space} in policy.json")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _bound_value(v: Any) -> float:
    """A Box bound: a finite number, or ``"inf"``/``"-inf"`` (how JSON carries infinite bounds)."""
    if _is_number(v):
        return float(v)
    if v in ("inf", "-inf"):
        return float(v)
    raise ValueError(f"bound {str(v)[:40]!r} is neither a finite number nor 'inf'/'-inf'")


def space_from_json(d: Any) -> spaces.Space:
    """A Discrete or Box space from its JSON, after checking every field (types, ranges, sizes)."""
    if not isinstance(d, dict):
        raise BundleError(f"policy.json has a malformed space (not an object: {str(d)[:60]})")
    try:
        if d.get("type") == "Discrete":
            n, start = d.get("n"), d.get("start", 0)
            if not _is_int(n) or not 1 <= n <= 10**6 or not _is_int(start) or abs(start) >= 2**31:
                raise ValueError(f"n {str(n)[:20]} must be an integer 1..1000000 and start an int32")
            return spaces.Discrete(n, start=start)
        if d.get("type") == "Box":
            shape = d.get("shape")
            if (
                not isinstance(shape, list)
                or not 1 <= len(shape) <= 4
                or not all(_is_int(s) and 1 <= s <= MAX_SPACE_ELEMENTS for s in shape)
            ):
                raise ValueError(f"shape {str(shape)[:60]} must be 1 to 4 positive integers")
            size = math.prod(shape)
            if size > MAX_SPACE_ELEMENTS:
                raise ValueError(f"shape {shape} has {size:,} elements, more than {MAX_SPACE_ELEMENTS:,}")
            if d.get("dtype") not in BOX_DTYPES:
                raise ValueError(f"dtype {str(d.get('dtype'))[:20]!r} is not one of {', '.join(BOX_DTYPES)}")
            dtype = np.dtype(d["dtype"])

            def arr(v):
                if isinstance(v, list):
                    if len(v) != size:
                        raise ValueError(f"{len(v)} bounds for a shape of {size} elements")
                    return np.array([_bound_value(x) for x in v], dtype=np.float64).reshape(shape).astype(dtype)
                return np.full(shape, _bound_value(v), dtype=np.float64).astype(dtype)

            low, high = arr(d.get("low")), arr(d.get("high"))
            if np.any(low > high):
                raise ValueError("a low bound is above its high bound")
            return spaces.Box(low=low, high=high, shape=tuple(shape), dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BundleError(f"policy.json has a malformed space ({exc})") from None
    raise BundleError(f"policy.json names an unsupported space type {str(d.get('type'))[:40]!r}")


def image_transposed(space: spaces.Space) -> spaces.Space | None:
    """A channel-last image space as SB3 hands it to a CNN policy (channel-first), or None if not an image."""
    from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
    from stable_baselines3.common.vec_env import VecTransposeImage

    if isinstance(space, spaces.Box) and is_image_space(space) and not is_image_space_channels_first(space):
        return VecTransposeImage.transpose_space(space)
    return None


def same_spaces(policy_space: spaces.Space, game_space: spaces.Space) -> bool:
    """Whether a policy built for ``policy_space`` plays a game whose space is ``game_space`` (SB3 transposes
    channel-last images for a CNN, so that form counts as the same)."""
    return policy_space == game_space or policy_space == image_transposed(game_space)


def _describe_space(space: spaces.Space) -> str:
    if isinstance(space, spaces.Discrete):
        return f"Discrete({int(space.n)})"
    if isinstance(space, spaces.Box):
        return f"Box(shape={tuple(space.shape)}, dtype={space.dtype})"
    return str(space)


# --- the policy's arguments: checked, and its size counted before anything is built -----------------

_OPTIONAL_BOOLS = ("full_std", "use_expln", "squash_output")
_BOOLS = ("use_sde", "share_features_extractor", "normalize_images", "ortho_init")
EXTRACTOR_KWARGS = {"FlattenExtractor": {}, "NatureCNN": {"features_dim": int, "normalized_image": bool}}


def _layers(v: Any, what: str) -> list[int]:
    if not isinstance(v, list) or len(v) > MAX_LAYERS or not all(_is_int(w) and 1 <= w <= MAX_WIDTH for w in v):
        raise BundleError(
            f"{what} must be a list of at most {MAX_LAYERS} layer sizes, each an integer 1..{MAX_WIDTH} "
            f"(got {str(v)[:80]})"
        )
    return list(v)


def check_policy_kwargs(
    kwargs: Any, obs_space: spaces.Space, act_space: spaces.Space, where: str = "policy.json"
) -> dict[str, Any]:
    """The policy's constructor arguments in JSON form (class names as strings), checked field by field
    against the allow-lists and ranges. Returns them with ``net_arch`` in SB3's current form."""
    if not isinstance(kwargs, dict):
        raise BundleError(f"{where}: policy_kwargs is not an object ({type(kwargs).__name__})")
    out = dict(kwargs)
    unknown = set(out) - set(SIMPLE_KWARGS) - {"activation_fn", "features_extractor_class", "features_extractor_kwargs"}
    if unknown:
        raise BundleError(f"{where} has unknown policy arguments {sorted(str(k)[:40] for k in unknown)[:5]}")
    act = out.setdefault("activation_fn", "Tanh")
    if act not in ACTIVATIONS:
        raise BundleError(f"{where} names activation {str(act)[:60]!r}; supported: {', '.join(sorted(ACTIVATIONS))}")
    _check_extractor(out, where)
    _check_flags(out, act_space, where)
    out["net_arch"] = _net_arch(out.get("net_arch"), where)
    return out


def _check_extractor(out: dict[str, Any], where: str) -> None:
    fe = out.setdefault("features_extractor_class", "FlattenExtractor")
    if fe not in FEATURE_EXTRACTORS:
        raise BundleError(
            f"{where} names features extractor {str(fe)[:60]!r}; supported: {', '.join(sorted(FEATURE_EXTRACTORS))}"
        )
    fek = out.get("features_extractor_kwargs") or {}
    if not isinstance(fek, dict):
        raise BundleError(f"{where}: features_extractor_kwargs is not an object ({type(fek).__name__})")
    allowed = EXTRACTOR_KWARGS[fe]
    for k, v in fek.items():
        if k not in allowed:
            raise BundleError(
                f"{where}: {fe} takes no argument {str(k)[:40]!r} (it takes: {', '.join(allowed) or 'none'})"
            )
        if allowed[k] is int and not (_is_int(v) and 1 <= v <= MAX_WIDTH):
            raise BundleError(f"{where}: {fe}'s {k} must be an integer 1..{MAX_WIDTH} (got {str(v)[:40]})")
        if allowed[k] is bool and not isinstance(v, bool):
            raise BundleError(f"{where}: {fe}'s {k} must be true or false (got {str(v)[:40]})")
    out["features_extractor_kwargs"] = dict(fek)


def _check_flags(out: dict[str, Any], act_space: spaces.Space, where: str) -> None:
    for k in _BOOLS:
        if k in out and not isinstance(out[k], bool):
            raise BundleError(f"{where}: {k} must be true or false (got {str(out[k])[:40]})")
    for k in _OPTIONAL_BOOLS:
        if out.get(k) is not None and not isinstance(out[k], bool):
            raise BundleError(f"{where}: {k} must be true, false or null (got {str(out[k])[:40]})")
    if "log_std_init" in out and not (_is_number(out["log_std_init"]) and -20 <= out["log_std_init"] <= 20):
        raise BundleError(
            f"{where}: log_std_init must be a number between -20 and 20 (got {str(out['log_std_init'])[:40]})"
        )
    if out.get("use_sde") and not isinstance(act_space, spaces.Box):
        raise BundleError(
            f"{where} asks for gSDE (use_sde), which needs continuous actions; this game's actions "
            f"are {_describe_space(act_space)}"
        )
    if out.get("squash_output") and not out.get("use_sde"):
        raise BundleError(f"{where}: squash_output needs use_sde")


def _net_arch(arch: Any, where: str) -> list[int] | dict[str, list[int]] | None:
    if isinstance(arch, list) and arch and isinstance(arch[0], dict):  # SB3 < 1.8 wrote [dict(pi=..., vf=...)]
        if len(arch) != 1:
            raise BundleError(
                f"{where}: net_arch {str(arch)[:80]} mixes shared layers and a dict, which SB3 2 cannot build"
            )
        arch = arch[0]
    if isinstance(arch, dict):
        if set(arch) != {"pi", "vf"}:
            raise BundleError(
                f"{where}: net_arch as an object needs exactly 'pi' and 'vf' (got {sorted(map(str, arch))[:4]})"
            )
        return {
            "pi": _layers(arch["pi"], f"{where}: net_arch['pi']"),
            "vf": _layers(arch["vf"], f"{where}: net_arch['vf']"),
        }
    return None if arch is None else _layers(arch, f"{where}: net_arch")


def _features_dim(fe: str, fek: dict[str, Any], obs_space: spaces.Space, where: str) -> tuple[int, int]:
    """(the features extractor's output size, its parameter count)."""
    if fe == "FlattenExtractor":
        if isinstance(obs_space, spaces.Discrete):
            return int(obs_space.n), 0
        return math.prod(obs_space.shape), 0
    if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 3:
        raise BundleError(
            f"{where}: NatureCNN needs an image observation (3 dimensions), not {_describe_space(obs_space)}"
        )
    c, h, w = obs_space.shape
    dims = []
    for size in (h, w):
        for kernel, stride in ((8, 4), (4, 2), (3, 1)):
            size = (size - kernel) // stride + 1
        dims.append(size)
    if min(dims) < 1:
        raise BundleError(f"{where}: NatureCNN needs images of at least 36x36, not {h}x{w}")
    features = fek.get("features_dim", 512)
    convs = (32 * c * 64 + 32) + (64 * 32 * 16 + 64) + (64 * 64 * 9 + 64)
    return features, convs + 64 * dims[0] * dims[1] * features + features


def parameter_count(
    kwargs: dict[str, Any], obs_space: spaces.Space, act_space: spaces.Space, where: str = "policy.json"
) -> int:
    """How many parameters SB3's ActorCriticPolicy has for these (checked) arguments, by arithmetic alone."""
    fe = kwargs.get("features_extractor_class", "FlattenExtractor")
    features, extractor = _features_dim(fe, kwargs.get("features_extractor_kwargs") or {}, obs_space, where)
    if not kwargs.get("share_features_extractor", True):
        extractor *= 2
    arch = kwargs.get("net_arch")
    if arch is None:
        arch = [] if fe == "NatureCNN" else {"pi": [64, 64], "vf": [64, 64]}
    pi, vf = (arch["pi"], arch["vf"]) if isinstance(arch, dict) else (arch, arch)

    def mlp(layers: list[int]) -> tuple[int, int]:
        n, last = 0, features
        for width in layers:
            n += last * width + width
            last = width
        return n, last

    (n_pi, latent_pi), (n_vf, latent_vf) = mlp(pi), mlp(vf)
    if isinstance(act_space, spaces.Discrete):
        head = latent_pi * int(act_space.n) + int(act_space.n)
    else:
        dim = math.prod(act_space.shape)
        head = latent_pi * dim + dim
        if kwargs.get("use_sde"):
            head += latent_pi * (dim if kwargs.get("full_std", True) else 1)
        else:
            head += dim
    return extractor + n_pi + n_vf + head + latent_vf + 1


def check_size(
    kwargs: dict[str, Any], obs_space: spaces.Space, act_space: spaces.Space, where: str = "policy.json"
) -> int:
    """The parameter count, refused above ``PLAYGROUND_MAX_PARAMETERS`` (before any tensor exists)."""
    from agents.common.settings import max_parameters

    n = parameter_count(kwargs, obs_space, act_space, where)
    if n > max_parameters():
        raise BundleError(
            f"{where} describes a policy of {n:,} parameters, more than the limit of "
            f"{max_parameters():,} (PLAYGROUND_MAX_PARAMETERS): refused before building it"
        )
    return n


def sb3_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Checked JSON arguments → SB3's constructor arguments (class names → the allow-listed classes)."""
    import torch as th
    from stable_baselines3.common import torch_layers

    out = dict(kwargs)
    out["activation_fn"] = getattr(th.nn, out["activation_fn"])
    out["features_extractor_class"] = getattr(torch_layers, out["features_extractor_class"])
    return out


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


@dataclass(frozen=True)
class PolicyFiles:
    """Where a policy's two files are (a bundle confines them to its folder before saying so)."""

    description: Path
    weights: Path

    @classmethod
    def in_folder(cls, folder: Path) -> PolicyFiles:
        return cls(Path(folder) / "policy.json", Path(folder) / "policy.safetensors")


def probe_observations(space: spaces.Space, n: int = 4) -> np.ndarray:
    """A few observations of ``space`` (seeded samples, plus its low and high corners when finite)."""
    space = copy.deepcopy(space)
    space.seed(0)
    obs = [space.sample() for _ in range(n)]
    if isinstance(space, spaces.Box):
        for corner in (space.low, space.high):
            if np.all(np.isfinite(corner)):
                obs.append(corner.astype(space.dtype))
    return np.stack(obs)


def check_policy_runs(loaded: LoadedPolicy, obs_space: spaces.Space, where: str) -> None:
    """Refuse a policy whose outputs (action probabilities or mean/std, and V(s)) are not finite on
    observations of its game: it would crash or mislead every page that shows it."""
    try:
        info = loaded.forward_info(probe_observations(obs_space))
    except (RuntimeError, ValueError) as exc:
        raise BundleError(f"{where}: the policy fails on its game's observations: {str(exc)[:200]}") from None
    bad = [k for k, v in info.items() if not np.all(np.isfinite(v))]
    if bad:
        raise BundleError(
            f"{where}: the policy's {' and '.join(bad)} are not finite on its game's observations "
            "(NaN or infinite weights?): refused"
        )


def load_policy(
    source: Path | PolicyFiles, game_spaces: tuple[spaces.Space, spaces.Space] | None = None
) -> LoadedPolicy:
    """Rebuild the policy from ``policy.json`` + ``policy.safetensors`` (a folder holding both, or
    :class:`PolicyFiles`); never unpickles.

    Everything is checked before it costs memory: the JSON's size and fields, the spaces (against the game's
    when ``game_spaces`` is given), the parameter count from the declared architecture, then, once built,
    that every weight is finite, the normaliser fits the observations and the outputs on probe
    observations are finite.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_model
    from stable_baselines3.common import policies

    from agents.common.settings import max_file_bytes
    from agents.common.untrusted import read_json, regular_file_size

    files = source if isinstance(source, PolicyFiles) else PolicyFiles.in_folder(Path(source))
    where = str(files.description)
    desc = read_json(files.description, "policy.json", BundleError)
    if not isinstance(desc, dict) or desc.get("format") != FORMAT:
        raise BundleError(f"{where} is not a {FORMAT} file")
    cls_name = desc.get("policy_class")
    if cls_name not in POLICY_CLASSES:
        raise BundleError(
            f"policy.json names policy class {str(cls_name)[:60]!r}; supported: {', '.join(sorted(POLICY_CLASSES))}"
        )
    obs_space = space_from_json(desc.get("observation_space"))
    act_space = space_from_json(desc.get("action_space"))
    if game_spaces is not None:
        for what, ours, game in (("observation", obs_space, game_spaces[0]), ("action", act_space, game_spaces[1])):
            if not same_spaces(ours, game):
                raise BundleError(
                    f"policy.json's {what} space is {_describe_space(ours)}, but the game's is "
                    f"{_describe_space(game)}: this policy was made for another game"
                )
    kwargs = check_policy_kwargs(desc.get("policy_kwargs") or {}, obs_space, act_space, "policy.json")
    check_size(kwargs, obs_space, act_space, "policy.json")
    normalizer = Normalizer.from_json(desc.get("normalization"))
    if normalizer is not None:
        normalizer.check_fits(obs_space)
    regular_file_size(files.weights, "policy.safetensors", BundleError, max_file_bytes())
    try:
        policy = getattr(policies, cls_name)(obs_space, act_space, lr_schedule=lambda _: 0.0, **sb3_kwargs(kwargs))
    except (TypeError, ValueError, AssertionError) as exc:
        raise BundleError(f"policy.json describes a policy SB3 cannot build: {str(exc)[:200]}") from None
    try:
        missing, unexpected = load_model(policy, str(files.weights), strict=False)
    except RuntimeError as exc:  # torch: tensor shapes differ from the policy policy.json describes
        raise BundleError(f"{files.weights} does not match policy.json: {str(exc)[:300]}") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{files.weights} cannot be read as the policy's weights: {exc}") from None
    if missing or unexpected:
        raise BundleError(
            f"{files.weights} does not match policy.json (missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]})"
        )
    check_finite_weights(policy.state_dict(), str(files.weights))
    policy.set_training_mode(False)
    loaded = LoadedPolicy(policy, normalizer, desc)
    check_policy_runs(loaded, game_spaces[0] if game_spaces is not None else obs_space, "policy.json")
    return loaded


def check_finite_weights(state_dict: dict[str, Any], where: str) -> None:
    """Refuse weights holding NaN or infinities (a policy made of them outputs NaN)."""
    import torch as th

    for name, tensor in state_dict.items():
        if tensor.is_floating_point() and not bool(th.isfinite(tensor).all()):
            raise BundleError(f"{where}: weight {name!r} holds NaN or infinite values: refused")
