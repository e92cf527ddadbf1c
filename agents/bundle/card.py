"""What a bundle says about itself in words: the model card (README.md with the Hub's metadata), the card of
an imported agent, and the README's gallery table. Every number comes from the bundle's evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agents.bundle.interop import registered_env_id
from agents.bundle.manifest import EXTERNAL, Manifest
from agents.bundle.usage import protocol_words, usage_section
from agents.common.settings import models_dir
from agents.evaluation.evaluate import EvalResult
from envs import GAMES, GameSpec


def card_data(spec: GameSpec, summary: dict):
    """The Hub's card metadata for a PPO agent: library_name, the RL tags and model-index "mean +/- std", under
    the id gymnasium registers for exactly this game (``LunarLanderContinuous-v3`` for the continuous lander)."""
    from huggingface_hub import ModelCardData
    from huggingface_hub.repocard_data import EvalResult

    env_id = registered_env_id(spec)
    score = f"{summary['mean']:.2f} +/- {summary['std']:.2f}"
    return ModelCardData(
        library_name="stable-baselines3",
        tags=[env_id, "reinforcement-learning", "stable-baselines3", "deep-reinforcement-learning", "onnx"],
        model_name="PPO",
        eval_results=[
            EvalResult(
                task_type="reinforcement-learning",
                task_name="reinforcement-learning",
                dataset_type=env_id,
                dataset_name=env_id,
                metric_type="mean_reward",
                metric_name="mean_reward",
                metric_value=score,
            )
        ],
    )


def _atari_zip_note(spec: GameSpec) -> str:
    if not spec.is_atari:
        return ""
    return (
        "\nThe zip carries no optimizer moments (a fresh Adam), which keeps the bundle small; training on from it "
        "restarts Adam's estimates.\n"
    )


def model_card(spec: GameSpec, manifest: Manifest, result: EvalResult, health: dict, config_text: str) -> str:
    """README.md with the Hub's metadata (library_name, tags, model-index) and our evidence summary."""
    s = result.summary
    data = card_data(spec, s)
    bar = spec.bar
    met = bar.met_by(s["mean"], s["std"])
    ref = spec.reference
    seeds = manifest.seeds
    per_seed = "\n".join(
        f"| {seed} | {manifest.timesteps[str(seed)]:,} | {manifest.wall_seconds[str(seed)]:.0f} s | "
        f"{health['seeds'][str(seed)]['verdict']} |"
        for seed in seeds
    )
    findings = "\n".join(
        f"- **{f['metric']}** ({f['band']}): {f['status']} — {f['message']}"
        for f in health["seeds"][str(manifest.shipped_seed)]["findings"]
    )
    body = f"""
# PPO agent playing {registered_env_id(spec)}

A PPO agent ({spec.name}) trained with [Stable-Baselines3](https://github.com/DLR-RM/stable-baselines3) by
PPO Playground. Every number below comes from the files in `evidence/`; `playground verify` re-checks them.

## Evaluation

| | |
|---|---|
| mean ± std over {s["episodes"]} episodes | **{s["mean"]:.2f} +/- {s["std"]:.2f}** |
| 95 % CI of the mean | {s["ci95"][0]:.2f} … {s["ci95"][1]:.2f} ({s["ci_method"]}) |
| min / max | {s["min"]:.2f} / {s["max"]:.2f} |
| protocol | {protocol_words(spec, result)} |
| bar ({bar.describe()}) | {"met" if met else "not met"} |
| solved threshold | {spec.solved_threshold:g} ({spec.solved_source}) |
| our budget | {manifest.timesteps[str(manifest.shipped_seed)]:,} steps (shipped seed) |
| Zoo reference | {f"{ref.mean:g} ± {ref.std:g} after {ref.timesteps:,} steps ({ref.source})" if ref else "none"} |

## Training

{len(seeds)} training seeds; this bundle ships seed **{manifest.shipped_seed}**, chosen by
{manifest.shipped_because}.

| seed | timesteps | wall time | health |
|---|---|---|---|
{per_seed}

Health of the shipped seed ({health["verdict"]}):

{findings}

Hyperparameters (`config.yml`; starting point: RL Baselines3 Zoo `hyperparams/ppo.yml`):

```yaml
{config_text.strip()}
```

{usage_section(spec, result, f"ppo-{spec.hub_env_id}.zip")}{_atari_zip_note(spec)}
In a checkout of the playground:

```bash
playground verify {spec.slug}        # checksums + re-simulate every replay
playground evaluate {spec.slug}      # re-run the {s["episodes"]}-episode evaluation
```

## Reproduce

```bash
{chr(10).join(manifest.reproduce)}
{manifest.commands["bundle"]}
```

Versions, hardware and checksums: `evidence/manifest.json`.
"""
    return f"---\n{data.to_yaml()}\n---\n{body}"


def external_card(
    spec: GameSpec, manifest: Manifest, result: EvalResult, config: dict[str, Any], normalized: bool = False
) -> str:
    """README.md for an imported agent: the Hub's metadata and what is (and is not) known about it."""
    from huggingface_hub import ModelCard

    s = result.summary
    data = card_data(spec, s)
    src = manifest.source or {}
    body = f"""
# PPO agent playing {registered_env_id(spec)} ({EXTERNAL})

An SB3 PPO checkpoint trained elsewhere and imported by PPO Playground (`{manifest.commands["import"]}`)
without unpickling anything. **It was not trained or reproduced here**: there are no training curves and no
health verdict. The evaluation below was run here, with the game's protocol.

## Evaluation

| | |
|---|---|
| mean ± std over {s["episodes"]} episodes | **{s["mean"]:.2f} +/- {s["std"]:.2f}** |
| 95 % CI of the mean | {s["ci95"][0]:.2f} … {s["ci95"][1]:.2f} ({s["ci_method"]}) |
| protocol | {protocol_words(spec, result)} |
| bar ({spec.bar.describe()}) | {"met" if spec.bar.met_by(s["mean"], s["std"]) else "not met"} |

## Source

| | |
|---|---|
| kind | {src["kind"]} |
| file | `{src["zip"]}` (sha256 `{src["zip_sha256"]}`) |
| trained with | Stable-Baselines3 {src.get("sb3_version") or "unknown"}, {src.get("num_timesteps") or "unknown"} timesteps |
| health | not assessed: no training curves |
| reproduce | not reproduced here |

Hyperparameters as recorded by the source (`config.yml`):

```yaml
{yaml.safe_dump(config, sort_keys=False).strip()}
```

`playground verify` checks the checksums, loads the policy without unpickling and re-simulates the replays.

{usage_section(spec, result, f"ppo-{spec.hub_env_id}.zip", normalized)}"""
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n{body}"))


# --- gallery table -------------------------------------------------------------------------------


def _zoo(spec: GameSpec) -> str:
    ref = spec.reference
    return f"{ref.mean:g} ± {ref.std:g} ({ref.timesteps / 1e6:g}M steps)" if ref else "—"


def gallery_table(models: Path | None = None) -> str:
    """The README's table of shipped agents, read from the bundles' evidence."""
    from agents.bundle.bundle import Bundle

    models = models or models_dir()
    rows = [
        "| game | bar | score (mean ± std, 95 % CI) | bar met | seeds | training steps | wall time | Zoo reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for slug, spec in GAMES.items():
        path = models / slug
        if not Bundle.is_bundle(path):
            continue
        b = Bundle.open(path)
        s = b.eval_result().summary
        m = b.manifest
        steps = m.steps_of_shipped_seed() or 0
        wall = m.total_wall_seconds()
        rows.append(
            f"| {spec.name} (`{registered_env_id(spec)}`) | {spec.bar.describe()} | {s['mean']:.2f} ± {s['std']:.2f} "
            f"({s['ci95'][0]:.2f} … {s['ci95'][1]:.2f}) | {'yes' if spec.bar.met_by(s['mean'], s['std']) else 'no'} "
            f"| {len(m.seeds)} | {steps:,} | {wall / 60:.1f} min ({len(m.seeds)} seed{'s' if len(m.seeds) != 1 else ''}) | {_zoo(spec)} |"
        )
    return "\n".join(rows)
