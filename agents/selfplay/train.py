"""Self-play training of a Connect Four agent with sb3-contrib's MaskablePPO against a gated opponent pool.

One run (``playground selfplay connect-four --seed S --minutes M --out DIR``) writes:

- ``config.json``: the options and the command;
- ``diagnostics.csv`` (and ``tb/``): one row per PPO update, the project's metrics table
  (``agents/training/callbacks.DiagnosticsCallback``);
- ``gates.jsonl``: every gate: the candidate (the current policy, best move) against every pool member
  (``gate_games`` games, seats alternating), its score (wins + draws / 2) and whether it joined the pool;
- ``pool/snapshot-NNN.{safetensors,json}``: the snapshots that passed, in the order they joined;
- ``checkpoints/latest.zip``: SB3's zip every ``checkpoint_seconds``;
- ``final/model.zip`` (SB3) and ``final/agent.{safetensors,json}`` (the NumPy policy the agent API loads);
- ``run.json``: timesteps, minutes, throughput, pool size at the end.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from agents.selfplay.bots import Opponent
from agents.selfplay.env import OpponentPool, SelfPlayEnv
from agents.selfplay.evaluate import play_game, wilson
from agents.selfplay.policy import NumpyPolicy, PolicyOpponent
from agents.training.callbacks import AfterUpdateCallback, CheckpointCallback, DiagnosticsCallback


@dataclass
class SelfPlayOptions:
    """Everything one self-play run needs; the defaults are what the evidence runs used."""

    seed: int
    """seeds PPO, the envs (opponent draws, seats) and the gate games"""
    out: Path
    """the run folder"""
    minutes: float = 15.0
    """wall-clock training budget; the run stops after the update in progress"""
    max_timesteps: int = 50_000_000
    """a step cap besides the clock (tests use a small one)"""
    n_envs: int = 32
    """self-play envs stepped together; 32 x 64 steps costs 0.21 CPU-s per 1,000 steps here where 8 x 256 (the
    first three seeds' setting, same rollout size) costs 0.32: the policy's forward pass is per vector step"""
    n_steps: int = 64
    batch_size: int = 512
    n_epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.01
    clip_range: float = 0.2
    net_arch: tuple[int, ...] = (256, 256)
    """hidden layers of both heads (separate policy and value MLPs), ReLU"""
    anchor_share: float = 0.3
    """share of episodes against the fixed anchors (random, one-ply); the rest against snapshots"""
    one_ply_share: float = 0.5
    """of the anchor episodes, the share against one-ply (the rest against random); seeds 1-5 used 0.5"""
    gate_every: int = 50_000
    """timesteps between gates"""
    gate_games: int = 200
    """games per gate (at least 100), seats alternating, opponents cycling through the pool"""
    gate_score: float = 0.55
    """the score (wins + draws / 2) over the gate's games that lets the candidate join the pool"""
    max_snapshots: int = 20
    """snapshots the pool keeps drawing from (the oldest retire; their files stay)"""
    checkpoint_seconds: float = 120.0
    command: str = ""
    """the command line that started the run (recorded in config.json and run.json)"""

    def __post_init__(self) -> None:
        if self.gate_games < 100:
            raise ValueError(f"gate_games={self.gate_games}: a gate plays at least 100 games")
        if not 0 <= self.anchor_share <= 1 or not 0 <= self.one_ply_share <= 1:
            raise ValueError(
                f"anchor_share={self.anchor_share}, one_ply_share={self.one_ply_share}: give shares in [0, 1]"
            )
        if not 0 < self.minutes <= 600:
            raise ValueError(f"minutes={self.minutes}: give a budget in (0, 600]")


class GateCallback(AfterUpdateCallback):
    """After every ``gate_every`` timesteps, the current policy plays the pool; if it scores at least
    ``gate_score`` it joins the pool as a frozen snapshot (sampling its moves, for variety)."""

    def __init__(self, opts: SelfPlayOptions, pool: OpponentPool, run_dir: Path):
        super().__init__()
        self.opts, self.pool, self.run_dir = opts, pool, run_dir
        self.rng = np.random.default_rng([opts.seed, 7])
        self.next_gate = opts.gate_every
        self.snapshots = 0
        self.gates: list[dict] = []

    def _on_update_end(self) -> None:
        if self.model.num_timesteps >= self.next_gate:
            self.next_gate += self.opts.gate_every
            self.gate()

    def gate(self) -> dict:
        policy = NumpyPolicy.from_sb3(self.model.policy)
        candidate = PolicyOpponent(policy, "candidate", deterministic=True)
        record = run_gate(candidate, self.pool, self.opts.gate_games, self.opts.gate_score, self.rng)
        record = {"timesteps": int(self.model.num_timesteps), **record}
        if record["passed"]:
            self.snapshots += 1
            name = f"snapshot-{self.snapshots:03d}"
            policy.save(self.run_dir / "pool" / name, {"seed": self.opts.seed, "timesteps": record["timesteps"]})
            self.pool.snapshots.append(PolicyOpponent(policy, name))
            del self.pool.snapshots[: -self.opts.max_snapshots]
            record["joined_as"] = name
        self.gates.append(record)
        with open(self.run_dir / "gates.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        return record


def run_gate(candidate: Opponent, pool: OpponentPool, games: int, threshold: float, rng: np.random.Generator) -> dict:
    """``candidate`` plays ``games`` games against the pool (members in turn, seats alternating); it passes
    when its score (wins + draws / 2) is at least ``threshold``."""
    members = pool.members()
    per: dict[str, list[int]] = {m.name: [0, 0, 0] for m in members}
    for i in range(games):
        opp, seat = members[(i // 2) % len(members)], i % 2
        winner, _ = play_game((candidate, opp) if seat == 0 else (opp, candidate), rng)
        per[opp.name][0 if winner == seat else 1 if winner == -1 else 2] += 1
    w, d, lo = (sum(v[k] for v in per.values()) for k in range(3))
    score = (w + d / 2) / games
    return {
        "games": games,
        "wins": w,
        "draws": d,
        "losses": lo,
        "score": round(score, 4),
        "win_ci95": [round(x, 4) for x in wilson(w, games)],
        "threshold": threshold,
        "passed": score >= threshold,
        "vs": {name: dict(zip(("wins", "draws", "losses"), v, strict=True)) for name, v in per.items()},
        "pool_before": [m.name for m in members],
    }


class WallClockLimit(BaseCallback):
    """Stops training once ``seconds`` of wall time have passed (checked every step)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.start = time.monotonic()

    def _on_training_start(self) -> None:
        self.start = time.monotonic()

    def _on_step(self) -> bool:
        return time.monotonic() - self.start < self.seconds


def make_model(opts: SelfPlayOptions, pool: OpponentPool):
    """MaskablePPO on ``n_envs`` self-play envs (DummyVecEnv: one process shares the pool)."""
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    def env_fn(i: int):
        return lambda: Monitor(SelfPlayEnv(pool, first_seat=i % 2))

    venv = DummyVecEnv([env_fn(i) for i in range(opts.n_envs)])
    venv.seed(opts.seed)
    return MaskablePPO(
        "MlpPolicy",
        venv,
        n_steps=opts.n_steps,
        batch_size=opts.batch_size,
        n_epochs=opts.n_epochs,
        learning_rate=opts.learning_rate,
        gamma=opts.gamma,
        gae_lambda=opts.gae_lambda,
        ent_coef=opts.ent_coef,
        clip_range=opts.clip_range,
        policy_kwargs={
            "net_arch": {"pi": list(opts.net_arch), "vf": list(opts.net_arch)},
            "activation_fn": torch.nn.ReLU,
        },
        seed=opts.seed,
        device="cpu",
        verbose=0,
    )


def train_selfplay(opts: SelfPlayOptions) -> Path:
    """Run one self-play training run into ``opts.out`` (see the module docstring) and return the folder."""
    import torch

    torch.set_num_threads(1)
    run_dir = Path(opts.out)
    if (run_dir / "run.json").exists():
        raise FileExistsError(f"{run_dir} already holds a finished run: choose another --out")
    for sub in ("pool", "checkpoints", "final"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    from agents.common.provenance import git_state, now_iso

    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()}
    # the commit and whether the tree was dirty (other people's edits count too): what a reader checks out
    config["started"], config["git"] = now_iso(), git_state()
    (run_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")

    pool = OpponentPool(anchor_share=opts.anchor_share, anchor_weights=(1 - opts.one_ply_share, opts.one_ply_share))
    model = make_model(opts, pool)
    gate = GateCallback(opts, pool, run_dir)

    def save_checkpoint() -> None:
        tmp = run_dir / "checkpoints" / "latest.tmp.zip"
        model.save(tmp)
        tmp.replace(run_dir / "checkpoints" / "latest.zip")

    callbacks = [
        DiagnosticsCallback(run_dir / "diagnostics.csv", run_dir / "tb"),
        gate,
        CheckpointCallback(save_checkpoint, seconds=opts.checkpoint_seconds),
        WallClockLimit(opts.minutes * 60),
    ]
    start = time.monotonic()
    model.learn(opts.max_timesteps, callback=callbacks)
    minutes = (time.monotonic() - start) / 60
    final = NumpyPolicy.from_sb3(model.policy)
    meta = {"seed": opts.seed, "timesteps": int(model.num_timesteps), "minutes": round(minutes, 2)}
    final.save(run_dir / "final" / "agent", meta)
    model.save(run_dir / "final" / "model.zip")
    summary = {
        **meta,
        "steps_per_second": round(model.num_timesteps / (minutes * 60), 1),
        "gates": len(gate.gates),
        "snapshots": gate.snapshots,
        "command": opts.command,
    }
    (run_dir / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    return run_dir
