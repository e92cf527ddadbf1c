"""The chapters' experiments as lab presets: each opens as a comparison whose arms are queued together.

An arm is the chosen game's shipped knobs with a few changed. Where ``playground ablate`` already runs the
experiment (:mod:`agents.experiments.ablations`), the preset takes its changed values, title, question and
source from there, so the lab and the CLI run the same experiment; GAE's λ and the number of epochs are the
lab's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.experiments.ablations import ABLATIONS
from playground.lab.knobs import KnobError, validate

MAX_ARMS = 4
"""runs overlaid on one page at most"""


@dataclass(frozen=True)
class Arm:
    label: str
    """the run's name on the page, e.g. "clip 0.2" """
    set: dict[str, Any] = field(default_factory=dict)
    """knob values changed from the game's shipped ones"""


@dataclass(frozen=True)
class Preset:
    key: str
    title: str
    question: str
    source: str
    arms: tuple[Arm, ...]

    def arm_values(self, base: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(label, validated knob values) per arm, from ``base`` (the knobs as set on the page)."""
        out = []
        for arm in self.arms:
            try:
                out.append((arm.label, validate({**base, **arm.set})))
            except KnobError as exc:
                raise KnobError(f"preset {self.title!r}, arm {arm.label!r}: {exc}") from None
        return out


_BASELINES: dict[str, dict[str, Any]] = {
    "clip-off": {"clip_range": 0.2},
    "target-kl": {"target_kl": None},
    "ppo-vs-trpo": {"algo": "PPO"},
}
"""the ablation's baseline is "the shipped config"; in the lab the other arm's knob is set explicitly"""


def _from_ablation(name: str, key: str, labels: tuple[str, str]) -> Preset:
    a = ABLATIONS[name]
    changed: dict[str, Any] = dict(a.variants[1].set)
    baseline: dict[str, Any] = dict(_BASELINES[name])
    return Preset(key, a.title, a.question, a.source, (Arm(labels[0], baseline), Arm(labels[1], changed)))


PRESETS: dict[str, Preset] = {
    p.key: p
    for p in [
        _from_ablation("clip-off", "clip", ("clip 0.2", "clip off (ε = 100)")),
        _from_ablation("target-kl", "target-kl", ("no target_kl", "target_kl 0.015")),
        Preset(
            "gae-lambda",
            "GAE λ = 0, 0.95 and 1",
            "How does GAE's λ trade the bias of bootstrapping on V against the variance of Monte-Carlo returns?",
            "Schulman et al. 2016, High-Dimensional Continuous Control Using Generalized Advantage Estimation: "
            "λ = 0 is the one-step TD advantage (low variance, biased while V is wrong), λ = 1 the discounted "
            "return minus V (unbiased, high variance); values around 0.95 did best in its experiments.",
            (
                Arm("λ = 0", {"gae_lambda": 0.0}),
                Arm("λ = 0.95", {"gae_lambda": 0.95}),
                Arm("λ = 1", {"gae_lambda": 1.0}),
            ),
        ),
        Preset(
            "epochs",
            "n_epochs 4 against 30",
            "What happens when each rollout is reused for many more epochs of minibatch steps?",
            "Schulman et al. 2017, Proximal Policy Optimization Algorithms: the clipped objective is what makes "
            "several epochs on the same rollout safe (3-15 in its experiments); Andrychowicz et al. 2021, What "
            "Matters in On-Policy RL, found the number of epochs one of the most sensitive choices. Watch the "
            "approx KL and the clip fraction of the 30-epoch arm.",
            (Arm("4 epochs", {"n_epochs": 4}), Arm("30 epochs", {"n_epochs": 30})),
        ),
        _from_ablation("ppo-vs-trpo", "trpo", ("PPO", "TRPO")),
    ]
}
