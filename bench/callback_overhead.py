"""Training fps with our callbacks (diagnostics CSV + TensorBoard + checkpoints) against bare SB3.

Same game, config, seed and timesteps; the two variants alternate ``--repeats`` times in one process so
machine load drifts hit both alike. Periodic evaluation is excluded (it costs whatever its episodes
cost). Prints the median fps of each and their ratio; target: ours at most 3 % slower.

    python bench/callback_overhead.py [--games cartpole lunarlander] [--timesteps N] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from stable_baselines3 import PPO

from agents.training.callbacks import CheckpointCallback, DiagnosticsCallback
from agents.training.config import load_config, ppo_kwargs
from agents.training.train import make_training_env
from envs import get_spec


def one_run(slug: str, timesteps: int, ours: bool, seed: int = 0) -> float:
    spec = get_spec(slug)
    hp = load_config(spec)
    venv = make_training_env(spec, hp)
    model = PPO(hp.get("policy", "MlpPolicy"), venv, seed=seed, device="cpu", verbose=0, **ppo_kwargs(hp))
    callbacks = []
    with tempfile.TemporaryDirectory() as tmp:
        if ours:
            diag = DiagnosticsCallback(Path(tmp) / "diagnostics.csv", Path(tmp) / "tb")
            ckpt = CheckpointCallback(lambda: model.save(Path(tmp) / "ckpt.zip"))  # the default: every 60 s
            callbacks = [diag, ckpt]
        start = time.perf_counter()
        model.learn(total_timesteps=timesteps, callback=callbacks or None)
        elapsed = time.perf_counter() - start
    venv.close()
    return model.num_timesteps / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--games", nargs="+", default=["cartpole", "lunarlander"])
    p.add_argument("--timesteps", type=int, help="default: 50k for cartpole, 200k otherwise")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"{'game':14} {'timesteps':>9} {'bare SB3 fps':>13} {'with callbacks':>15} {'ratio':>7} {'slowdown':>9}")
    for slug in args.games:
        n = args.timesteps or (50_000 if slug == "cartpole" else 200_000)
        bare, ours = [], []
        for _ in range(args.repeats):
            bare.append(one_run(slug, n, ours=False))
            ours.append(one_run(slug, n, ours=True))
        b, o = statistics.median(bare), statistics.median(ours)
        print(f"{slug:14} {n:>9} {b:>13.0f} {o:>15.0f} {o / b:>7.3f} {100 * (1 - o / b):>8.1f}%")
        print(f"{'':14} runs (fps): bare {[round(x) for x in bare]}  ours {[round(x) for x in ours]}")


if __name__ == "__main__":
    main()
