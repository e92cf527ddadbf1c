"""SB3 callbacks that record PPO's diagnostics, evaluate periodically and checkpoint.

SB3 owns the training loop; these hook into it. ``OnPolicyAlgorithm.learn`` runs
``collect_rollouts`` (``on_rollout_start`` … ``on_rollout_end``), ``dump_logs``, then ``train()``, which
leaves its ``train/*`` values in ``logger.name_to_value`` until the next dump. So the values of update
k are read at the start of rollout k+1 (or at training end for the last update), and the episode stats
SB3 logs beside them are the ones it had at the end of rollout k.

TensorBoard (``tb/``) gets the diagnostics and the periodic evaluations under SB3's key names, through one
writer that both callbacks share (:class:`TensorBoard`).
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from agents.common.progress import Progress
from agents.evaluation.evaluate import run_episodes, seeds_for
from agents.metrics.table import DIAGNOSTIC_COLUMNS, EVAL_TB_KEYS, METRICS
from agents.policy.network import Normalizer
from envs import GameSpec

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

EVAL_COLUMNS = ["timesteps", "mean", "std", "min", "max", "episodes", "seeds", "returns", "lengths"]


class AfterUpdateCallback(BaseCallback):
    """Calls :meth:`_on_update_end` once after every PPO update (``train()`` call)."""

    def _init_callback(self) -> None:
        self._seen_updates = self.model._n_updates

    def _on_step(self) -> bool:
        return True

    def _check_update(self) -> None:
        if self.model._n_updates != self._seen_updates:
            self._seen_updates = self.model._n_updates
            self._on_update_end()

    def _on_rollout_start(self) -> None:
        self._check_update()

    def _on_training_end(self) -> None:
        self._check_update()

    def _on_update_end(self) -> None:
        raise NotImplementedError


class TensorBoard:
    """A run's TensorBoard folder, written through one SummaryWriter by every callback that logs there.

    Each callback opens it when training starts and releases it when its own last write is done; the last
    release closes the writer. The order matters: the periodic evaluation's last row comes after the
    diagnostics' last, and a SummaryWriter written to after ``close()`` quietly starts a second event file.

    :param folder: the run's ``tb/``
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._writer: SummaryWriter | None = None
        self._users = 0

    def open(self) -> SummaryWriter:
        if self._writer is None:
            # SB3's TensorBoardOutputFormat flushes on every write; a SummaryWriter flushes on its own
            # schedule and at close, which keeps the per-update cost well under 1 %
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.folder), flush_secs=30)
        self._users += 1
        return self._writer

    def release(self) -> None:
        self._users -= 1
        if self._users == 0 and self._writer is not None:
            self._writer.close()
            self._writer = None


def iteration_of(model) -> int:
    """Index of the PPO update that produced the model's current weights (1-based).

    Every rollout collects exactly ``n_steps * n_envs`` steps, so this holds with ``target_kl`` early
    stopping too (which makes ``_n_updates`` no multiple of ``n_epochs``).
    """
    return model.num_timesteps // (model.n_steps * model.n_envs)


class DiagnosticsCallback(AfterUpdateCallback):
    """One row per PPO update, to CSV and TensorBoard, with exactly the values SB3's logger recorded.

    :param csv_path: the diagnostics CSV (appended to, so a resumed run continues it)
    :param tb_dir: TensorBoard folder (or a :class:`TensorBoard` to share with the periodic evaluation), or None
    :param wall_offset: training wall seconds before this segment (resume)
    :param progress: shows the steps, fps, ETA and the latest diagnostics after each update (None: silent)
    """

    def __init__(
        self,
        csv_path: Path,
        tb_dir: Path | TensorBoard | None = None,
        wall_offset: float = 0.0,
        progress: Progress | None = None,
    ):
        super().__init__()
        self.csv_path = Path(csv_path)
        self.tensorboard = tb_dir if tb_dir is None or isinstance(tb_dir, TensorBoard) else TensorBoard(tb_dir)
        """the run's TensorBoard; pass it to :class:`PeriodicEvalCallback` so evaluations go to the same writer"""
        self.wall_offset = wall_offset
        self.progress = progress
        self._episode_stats: tuple[float, float] = (math.nan, math.nan)
        self._rollout_timesteps = 0
        self.rows: list[dict] = []

    def _init_callback(self) -> None:
        super()._init_callback()
        self._segment_start = time.time()
        new = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
        self._file = open(self.csv_path, "a", newline="")  # open for the run, closed at its end
        self._csv = csv.DictWriter(self._file, fieldnames=DIAGNOSTIC_COLUMNS)
        if new:
            self._csv.writeheader()
            self._file.flush()
        self._tb = self.tensorboard.open() if self.tensorboard is not None else None

    def _on_rollout_end(self) -> None:
        buf = self.model.ep_info_buffer
        if buf and len(buf[0]) > 0:
            # the same computation as OnPolicyAlgorithm.dump_logs
            self._episode_stats = (float(np.mean([e["r"] for e in buf])), float(np.mean([e["l"] for e in buf])))
        else:
            self._episode_stats = (math.nan, math.nan)
        self._rollout_timesteps = self.model.num_timesteps

    def _on_update_end(self) -> None:
        logged = self.model.logger.name_to_value
        now = time.time()
        seg_elapsed = max((time.time_ns() - self.model.start_time) / 1e9, sys.float_info.epsilon)
        # the columns SB3's logger does not hold at this point; the rest are read from it (agents/metrics/table.py)
        measured = {
            "timesteps": self._rollout_timesteps,
            "iteration": iteration_of(self.model),
            "wall_time": round(self.wall_offset + now - self._segment_start, 3),
            "fps": int((self.model.num_timesteps - self.model._num_timesteps_at_start) / seg_elapsed),
            "ep_rew_mean": self._episode_stats[0],
            "ep_len_mean": self._episode_stats[1],
        }
        row = {m.column: m.from_logger(logged) if m.source == "logger" else measured[m.column] for m in METRICS}
        self.rows.append(row)
        self._csv.writerow({k: ("" if _isnan(v) else v) for k, v in row.items()})
        self._file.flush()
        if self._tb is not None:
            # SB3's own keys and values (train/entropy_loss is minus the entropy column)
            for m in METRICS:
                if m.tb_key is not None and not _isnan(row[m.column]):
                    self._tb.add_scalar(m.tb_key, float(m.to_sb3(row[m.column])), row["timesteps"])
        if self.progress is not None:
            self.progress.update(
                int(row["timesteps"]),
                f"ep_rew_mean {row['ep_rew_mean']:.2f}",
                f"entropy {row['entropy']:.3f}  approx_kl {row['approx_kl']:.4f}  "
                f"clip_fraction {row['clip_fraction']:.3f}  explained_var {row['explained_variance']:.3f}",
            )

    def _on_training_end(self) -> None:
        super()._on_training_end()
        self._file.close()
        if self.progress is not None:
            self.progress.close()
        if self.tensorboard is not None:
            self.tensorboard.release()


def _isnan(v) -> bool:
    return isinstance(v, (float, np.floating)) and math.isnan(v)


class PeriodicEvalCallback(AfterUpdateCallback):
    """Evaluate on separate envs every ``every`` timesteps, on fixed recorded seeds, into a CSV, and into
    TensorBoard under SB3's ``EvalCallback`` keys (``eval/mean_reward``, ``eval/mean_ep_length``) at the
    timesteps it ran.

    :param normalizer: returns the current frozen observation normalisation (None when not normalised)
    :param tensorboard: the run's TensorBoard (``DiagnosticsCallback.tensorboard``), or None
    """

    def __init__(
        self,
        spec: GameSpec,
        csv_path: Path,
        every: int,
        total: int,
        normalizer: Callable[[], Normalizer | None],
        next_at: int | None = None,
        tensorboard: TensorBoard | None = None,
    ):
        super().__init__()
        self.spec = spec
        self.csv_path = Path(csv_path)
        self.every = max(1, every)
        self.total = total
        self.normalizer = normalizer
        self.next_at = next_at if next_at is not None else self.every
        self.seeds = seeds_for(spec.eval.during_training_seed_base, spec.eval.during_training_episodes)
        self.tensorboard = tensorboard
        self._tb: SummaryWriter | None = None

    def _init_callback(self) -> None:
        super()._init_callback()
        if not self.csv_path.exists() or self.csv_path.stat().st_size == 0:
            with open(self.csv_path, "w", newline="") as f:
                csv.DictWriter(f, fieldnames=EVAL_COLUMNS).writeheader()
        self._tb = self.tensorboard.open() if self.tensorboard is not None else None

    def _on_training_end(self) -> None:
        super()._on_training_end()  # the last evaluation, when the budget's end is due one
        if self.tensorboard is not None:
            self.tensorboard.release()
            self._tb = None

    def _on_update_end(self) -> None:
        t = self.model.num_timesteps
        if t >= self.next_at or t >= self.total:
            self.evaluate()
            while self.next_at <= t:
                self.next_at += self.every

    def evaluate(self) -> dict:
        t = self.model.num_timesteps
        norm = self.normalizer()
        policy = self.model.policy
        deterministic = self.spec.eval.deterministic

        def act(obs):
            actions, _ = policy.predict(norm(obs) if norm else obs, deterministic=deterministic)
            return actions

        episodes = run_episodes(self.spec, act, self.seeds)
        returns = [e.ret for e in episodes]
        row = {
            "timesteps": t,
            "mean": float(np.mean(returns)),
            "std": float(np.std(returns)),
            "min": float(np.min(returns)),
            "max": float(np.max(returns)),
            "episodes": len(returns),
            "seeds": f"{self.seeds[0]}-{self.seeds[-1]}",
            "returns": " ".join(repr(r) for r in returns),
            "lengths": " ".join(str(e.length) for e in episodes),
        }
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=EVAL_COLUMNS).writerow(row)
        if self._tb is not None:
            # what SB3's EvalCallback computes (np.mean of the episodes' returns and lengths)
            values = {
                "eval/mean_reward": row["mean"],
                "eval/mean_ep_length": float(np.mean([e.length for e in episodes])),
            }
            for key in EVAL_TB_KEYS:
                self._tb.add_scalar(key, values[key], t)
        return row


class CheckpointCallback(AfterUpdateCallback):
    """Call ``save`` after an update once ``seconds`` have passed since the last save (or every ``every``
    updates, when given); the run writes the checkpoint atomically.

    Time-based by default: a checkpoint costs ~0.1 s (SB3 zip with optimizer state), which every 10
    updates would slow a CartPole run by ~20 %.
    """

    def __init__(self, save: Callable[[], None], seconds: float = 60.0, every: int | None = None):
        super().__init__()
        self.save = save
        self.seconds = seconds
        self.every = every
        self._last = time.monotonic()

    def _on_update_end(self) -> None:
        due = time.monotonic() - self._last >= self.seconds
        if self.every:
            due = due or iteration_of(self.model) % self.every == 0
        if due:
            self.save()
            self._last = time.monotonic()

    def _on_training_end(self) -> None:
        # the final state is saved by the run itself
        self._seen_updates = self.model._n_updates


EPOCH_COLUMNS = ["timesteps", "iteration", "epochs", "grad_steps", "planned_grad_steps", "kl_early_stop"]


class EpochsCallback(AfterUpdateCallback):
    """One row per PPO update: how many epochs and gradient steps it ran, and whether ``target_kl`` stopped it.

    SB3's PPO breaks out of its epoch loop when a minibatch's approx KL exceeds ``1.5 * target_kl`` and
    says so only on stdout. ``_n_updates`` grows by one per epoch *begun* (SB3 2.9 increments it after
    the break too), so a stop in the last epoch leaves no trace there. The optimizer's step count does:
    an update that ran fewer than ``n_epochs * ceil(n_steps * n_envs / batch_size)`` steps was stopped.
    """

    def __init__(self, csv_path: Path):
        super().__init__()
        self.csv_path = Path(csv_path)
        self._steps = 0
        self._hook = None
        self.rows: list[dict] = []

    def _init_callback(self) -> None:
        super()._init_callback()
        self._epochs_at = self.model._n_updates
        self._steps_at = 0
        self._hook = self.model.policy.optimizer.register_step_post_hook(self._count)
        if not self.csv_path.exists() or self.csv_path.stat().st_size == 0:
            with open(self.csv_path, "w", newline="") as f:
                csv.DictWriter(f, fieldnames=EPOCH_COLUMNS).writeheader()

    def _count(self, *_args) -> None:
        self._steps += 1

    def planned_grad_steps(self) -> int:
        m = self.model
        return m.n_epochs * math.ceil(m.n_steps * m.n_envs / m.batch_size)

    def _on_update_end(self) -> None:
        m = self.model
        steps = self._steps - self._steps_at
        planned = self.planned_grad_steps()
        row = {
            "timesteps": m.num_timesteps,
            "iteration": iteration_of(m),
            "epochs": m._n_updates - self._epochs_at,
            "grad_steps": steps,
            "planned_grad_steps": planned,
            "kl_early_stop": int(steps < planned),
        }
        self._epochs_at, self._steps_at = m._n_updates, self._steps
        self.rows.append(row)
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, fieldnames=EPOCH_COLUMNS).writerow(row)

    def _on_training_end(self) -> None:
        super()._on_training_end()
        if self._hook is not None:
            self._hook.remove()
