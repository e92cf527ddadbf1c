"""``playground train``: one PPO training run of one game and one seed, resumable after a kill.

A run lives in a folder (default ``<runs>/<slug>/seed<S>/``, see ``agents.common.settings.runs_dir``)::

    run.json          game, seed, hyperparameters, every command line that worked on it, segments
    config.yml        the hyperparameters as used
    diagnostics.csv   one row per PPO update (``agents.metrics.table``)
    epochs.csv        PPO only: epochs and gradient steps per update, and whether target_kl stopped it
    eval.csv          the periodic evaluations on fixed seeds
    tb/               TensorBoard events of the diagnostics, under SB3's key names
    checkpoints/      ckpt-<timesteps>/ (model.zip, state.json) and ``latest``
    final/            model.zip and normalize.json when the run is complete

The checkpoint format (``state.json``'s keys, ``model.zip``) is kept stable: a run started by an older
version of this file resumes with this one.

``--resume`` continues from the latest checkpoint; a run stopped before its first checkpoint starts over
from step 0 with its own config (what it had written is removed, run.json keeps the stopped segment). A
checkpoint is written aside and only then named in ``latest``, so a failure while writing one (a full disk)
leaves the previous checkpoint as the run's; a full disk anywhere in a run is one line naming the folder.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import shutil
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.common.errors import ConfigError, ResumeError
from agents.common.files import write_atomic
from agents.common.progress import Progress
from agents.common.provenance import git_state, hardware, now_iso
from agents.common.settings import runs_dir
from agents.policy.normalize import Normalizer, VecNormalizeState
from agents.training.callbacks import (
    CheckpointCallback,
    DiagnosticsCallback,
    EpochsCallback,
    PeriodicEvalCallback,
    iteration_of,
)
from agents.training.config import algo_class, load_config, ppo_kwargs, validate_config
from envs import GameSpec, PlaygroundError, get_spec, make_env

SB3_LOG_FORMATS = ("csv", "tensorboard", "stdout", "log", "json")


@dataclass
class TrainOptions:
    """Everything ``playground train`` can be told; one field per knob."""

    game: str
    """game slug (``playground games``)"""
    seed: int
    """training seed: the env seeds and torch's"""
    timesteps: int | None = None
    """override the config's ``n_timesteps`` (the lr/clip schedules then decay over this budget)"""
    config_file: str | None = None
    """hyperparameter YAML; default ``agents/hyperparams/<game>.yml``"""
    overrides: list[str] = field(default_factory=list)
    """``key=value`` hyperparameter overrides"""
    out: str | Path | None = None
    """run folder; default ``<runs>/<game>/seed<S>``"""
    resume: bool = False
    """continue a killed run from its latest checkpoint (with the run's own config)"""
    checkpoint_seconds: float = 60.0
    """checkpoint at the first update after this many seconds"""
    checkpoint_every: int | None = None
    """also checkpoint every N PPO updates"""
    threads: int = 1
    """torch threads: two were ~20 % faster for CNNs on an idle 2-core machine but up to 8x slower when
    anything else runs (OpenMP threads waiting on each other)"""
    progress: float | None = 10.0
    """seconds between progress lines when not on a terminal (a terminal gets a live bar); None: silent"""
    progress_title: str | None = None
    """what the progress bar or line calls this run; default ``train <game> seed <S>``"""
    progress_bar: bool | None = None
    """force the terminal bar on or off (off for runs in worker processes, whose lines interleave)"""
    command: str | None = None
    """the command line, recorded in run.json"""
    sb3_log: list[str] = field(default_factory=list)
    """also keep SB3's own logger output in ``<run>/sb3/`` in these formats, e.g. to compare it with diagnostics.csv"""

    def run_dir(self, spec: GameSpec) -> Path:
        return Path(self.out) if self.out else default_run_dir(spec, self.seed)

    def check(self) -> None:
        bad = set(self.sb3_log) - set(SB3_LOG_FORMATS)
        if bad:
            raise ConfigError(f"unknown --sb3-log format(s) {', '.join(sorted(bad))}; use {', '.join(SB3_LOG_FORMATS)}")
        if self.resume and (self.timesteps or self.config_file or self.overrides):
            raise ResumeError("--resume continues with the run's own config; drop --timesteps/--config/--set")
        if self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, got {self.threads}")


def default_run_dir(spec: GameSpec, seed: int) -> Path:
    return runs_dir() / spec.slug / f"seed{seed}"


def make_training_env(spec: GameSpec, hp: dict[str, Any]):
    """The vectorised training env: n_envs copies in one process, VecNormalize where the spec says."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    venv = DummyVecEnv([lambda: make_env(spec, "train") for _ in range(int(hp["n_envs"]))])
    if spec.normalize:
        venv = VecNormalize(venv, gamma=hp.get("gamma", 0.99))
    return venv


def train(opts: TrainOptions) -> Path:
    """Train (or resume) one run; returns its folder. See the module docstring for what it writes."""
    import torch
    from stable_baselines3.common.logger import Logger, configure

    # 1. the run folder: a new run writes its config, a resumed one reads it back with its checkpoint
    opts.check()
    spec = get_spec(opts.game)
    run_dir = opts.run_dir(spec)
    if opts.resume:
        run, hp, ckpt, state = _open_for_resume(run_dir, spec, opts.seed)
        if ckpt is None:
            _start_over(run_dir)
            if opts.progress is not None:
                print(
                    f"{run_dir} stopped before its first checkpoint: starting it over from step 0 with its config",
                    flush=True,
                )
    else:
        run, hp = _start_run(run_dir, spec, opts)
        ckpt, state = None, None
    total = int(hp["n_timesteps"])

    # 2. the model: fresh, or loaded from the checkpoint with its env statistics and episode buffer
    torch.set_num_threads(opts.threads)
    venv = make_training_env(spec, hp)
    algo = algo_class(hp)  # PPO; TRPO (sb3-contrib) only for the ablation that compares them
    if state is None:
        model = algo(hp.get("policy", "MlpPolicy"), venv, seed=opts.seed, device="cpu", verbose=0, **ppo_kwargs(hp))
    else:
        model = algo.load(ckpt / "model.zip", env=venv, device="cpu")
        norm = VecNormalizeState.from_json(state.get("vecnormalize"))
        if norm is not None:
            norm.restore(model.get_vec_normalize_env())
        model.ep_info_buffer = deque(state["ep_info_buffer"], maxlen=model._stats_window_size)
        model.set_random_seed(opts.seed + model.num_timesteps)
        model._last_obs = None
        for name in ("diagnostics.csv", "eval.csv", "epochs.csv"):  # rows the checkpoint had not seen go
            _truncate_csv(run_dir / name, state["timesteps"])
    # SB3's logger still records every value (the diagnostics callback reads them); it writes files only
    # when asked to, since diagnostics.csv and tb/ hold the same numbers
    model.set_logger(
        configure(str(run_dir / "sb3"), list(opts.sb3_log)) if opts.sb3_log else Logger(folder=None, output_formats=[])
    )

    # 3-6 write to the run folder while the model learns: a full disk anywhere there is one line
    with _full_disk_is_one_line(run_dir):
        # 3. this segment of the run, recorded before any step so a kill leaves a trace
        run["commands"].append(
            opts.command or f"playground train {spec.slug} --seed {opts.seed}" + (" --resume" if opts.resume else "")
        )
        segment = {"start": now_iso(), "from_timesteps": model.num_timesteps}
        run["segments"].append(segment)
        write_atomic(run_dir / "run.json", json.dumps(run, indent=1))

        # 4. the callbacks: diagnostics per update, periodic evaluation, epochs, checkpoints
        wall_offset = state["wall_time"] if state else 0.0
        bar = (
            None
            if opts.progress is None
            else Progress(f"train {spec.slug} seed {opts.seed}", total, start=model.num_timesteps, every=opts.progress)
        )
        diag = DiagnosticsCallback(run_dir / "diagnostics.csv", run_dir / "tb", wall_offset=wall_offset, progress=bar)
        periodic = PeriodicEvalCallback(
            spec,
            run_dir / "eval.csv",
            every=total // spec.eval.during_training_evals,
            total=total,
            normalizer=lambda: Normalizer.from_vecnormalize(model.get_vec_normalize_env()),
            next_at=state["eval_next_at"] if state else None,
            tensorboard=diag.tensorboard,
        )

        def save_checkpoint() -> None:
            _save_checkpoint(
                run_dir, model, {"wall_time": diag.rows[-1]["wall_time"], "eval_next_at": periodic.next_at}
            )

        callbacks = [
            diag,
            periodic,
            CheckpointCallback(save_checkpoint, opts.checkpoint_seconds, opts.checkpoint_every),
        ]
        if hasattr(model, "n_epochs"):  # PPO's epoch loop, where target_kl can stop an update early
            callbacks.insert(1, EpochsCallback(run_dir / "epochs.csv"))

        # 5. learn: the schedules run over the whole budget, also across resumes (reset_num_timesteps=False)
        t0 = time.time()
        remaining = total - model.num_timesteps
        if remaining > 0:
            model.learn(
                total_timesteps=remaining, callback=callbacks, log_interval=1, reset_num_timesteps=state is None
            )
        wall = diag.rows[-1]["wall_time"] if diag.rows else wall_offset + time.time() - t0

        # 6. the final model, and the run marked done
        final = run_dir / "final"
        final.mkdir(exist_ok=True)
        model.save(final / "model.zip")
        norm_state = VecNormalizeState.capture(model.get_vec_normalize_env())
        write_atomic(final / "normalize.json", json.dumps(norm_state.to_json() if norm_state else None))
        segment.update(end=now_iso(), to_timesteps=model.num_timesteps, wall_seconds=round(time.time() - t0, 3))
        run.update(
            status="done", timesteps=model.num_timesteps, wall_seconds=wall, finished=now_iso(), hardware=hardware()
        )
        write_atomic(run_dir / "run.json", json.dumps(run, indent=1))
    venv.close()
    return run_dir


def _start_run(run_dir: Path, spec: GameSpec, opts: TrainOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new run folder with its config.yml; returns run.json's content and the hyperparameters."""
    hp = load_config(spec, opts.config_file, list(opts.overrides))
    if opts.timesteps is not None:
        hp["n_timesteps"] = int(opts.timesteps)
    if (run_dir / "run.json").exists():
        raise ResumeError(f"{run_dir} already holds a run; continue it with --resume, or pick another --out")
    make_env(spec, "train").close()  # an unavailable game fails here, before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yml").write_text(yaml.safe_dump(hp, sort_keys=False))
    run = {
        "game": spec.slug,
        "env_id": spec.env_id,
        "env_kwargs": spec.env_kwargs,
        "seed": opts.seed,
        "hyperparams": hp,
        "config_source": str(opts.config_file or f"agents/hyperparams/{spec.slug}.yml"),
        "overrides": list(opts.overrides),
        "commands": [],
        "segments": [],
        "status": "running",
        "code": git_state(),
    }
    return run, hp


def _open_for_resume(run_dir: Path, spec: GameSpec, seed: int):
    """run.json, the hyperparameters, the latest checkpoint folder and its state.json."""
    run_json = run_dir / "run.json"
    if not run_json.exists():
        raise ResumeError(f"nothing to resume: {run_dir} holds no training run (start one without --resume)")
    run = json.loads(run_json.read_text())
    if run.get("status") == "done":
        raise ResumeError(
            f"nothing to resume: the run in {run_dir} is already complete ({run.get('timesteps')} timesteps)"
        )
    if run["game"] != spec.slug or run["seed"] != seed:
        raise ResumeError(f"{run_dir} holds a run of {run['game']} seed {run['seed']}, not {spec.slug} seed {seed}")
    latest = run_dir / "checkpoints" / "latest"
    ckpt = run_dir / "checkpoints" / latest.read_text().strip() if latest.exists() else None
    if ckpt is not None and (not (ckpt / "model.zip").exists() or not (ckpt / "state.json").exists()):
        raise ResumeError(f"the latest checkpoint {ckpt} is incomplete; delete {run_dir} and start again")
    if not (run_dir / "config.yml").is_file():
        raise ResumeError(f"{run_dir} has no config.yml, so its run cannot be continued; delete it and start again")
    hp = yaml.safe_load((run_dir / "config.yml").read_text())
    validate_config(hp, source=str(run_dir / "config.yml"))
    if ckpt is None:
        return run, hp, None, None  # stopped before its first checkpoint: the caller starts it over
    return run, hp, ckpt, json.loads((ckpt / "state.json").read_text())


def _start_over(run_dir: Path) -> None:
    """Remove what a run stopped before its first checkpoint wrote while learning; run.json and config.yml stay.

    Nothing in it can be continued: its rows describe a model no checkpoint kept, so a restart from step 0
    writes them afresh rather than after them.
    """
    for name in ("diagnostics.csv", "eval.csv", "epochs.csv"):
        (run_dir / name).unlink(missing_ok=True)
    for name in ("tb", "sb3", "checkpoints", "final"):
        shutil.rmtree(run_dir / name, ignore_errors=True)


@contextlib.contextmanager
def _full_disk_is_one_line(run_dir: Path) -> Iterator[None]:
    """Turn a full disk while the run writes (diagnostics, TensorBoard, the final model) into one line naming
    the folder; a checkpoint that could not be written already says so itself and kept the previous one."""
    try:
        yield
    except Exception as exc:
        if _disk_full(exc):
            raise PlaygroundError(
                f"no space left on the device holding {run_dir}; {_latest_line(run_dir)} "
                "Free some space and continue with --resume."
            ) from None
        raise


def _disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from: torch wraps a failed write in a RuntimeError) is a full disk
    or an exhausted quota."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _latest_line(run_dir: Path) -> str:
    latest = run_dir / "checkpoints" / "latest"
    if not latest.exists():
        return "it has no checkpoint yet (--resume starts it over)."
    return f"its last checkpoint, {latest.parent / latest.read_text().strip()}, is intact."


def _save_checkpoint(run_dir: Path, model, extra: dict[str, Any]) -> None:
    """``checkpoints/ckpt-<t>/`` written aside and renamed into place, ``latest`` pointed at it, older ones gone.

    Until ``latest`` names the new folder the previous checkpoint is the run's; if writing the new one fails
    (a full disk), what was written of it is removed and the previous one is left as it was. A full disk is a
    PlaygroundError naming the folder.
    """
    t = model.num_timesteps
    ckdir = run_dir / "checkpoints"
    latest = ckdir / "latest"
    previous = latest.read_text().strip() if latest.exists() else None
    tmp = ckdir / f".tmp-{t}"
    final = ckdir / f"ckpt-{t:012d}"
    if final.name == previous:
        return  # this very step is already the run's checkpoint
    try:
        ckdir.mkdir(exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        model.save(tmp / "model.zip")
        norm = VecNormalizeState.capture(model.get_vec_normalize_env())
        state = {
            "timesteps": t,
            "iteration": iteration_of(model),
            "wall_time": extra["wall_time"],
            "ep_info_buffer": [{k: float(v) for k, v in e.items()} for e in model.ep_info_buffer],
            "eval_next_at": extra["eval_next_at"],
            "vecnormalize": norm.to_json() if norm else None,
            "saved_at": now_iso(),
        }
        (tmp / "state.json").write_text(json.dumps(state))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        write_atomic(latest, final.name)
    except BaseException as exc:  # a kill mid-write is cleaned by the next save (the rmtree of tmp above)
        shutil.rmtree(tmp, ignore_errors=True)
        if not latest.exists() or latest.read_text().strip() != final.name:
            shutil.rmtree(final, ignore_errors=True)
        latest.with_name(f".{latest.name}.tmp").unlink(missing_ok=True)  # write_atomic's
        if isinstance(exc, Exception) and _disk_full(exc):
            raise PlaygroundError(
                f"no space left on the device holding {run_dir}: the checkpoint at {t} steps "
                f"was not written; {_latest_line(run_dir)} Free some space and continue with "
                "--resume."
            ) from None
        raise
    for old in ckdir.glob("ckpt-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)


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
