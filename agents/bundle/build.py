"""``playground bundle``: assemble a bundle from finished training runs (``docs/bundle.md``).

Ships the best seed, evaluates it with the game's protocol, records replays, and writes the card; the
folder is staged and installed by :class:`agents.bundle.writer.BundleWriter`, so a failure leaves nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.bundle.card import model_card
from agents.bundle.interop import registered_env_id, write_interop_files
from agents.bundle.manifest import Manifest
from agents.bundle.writer import BundleWriter
from agents.common.errors import BundleError
from agents.common.files import read_csv_rows, read_json, sha256_file
from agents.common.progress import Progress
from agents.common.provenance import git_state, hardware, now_iso, package_versions
from agents.common.settings import models_dir
from agents.evaluation.evaluate import EvalResult, Protocol, evaluate_policy
from agents.evaluation.replay import replay_record
from agents.metrics.health import assess
from agents.policy.network import export_policy, load_policy
from agents.policy.normalize import VecNormalizeState
from envs import GameSpec, get_spec


def _load_run(run_dir: Path, spec: GameSpec) -> dict[str, Any]:
    run = read_json(run_dir / "run.json", f"run.json of {run_dir}", BundleError)
    if run.get("game") != spec.slug:
        raise BundleError(f"{run_dir} is a run of {run.get('game')}, not {spec.slug}")
    if run.get("status") != "done":
        raise BundleError(
            f"{run_dir} has not finished (status {run.get('status')}); resume it with "
            f"`playground train {spec.slug} --seed {run.get('seed')} --out {run_dir} --resume`"
        )
    run["dir"] = run_dir
    run["periodic"] = read_csv_rows(run_dir / "eval.csv")
    run["diagnostics"] = read_csv_rows(run_dir / "diagnostics.csv")
    return run


def _pick_seed(runs: list[dict[str, Any]], spec: GameSpec) -> tuple[dict[str, Any], str]:
    """The run whose last periodic evaluation (its own seeds, disjoint from the final evaluation) is best."""

    def key(r):
        last = r["periodic"][-1] if r["periodic"] else {"mean": -np.inf, "std": 0}
        return (last["mean"] - last["std"], last["mean"], -r["seed"])

    best = max(runs, key=key)
    lines = []
    for r in runs:
        last = r["periodic"][-1] if r["periodic"] else None
        lines.append(f"seed {r['seed']}: " + (f"{last['mean']:.2f} +/- {last['std']:.2f}" if last else "no evaluation"))
    reason = (
        f"highest mean − std in the last periodic evaluation during training ({spec.eval.during_training_episodes} "
        "episodes on the training-evaluation seeds, disjoint from the final evaluation's seeds): " + "; ".join(lines)
    )
    return best, reason


def write_evaluation(
    w: BundleWriter, spec: GameSpec, out_dir: Path, episodes: int | None = None, replays: int = 5
) -> EvalResult:
    """Evaluate the policy staged in ``w`` with the game's protocol: ``evidence/eval.json``, the replays and
    ``results.json`` (huggingface_sb3's shape). Returns the evaluation."""
    from agents.bundle.validate import game_spaces

    policy = load_policy(w.path, game_spaces(spec.slug))  # loaded back the way the app loads it, with its checks
    protocol = Protocol.of_spec(spec, episodes)
    bar = Progress(f"{spec.slug}: final evaluation", protocol.episodes, "episodes")
    result = evaluate_policy(spec, policy, protocol, record=True, progress=bar)
    result.policy_sha256 = sha256_file(w.path / "policy.safetensors")
    result.command = f"playground evaluate {out_dir}"
    result.evaluated_at = now_iso()
    w.write_json("evidence/eval.json", result.to_json())

    eps = result.episodes
    order = sorted(range(len(eps)), key=lambda i: (eps[i].ret, -i))
    picks = {"worst": order[0], "best": order[-1], "median": order[len(order) // 2]}
    for i in range(len(eps)):
        if len(picks) >= replays:
            break
        if i not in picks.values():
            picks[f"episode{i:03d}"] = i
    for label, i in picks.items():
        w.write_json(
            f"evidence/replays/{label}.json", replay_record(spec, eps[i], label, result.deterministic), indent=None
        )

    s = result.summary
    w.write_json(
        "results.json",
        {
            "mean_reward": s["mean"],
            "std_reward": s["std"],
            "is_deterministic": result.deterministic,
            "n_eval_episodes": s["episodes"],
            "eval_datetime": result.evaluated_at,
        },
    )
    return result


def write_sb3_zip_without_optimizer_state(model, dest: Path) -> None:
    """Save ``model`` as SB3's zip with a freshly built optimizer in place of the trained one.

    SB3's ``save`` always writes ``policy.optimizer.pth`` and ``PPO.load`` refuses a zip without it, so the
    file cannot simply be left out. A new Adam has no moment estimates (``state`` is empty), so the file is a
    few hundred bytes instead of twice the weights: for the Atari CNN that keeps the bundle well under 25 MB.
    ``PPO.load`` works as usual; training on from this zip restarts Adam's moments (the run folder's
    checkpoints keep the full state for ``playground train --resume``).
    """
    policy = model.policy
    lr = float(model.lr_schedule(1.0)) if callable(model.lr_schedule) else float(model.learning_rate)
    policy.optimizer = policy.optimizer_class(policy.parameters(), lr=lr, **policy.optimizer_kwargs)
    model.save(dest)


def build_bundle(
    game: str,
    run_dirs: list[Path],
    out: str | Path | None = None,
    command: str | None = None,
    replays: int = 5,
    episodes: int | None = None,
) -> Path:
    """Assemble ``models/<game>`` from finished runs: ship the best seed, evaluate it, record replays."""
    from stable_baselines3 import PPO

    spec = get_spec(game)
    if not run_dirs:
        raise BundleError("give at least one run folder")
    runs = [_load_run(Path(d), spec) for d in run_dirs]
    seeds = [r["seed"] for r in runs]
    if len(set(seeds)) != len(seeds):
        raise BundleError(f"two runs have the same seed: {seeds}")
    best, reason = _pick_seed(runs, spec)
    started = now_iso()
    out_dir = Path(out) if out else models_dir() / spec.slug

    with BundleWriter(out_dir) as w:
        # weights: SB3's own zip for PPO.load users, and safetensors + JSON for everything here
        zip_name = f"ppo-{spec.hub_env_id}.zip"
        model = PPO.load(best["dir"] / "final" / "model.zip", device="cpu")  # our own run's file, not a download
        if spec.is_atari:
            write_sb3_zip_without_optimizer_state(model, w.path / zip_name)
        else:
            w.copy(best["dir"] / "final" / "model.zip", zip_name)
        norm = VecNormalizeState.from_json(
            read_json(best["dir"] / "final" / "normalize.json", "normalize.json", BundleError)
        )
        export_policy(model.policy, norm.normalizer() if norm else None, w.path)
        config = yaml.safe_load((best["dir"] / "config.yml").read_text())  # our own run's file
        seed = best["seed"]
        metrics = {
            f"training-seed{seed}.csv": (best["dir"] / "diagnostics.csv").read_bytes(),
            f"eval-during-training-seed{seed}.csv": (best["dir"] / "eval.csv").read_bytes(),
        }
        # config.yml with the Zoo's keys, args.yml, env_kwargs.yml, vec_normalize.pkl, policy.onnx
        write_interop_files(w.path, spec, config, seed, metrics)
        config_text = (w.path / "config.yml").read_text()

        # evidence: every seed's curves and periodic evaluations, health per seed
        health: dict[str, Any] = {"shipped_seed": best["seed"], "seeds": {}}
        continuous = not hasattr(model.action_space, "n")
        for r in runs:
            w.copy(r["dir"] / "diagnostics.csv", f"evidence/training-seed{r['seed']}.csv")
            w.copy(r["dir"] / "eval.csv", f"evidence/eval-during-training-seed{r['seed']}.csv")
            health["seeds"][str(r["seed"])] = assess(r["diagnostics"], continuous=continuous)
        health["verdict"] = health["seeds"][str(best["seed"])]["verdict"]
        w.write_json("evidence/health.json", health)

        # final evaluation of the shipped policy
        result = write_evaluation(w, spec, out_dir, episodes, replays)

        manifest = Manifest(
            game=spec.slug,
            env_id=spec.env_id,
            env_kwargs=spec.env_kwargs,
            registered_env_id=registered_env_id(spec),
            origin="trained",
            files={},
            seeds=seeds,
            shipped_seed=best["seed"],
            shipped_because=reason,
            timesteps={str(r["seed"]): r.get("timesteps") for r in runs},
            wall_seconds={str(r["seed"]): r.get("wall_seconds") for r in runs},
            commands={
                "train": {str(r["seed"]): r["commands"] for r in runs},
                "bundle": command or f"playground bundle {spec.slug} " + " ".join(str(d) for d in run_dirs),
                "evaluate": f"playground evaluate {spec.slug}",
                "verify": f"playground verify {spec.slug}",
            },
            reproduce=[f"playground train {spec.slug} --seed {s}" for s in seeds],
            protocol=Protocol.of_spec(spec, episodes),
            provenance={
                "code": {"training": {str(r["seed"]): r.get("code") for r in runs}, "bundling": git_state()},
                "versions": package_versions(),
                "hardware": best.get("hardware") or hardware(),
                "started": min(r["segments"][0]["start"] for r in runs),
                "finished": max(r.get("finished", "") for r in runs),
                "bundled": {"started": started, "finished": now_iso()},
                "python_executable": sys.executable.split("/")[-1],
            },
        )
        w.write_text("README.md", model_card(spec, manifest, result, health, config_text))
        w.finish(manifest)
    return out_dir
