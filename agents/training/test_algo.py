"""The ``algo`` key (TRPO for the ablation) and the record of target_kl early stops (epochs.csv)."""

import csv

import pytest
import yaml

from agents.common.errors import ConfigError
from agents.training.callbacks import EpochsCallback
from agents.training.config import load_config
from agents.training.train import TrainOptions, train
from envs import get_spec


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_algo_is_validated():
    spec = get_spec("lunarlander")
    with pytest.raises(ConfigError, match="'algo' in .* must be one of PPO, TRPO, got 'A2C'"):
        load_config(spec, overrides=["algo=A2C"])
    # PPO-only keys are refused for TRPO, by name
    with pytest.raises(ConfigError, match="unknown config key 'n_epochs' for TRPO"):
        load_config(spec, overrides=["algo=TRPO"])


def test_trpo_trains_and_records_its_kl(tmp_path):
    hp = yaml.safe_load(open("agents/hyperparams/cartpole.yml"))
    for key in ("n_epochs", "ent_coef", "clip_range"):
        hp.pop(key)
    hp.update(algo="TRPO", n_steps=64)
    cfg = tmp_path / "trpo.yml"
    cfg.write_text(yaml.safe_dump(hp))
    run = train(
        TrainOptions("cartpole", seed=0, timesteps=1536, config_file=str(cfg), out=tmp_path / "run", progress=None)
    )
    rows = _rows(run / "diagnostics.csv")
    assert len(rows) == 3
    assert all(float(r["approx_kl"]) > 0 for r in rows)  # TRPO's train/kl_divergence_loss
    assert all(r["entropy"] == "" for r in rows)
    assert not (run / "epochs.csv").exists()
    from sb3_contrib import TRPO

    assert isinstance(TRPO.load(run / "final" / "model.zip"), TRPO)


def test_without_target_kl_every_update_runs_all_epochs(tmp_path):
    run = train(
        TrainOptions("cartpole", seed=0, timesteps=1024, overrides=["n_epochs=3"], out=tmp_path / "run", progress=None)
    )
    rows = _rows(run / "epochs.csv")
    # 8 envs x 32 steps = 256 samples, batch 256: one minibatch per epoch
    assert [(r["epochs"], r["grad_steps"], r["planned_grad_steps"], r["kl_early_stop"]) for r in rows] == [
        ("3", "3", "3", "0")
    ] * 4


def test_early_stops_match_sb3s_own_messages(capsys):
    """Count SB3's "Early stopping at step" lines (verbose=1) and compare with the callback's record."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=4, seed=0)
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=64,
        batch_size=64,
        n_epochs=4,
        learning_rate=3e-3,
        target_kl=0.004,
        seed=0,
        verbose=1,
        device="cpu",
    )
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        cb = EpochsCallback(Path(d) / "epochs.csv")
        model.learn(256 * 12, callback=cb)
        rows = _rows(Path(d) / "epochs.csv")
    out = capsys.readouterr().out
    stops = [line for line in out.splitlines() if line.startswith("Early stopping at step")]
    assert len(rows) == 12
    fired = [r for r in rows if r["kl_early_stop"] == "1"]
    assert 0 < len(fired) < 12, "pick a target_kl that fires sometimes"
    assert len(fired) == len(stops)
    # SB3 prints the epoch it stopped in (0-based); the callback counts epochs begun
    assert sorted(int(s.split()[4]) + 1 for s in stops) == sorted(int(r["epochs"]) for r in fired)
