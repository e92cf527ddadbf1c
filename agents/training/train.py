"""``playground train``: one PPO training run of one game and one seed, resumable after a kill.

A run lives in a folder (default ``runs/<slug>/seed<S>/``)::

    run.json          game, seed, hyperparameters, every command line that worked on it, segments
    config.yml        the hyperparameters as used
    diagnostics.csv   one row per PPO update (agents.training.callbacks.DIAGNOSTIC_COLUMNS)
    epochs.csv        PPO only: epochs and gradient steps per update, and whether target_kl stopped it
    eval.csv          the periodic evaluations on fixed seeds
    tb/               TensorBoard events of the diagnostics
    checkpoints/      ckpt-<timesteps>/ (model.zip, normalize.json, state.json) and ``latest``
    final/            model.zip and normalize.json when the run is complete
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
from collections import deque
from pathlib import Path
from typing import Any

import yaml

from agents.training.callbacks import (CheckpointCallback, DiagnosticsCallback, EpochsCallback, PeriodicEvalCallback,
                              iteration_of)
from agents.training.config import algo_class, load_config, ppo_kwargs, validate_config
from agents.common.errors import ConfigError, ResumeError
from agents.policy.network import Normalizer
from agents.common.settings import runs_dir
from agents.common.provenance import git_state, hardware, now_iso
from envs import GameSpec, get_spec, make_env

SB3_LOG_FORMATS = {"csv", "tensorboard", "stdout", "log", "json"}


def default_run_dir(spec: GameSpec, seed: int) -> Path:
    return runs_dir() / spec.slug / f"seed{seed}"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (or a kill) sees the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --- VecNormalize state as JSON (checkpoints hold no pickles) ------------------------------------

def vecnormalize_state(vn) -> dict[str, Any] | None:
    if vn is None:
        return None
    return {
        "obs_mean": vn.obs_rms.mean.tolist(), "obs_var": vn.obs_rms.var.tolist(), "obs_count": float(vn.obs_rms.count),
        "ret_mean": float(vn.ret_rms.mean), "ret_var": float(vn.ret_rms.var), "ret_count": float(vn.ret_rms.count),
        "clip_obs": vn.clip_obs, "clip_reward": vn.clip_reward, "gamma": vn.gamma, "epsilon": vn.epsilon,
        "norm_obs": vn.norm_obs, "norm_reward": vn.norm_reward,
    }


def restore_vecnormalize(vn, state: dict[str, Any]) -> None:
    import numpy as np

    vn.obs_rms.mean = np.array(state["obs_mean"], dtype=np.float64)
    vn.obs_rms.var = np.array(state["obs_var"], dtype=np.float64)
    vn.obs_rms.count = state["obs_count"]
    vn.ret_rms.mean = np.float64(state["ret_mean"])
    vn.ret_rms.var = np.float64(state["ret_var"])
    vn.ret_rms.count = state["ret_count"]


# --- the run -------------------------------------------------------------------------------------

def make_training_env(spec: GameSpec, hp: dict[str, Any]):
    """The vectorised training env: n_envs copies in one process, VecNormalize where the spec says."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    venv = DummyVecEnv([lambda: make_env(spec, "train") for _ in range(int(hp["n_envs"]))])
    if spec.normalize:
        venv = VecNormalize(venv, gamma=hp.get("gamma", 0.99))
    return venv


def train(game: str, seed: int, timesteps: int | None = None, config_file: str | None = None,
          overrides: list[str] = (), out: str | Path | None = None, resume: bool = False,
          checkpoint_every: int | None = None, checkpoint_seconds: float = 60.0, threads: int | None = None, progress: float | None = 10.0,
          command: str | None = None, sb3_log: list[str] = ()) -> Path:
    """Train (or resume) one run; returns its folder. See the module docstring for what it writes.

    :param sb3_log: also keep SB3's own logger output in ``<run>/sb3/`` (formats "csv", "tensorboard",
        "stdout", "log", "json"), e.g. to compare it with diagnostics.csv
    """
    import torch
    from stable_baselines3.common.logger import Logger, configure

    spec = get_spec(game)
    bad = set(sb3_log) - SB3_LOG_FORMATS
    if bad:
        raise ConfigError(f"unknown --sb3-log format(s) {', '.join(sorted(bad))}; use {', '.join(sorted(SB3_LOG_FORMATS))}")
    run_dir = Path(out) if out else default_run_dir(spec, seed)
    run_json = run_dir / "run.json"

    if resume:
        run, ckpt = _resume_point(run_dir)
        if run["game"] != spec.slug or run["seed"] != seed:
            raise ResumeError(f"{run_dir} holds a run of {run['game']} seed {run['seed']}, "
                              f"not {spec.slug} seed {seed}")
        if timesteps or config_file or overrides:
            raise ResumeError("--resume continues with the run's own config; drop --timesteps/--config/--set")
        hp = yaml.safe_load((run_dir / "config.yml").read_text())
        validate_config(hp, source=str(run_dir / "config.yml"))
        state = json.loads((ckpt / "state.json").read_text())
    else:
        hp = load_config(spec, config_file, list(overrides))
        if timesteps is not None:
            hp["n_timesteps"] = int(timesteps)
        if run_json.exists():
            raise ResumeError(f"{run_dir} already holds a run; continue it with --resume, or pick another --out")
        make_env(spec, "train").close()  # an unavailable game fails here, before anything is written
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yml").write_text(yaml.safe_dump(hp, sort_keys=False))
        run = {"game": spec.slug, "env_id": spec.env_id, "env_kwargs": spec.env_kwargs, "seed": seed,
               "hyperparams": hp, "config_source": str(config_file or f"agents/hyperparams/{spec.slug}.yml"),
               "overrides": list(overrides), "commands": [], "segments": [], "status": "running",
               "code": git_state()}
        state = None

    total = int(hp["n_timesteps"])
    # one thread by default: two were ~20 % faster for CNNs on an idle 2-core machine but up to 8x slower
    # when anything else runs (OpenMP threads waiting on each other); --threads 2 for a quiet machine
    torch.set_num_threads(threads or 1)
    venv = make_training_env(spec, hp)
    algo = algo_class(hp)  # PPO; TRPO (sb3-contrib) only for the ablation that compares them
    if state is None:
        model = algo(hp.get("policy", "MlpPolicy"), venv, seed=seed, device="cpu", verbose=0, **ppo_kwargs(hp))
        wall_offset = 0.0
        eval_next = None
    else:
        model = algo.load(ckpt / "model.zip", env=venv, device="cpu")
        if state.get("vecnormalize"):
            restore_vecnormalize(model.get_vec_normalize_env(), state["vecnormalize"])
        model.ep_info_buffer = deque(state["ep_info_buffer"], maxlen=model._stats_window_size)
        model.set_random_seed(seed + model.num_timesteps)
        model._last_obs = None
        wall_offset = state["wall_time"]
        eval_next = state["eval_next_at"]
        _truncate_csv(run_dir / "diagnostics.csv", state["timesteps"])
        _truncate_csv(run_dir / "eval.csv", state["timesteps"])
        _truncate_csv(run_dir / "epochs.csv", state["timesteps"])
    # SB3's logger still records every value (the diagnostics callback reads them); it writes files only
    # when asked to, since diagnostics.csv and tb/ hold the same numbers
    model.set_logger(configure(str(run_dir / "sb3"), list(sb3_log)) if sb3_log else Logger(folder=None, output_formats=[]))

    run["commands"].append(command or f"playground train {spec.slug} --seed {seed}" + (" --resume" if resume else ""))
    segment = {"start": now_iso(), "from_timesteps": model.num_timesteps}
    run["segments"].append(segment)
    write_atomic(run_json, json.dumps(run, indent=1))

    evals = spec.eval.during_training_evals
    diag = DiagnosticsCallback(run_dir / "diagnostics.csv", run_dir / "tb", wall_offset=wall_offset, progress=progress)
    periodic = PeriodicEvalCallback(spec, run_dir / "eval.csv", every=total // evals, total=total,
                                    normalizer=lambda: Normalizer.from_vecnormalize(model.get_vec_normalize_env()),
                                    next_at=eval_next)

    def save_checkpoint() -> None:
        t = model.num_timesteps
        ckdir = run_dir / "checkpoints"
        ckdir.mkdir(exist_ok=True)
        tmp = ckdir / f".tmp-{t}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        model.save(tmp / "model.zip")
        st = {"timesteps": t, "iteration": iteration_of(model), "wall_time": diag.rows[-1]["wall_time"],
              "ep_info_buffer": [{k: float(v) for k, v in e.items()} for e in model.ep_info_buffer],
              "eval_next_at": periodic.next_at, "vecnormalize": vecnormalize_state(model.get_vec_normalize_env()),
              "saved_at": now_iso()}
        (tmp / "state.json").write_text(json.dumps(st))
        final = ckdir / f"ckpt-{t:012d}"
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
        write_atomic(ckdir / "latest", final.name)
        for old in ckdir.glob("ckpt-*"):
            if old != final:
                shutil.rmtree(old, ignore_errors=True)

    callbacks = [diag, periodic, CheckpointCallback(save_checkpoint, checkpoint_seconds, checkpoint_every)]
    if hasattr(model, "n_epochs"):  # PPO's epoch loop, where target_kl can stop an update early
        callbacks.insert(1, EpochsCallback(run_dir / "epochs.csv"))
    t0 = time.time()
    remaining = total - model.num_timesteps
    if remaining > 0:
        model.learn(total_timesteps=remaining, callback=callbacks, log_interval=1,
                    reset_num_timesteps=state is None)
    wall = (diag.rows[-1]["wall_time"] if diag.rows else wall_offset + time.time() - t0)

    final = run_dir / "final"
    final.mkdir(exist_ok=True)
    model.save(final / "model.zip")
    write_atomic(final / "normalize.json", json.dumps(vecnormalize_state(model.get_vec_normalize_env())))
    segment.update(end=now_iso(), to_timesteps=model.num_timesteps, wall_seconds=round(time.time() - t0, 3))
    run.update(status="done", timesteps=model.num_timesteps, wall_seconds=wall, finished=now_iso(),
               hardware=hardware())
    write_atomic(run_json, json.dumps(run, indent=1))
    venv.close()
    return run_dir


def _resume_point(run_dir: Path) -> tuple[dict, Path]:
    run_json = run_dir / "run.json"
    if not run_json.exists():
        raise ResumeError(f"nothing to resume: {run_dir} holds no training run (start one without --resume)")
    run = json.loads(run_json.read_text())
    if run.get("status") == "done":
        raise ResumeError(f"nothing to resume: the run in {run_dir} is already complete "
                          f"({run.get('timesteps')} timesteps)")
    latest = run_dir / "checkpoints" / "latest"
    if not latest.exists():
        raise ResumeError(f"nothing to resume: the run in {run_dir} was stopped before its first checkpoint; "
                          f"delete the folder and start again")
    ckpt = run_dir / "checkpoints" / latest.read_text().strip()
    if not (ckpt / "model.zip").exists() or not (ckpt / "state.json").exists():
        raise ResumeError(f"the latest checkpoint {ckpt} is incomplete; delete {run_dir} and start again")
    return run, ckpt


def _truncate_csv(path: Path, timesteps: int) -> None:
    """Keep the header and the complete rows up to ``timesteps``: what the checkpoint had seen."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        lines = f.read().splitlines(keepends=True)
    if not lines:
        return
    header = next(csv.reader([lines[0]]))
    keep = [lines[0]]
    for line in lines[1:]:
        if not line.endswith("\n"):
            break  # a row the kill cut in half
        row = next(csv.reader([line]))
        if len(row) != len(header) or int(row[0]) > timesteps:
            break
        keep.append(line)
    write_atomic(path, "".join(keep))


