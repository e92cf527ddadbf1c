"""The diagnostics CSV and TensorBoard hold exactly what SB3's own logger recorded, one row per PPO update,
under the names the metrics table gives (agents/metrics/table.py); the periodic evaluations reach TensorBoard
under SB3's EvalCallback keys."""

import csv
import math

import pytest

from agents.metrics.table import DIAGNOSTIC_COLUMNS, EVAL_TB_KEYS, METRICS
from agents.training.train import TrainOptions, train


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(v):
    return math.nan if v in ("", None) else float(v)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize(
    "game,overrides",
    [
        ("cartpole", []),
        # continuous actions: train/std is recorded too
        ("pendulum", ["n_steps=256", "n_epochs=2"]),
    ],
)
def test_diagnostics_equal_sb3_logger(tmp_path, game, overrides):
    run = train(
        TrainOptions(
            game,
            seed=3,
            timesteps=2048 if game == "cartpole" else 4096,
            overrides=overrides,
            out=tmp_path / "run",
            progress=None,
            sb3_log=["csv"],
        )
    )
    ours = _rows(run / "diagnostics.csv")
    sb3 = {int(r["time/iterations"]): r for r in _rows(run / "sb3" / "progress.csv")}
    assert list(ours[0]) == DIAGNOSTIC_COLUMNS
    assert len(ours) == len(sb3) >= 4
    compared = set()
    for row in ours:
        k = int(row["iteration"])
        for m in METRICS:
            if m.source == "rollout":
                # SB3 dumps after rollout k and before update k: what it computes from the rollout is in dump k
                assert _same(_num(row[m.column]), _num(sb3[k].get(m.sb3_key))), (k, m.column)
            elif m.source == "logger" and k + 1 in sb3:
                # ... and the train/* values of update k appear in dump k+1 (the last update's never get dumped)
                expected = _num(sb3[k + 1].get(m.sb3_key))
                assert _same(_num(row[m.column]), -expected if m.negate else expected), (k, m.column)
                if not math.isnan(expected):
                    compared.add(m.column)
    assert float(ours[-1]["wall_time"]) > float(ours[0]["wall_time"]) > 0
    assert all(int(r["fps"]) > 0 for r in ours)
    assert all(float(r["entropy"]) > 0 for r in ours)  # positive, although SB3 logs a negative loss
    logger_columns = {m.column for m in METRICS if m.source == "logger"}
    assert compared == (logger_columns if game == "pendulum" else logger_columns - {"action_std"})


def test_tensorboard_keys_and_values_are_sb3s(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train(
        TrainOptions("cartpole", seed=1, timesteps=1024, out=tmp_path / "run", progress=None, sb3_log=["tensorboard"])
    )
    ours, sb3 = EventAccumulator(str(run / "tb")), EventAccumulator(str(run / "sb3"))
    ours.Reload()
    sb3.Reload()
    tags = set(ours.Tags()["scalars"])
    # eval/* come from the periodic evaluation when train() shares the writer with it (tested below)
    assert tags == {m.tb_key for m in METRICS if m.tb_key and m.column != "action_std"} | set(EVAL_TB_KEYS)
    # SB3's own TensorBoard output has the same names (and the counters the table leaves out); its eval/*
    # come from SB3's EvalCallback, which this comparison run does not use (its keys are checked below)
    assert tags - set(EVAL_TB_KEYS) <= set(sb3.Tags()["scalars"])
    rows = _rows(run / "diagnostics.csv")
    assert [e.step for e in ours.Scalars("train/approx_kl")] == [int(r["timesteps"]) for r in rows]
    # SB3 writes update k's train/* values with dump k+1, at the next rollout's timesteps; TB stores float32
    sb3_entropy_loss = [e.value for e in sb3.Scalars("train/entropy_loss")]
    ours_entropy_loss = [e.value for e in ours.Scalars("train/entropy_loss")]
    assert len(sb3_entropy_loss) == len(rows) - 1 >= 2
    assert ours_entropy_loss[:-1] == sb3_entropy_loss
    assert ours_entropy_loss[-1] == pytest.approx(-float(rows[-1]["entropy"]), rel=1e-6)
    assert [e.value for e in ours.Scalars("rollout/ep_rew_mean")] == [
        e.value for e in sb3.Scalars("rollout/ep_rew_mean")
    ]


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return events


def test_periodic_evaluations_reach_tensorboard_under_sb3s_keys(tmp_path):
    """A tiny run wired as train() wires it: every eval.csv row is in tb/ as eval/mean_reward and
    eval/mean_ep_length at its timesteps, through the diagnostics' writer (one event file), the last one too,
    although it is written after the diagnostics callback has finished."""
    from stable_baselines3 import PPO

    from agents.training.callbacks import DiagnosticsCallback, PeriodicEvalCallback
    from envs import GAMES

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=128, batch_size=64, n_epochs=1, seed=0, device="cpu")
    diag = DiagnosticsCallback(tmp_path / "diagnostics.csv", tmp_path / "tb")
    periodic = PeriodicEvalCallback(
        GAMES["cartpole"],
        tmp_path / "eval.csv",
        every=128,
        total=512,
        normalizer=lambda: None,
        tensorboard=diag.tensorboard,
    )
    model.learn(512, callback=[diag, periodic])

    rows = _rows(tmp_path / "eval.csv")
    assert [int(r["timesteps"]) for r in rows] == [128, 256, 384, 512]
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 1
    events = _events(tmp_path / "tb")
    assert set(EVAL_TB_KEYS) <= set(events.Tags()["scalars"])
    reward, length = events.Scalars("eval/mean_reward"), events.Scalars("eval/mean_ep_length")
    assert [e.step for e in reward] == [e.step for e in length] == [int(r["timesteps"]) for r in rows]
    # TensorBoard stores float32
    assert [e.value for e in reward] == pytest.approx([float(r["mean"]) for r in rows], rel=1e-6)
    mean_lengths = [sum(map(int, r["lengths"].split())) / int(r["episodes"]) for r in rows]
    assert [e.value for e in length] == pytest.approx(mean_lengths, rel=1e-6)
    # the diagnostics went through the same writer
    assert len(events.Scalars("train/approx_kl")) == 4


def test_the_eval_keys_are_the_ones_sb3s_eval_callback_logs():
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import EvalCallback
    from stable_baselines3.common.logger import KVWriter, Logger

    class Keys(KVWriter):
        def __init__(self):
            self.seen = set()

        def write(self, key_values, key_excluded, step=0):
            self.seen |= set(key_values)

    keys = Keys()
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[keys]))
    model.learn(64, callback=EvalCallback(model.get_env(), eval_freq=32, n_eval_episodes=1, verbose=0))
    eval_keys = {k for k in keys.seen if k.startswith("eval/")}
    assert eval_keys and eval_keys == set(EVAL_TB_KEYS)
