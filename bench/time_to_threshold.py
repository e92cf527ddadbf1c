"""Wall-clock and steps to the solved threshold, for two (or more) hyperparameter configs side by side.

    python bench/time_to_threshold.py lunarlander --config agents/hyperparams/lunarlander-zoo.yml \
        --config agents/hyperparams/lunarlander.yml --seeds 3

Every (config, seed) run trains with plain SB3 PPO, exactly as ``playground train`` builds it (same envs,
normalisation, schedules), in its own process with one torch thread; two runs go at once by default
(``--jobs``), always one run of each config together in pairs, so both configs meet the same machine.
Every ``--eval-every`` steps the policy plays the game's periodic-evaluation episodes (10, fixed seeds
10000+i, the game's deterministic flag); the run stops at the first evaluation whose mean reaches the
threshold. The clock counts training only: evaluation time is excluded (it is the same procedure for
both configs, but a faster config would otherwise pay for more evaluations per second).

Printed: per run (seconds, steps, the evaluation mean that crossed) as it finishes; then per seed each
config's wall seconds, CPU seconds (this one-thread process's own, so a busy machine inflates it far less
than the wall clock) and steps, with each config's ratio to the first config's on that seed; per config
the medians and its throughput (steps per CPU second). A run that never reached the threshold within its
config's budget counts as infinitely slow. Thresholds: LunarLander 200, BipedalWalker 280 (the catalog
issue's), otherwise the game's solved threshold.

The headline (per config against the first: the ratio of the medians, and the median per-seed ratio with
its min..max) is printed only when no measured seed chose any of the compared configs. ``chosen_on_seeds.yml``
beside this script says, per config, which seeds it was picked on (``[]``: none of ours, e.g. the Zoo's):
on those seeds a config looks as good as it did when it was picked, so a ratio from them is not a claim.
A config missing from that file gets no headline either.

``--json FILE`` keeps every finished pair; ``--resume`` runs only the pairs missing from it, and
``--report`` trains nothing and prints the report from it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

THRESHOLDS = {"lunarlander": 200.0, "bipedalwalker": 280.0}


def threshold_for(game: str) -> float:
    from envs import get_spec

    return THRESHOLDS.get(game, get_spec(game).solved_threshold)


def one_run(game: str, config: str, seed: int, threshold: float, eval_every: int, max_steps: int) -> dict:
    """Train until the evaluation mean reaches ``threshold`` (or ``max_steps``); runs in its own process."""
    import numpy as np
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.logger import Logger

    from agents.evaluation.evaluate import run_episodes, seeds_for
    from agents.policy.network import Normalizer
    from agents.training.callbacks import AfterUpdateCallback
    from agents.training.config import load_config, ppo_kwargs
    from agents.training.train import make_training_env
    from envs import get_spec

    torch.set_num_threads(1)
    spec = get_spec(game)
    hp = load_config(spec, config)
    venv = make_training_env(spec, hp)
    model = PPO(hp.get("policy", "MlpPolicy"), venv, seed=seed, device="cpu", verbose=0, **ppo_kwargs(hp))
    model.set_logger(Logger(folder=None, output_formats=[]))
    seeds = seeds_for(spec.eval.during_training_seed_base, spec.eval.during_training_episodes)

    class Stop(AfterUpdateCallback):
        def __init__(self):
            super().__init__()
            self.next_at, self.eval_seconds, self.eval_cpu_seconds, self.evals = eval_every, 0.0, 0.0, []
            self.reached = None

        def _on_update_end(self) -> None:
            t = self.model.num_timesteps
            if t < self.next_at:
                return
            self.next_at += eval_every
            t0, c0 = time.perf_counter(), time.process_time()
            norm = Normalizer.from_vecnormalize(self.model.get_vec_normalize_env())
            policy = self.model.policy

            def act(obs):
                return policy.predict(norm(obs) if norm else obs, deterministic=spec.eval.deterministic)[0]

            mean = float(np.mean([e.ret for e in run_episodes(spec, act, seeds)]))
            self.eval_seconds += time.perf_counter() - t0
            self.eval_cpu_seconds += time.process_time() - c0
            self.evals.append((t, mean))
            if mean >= threshold:
                self.reached = (t, mean)

        def _on_step(self) -> bool:
            return self.reached is None

    stop = Stop()
    t0, c0 = time.perf_counter(), time.process_time()
    # each config's own budget by default, so its lin_ schedules decay exactly as in real training
    model.learn(total_timesteps=max_steps or int(hp["n_timesteps"]), callback=stop)
    wall = time.perf_counter() - t0 - stop.eval_seconds
    # CPU time of this one-thread process: what the run cost, whatever else shared the core meanwhile
    cpu = time.process_time() - c0 - stop.eval_cpu_seconds
    venv.close()
    reached = stop.reached is not None
    out = {
        "config": config,
        "seed": seed,
        "reached": reached,
        "evals": stop.evals,
        "steps": stop.reached[0] if reached else None,
        "eval_mean": stop.reached[1] if reached else None,
        "seconds": round(wall, 2) if reached else None,
        "cpu_seconds": round(cpu, 2) if reached else None,
        "trained_steps": model.num_timesteps,
        "trained_seconds": round(wall, 2),
        "trained_cpu_seconds": round(cpu, 2),
    }
    return out


def launch(game: str, config: str, seed: int, args) -> dict:
    cmd = [
        sys.executable,
        __file__,
        game,
        "--one",
        config,
        "--seed",
        str(seed),
        "--threshold",
        str(args.threshold),
        "--eval-every",
        str(args.eval_every),
        "--max-steps",
        str(args.max_steps),
    ]
    proc = subprocess.run(
        cmd,
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"run {config} seed {seed} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    mark = (
        f"{result['seconds']:8.1f} s {result['steps']:>10,} steps  (eval mean {result['eval_mean']:.1f})"
        if result["reached"]
        else f"not reached in {result['trained_steps']:,} steps / {result['trained_seconds']:.0f} s"
    )
    print(f"  {Path(config).name:<28} seed {seed}: {mark}", flush=True)
    return result


def kept_pairs(args, settings: dict, seeds: list[int]) -> tuple[dict[int, list[dict]], list[dict]]:
    """Finished pairs from an earlier, interrupted bench with the same settings (seed -> one result per config),
    and the file's other results (other seeds, configs or settings), which are written back untouched."""
    path = Path(args.json)
    if not path.exists():
        return {}, []
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        sys.exit(f"{path} is not JSON ({exc}); remove it or drop --resume")
    old = [r for r in old if isinstance(r, dict)]

    # a config by its path from the repository root, however the earlier bench spelled it
    keys = [config_key(c) for c in args.config]

    def ours(r: dict) -> bool:
        return (
            all(r.get(k) == v for k, v in settings.items())
            and isinstance(r.get("config"), str)
            and config_key(r["config"]) in keys
            and r.get("seed") in seeds
        )

    pairs = {}
    for seed in seeds:
        pair = [
            next((r for r in old if ours(r) and config_key(r["config"]) == k and r["seed"] == seed), None) for k in keys
        ]
        if all(pair):
            pairs[seed] = pair
    return pairs, [r for r in old if not ours(r)]


CHOSEN_ON_SEEDS = Path(__file__).resolve().parent / "chosen_on_seeds.yml"
MEASURES = {"seconds": "wall seconds", "cpu_seconds": "CPU seconds", "steps": "steps"}
"""what reaching the threshold cost, as each run's result names it, and how the report names it"""


def config_key(config: str | Path) -> str:
    """The config's path from the repository root, as ``chosen_on_seeds.yml`` names it.

    A relative path is taken from the repository root, where every run trains (``launch``).
    """
    path = (ROOT / config).resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def load_chosen_on_seeds(path: Path = CHOSEN_ON_SEEDS) -> dict[str, set[int]]:
    """Config (path from the repository root) -> the seeds it was chosen on."""
    import yaml

    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise TypeError(f"{path} must map config paths to lists of seeds, got {type(data).__name__}")
    chosen = {}
    for config, seeds in data.items():
        if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise TypeError(f"{path}: {config} must list whole seeds ([] if none of ours chose it), got {seeds!r}")
        chosen[str(config)] = set(seeds)
    return chosen


def headline_refusal(configs: list[str], seeds: list[int], chosen: dict[str, set[int]]) -> str | None:
    """Why no headline ratio may be printed for ``configs`` measured on ``seeds``, or None when it may.

    ``configs`` are keys as ``config_key`` gives them; ``chosen`` as ``load_chosen_on_seeds`` returns it.
    """
    reasons = []
    for config in configs:
        if config not in chosen:
            reasons.append(
                f"{config} does not say which seeds chose it (add it to {CHOSEN_ON_SEEDS.name}, [] if none of ours did)"
            )
        elif overlap := sorted(set(seeds) & chosen[config]):
            reasons.append(f"seed{'s' if len(overlap) > 1 else ''} {', '.join(map(str, overlap))} chose {config}")
    if not reasons:
        return None
    used = set().union(*(chosen.get(c, set()) for c in configs))
    return (
        f"no headline ratio: {'; '.join(reasons)}. On the seeds a config was picked on it looks as good as it "
        f"did when it was picked; measure on seeds none of them was chosen on (e.g. --first-seed "
        f"{max(used, default=0) + 1})."
    )


def cost(run: dict, measure: str) -> float:
    """What reaching the threshold cost ``run`` in ``measure``: inf if it never did, nan if not recorded."""
    if not run["reached"]:
        return math.inf
    value = run.get(measure)
    return math.nan if value is None else float(value)


def ratio(a: float, b: float) -> float:
    """a / b where either may be inf (never reached); nan when neither reached or either is unknown."""
    if math.isnan(a) or math.isnan(b) or (math.isinf(a) and math.isinf(b)):
        return math.nan
    if math.isinf(b):
        return 0.0
    return math.inf if math.isinf(a) else a / b


@dataclass
class Ratios:
    """One config against the base config in one measure, over paired seeds."""

    per_seed: list[float]
    of_medians: float

    @property
    def known(self) -> list[float]:
        return [r for r in self.per_seed if not math.isnan(r)]

    @property
    def median(self) -> float:
        return statistics.median(self.known) if self.known else math.nan

    @property
    def spread(self) -> tuple[float, float]:
        return (min(self.known), max(self.known)) if self.known else (math.nan, math.nan)


def median_cost(runs: list[dict], measure: str) -> float:
    values = [cost(r, measure) for r in runs]
    return math.nan if any(math.isnan(v) for v in values) or not values else statistics.median(values)


def compare(results: list[dict], base: str, other: str, seeds: list[int], measure: str) -> Ratios:
    """``other``'s cost over ``base``'s in ``measure``, per seed (paired) and as the ratio of the medians."""
    by = {(r["config"], r["seed"]): r for r in results}
    pairs = [(by[other, s], by[base, s]) for s in seeds if (other, s) in by and (base, s) in by]
    per_seed = [ratio(cost(o, measure), cost(b, measure)) for o, b in pairs]
    of_medians = ratio(median_cost([o for o, _ in pairs], measure), median_cost([b for _, b in pairs], measure))
    return Ratios(per_seed, of_medians)


def _num(x: float, fmt: str) -> str:
    return "never" if math.isinf(x) else "n/a" if math.isnan(x) else format(x, fmt)


def report(results: list[dict], configs: list[str], seeds: list[int], chosen: dict[str, set[int]]) -> str:
    """Per-seed figures, per-config medians and throughput, and the headline ratios unless refused."""
    name = {c: Path(c).name for c in configs}
    base = configs[0]
    by = {(r["config"], r["seed"]): r for r in results}
    lines = ["Per seed (paired runs; ratio = this config / " + name[base] + " on the same seed):"]
    for seed in seeds:
        marks = [name[c] for c in configs if seed in chosen.get(c, set())]
        lines.append(f"  seed {seed}" + (f"  (a seed that chose {', '.join(marks)})" if marks else ""))
        for c in configs:
            if (c, seed) not in by:
                lines.append(f"    {name[c]:<30} not run")
                continue
            r = by[c, seed]
            cells = "  ".join(
                f"{_num(cost(r, m), ',.0f' if m == 'steps' else '.1f'):>10} {label}" for m, label in MEASURES.items()
            )
            if c != base and (base, seed) in by:
                cells += "   ratio " + " / ".join(
                    _num(ratio(cost(r, m), cost(by[base, seed], m)), ".2f") for m in MEASURES
                )
            lines.append(f"    {name[c]:<30} {cells}")
    lines += [
        "",
        (
            f"{'config':<30} {'reached':>8} {'median wall s':>14} {'median CPU s':>13} "
            f"{'median steps':>13} {'steps per CPU s':>16}"
        ),
    ]
    for c in configs:
        runs = [by[c, s] for s in seeds if (c, s) in by]
        trained = sum(r["trained_steps"] for r in runs if r.get("trained_cpu_seconds"))
        cpu = sum(r["trained_cpu_seconds"] for r in runs if r.get("trained_cpu_seconds"))
        wall, cpu_s, steps = (median_cost(runs, m) for m in MEASURES)
        lines.append(
            f"{name[c]:<30} {sum(r['reached'] for r in runs):>4}/{len(runs):<3} {_num(wall, '.1f'):>14} "
            f"{_num(cpu_s, '.1f'):>13} {_num(steps, ',.0f'):>13} "
            f"{_num(trained / cpu if cpu else math.nan, ',.0f'):>16}"
        )
    lines.append("")
    refusal = headline_refusal(configs, seeds, chosen)
    if refusal:
        lines.append(refusal[0].upper() + refusal[1:] + " The figures above are per seed only.")
        return "\n".join(lines)
    for c in configs[1:]:
        contiguous = seeds == list(range(seeds[0], seeds[-1] + 1))
        span = f"{seeds[0]}–{seeds[-1]}" if contiguous else ", ".join(map(str, seeds))
        lines.append(
            f"{name[c]} against {name[base]}, seed{'s' if len(seeds) > 1 else ''} {span} "
            f"({len(seeds)} pair{'s' if len(seeds) > 1 else ''}):"
        )
        for m, label in MEASURES.items():
            rs = compare(results, base, c, seeds, m)
            low, high = rs.spread
            lines.append(
                f"  {label:<13} ratio of medians {_num(rs.of_medians, '.2f'):>5}; median per-seed ratio "
                f"{_num(rs.median, '.2f')} ({_num(low, '.2f')}..{_num(high, '.2f')})"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("game")
    ap.add_argument("--config", action="append", default=[], help="hyperparameter YAML (give two or more)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default budget/50)")
    ap.add_argument(
        "--max-steps",
        type=int,
        default=0,
        help="give up after this many steps (default: each config's own n_timesteps, so its schedules "
        "are the real ones; a different value stretches or squeezes lin_ schedules)",
    )
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (one torch thread each)")
    ap.add_argument("--json", help="also write every run's result here, after each pair finishes")
    ap.add_argument(
        "--resume",
        action="store_true",
        help="keep the pairs already in --json (same threshold, evaluation and budget) and run the "
        "rest; a pair with a missing half runs again whole, so both halves meet the same load",
    )
    ap.add_argument(
        "--report",
        action="store_true",
        help="train nothing: print the report from the pairs in --json (same settings) and name the "
        "seeds that are missing",
    )
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.one:
        print(json.dumps(one_run(args.game, args.one, args.seed, args.threshold, args.eval_every, args.max_steps)))
        return

    import yaml

    from agents.training.config import load_config
    from envs import get_spec

    if len(args.config) < 2:
        ap.error("give at least two --config files to compare")
    spec = get_spec(args.game)
    budget = int(load_config(spec, args.config[0])["n_timesteps"])
    args.threshold = args.threshold if args.threshold is not None else threshold_for(spec.slug)
    args.eval_every = args.eval_every or max(budget // 50, 1)
    limit = f"at most {args.max_steps:,} steps" if args.max_steps else "at most each config's own budget"
    print(
        f"{spec.name}: evaluation mean ≥ {args.threshold:g} on {spec.eval.during_training_episodes} episodes "
        f"every {args.eval_every:,} steps; {limit}; {args.jobs} runs at once\n",
        flush=True,
    )

    # pairs: seed s of every config together, so each config meets the same machine load
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    try:
        chosen = load_chosen_on_seeds()
    except (OSError, TypeError, yaml.YAMLError) as exc:
        ap.error(f"{CHOSEN_ON_SEEDS}: {exc}")
    # results name a config as given; the report and chosen_on_seeds.yml by its path from the repository root
    keys = [config_key(c) for c in args.config]
    if refusal := headline_refusal(keys, seeds, chosen):
        print(f"Note: {refusal}\n", flush=True)
    settings = {
        "game": spec.slug,
        "threshold": args.threshold,
        "eval_every": args.eval_every,
        "max_steps": args.max_steps,
    }
    if (args.resume or args.report) and not args.json:
        ap.error(f"{'--report' if args.report else '--resume'} needs --json (the file that keeps finished pairs)")
    kept, others = kept_pairs(args, settings, seeds) if args.resume or args.report else ({}, [])
    if args.report:
        if missing := [s for s in seeds if s not in kept]:
            print(
                f"Not in {args.json} as whole pairs with these settings: seeds {', '.join(map(str, missing))}; "
                f"the report covers the others.",
                flush=True,
            )
            seeds = sorted(kept)
        if not seeds:
            sys.exit(f"{args.json} holds no whole pair for these configs, seeds and settings")
        results = [{**r, "config": config_key(r["config"])} for pair in kept.values() for r in pair]
        print("\n" + report(results, keys, seeds, chosen))
        return
    results = [r for pair in kept.values() for r in pair]
    for seed in sorted(kept):
        print(f"  seed {seed}: kept from {args.json}", flush=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for seed in [s for s in seeds if s not in kept]:
            pair = list(pool.map(lambda c, s=seed: launch(spec.slug, c, s, args), args.config))
            results += [{**r, **settings} for r in pair]
            if args.json:  # after every pair, so a killed bench keeps what finished
                tmp = Path(args.json + ".tmp")
                tmp.write_text(json.dumps(others + results, indent=1))
                os.replace(tmp, args.json)

    print("\n" + report([{**r, "config": config_key(r["config"])} for r in results], keys, seeds, chosen))
    print(f"\n(wall time of this bench: {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
