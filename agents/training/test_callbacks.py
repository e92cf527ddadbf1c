"""The diagnostics CSV holds exactly what SB3's own logger recorded, one row per PPO update."""

import csv
import math

import pytest

from agents.training.callbacks import DIAGNOSTIC_COLUMNS, SB3_KEYS
from agents.training.train import train


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _num(v):
    return math.nan if v in ("", None) else float(v)


@pytest.mark.parametrize("game,overrides", [
    ("cartpole", []),
    # continuous actions: train/std is recorded too
    ("pendulum", ["n_steps=256", "n_epochs=2"]),
])
def test_diagnostics_equal_sb3_logger(tmp_path, game, overrides):
    run = train(game, seed=3, timesteps=2048 if game == "cartpole" else 4096, overrides=overrides,
                out=tmp_path / "run", progress=None, sb3_log=["csv"])
    ours = _rows(run / "diagnostics.csv")
    sb3 = {int(r["time/iterations"]): r for r in _rows(run / "sb3" / "progress.csv")}
    assert list(ours[0]) == DIAGNOSTIC_COLUMNS
    assert len(ours) == len(sb3) >= 4
    for row in ours:
        k = int(row["iteration"])
        # SB3 dumps after rollout k and before update k: episode stats of row k are in its dump k ...
        assert int(sb3[k]["time/total_timesteps"]) == int(row["timesteps"])
        for col in ("ep_rew_mean", "ep_len_mean"):
            expected = _num(sb3[k].get(f"rollout/{col}"))
            assert (math.isnan(expected) and math.isnan(_num(row[col]))) or _num(row[col]) == expected, (k, col)
        # ... and the train/* values of update k appear in dump k+1 (the last update's never get dumped)
        if k + 1 in sb3:
            nxt = sb3[k + 1]
            assert float(row["entropy"]) == -float(nxt["train/entropy_loss"]) > 0
            for col, key in SB3_KEYS.items():
                if key == "train/std" and game == "cartpole":
                    assert row[col] == "" and key not in nxt
                    continue
                assert float(row[col]) == float(nxt[key]), (k, col)
    assert float(ours[-1]["wall_time"]) > float(ours[0]["wall_time"]) > 0
    assert all(int(r["fps"]) > 0 for r in ours)


def test_tensorboard_events_written(tmp_path):
    run = train("cartpole", seed=1, timesteps=1024, out=tmp_path / "run", progress=None)
    events = list((run / "tb").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for tag in ("train/approx_kl", "train/clip_fraction", "train/entropy", "train/explained_variance",
                "rollout/ep_rew_mean", "train/learning_rate"):
        assert tag in tags
    rows = _rows(run / "diagnostics.csv")
    kl = acc.Scalars("train/approx_kl")
    assert [e.step for e in kl] == [int(r["timesteps"]) for r in rows]
    assert kl[-1].value == pytest.approx(float(rows[-1]["approx_kl"]), rel=1e-6)  # TB stores float32
