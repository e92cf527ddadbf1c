"""The ablations from the PPO texts: each changes one thing in a shipped game's config and trains both
variants on the same seeds (``playground ablate <name>``). Definitions are data, like the hyperparameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envs.errors import PlaygroundError


@dataclass(frozen=True)
class Variant:
    """One arm of an ablation: the bundle's config with ``set`` applied and ``drop`` removed."""

    name: str
    key: str
    """folder-safe name"""
    set: dict[str, Any] = field(default_factory=dict)
    drop: tuple[str, ...] = ()

    def config(self, base: dict[str, Any]) -> dict[str, Any]:
        hp = {k: v for k, v in base.items() if k not in self.drop}
        hp.update(self.set)
        return hp


SHIPPED = Variant("shipped config", "shipped")


@dataclass(frozen=True)
class Ablation:
    name: str
    game: str
    title: str
    question: str
    source: str
    variants: tuple[Variant, Variant]
    """baseline first: the verdict is about the second against the first"""
    count_kl_stops: bool = False


ABLATIONS: dict[str, Ablation] = {
    a.name: a
    for a in [
        Ablation(
            name="clip-off",
            game="cartpole",
            title="Clipping off (ε = 100) against ε = 0.2",
            question="Does PPO's clipped surrogate matter, or would the plain policy-gradient surrogate with several "
            "epochs of minibatch steps do as well?",
            source="Schulman et al. 2017, Proximal Policy Optimization Algorithms, section 6.1 and Table 1: on MuJoCo, "
            "'no clipping or penalty' scored worst of all the surrogate objectives (−0.39 normalised against "
            "0.82 for clipping with ε = 0.2), because several epochs on the same batch move the policy too far. "
            "ε = 100 keeps SB3's PPO as is while the ratio practically never reaches the clip.",
            variants=(
                Variant("clip 0.2 (lin_0.2, shipped)", "clip0.2"),
                Variant("clip 100 (off)", "clip100", {"clip_range": 100}),
            ),
        ),
        Ablation(
            name="target-kl",
            game="lunarlander",
            title="Approx-KL early stop (target_kl 0.015) against none",
            question="Does stopping an update's epochs when the approximate KL exceeds 1.5 × target_kl help, and how "
            "often does it fire?",
            source="SB3's PPO (ppo.py: stop when approx_kl > 1.5 · target_kl; the KL estimator from Schulman's "
            "'Approximating KL divergence') follows OpenAI Spinning Up's PPO, which stops early on KL as a "
            "guard the clipping alone does not give; the PPO paper's adaptive-KL variant (section 4) uses the "
            "same KL as a penalty instead. target_kl 0.015 is in the range Spinning Up suggests (0.01–0.05).",
            variants=(
                Variant("no target_kl (shipped)", "nokl"),
                Variant("target_kl 0.015", "kl0.015", {"target_kl": 0.015}),
            ),
            count_kl_stops=True,
        ),
        Ablation(
            name="ppo-vs-trpo",
            game="lunarlander",
            title="PPO against TRPO (sb3-contrib)",
            question="Does PPO's first-order clipped update learn as well as TRPO's constrained natural-gradient "
            "step at the same sample budget?",
            source="Schulman et al. 2017, section 6.2 and Figure 3: PPO (clip) against TRPO and other methods on "
            "MuJoCo at 1M steps; PPO did better on most of the 7 tasks. TRPO: Schulman et al. 2015. Both arms "
            "here collect the same rollouts (n_envs, n_steps, gamma, gae_lambda, budget); TRPO drops PPO's "
            "n_epochs and ent_coef and keeps sb3-contrib's defaults for its own update (KL step 0.01, "
            "conjugate gradient, line search, critic lr 1e-3 with 10 critic epochs, batch 128).",
            variants=(
                Variant("PPO (shipped)", "ppo"),
                Variant("TRPO", "trpo", {"algo": "TRPO", "batch_size": 128}, drop=("n_epochs", "ent_coef")),
            ),
        ),
    ]
}


def get_ablation(name: str) -> Ablation:
    if name not in ABLATIONS:
        raise PlaygroundError(f"unknown ablation '{name}'; known: {', '.join(ABLATIONS)}")
    return ABLATIONS[name]
