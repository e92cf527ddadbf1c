"""The knobs a learner may turn in the lab, in one table: name, meaning, type, range.

Everything else of a run's config is the game's shipped one (``agents/hyperparams/<game>.yml``): the browser
can set these knobs and nothing else. :func:`validate` checks a whole set of values (as they come from the
page, or from the database) and raises :class:`KnobError` with one line naming the knob, the value and the
range; :func:`hyperparams` turns valid values into the config ``playground train --config`` runs.

A knob's default for a game is the shipped config's value, or PPO's own default where the config leaves it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agents.common.settings import lab_max_timesteps
from agents.training.config import ALGOS, load_config, ppo_arguments, validate_config
from envs import PlaygroundError, get_spec

LAB_GAMES = ("cartpole", "acrobot", "pendulum", "lunarlander")
"""single-agent games whose lab run fits a few minutes here; the page lists the others greyed out"""

Kind = Literal["int", "float", "bool", "choice"]


class KnobError(PlaygroundError):
    """A knob value the lab refuses, in one line (which knob, what value, what range)."""


@dataclass(frozen=True)
class Knob:
    """One setting a learner may change from the browser."""

    name: str
    """the hyperparameter's key (``timesteps`` and ``seed`` are ``playground train``'s options)"""
    meaning: str
    """one line, shown beside the input"""
    kind: Kind
    low: float = -math.inf
    high: float = math.inf
    high_setting: Callable[[], float] | None = None
    """where the upper bound comes from when it is a setting (the per-job timestep cap)"""
    optional: bool = False
    """None is a value ("none": no early stop)"""
    schedule: bool = False
    """``lin_<x>`` is a value too: x decaying linearly to 0 over the run, as in the RL Zoo"""
    choices: tuple[str, ...] = ()
    step: float | None = None
    """the page's input step"""

    @property
    def bounds(self) -> tuple[float, float]:
        return self.low, self.high_setting() if self.high_setting else self.high

    def describe_range(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return " or ".join(self.choices)
        lo, hi = self.bounds
        text = f"{lo:g} to {hi:g}" if self.kind == "float" else f"{int(lo):,} to {int(hi):,}"
        return text + (", or none" if self.optional else "") + (", or lin_<x>" if self.schedule else "")

    def check(self, value: Any) -> Any:
        """The value, normalised (ints as int, floats as float, ``lin_x`` as written); KnobError when refused."""
        bad = f"{self.name} must be {self.describe_range()}, got {value!r}"
        if value is None:
            if self.optional:
                return None
            raise KnobError(bad)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise KnobError(bad)
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise KnobError(bad)
            return value
        number = value
        if self.schedule and isinstance(value, str) and value.startswith("lin_"):
            try:
                number = float(value[4:])
            except ValueError:
                raise KnobError(bad) from None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise KnobError(bad)
        if self.kind == "int" and number != int(number):
            raise KnobError(f"{self.name} must be a whole number ({self.describe_range()}), got {value!r}")
        lo, hi = self.bounds
        if not lo <= number <= hi:
            raise KnobError(bad)
        if isinstance(value, str):
            return f"lin_{float(number):g}"
        return int(number) if self.kind == "int" else float(number)


KNOBS: tuple[Knob, ...] = (
    Knob(
        "algo",
        "the update: PPO's clipped surrogate, or TRPO's KL-constrained natural-gradient step (sb3-contrib)",
        "choice",
        choices=tuple(ALGOS),
    ),
    Knob(
        "timesteps",
        "environment steps to train for; the lin_ schedules decay to 0 over them",
        "int",
        1_000,
        high_setting=lab_max_timesteps,
        step=1_000,
    ),
    Knob(
        "seed", "seeds the environments and the initial weights: the same seed trains the same run", "int", 0, 2**31 - 1
    ),
    Knob("n_envs", "environments stepped side by side; a rollout holds n_steps × n_envs steps", "int", 1, 16),
    Knob("n_steps", "steps each environment takes per rollout, before each update", "int", 8, 4096),
    Knob("batch_size", "samples per minibatch gradient step (at most n_steps × n_envs)", "int", 8, 4096),
    Knob(
        "n_epochs",
        "passes over each rollout per update: more reuse the data harder and move the policy further",
        "int",
        1,
        50,
    ),
    Knob(
        "learning_rate",
        "Adam's step size; lin_<x> decays it linearly from x to 0",
        "float",
        1e-6,
        0.01,
        schedule=True,
        step=1e-4,
    ),
    Knob(
        "clip_range",
        "ε: how far the probability ratio may leave 1 before the objective stops rewarding it; 100 switches "
        "clipping off in practice",
        "float",
        0.01,
        100.0,
        schedule=True,
        step=0.05,
    ),
    Knob("ent_coef", "weight of the entropy bonus that keeps the policy exploring", "float", 0.0, 0.1, step=0.001),
    Knob(
        "gae_lambda",
        "GAE's λ: 0 bootstraps on V after one step (low variance, biased), 1 is the Monte-Carlo return",
        "float",
        0.0,
        1.0,
        step=0.01,
    ),
    Knob("gamma", "discount: rewards about 1/(1 − gamma) steps ahead still count", "float", 0.8, 0.9999, step=0.001),
    Knob(
        "target_kl",
        "stop an update's epochs once approx KL passes 1.5 × this; none: never (TRPO: its KL step, default 0.01)",
        "float",
        0.001,
        1.0,
        optional=True,
        step=0.005,
    ),
    Knob("normalize_advantage", "standardise the advantages of each minibatch", "bool"),
)
BY_NAME = {k.name: k for k in KNOBS}

RUN_OPTIONS = ("timesteps", "seed")
"""knobs that are ``playground train`` options rather than config keys"""


def _algo_defaults(algo: str) -> dict[str, Any]:
    cls = {"PPO": "stable_baselines3", "TRPO": "sb3_contrib"}[algo]
    import importlib

    init = getattr(importlib.import_module(cls), algo).__init__
    return {
        k: p.default for k, p in inspect.signature(init).parameters.items() if p.default is not inspect.Parameter.empty
    }


def shipped_config(game: str) -> dict[str, Any]:
    """The game's shipped hyperparameters (``agents/hyperparams/<game>.yml``)."""
    return load_config(get_spec(game))


def defaults(game: str) -> dict[str, Any]:
    """Every knob's value in the game's shipped config (PPO's default where the config leaves it); the
    timesteps are the config's, capped at the lab's per-job limit."""
    hp = shipped_config(game)
    ppo = _algo_defaults("PPO")
    values: dict[str, Any] = {}
    for k in KNOBS:
        if k.name == "timesteps":
            values[k.name] = min(int(hp["n_timesteps"]), int(k.bounds[1]))
        elif k.name == "seed":
            values[k.name] = 1
        elif k.name == "algo":
            values[k.name] = hp.get("algo", "PPO")
        else:
            values[k.name] = hp.get(k.name, ppo.get(k.name))
    return values


def validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """A complete, checked set of knob values; KnobError (one line) for an unknown knob, a missing one, a value
    out of range, or values that do not fit together."""
    if not isinstance(values, Mapping):
        raise KnobError(f"knob values must be a mapping of name: value, got {type(values).__name__}")
    unknown = sorted(set(values) - set(BY_NAME), key=str)
    if unknown:
        raise KnobError(f"the lab cannot set {unknown[0]!r}; it sets only {', '.join(BY_NAME)}")
    missing = [k for k in BY_NAME if k not in values]
    if missing:
        raise KnobError(f"knob {missing[0]} is missing; every knob needs a value")
    out = {name: BY_NAME[name].check(values[name]) for name in BY_NAME}
    rollout = out["n_steps"] * out["n_envs"]
    if out["batch_size"] > rollout:
        raise KnobError(
            f"batch_size {out['batch_size']} is larger than a rollout (n_steps × n_envs = {out['n_steps']} × "
            f"{out['n_envs']} = {rollout}); lower batch_size or raise n_steps or n_envs"
        )
    if out["timesteps"] < rollout:
        raise KnobError(
            f"timesteps {out['timesteps']:,} is less than one rollout (n_steps × n_envs = {rollout:,}): "
            "nothing would be learned; raise timesteps"
        )
    return out


def hyperparams(game: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The config a lab run trains with: the game's shipped config with the knobs applied (validated first).

    TRPO has no epochs, entropy bonus or clip range: those keys leave its config (as in the ppo-vs-trpo
    ablation), and target_kl none keeps TRPO's own KL step.
    """
    v = validate(values)
    hp = shipped_config(game)
    for name, value in v.items():
        if name not in RUN_OPTIONS:
            hp[name] = value
    hp["n_timesteps"] = v["timesteps"]
    if hp["algo"] == "PPO":
        del hp["algo"]  # the shipped configs leave it out: PPO is the default
    else:
        allowed = ppo_arguments(hp["algo"]) | {"algo", "n_envs", "n_timesteps", "policy", "policy_kwargs"}
        hp = {k: val for k, val in hp.items() if k in allowed and not (k == "target_kl" and val is None)}
    validate_config(hp, source=f"the lab's config for {game}")
    return hp


def expected_seconds(game: str, timesteps: int | None = None) -> float | None:
    """How long a run of ``timesteps`` (default: the shipped config's, capped) took here, from the shipped
    bundle's recorded wall time for its shipped seed; None when the game has no bundle."""
    from agents.bundle import Bundle

    try:
        b = Bundle.shipped(game, check=False)
    except PlaygroundError:
        return None
    if b is None or b.is_external:
        return None
    seed = str(b.manifest.shipped_seed)
    wall, steps = b.manifest.wall_seconds.get(seed), b.manifest.timesteps.get(seed)
    if not wall or not steps:
        return None
    if timesteps is None:
        timesteps = min(int(shipped_config(game)["n_timesteps"]), lab_max_timesteps())
    return float(wall) * timesteps / float(steps)
