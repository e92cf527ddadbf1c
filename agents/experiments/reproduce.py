"""``playground reproduce`` and ``playground ablate``: re-run a bundle's training from its manifest and
config, judge the result against the published seeds, and save the report in the bundle's evidence.

Order of events: check versions against the manifest → plan a matrix (variants × seeds) of training runs,
each an ordinary ``agents.training.train.train`` run folder (diagnostics, evaluations, checkpoints) → run the matrix
(agents.experiments.matrix: one process, a local pool or Ray) → evaluate each final policy with the bundle's protocol
(the final evaluation's episodes and seeds) → statistics (agents.metrics.stats) → report in
``models/<slug>/evidence/reproductions/<time>-<name>/``.

A killed reproduction continues when the same command runs again: the work folder is named after the
plan, finished runs are kept, a half-done run resumes from its checkpoint.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.bundle import Bundle
from agents.common.errors import ConfigError
from agents.common.files import write_atomic
from agents.common.provenance import git_state, hardware, now_iso, package_versions
from agents.common.settings import runs_dir
from agents.experiments.ablations import SHIPPED, Ablation, Variant
from agents.metrics.stats import METHOD, ablation_verdict, reproduction_verdict
from envs.errors import PlaygroundError

CHECKED_PACKAGES = ("stable-baselines3", "gymnasium", "torch", "ale-py")
"""a different version of these can change a training curve; they are reported before anything runs"""

CURVE_COLUMNS_IGNORED = ("wall_time", "fps")
"""columns that depend on the machine's speed, not on the computation"""


class ReproduceError(PlaygroundError):
    """A reproduction that cannot be planned or run as asked."""


# --- versions ------------------------------------------------------------------------------------


def version_check(bundle: Bundle) -> dict[str, Any]:
    """This machine's package versions against the bundle's manifest; ``ok`` when the checked ones agree."""
    recorded = bundle.manifest.versions
    here = package_versions()
    rows = [
        {
            "package": p,
            "bundle": recorded.get(p),
            "here": here.get(p),
            "same": recorded.get(p) == here.get(p),
            "checked": p in CHECKED_PACKAGES,
        }
        for p in sorted(set(recorded) | set(here))
    ]
    mismatches = [r for r in rows if r["checked"] and not r["same"]]
    return {"ok": not mismatches, "mismatches": mismatches, "packages": rows}


def describe_versions(check: dict[str, Any]) -> list[str]:
    if check["ok"]:
        return [
            "versions: "
            + ", ".join(f"{r['package']} {r['here']}" for r in check["packages"] if r["checked"])
            + " — the same as the bundle's"
        ]
    return [
        f"VERSION MISMATCH: {r['package']} is {r['here']} here but {r['bundle']} in the bundle; identical "
        f"curves for the same seed are not to be expected, only scores in the published band"
        for r in check["mismatches"]
    ]


# --- the plan ------------------------------------------------------------------------------------


@dataclass
class Plan:
    kind: str  # "reproduction" | "ablation"
    name: str
    game: str
    bundle: str
    seeds: list[int]
    variants: list[dict[str, Any]]  # {"name", "key", "config"}
    timesteps: int
    episodes: int
    protocol: dict[str, Any] = field(default_factory=dict)
    """the bundle's recorded evaluation protocol (``agents.evaluation.evaluate.Protocol``), episodes apart"""
    work_dir: str = ""
    ablation: dict[str, Any] | None = None
    checkpoint_seconds: float = 60.0
    checkpoint_every: int | None = None
    command: str = ""

    def identity(self) -> dict[str, Any]:
        """What makes two runs of the command the same reproduction (the work folder is named after it)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "game": self.game,
            "seeds": self.seeds,
            "variants": self.variants,
            "timesteps": self.timesteps,
            "episodes": self.episodes,
        }

    def tasks(self) -> dict[str, dict[str, Any]]:
        out = {}
        for v in self.variants:
            for seed in self.seeds:
                out[f"{v['key']}/seed{seed}"] = {
                    "game": self.game,
                    "seed": seed,
                    "variant": v["key"],
                    "config_file": str(Path(self.work_dir) / v["key"] / "config.yml"),
                    "run_dir": str(Path(self.work_dir) / v["key"] / f"seed{seed}"),
                    "episodes": self.episodes,
                    "protocol": self.protocol,
                    "checkpoint_seconds": self.checkpoint_seconds,
                    "checkpoint_every": self.checkpoint_every,
                }
        return out


def pick_seeds(published: list[int], seeds: list[int] | None, n_seeds: int | None, new: bool) -> list[int]:
    """``seeds`` as given, else ``n_seeds`` seeds: new ones after the published (a reproduction, so that a
    different seed is tested) or 1…n (an ablation, the same seeds for every variant)."""
    if seeds and n_seeds:
        raise ReproduceError("give --seeds or --n-seeds, not both")
    if seeds:
        if len(set(seeds)) != len(seeds):
            raise ReproduceError(f"--seeds has a seed twice: {seeds}")
        return list(seeds)
    n = n_seeds or 3
    if n < 1:
        raise ReproduceError(f"--n-seeds must be at least 1, got {n}")
    if not new:
        return list(range(1, n + 1))
    start = max(published) + 1 if published else 1
    return list(range(start, start + n))


def plan_reproduction(
    bundle: Bundle,
    seeds: list[int] | None = None,
    n_seeds: int | None = None,
    timesteps: int | None = None,
    episodes: int | None = None,
    out: str | Path | None = None,
    ablation: Ablation | None = None,
) -> Plan:
    """The matrix of runs: the bundle's own config (a reproduction) or an ablation's variants of it."""
    base = bundle.config()
    protocol = bundle.protocol()  # the recorded protocol, checked against the catalog once
    variants: list[Variant] = list(ablation.variants) if ablation else [SHIPPED]
    configs = []
    for v in variants:
        hp = v.config(base)
        if timesteps is not None:
            if timesteps < 1:
                raise ReproduceError(f"--timesteps must be positive, got {timesteps}")
            hp["n_timesteps"] = int(timesteps)
        from agents.training.config import validate_config

        validate_config(hp, source=f"variant '{v.name}'")
        configs.append({"name": v.name, "key": v.key, "config": hp})
    budget = int(configs[0]["config"]["n_timesteps"])
    plan = Plan(
        kind="ablation" if ablation else "reproduction",
        name=ablation.name if ablation else "reproduction",
        game=bundle.spec.slug,
        bundle=str(bundle.path),
        seeds=pick_seeds(bundle.training_seeds(), seeds, n_seeds, new=ablation is None),
        variants=configs,
        timesteps=budget,
        episodes=episodes or protocol.episodes,
        protocol=protocol.to_json(),
        ablation=None if ablation is None else {k: v for k, v in asdict(ablation).items() if k != "variants"},
    )
    digest = hashlib.sha256(json.dumps(plan.identity(), sort_keys=True, default=str).encode()).hexdigest()[:10]
    plan.work_dir = str(Path(out) if out else runs_dir() / "reproduce" / plan.game / f"{plan.name}-{digest}")
    return plan


def prepare(plan: Plan) -> None:
    """Write the plan and each variant's config into the work folder; refuse a folder of another plan."""
    work = Path(plan.work_dir)
    saved = work / "plan.json"
    if saved.exists():
        old = json.loads(saved.read_text())
        if old.get("identity") != json.loads(json.dumps(plan.identity(), default=str)):
            raise ReproduceError(
                f"{work} holds another reproduction ({old.get('command')}); pick another --out or delete that folder"
            )
    work.mkdir(parents=True, exist_ok=True)
    for v in plan.variants:
        (work / v["key"]).mkdir(exist_ok=True)
        (work / v["key"] / "config.yml").write_text(yaml.safe_dump(v["config"], sort_keys=False))
    if not saved.exists():
        saved.write_text(
            json.dumps(
                {"identity": plan.identity(), "command": plan.command, "created": now_iso()}, indent=1, default=str
            )
        )


# --- one task: train (or resume) one run, then evaluate its final policy -------------------------


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """Train, resume or skip one run, evaluate its final policy with the bundle's protocol, and return
    everything the report needs as data (so a Ray task on another machine brings its artifacts back)."""
    from agents.training.train import TrainOptions, train

    run_dir = Path(task["run_dir"])
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(run_dir.parent / f".seed{task['seed']}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReproduceError(f"{run_dir} is being trained by another process; wait for it or stop it") from None
        status = _run_status(run_dir)
        cmd = f"playground train {task['game']} --seed {task['seed']} --config {task['config_file']} --out {run_dir}"
        common = dict(
            game=task["game"],
            seed=task["seed"],
            out=run_dir,
            checkpoint_seconds=task["checkpoint_seconds"],
            checkpoint_every=task["checkpoint_every"],
            # one progress line per run every 30 s (plain: several runs share the terminal)
            progress=30.0,
            progress_title=f"train {run_dir.parent.name}/{run_dir.name}",
            progress_bar=False,
        )
        if status == "running-no-checkpoint":
            shutil.rmtree(run_dir)  # killed before its first checkpoint: nothing to resume, start again
            status = "new"
        if status == "new":
            train(TrainOptions(**common, config_file=task["config_file"], command=cmd))
        elif status == "running":
            train(TrainOptions(**common, resume=True, command=cmd + " --resume"))
        final_eval = _final_eval(task, run_dir)
    run = json.loads((run_dir / "run.json").read_text())

    def text(name):
        p = run_dir / name
        return p.read_text() if p.exists() else None

    return {
        "variant": task["variant"],
        "seed": task["seed"],
        "run_dir": str(run_dir),
        "trained": {"new": "trained", "running": "resumed", "done": "already done"}[status],
        "timesteps": run.get("timesteps"),
        "wall_seconds": run.get("wall_seconds"),
        "commands": run["commands"],
        "segments": run["segments"],
        "code": run.get("code"),
        "hardware": run.get("hardware"),
        "final_eval": final_eval,
        "diagnostics_csv": text("diagnostics.csv"),
        "eval_csv": text("eval.csv"),
        "epochs_csv": text("epochs.csv"),
        "versions": package_versions(),
    }


def _run_status(run_dir: Path) -> str:
    if not (run_dir / "run.json").exists():
        return "new"
    if json.loads((run_dir / "run.json").read_text()).get("status") == "done":
        return "done"
    return "running" if (run_dir / "checkpoints" / "latest").exists() else "running-no-checkpoint"


def _final_eval(task: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The final policy on the bundle's evaluation protocol, loaded the way a bundle's policy is loaded."""
    from agents.common.files import sha256_file
    from agents.evaluation.evaluate import Protocol, evaluate_policy
    from agents.policy.network import export_policy, load_policy
    from agents.policy.normalize import VecNormalizeState
    from agents.training.config import algo_class
    from envs import get_spec

    out = run_dir / "final-eval.json"
    if out.exists():
        return json.loads(out.read_text())
    spec = get_spec(task["game"])
    hp = yaml.safe_load((run_dir / "config.yml").read_text())
    model = algo_class(hp).load(run_dir / "final" / "model.zip", device="cpu")  # this run's own file
    norm = VecNormalizeState.from_json(json.loads((run_dir / "final" / "normalize.json").read_text()))
    normalizer = norm.normalizer() if norm else None
    export = run_dir / "final" / "policy"
    export.mkdir(exist_ok=True)
    export_policy(model.policy, normalizer, export)
    protocol = (
        Protocol.from_json({**task["protocol"], "episodes": task["episodes"]})
        if task.get("protocol")
        else Protocol.of_spec(spec, task["episodes"])
    )
    result = evaluate_policy(spec, load_policy(export), protocol)
    result.policy_sha256 = sha256_file(export / "policy.safetensors")
    result.evaluated_at = now_iso()
    write_atomic(out, json.dumps(result.to_json(), indent=1))
    return result.to_json()


# --- running the whole thing ---------------------------------------------------------------------


def run_plan(
    plan: Plan, jobs: int | None = None, ray_address: str | None = None, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run every task of the plan (resuming what a killed attempt left); returns key → TaskResult."""
    from agents.common.progress import Progress
    from agents.experiments.matrix import run_matrix

    prepare(plan)
    tasks = plan.tasks()
    done = [0]
    # the matrix: runs done of all, with the ETA at the pace so far (plain lines: the runs print theirs)
    matrix = Progress("reproduce", len(tasks), "runs", every=0.0, bar=False)

    def progress(r) -> None:
        done[0] += 1
        matrix.update(done[0], r.key)
        if r.ok:
            s = r.value["final_eval"]["summary"]
            say(
                f"[{done[0]}/{len(tasks)}] {r.key}: {r.value['trained']}, final eval {s['mean']:.2f} +/- "
                f"{s['std']:.2f} over {s['episodes']} episodes"
            )
        else:
            say(f"[{done[0]}/{len(tasks)}] {r.key}: FAILED — {r.error}")

    return run_matrix(run_task, tasks, jobs=jobs, ray_address=ray_address, on_done=progress)


def published_runs(bundle: Bundle) -> tuple[list[dict[str, Any]], str]:
    """Per published seed: its final score's episodes. The shipped seed has the full final evaluation
    (eval.json); the others only their last periodic evaluation (the final policy on the training-evaluation
    seeds: 10 episodes, 5 on Atari), the only final evaluation the bundle keeps of them. Both estimate the same
    thing, the final policy's expected return; the bootstrap gives the shorter ones their wider spread."""
    out = []
    shipped = bundle.shipped_seed()
    for seed in bundle.training_seeds():
        if seed == shipped:
            ev = bundle.eval_result()
            out.append({"seed": seed, "returns": ev.returns, "source": "eval.json (final evaluation)"})
        else:
            last = bundle.periodic_evals(seed)[-1]
            out.append(
                {
                    "seed": seed,
                    "returns": [float(x) for x in str(last["returns"]).split()],
                    "source": f"last periodic evaluation at {int(last['timesteps']):,} steps",
                }
            )
    ev = bundle.spec.eval
    return out, (
        "shipped seed: its final evaluation (eval.json); other seeds: their last periodic evaluation "
        f"(the final policy, {ev.during_training_episodes} episodes on seeds {ev.during_training_seed_base}…), "
        "the only final score the bundle keeps of them"
    )


def _curve_rows(text: str | None) -> list[dict[str, str]]:
    import csv
    import io

    if not text:
        return []
    return [{k: v for k, v in r.items() if k not in CURVE_COLUMNS_IGNORED} for r in csv.DictReader(io.StringIO(text))]


def _same_value(x: str | None, y: str | None) -> bool:
    """Equal text, or equal numbers at float32 precision: SB3 computes in float32, and bundles written
    before the diagnostics kept SB3's types hold some float32 values as float64 text (0.0018123658373951912
    for 0.0018123658)."""
    if x == y:
        return True
    try:
        import numpy as np

        return np.float32(float(x)) == np.float32(float(y))
    except (TypeError, ValueError):
        return False


def same_curve(a: str | None, b: str | None) -> dict[str, Any]:
    """Whether two diagnostics CSVs agree in every row and column except wall_time and fps."""
    ra, rb = _curve_rows(a), _curve_rows(b)
    for i, (x, y) in enumerate(zip(ra, rb, strict=False)):  # unequal lengths are reported after the loop
        diff = [k for k in x if not _same_value(x.get(k), y.get(k))]
        if diff:
            col = diff[0]
            return {
                "identical": False,
                "detail": f"first difference at update {i + 1} ({col}: {x.get(col)} vs {y.get(col)})",
            }
    if len(ra) != len(rb):
        return {"identical": False, "detail": f"{len(ra)} rows against {len(rb)}"}
    return {
        "identical": True,
        "detail": f"all {len(ra)} updates identical (ignoring {', '.join(CURVE_COLUMNS_IGNORED)}; "
        f"numbers compared at float32 precision)",
    }


def kl_stops(epochs_csv: str | None) -> dict[str, Any] | None:
    rows = _curve_rows(epochs_csv)
    if not rows:
        return None
    fired = [r for r in rows if r["kl_early_stop"] == "1"]
    return {
        "updates": len(rows),
        "stopped": len(fired),
        "share": len(fired) / len(rows),
        "mean_epochs": sum(int(r["epochs"]) for r in rows) / len(rows),
        "grad_steps_share": sum(int(r["grad_steps"]) for r in rows) / sum(int(r["planned_grad_steps"]) for r in rows),
    }


def build_report(plan: Plan, bundle: Bundle, results: dict[str, Any], versions: dict[str, Any]) -> tuple[dict, dict]:
    """(report.json contents, files of the report folder)."""
    published, published_note = published_runs(bundle)
    pub_returns = [p["returns"] for p in published]
    pub_budget = int(bundle.config()["n_timesteps"])
    files: dict[str, str] = {}
    variants = []
    for v in plan.variants:
        files[f"{v['key']}/config.yml"] = yaml.safe_dump(v["config"], sort_keys=False)
        seeds = []
        for seed in plan.seeds:
            r = results[f"{v['key']}/seed{seed}"]
            if not r.ok:
                seeds.append({"seed": seed, "ok": False, "error": r.error, "traceback": r.traceback, "where": r.where})
                continue
            val = r.value
            ev = val["final_eval"]
            files[f"{v['key']}/training-seed{seed}.csv"] = val["diagnostics_csv"]
            files[f"{v['key']}/eval-during-training-seed{seed}.csv"] = val["eval_csv"]
            files[f"{v['key']}/final-eval-seed{seed}.json"] = json.dumps(ev, indent=1)
            if val["epochs_csv"]:
                files[f"{v['key']}/epochs-seed{seed}.csv"] = val["epochs_csv"]
            entry = {
                "seed": seed,
                "ok": True,
                "score": ev["summary"]["mean"],
                "std": ev["summary"]["std"],
                "episodes": ev["summary"]["episodes"],
                "timesteps": val["timesteps"],
                "wall_seconds": val["wall_seconds"],
                "trained": val["trained"],
                "commands": val["commands"],
                "where": r.where,
                "kl_stops": kl_stops(val["epochs_csv"]) if v["config"].get("target_kl") is not None else None,
            }
            # the same seed with the same config (budget included: it sets the schedules) as a published run
            if seed in bundle.training_seeds() and v["config"] == bundle.config():
                entry["same_seed_as_published"] = same_curve(bundle.diagnostics_text(seed), val["diagnostics_csv"])
            seeds.append(entry)
        ok = [s for s in seeds if s["ok"]]
        returns = [results[f"{v['key']}/seed{s['seed']}"].value["final_eval"]["returns"] for s in ok]
        comparable = plan.timesteps == pub_budget
        vs_published = None
        if returns:
            vs_published = reproduction_verdict(
                pub_returns,
                returns,
                comparable=comparable,
                why_not=f"the budget ({plan.timesteps:,} steps) differs from the published runs' ({pub_budget:,})",
            )
        stops = [s["kl_stops"] for s in ok if s.get("kl_stops")]
        variants.append(
            {
                "name": v["name"],
                "key": v["key"],
                "changes": _changes(bundle.config(), v["config"]),
                "seeds": seeds,
                "failed": len(seeds) - len(ok),
                "vs_published": vs_published,
                "kl_stops": None
                if not stops
                else {
                    "updates": sum(s["updates"] for s in stops),
                    "stopped": sum(s["stopped"] for s in stops),
                    "share": sum(s["stopped"] for s in stops) / sum(s["updates"] for s in stops),
                    "per_seed": [round(s["share"], 4) for s in stops],
                },
            }
        )

    report: dict[str, Any] = {
        "format": "ppo-playground/reproduction@1",
        "kind": plan.kind,
        "name": plan.name,
        "game": plan.game,
        "env_id": bundle.spec.env_id,
        "created": now_iso(),
        "command": plan.command,
        "seeds": plan.seeds,
        "timesteps": plan.timesteps,
        "published_timesteps": pub_budget,
        "episodes": plan.episodes,
        "eval_protocol": f"{plan.episodes} episodes, episode i on seed {plan.protocol['seed_base']} + i, "
        f"{'deterministic' if plan.protocol['deterministic'] else 'stochastic'} policy (the bundle's)",
        "versions": versions,
        "published": {
            "seeds": [
                {
                    "seed": p["seed"],
                    "score": sum(p["returns"]) / len(p["returns"]),
                    "episodes": len(p["returns"]),
                    "source": p["source"],
                }
                for p in published
            ],
            "note": published_note,
        },
        "variants": variants,
        "method": METHOD,
        "ablation": plan.ablation,
        "failed_runs": [
            f"{v['key']}/seed{s['seed']}: {s['error']}" for v in variants for s in v["seeds"] if not s["ok"]
        ],
    }
    if plan.kind == "reproduction":
        vp = variants[0]["vs_published"]
        report["verdict"] = vp["verdict"] if vp else "no runs finished"
        report["reasons"] = vp["reasons"] if vp else report["failed_runs"]
    else:
        a, b = variants
        ra = [results[f"{a['key']}/seed{s['seed']}"].value["final_eval"]["returns"] for s in a["seeds"] if s["ok"]]
        rb = [results[f"{b['key']}/seed{s['seed']}"].value["final_eval"]["returns"] for s in b["seeds"] if s["ok"]]
        if ra and rb:
            comp = ablation_verdict(ra, rb, (a["name"], b["name"]))
            report["comparison"] = comp
            report["verdict"] = comp["verdict"]
            report["reasons"] = [
                comp["reason"],
                f"probability of improvement P({b['name']} > {a['name']}) = {comp['probability_of_improvement']:.2f}",
            ]
        else:
            report["verdict"] = "no runs finished"
            report["reasons"] = report["failed_runs"]
        if b.get("kl_stops"):
            k = b["kl_stops"]
            report["reasons"].append(
                f"target_kl stopped {k['stopped']} of {k['updates']} updates ({k['share']:.1%}) early"
            )
    files["report.json"] = json.dumps(report, indent=1, default=_jsonable)
    files["report.md"] = report_markdown(report)
    return report, files


def _jsonable(x):
    if isinstance(x, float) and math.isnan(x):
        return None
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"not JSON: {type(x)}")


def _changes(base: dict[str, Any], hp: dict[str, Any]) -> dict[str, Any]:
    out = {k: hp[k] for k in hp if base.get(k, "<unset>") != hp[k]}
    out.update({k: "<removed>" for k in base if k not in hp})
    return out


def report_markdown(r: dict[str, Any]) -> str:
    lines = [
        f"# {'Reproduction' if r['kind'] == 'reproduction' else 'Ablation ' + r['name']}: {r['env_id']}",
        "",
        f"`{r['command']}` — {r['created']}",
        "",
        f"**Verdict: {r['verdict']}**",
        "",
    ]
    lines += [f"- {x}" for x in r["reasons"]] + [""]
    if r.get("ablation"):
        lines += [
            f"**{r['ablation']['title']}.** {r['ablation']['question']}",
            "",
            f"Source: {r['ablation']['source']}",
            "",
        ]
    lines += [
        f"Budget {r['timesteps']:,} steps per run (published: {r['published_timesteps']:,}); "
        f"final evaluation: {r['eval_protocol']}.",
        "",
        f"Statistics: {r['method']}.",
        "",
        "| variant | seed | final score | std | episodes | timesteps | wall s | run | same seed as published |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for v in r["variants"]:
        for s in v["seeds"]:
            if not s["ok"]:
                lines.append(f"| {v['name']} | {s['seed']} | FAILED: {s['error']} | | | | | | |")
                continue
            same = s.get("same_seed_as_published")
            lines.append(
                f"| {v['name']} | {s['seed']} | {s['score']:.2f} | {s['std']:.2f} | {s['episodes']} | "
                f"{s['timesteps']:,} | {s['wall_seconds']:.0f} | {s['trained']} | "
                f"{'' if not same else ('identical' if same['identical'] else 'differs: ' + same['detail'])} |"
            )
    lines += ["", "| published seed | final score | episodes | source |", "|---|---|---|---|"]
    lines += [f"| {p['seed']} | {p['score']:.2f} | {p['episodes']} | {p['source']} |" for p in r["published"]["seeds"]]
    lines += ["", "Against the published seeds:", ""]
    for v in r["variants"]:
        vp = v["vs_published"]
        if vp:
            lines.append(
                f"- {v['name']}: {vp['verdict']} — IQM {vp['reproduced']['iqm']:.2f} "
                f"(CI {vp['reproduced']['ci'][0]:.2f} … {vp['reproduced']['ci'][1]:.2f}) against "
                f"{vp['published']['iqm']:.2f} (CI {vp['published']['ci'][0]:.2f} … {vp['published']['ci'][1]:.2f}); "
                f"band {vp['band']['low']:.2f} … {vp['band']['high']:.2f}"
            )
        if v.get("kl_stops"):
            k = v["kl_stops"]
            lines.append(
                f"  - target_kl early stops: {k['stopped']} of {k['updates']} updates ({k['share']:.1%}); "
                f"per seed {k['per_seed']}"
            )
    vc = r["versions"]
    lines += [
        "",
        "Versions: "
        + (
            "same as the bundle's"
            if vc["ok"]
            else "; ".join(f"{m['package']} {m['here']} here vs {m['bundle']} in the bundle" for m in vc["mismatches"])
        ),
        "",
    ]
    return "\n".join(lines)


@dataclass
class ReproduceOptions:
    """Everything ``playground reproduce`` and ``playground ablate`` can be told; one field per knob."""

    bundle: str | Path
    """bundle folder, or a game slug for its shipped agent"""
    seeds: list[int] | None = None
    """training seeds to run (default: ``n_seeds`` new ones after the published, or 1…n for an ablation)"""
    n_seeds: int | None = None
    """how many seeds when ``seeds`` is not given (default 3)"""
    timesteps: int | None = None
    """override the budget (the verdict then says 'not comparable')"""
    episodes: int | None = None
    """final evaluation episodes (default: the bundle's protocol)"""
    out: str | Path | None = None
    """work folder for the runs (default ``<runs>/reproduce/<game>/<name>-<plan hash>``)"""
    jobs: int | None = None
    """parallel local training processes (default and maximum: the core count)"""
    ray_address: str | None = None
    """run each training as a Ray task on this cluster instead"""
    ablation: Ablation | None = None
    """the ablation to run; None for a reproduction of the bundle's own config"""
    checkpoint_seconds: float = 60.0
    """checkpoint interval of each run"""
    checkpoint_every: int | None = None
    """also checkpoint every N PPO updates"""
    strict_versions: bool = False
    """refuse to run when the package versions differ from the bundle's"""
    command: str = ""
    """the command line, recorded in the report"""


def reproduce(opts: ReproduceOptions, say: Callable[[str], None] = print) -> dict[str, Any]:
    """The whole command: returns {"report": ..., "path": report folder, "failed": n}."""
    where, ablation, command = opts.bundle, opts.ablation, opts.command
    bundle = Bundle.open(where)
    if ablation is not None and bundle.spec.slug != ablation.game:
        raise ReproduceError(f"ablation '{ablation.name}' is defined on {ablation.game}, not {bundle.spec.slug}")
    versions = version_check(bundle)
    for line in describe_versions(versions):
        say(line)
    if opts.strict_versions and not versions["ok"]:
        raise ReproduceError("versions differ from the bundle's (see above); install those, or drop --strict-versions")
    try:
        plan = plan_reproduction(bundle, opts.seeds, opts.n_seeds, opts.timesteps, opts.episodes, opts.out, ablation)
    except ConfigError as exc:
        raise ReproduceError(f"cannot build the runs' config: {exc}") from None
    plan.checkpoint_seconds, plan.checkpoint_every, plan.command = (
        opts.checkpoint_seconds,
        opts.checkpoint_every,
        command,
    )
    reported = Path(plan.work_dir) / "reported.json"
    if reported.exists():
        done = json.loads(reported.read_text())
        if Path(done["path"]).exists():
            say(f"this reproduction is complete; its report: {done['path']}")
            return {
                "report": json.loads((Path(done["path"]) / "report.json").read_text()),
                "path": Path(done["path"]),
                "failed": 0,
            }
    say(
        f"{plan.kind} {plan.name} of {plan.game}: {len(plan.variants)} variant(s) × seeds {plan.seeds}, "
        f"{plan.timesteps:,} steps each, in {plan.work_dir}"
    )
    results = run_plan(plan, jobs=opts.jobs, ray_address=opts.ray_address, say=say)
    failed = [r for r in results.values() if not r.ok]
    report, files = build_report(plan, bundle, results, versions)
    manifest = {
        "format": "ppo-playground/reproduction-manifest@1",
        "command": command,
        "created": report["created"],
        "versions": package_versions(),
        "hardware": hardware(),
        "code": git_state(),
        "runs": {
            k: {
                "commands": r.value["commands"],
                "where": r.where,
                "versions": r.value["versions"],
                "hardware": r.value["hardware"],
                "code": r.value["code"],
            }
            if r.ok
            else {"error": r.error, "where": r.where}
            for k, r in results.items()
        },
    }
    path = bundle.add_reproduction(plan.name, files, manifest)
    if not failed:
        reported.write_text(json.dumps({"path": str(path)}))
    say(f"verdict: {report['verdict']}")
    for reason in report["reasons"]:
        say(f"  {reason}")
    say(f"report: {path}")
    return {"report": report, "path": path, "failed": len(failed)}
