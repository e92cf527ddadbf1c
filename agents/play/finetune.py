"""``playground finetune pong-duel``: the shipped Pong agent fine-tuned with PPO in two-player Pong against a pool
of scripted paddles and its own frozen snapshots (:mod:`agents.play.pong_duel_env`), resumable.

The run folder has ``playground train``'s layout and is written by the same code (run.json, config.yml,
diagnostics.csv, epochs.csv, tb/, checkpoints/ with ``latest``, final/), plus:

    snapshots/        snap-<timesteps>.safetensors: the learner's weights every ``snapshot_every`` updates,
                      the newest ``max_snapshots`` of which play the left paddle in later matches
    final/            also policy.json + policy.safetensors (the project's export), what
                      ``python -m agents.play.duel_evidence --agent <run>/final`` evaluates

The model starts as SB3's PPO CnnPolicy for the shipped agent's spaces with the bundle's weights loaded into it
(from policy.safetensors, never unpickled); hyperparameters are the bundle's Zoo config with a smaller learning
rate and clip range, as fine-tuning does (:data:`FINETUNE_HP`). There is no periodic evaluation during
training: a match costs minutes; the evaluation is duel_evidence's, after the run.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.common.errors import ResumeError
from agents.common.files import write_atomic
from agents.common.progress import Progress
from agents.common.provenance import git_state, hardware, now_iso
from agents.play.pong_duel_env import DuelPool, PongDuelEnv, SnapshotPaddle
from agents.training.callbacks import (
    AfterUpdateCallback,
    CheckpointCallback,
    DiagnosticsCallback,
    EpochsCallback,
)
from agents.training.config import ppo_kwargs, validate_config
from agents.training.train import _open_for_resume, _save_checkpoint, _start_over, _truncate_csv
from envs.catalog import get_two_player_spec

GAME = "pong-duel"
FINETUNE_HP: dict[str, Any] = {
    "n_envs": 8,
    "n_timesteps": 3_000_000,
    "policy": "CnnPolicy",
    "n_steps": 128,
    "n_epochs": 4,
    "batch_size": 256,
    # the Zoo's Pong config starts at lr 2.5e-4 and clip 0.1 for a network learning from scratch; a trained
    # network moved by an opponent it has not met needs smaller steps, or it forgets how to play at all
    "learning_rate": "lin_1.0e-4",
    "clip_range": "lin_0.05",
    "vf_coef": 0.5,
    "ent_coef": 0.01,
}
"""the shipped bundle's config (models/pong/config.yml, the RL Zoo's atari PPO) with lr and clip reduced"""


@dataclass
class FinetuneOptions:
    """Everything ``playground finetune`` can be told; one field per knob."""

    out: str | Path
    """run folder"""
    seed: int = 1
    """the envs' seeds (opponent draws, match seeds) and torch's"""
    timesteps: int | None = None
    """agent steps (decisions, 4 frames each); default FINETUNE_HP's n_timesteps"""
    start_from: str | Path | None = None
    """the bundle whose weights the run starts from; default the shipped models/pong"""
    resume: bool = False
    """continue a killed run from its latest checkpoint"""
    checkpoint_seconds: float = 300.0
    """checkpoint at the first update after this many seconds"""
    snapshot_every: int = 100
    """PPO updates between snapshots of the learner joining the pool (100 updates = 102,400 steps)"""
    max_snapshots: int = 5
    """the newest this many snapshots play; older ones stay on disk"""
    snapshot_share: float = 0.2
    """share of matches against a snapshot, once there is one"""
    n_envs: int | None = None
    """override FINETUNE_HP's n_envs (tests)"""
    n_steps: int | None = None
    """override FINETUNE_HP's n_steps (tests)"""
    threads: int = 1
    """torch threads"""
    progress: float | None = 10.0
    """seconds between progress lines; None: silent"""
    command: str | None = None
    """the command line, recorded in run.json"""
    hp: dict[str, Any] = field(default_factory=lambda: dict(FINETUNE_HP))

    def check(self) -> None:
        if self.resume and (self.timesteps or self.start_from or self.n_envs or self.n_steps):
            raise ResumeError("--resume continues with the run's own config; drop --timesteps/--start-from")
        if self.snapshot_every < 1 or self.max_snapshots < 0 or not 0 <= self.snapshot_share <= 1:
            raise ValueError(
                f"snapshot_every >= 1, max_snapshots >= 0 and snapshot_share in [0, 1] needed, got "
                f"{self.snapshot_every}, {self.max_snapshots}, {self.snapshot_share}"
            )


def _bundle(start_from: str | Path | None):
    from agents.bundle import Bundle

    bundle = Bundle.open(start_from) if start_from else Bundle.shipped("pong")
    if bundle is None:
        raise ResumeError("no shipped Pong agent in models/pong to start from; pass --start-from <bundle>")
    return bundle


def _copy_policy(policy) -> Any:
    """A new policy with the same weights, built from its constructor arguments as SB3's own load does.

    Not ``copy.deepcopy``: during training a policy can hold non-leaf tensors (autograd graph results), which
    torch refuses to deepcopy; the first snapshot of the real run died on it."""
    clone = type(policy)(**policy._get_constructor_parameters())
    clone.load_state_dict(policy.state_dict())
    return clone.to(policy.device)


def _loaded(policy) -> Any:
    """A frozen copy of an SB3 policy with ``forward_info`` (what SnapshotPaddle asks)."""
    from agents.policy.network import LoadedPolicy

    frozen = _copy_policy(policy).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return LoadedPolicy(frozen, None, {})


class SnapshotCallback(AfterUpdateCallback):
    """Every ``every`` updates: the learner's weights to ``snapshots/`` and, frozen, into the pool."""

    def __init__(self, folder: Path, pool: DuelPool, every: int, keep: int):
        super().__init__()
        self.folder, self.pool, self.every, self.keep = folder, pool, every, keep

    def _on_update_end(self) -> None:
        from agents.training.callbacks import iteration_of

        if iteration_of(self.model) % self.every == 0:
            save_snapshot(self.folder, self.model)
            add_snapshot(self.pool, self.model.policy, f"snap-{self.model.num_timesteps}", self.keep)


def save_snapshot(folder: Path, model) -> Path:
    from safetensors.torch import save_model

    folder.mkdir(exist_ok=True)
    path = folder / f"snap-{model.num_timesteps:012d}.safetensors"
    save_model(model.policy, str(path))
    return path


def add_snapshot(pool: DuelPool, policy, name: str, keep: int) -> None:
    if keep == 0:
        return
    pool.snapshots.append(SnapshotPaddle(name, _loaded(policy)))
    del pool.snapshots[:-keep]


def _restore_snapshots(folder: Path, pool: DuelPool, model, upto: int, keep: int) -> None:
    """The snapshots a resumed run had taken by its checkpoint (later ones, from after it, are removed)."""
    from safetensors.torch import load_model

    if not folder.exists():
        return
    for path in sorted(folder.glob("snap-*.safetensors")):
        t = int(path.stem.split("-")[1])
        if t == 0:
            continue  # the start weights, in the pool already as "shipped"
        if t > upto:
            path.unlink()
            continue
        policy = _copy_policy(model.policy)
        load_model(policy, str(path))
        add_snapshot(pool, policy, f"snap-{t}", keep)


def make_venv(n_envs: int, pool: DuelPool, seed: int):
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    venv = DummyVecEnv([lambda: Monitor(PongDuelEnv(pool)) for _ in range(n_envs)])
    venv.seed(seed)
    return venv


def finetune(opts: FinetuneOptions) -> Path:
    """Fine-tune (or resume) one run; returns its folder."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.logger import Logger

    opts.check()
    spec = get_two_player_spec(GAME)
    run_dir = Path(opts.out).expanduser()
    torch.set_num_threads(opts.threads)
    if opts.resume:
        run, hp, ckpt, state = _open_for_resume(run_dir, spec, opts.seed)
        if ckpt is None:
            _start_over(run_dir)
            shutil_rmtree(run_dir / "snapshots")
    else:
        run, hp = _start(run_dir, opts)
        ckpt, state = None, None
    total = int(hp["n_timesteps"])
    fin = run["finetune"]
    pool = DuelPool(snapshot_share=fin["snapshot_share"])  # the run's own, also when resumed
    venv = make_venv(int(hp["n_envs"]), pool, opts.seed)
    if state is None:
        bundle = _bundle(fin["start_from"])
        model = PPO(hp["policy"], venv, seed=opts.seed, device="cpu", verbose=0, **ppo_kwargs(hp))
        model.policy.load_state_dict(bundle.policy().policy.state_dict())
        # the shipped agent itself is the first snapshot: the learner meets itself from the start; its
        # weights are kept as snap-0, the record that the run started from them
        add_snapshot(pool, model.policy, "shipped", fin["max_snapshots"])
        save_snapshot(run_dir / "snapshots", model)
    else:
        model = PPO.load(ckpt / "model.zip", env=venv, device="cpu")
        add_snapshot(pool, _bundle(fin["start_from"]).policy().policy, "shipped", fin["max_snapshots"])
        _restore_snapshots(run_dir / "snapshots", pool, model, state["timesteps"], fin["max_snapshots"])
        model.ep_info_buffer = deque(state["ep_info_buffer"], maxlen=model._stats_window_size)
        model.set_random_seed(opts.seed + model.num_timesteps)
        model._last_obs = None
        for name in ("diagnostics.csv", "epochs.csv"):
            _truncate_csv(run_dir / name, state["timesteps"])
    model.set_logger(Logger(folder=None, output_formats=[]))

    run["commands"].append(opts.command or f"playground finetune {GAME} --out {run_dir}")
    segment = {"start": now_iso(), "from_timesteps": model.num_timesteps}
    run["segments"].append(segment)
    write_atomic(run_dir / "run.json", json.dumps(run, indent=1))

    wall_offset = state["wall_time"] if state else 0.0
    bar = (
        None
        if opts.progress is None
        else Progress(f"finetune {GAME}", total, start=model.num_timesteps, every=opts.progress)
    )
    diag = DiagnosticsCallback(run_dir / "diagnostics.csv", run_dir / "tb", wall_offset=wall_offset, progress=bar)

    def save_checkpoint() -> None:
        _save_checkpoint(run_dir, model, {"wall_time": diag.rows[-1]["wall_time"], "eval_next_at": None})

    callbacks: list[BaseCallback] = [
        diag,
        EpochsCallback(run_dir / "epochs.csv"),
        SnapshotCallback(run_dir / "snapshots", pool, fin["snapshot_every"], fin["max_snapshots"]),
        CheckpointCallback(save_checkpoint, opts.checkpoint_seconds),
    ]
    t0 = time.time()
    remaining = total - model.num_timesteps
    if remaining > 0:
        model.learn(total_timesteps=remaining, callback=callbacks, log_interval=1, reset_num_timesteps=state is None)
    wall = diag.rows[-1]["wall_time"] if diag.rows else wall_offset + time.time() - t0

    from agents.policy.network import export_policy

    final = run_dir / "final"
    final.mkdir(exist_ok=True)
    model.save(final / "model.zip")
    write_atomic(final / "normalize.json", json.dumps(None))
    export_policy(model.policy, None, final)
    segment.update(end=now_iso(), to_timesteps=model.num_timesteps, wall_seconds=round(time.time() - t0, 3))
    run.update(status="done", timesteps=model.num_timesteps, wall_seconds=wall, finished=now_iso(), hardware=hardware())
    write_atomic(run_dir / "run.json", json.dumps(run, indent=1))
    venv.close()
    return run_dir


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _start(run_dir: Path, opts: FinetuneOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new run folder: config.yml (validated as any training config) and run.json with the fine-tuning's own
    settings (start bundle, pool, snapshots) under ``finetune``."""
    hp = dict(opts.hp)
    for key, value in (("n_timesteps", opts.timesteps), ("n_envs", opts.n_envs), ("n_steps", opts.n_steps)):
        if value is not None:
            hp[key] = int(value)
    validate_config(hp, source="agents.play.finetune.FINETUNE_HP")
    if (run_dir / "run.json").exists():
        raise ResumeError(f"{run_dir} already holds a run; continue it with --resume, or pick another --out")
    bundle = _bundle(opts.start_from)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yml").write_text(yaml.safe_dump(hp, sort_keys=False))
    pool = DuelPool()
    run = {
        "game": GAME,
        "env_id": "pong_v3",
        "env_kwargs": {},
        "seed": opts.seed,
        "hyperparams": hp,
        "config_source": "agents/play/finetune.py FINETUNE_HP",
        "overrides": [],
        "finetune": {
            "start_from": str(opts.start_from) if opts.start_from else None,
            "start_policy_sha256": bundle.policy_id,
            "env": "agents.play.pong_duel_env.PongDuelEnv (learner on first_0, whole matches, reward = points "
            "won - points lost - own serve penalties)",
            "scripted_weights": pool.weights,
            "snapshot_share": opts.snapshot_share,
            "snapshot_every": opts.snapshot_every,
            "max_snapshots": opts.max_snapshots,
        },
        "commands": [],
        "segments": [],
        "status": "running",
        "code": git_state(),
    }
    return run, hp
