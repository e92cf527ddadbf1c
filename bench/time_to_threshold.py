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

Printed: per run (seconds, steps, the evaluation mean that crossed), per config the median seconds and
steps (a run that never reached the threshold within its config's budget counts as infinitely slow), and
the ratio of each config's median seconds to the first config's. Thresholds: LunarLander 200,
BipedalWalker 280 (the catalog issue's), otherwise the game's solved threshold.
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

    from agents.training.callbacks import AfterUpdateCallback
    from agents.training.config import load_config, ppo_kwargs
    from agents.evaluation.evaluate import run_episodes, seeds_for
    from agents.policy.network import Normalizer
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
    out = {"config": config, "seed": seed, "reached": reached, "evals": stop.evals,
           "steps": stop.reached[0] if reached else None, "eval_mean": stop.reached[1] if reached else None,
           "seconds": round(wall, 2) if reached else None, "cpu_seconds": round(cpu, 2) if reached else None,
           "trained_steps": model.num_timesteps, "trained_seconds": round(wall, 2),
           "trained_cpu_seconds": round(cpu, 2)}
    return out


def launch(game: str, config: str, seed: int, args) -> dict:
    cmd = [sys.executable, __file__, game, "--one", config, "--seed", str(seed), "--threshold", str(args.threshold),
           "--eval-every", str(args.eval_every), "--max-steps", str(args.max_steps)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    if proc.returncode != 0:
        raise RuntimeError(f"run {config} seed {seed} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    mark = (f"{result['seconds']:8.1f} s {result['steps']:>10,} steps  (eval mean {result['eval_mean']:.1f})"
            if result["reached"] else f"not reached in {result['trained_steps']:,} steps / {result['trained_seconds']:.0f} s")
    print(f"  {Path(config).name:<28} seed {seed}: {mark}", flush=True)
    return result


def kept_pairs(args, settings: dict, seeds: list[int]) -> dict[int, list[dict]]:
    """Finished pairs from an earlier, interrupted bench with the same settings: seed -> one result per config."""
    path = Path(args.json)
    if not path.exists():
        return {}
    try:
        old = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        sys.exit(f"{path} is not JSON ({exc}); remove it or drop --resume")
    same = [r for r in old if isinstance(r, dict) and all(r.get(k) == v for k, v in settings.items())]
    pairs = {}
    for seed in seeds:
        pair = [next((r for r in same if r.get("config") == c and r.get("seed") == seed), None) for c in args.config]
        if all(pair):
            pairs[seed] = pair
    return pairs


def median_or_inf(values: list[float | None]) -> float:
    return statistics.median([math.inf if v is None else v for v in values])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("game")
    ap.add_argument("--config", action="append", default=[], help="hyperparameter YAML (give two or more)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default budget/50)")
    ap.add_argument("--max-steps", type=int, default=0,
                    help="give up after this many steps (default: each config's own n_timesteps, so its schedules "
                         "are the real ones; a different value stretches or squeezes lin_ schedules)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (one torch thread each)")
    ap.add_argument("--json", help="also write every run's result here, after each pair finishes")
    ap.add_argument("--resume", action="store_true",
                    help="keep the pairs already in --json (same threshold, evaluation and budget) and run the "
                         "rest; a pair with a missing half runs again whole, so both halves meet the same load")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.one:
        print(json.dumps(one_run(args.game, args.one, args.seed, args.threshold, args.eval_every, args.max_steps)))
        return

    from agents.training.config import load_config
    from envs import get_spec

    if len(args.config) < 2:
        ap.error("give at least two --config files to compare")
    spec = get_spec(args.game)
    budget = int(load_config(spec, args.config[0])["n_timesteps"])
    args.threshold = args.threshold if args.threshold is not None else threshold_for(spec.slug)
    args.eval_every = args.eval_every or max(budget // 50, 1)
    limit = f"at most {args.max_steps:,} steps" if args.max_steps else "at most each config's own budget"
    print(f"{spec.name}: evaluation mean ≥ {args.threshold:g} on {spec.eval.during_training_episodes} episodes "
          f"every {args.eval_every:,} steps; {limit}; {args.jobs} runs at once\n", flush=True)

    # pairs: seed s of every config together, so each config meets the same machine load
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    settings = {"game": spec.slug, "threshold": args.threshold, "eval_every": args.eval_every,
                "max_steps": args.max_steps}
    if args.resume and not args.json:
        ap.error("--resume needs --json (the file that keeps finished pairs)")
    kept = kept_pairs(args, settings, seeds) if args.resume else {}
    results = [r for pair in kept.values() for r in pair]
    for seed in sorted(kept):
        print(f"  seed {seed}: kept from {args.json}", flush=True)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for seed in [s for s in seeds if s not in kept]:
            pair = list(pool.map(lambda c: launch(spec.slug, c, seed, args), args.config))
            results += [{**r, **settings} for r in pair]
            if args.json:  # after every pair, so a killed bench keeps what finished
                tmp = Path(args.json + ".tmp")
                tmp.write_text(json.dumps(results, indent=1))
                os.replace(tmp, args.json)

    print(f"\n{'config':<30} {'reached':>8} {'median seconds':>15} {'median steps':>13} {'ratio (seconds)':>16} "
          f"{'ratio (steps)':>14}")
    base_s = base_n = None
    for c in args.config:
        rs = [r for r in results if r["config"] == c]
        med_s, med_n = median_or_inf([r["seconds"] for r in rs]), median_or_inf([r["steps"] for r in rs])
        if base_s is None:
            base_s, base_n = med_s, med_n
        ratio_s = med_s / base_s if math.isfinite(base_s) else math.nan
        ratio_n = med_n / base_n if math.isfinite(base_n) else math.nan
        print(f"{Path(c).name:<30} {sum(r['reached'] for r in rs):>4}/{len(rs):<3} {med_s:>15.1f} {med_n:>13,.0f} "
              f"{ratio_s:>16.2f} {ratio_n:>14.2f}")
    print(f"\n(wall time of this bench: {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
