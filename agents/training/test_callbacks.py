"""The diagnostics CSV and TensorBoard hold exactly what SB3's own logger recorded, one row per PPO update,
under the names the metrics table gives (agents/metrics/table.py)."""

import csv
import math

import pytest

from agents.metrics.table import DIAGNOSTIC_COLUMNS, METRICS
from agents.training.train import TrainOptions, train


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(v):
    return math.nan if v in ("", None) else float(v)


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@pytest.mark.parametrize("game,overrides", [
    ("cartpole", []),
    # continuous actions: train/std is recorded too
    ("pendulum", ["n_steps=256", "n_epochs=2"]),
])
def test_diagnostics_equal_sb3_logger(tmp_path, game, overrides):
    run = train(TrainOptions(game, seed=3, timesteps=2048 if game == "cartpole" else 4096, overrides=overrides,
                             out=tmp_path / "run", progress=None, sb3_log=["csv"]))
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

    run = train(TrainOptions("cartpole", seed=1, timesteps=1024, out=tmp_path / "run", progress=None,
                             sb3_log=["tensorboard"]))
    ours, sb3 = EventAccumulator(str(run / "tb")), EventAccumulator(str(run / "sb3"))
    ours.Reload()
    sb3.Reload()
    tags = set(ours.Tags()["scalars"])
    assert tags == {m.tb_key for m in METRICS if m.tb_key and m.column != "action_std"}
    # SB3's own TensorBoard output has the same names (and the counters the table leaves out)
    assert tags <= set(sb3.Tags()["scalars"])
    rows = _rows(run / "diagnostics.csv")
    assert [e.step for e in ours.Scalars("train/approx_kl")] == [int(r["timesteps"]) for r in rows]
    # SB3 writes update k's train/* values with dump k+1, at the next rollout's timesteps; TB stores float32
    sb3_entropy_loss = [e.value for e in sb3.Scalars("train/entropy_loss")]
    ours_entropy_loss = [e.value for e in ours.Scalars("train/entropy_loss")]
    assert len(sb3_entropy_loss) == len(rows) - 1 >= 2
    assert ours_entropy_loss[:-1] == sb3_entropy_loss
    assert ours_entropy_loss[-1] == pytest.approx(-float(rows[-1]["entropy"]), rel=1e-6)
    assert [e.value for e in ours.Scalars("rollout/ep_rew_mean")] == [e.value for e in sb3.Scalars("rollout/ep_rew_mean")]
