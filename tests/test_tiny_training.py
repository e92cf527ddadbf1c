"""A tiny real training run of every game through the CLI entry point: it finishes and writes its records.

Each run is a few PPO updates (the per-update batch ``n_envs * n_steps`` is shrunk with ``--set``
where the game's config is big), so the whole file takes well under a minute on two busy cores.
"""

import csv
import json
import math

import pytest
from gymnasium import spaces

from agents.training.callbacks import DIAGNOSTIC_COLUMNS, EVAL_COLUMNS
from envs import GAMES, make_env
from playground.cli import main

ATARI_SET = ["n_envs=2", "n_steps=64", "batch_size=64"]
# One torch thread for the CNN: with the default two on a 2-core machine whose other core is busy, OpenMP
# threads wait on each other and a tiny Atari run takes minutes instead of seconds.
ATARI_EXTRA = ["--threads", "1"]

# slug -> (timesteps, --set overrides, steps per PPO update with those overrides)
RUNS = {
    "cartpole": (2048, [], 8 * 32),
    "acrobot": (3072, ["n_steps=64"], 16 * 64),
    "pendulum": (3072, ["n_steps=256", "n_epochs=2"], 4 * 256),
    "lunarlander": (3072, ["n_steps=64"], 16 * 64),
    "lunarlander-continuous": (3072, ["n_steps=64"], 16 * 64),
    "bipedalwalker": (3072, ["n_steps=32", "n_epochs=2"], 32 * 32),
    "pong": (256, ATARI_SET, 2 * 64),
    "breakout": (256, ATARI_SET, 2 * 64),
}


def test_every_game_has_a_tiny_run():
    assert set(RUNS) == set(GAMES)


def _rows(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def _continuous(spec):
    env = make_env(spec, "eval")
    try:
        return isinstance(env.action_space, spaces.Box)
    finally:
        env.close()


@pytest.mark.slow
@pytest.mark.parametrize("slug", list(RUNS))
def test_tiny_training_run(slug, tmp_path, capsys):
    spec = GAMES[slug]
    timesteps, overrides, per_update = RUNS[slug]
    out = tmp_path / slug
    argv = ["train", slug, "--seed", "0", "--timesteps", str(timesteps), "--out", str(out), "--quiet"]
    for item in overrides:
        argv += ["--set", item]
    if spec.is_atari:
        argv += ATARI_EXTRA

    assert main(argv) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == f"run complete: {out}"
    assert "Traceback" not in printed.err

    updates = math.ceil(timesteps / per_update)
    total = updates * per_update

    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "done"
    assert run["game"] == slug and run["seed"] == 0 and run["env_id"] == spec.env_id
    assert run["timesteps"] == total
    assert run["hyperparams"]["n_timesteps"] == timesteps
    for item in overrides:
        key, value = item.split("=")
        assert str(run["hyperparams"][key]) == value
    assert run["overrides"] == overrides
    assert run["commands"] == ["playground " + " ".join(argv)]
    assert len(run["segments"]) == 1 and run["segments"][0]["to_timesteps"] == total
    assert (out / "final" / "model.zip").stat().st_size > 0
    normalize = json.loads((out / "final" / "normalize.json").read_text())
    assert (normalize is not None) == spec.normalize

    header, diag = _rows(out / "diagnostics.csv")
    assert header == DIAGNOSTIC_COLUMNS
    assert len(diag) == updates, "one row per PPO update"
    assert [int(r["timesteps"]) for r in diag] == [per_update * (k + 1) for k in range(updates)]
    assert [int(r["iteration"]) for r in diag] == list(range(1, updates + 1))
    continuous = _continuous(spec)
    for r in diag:
        assert float(r["entropy"]) > 0, r
        for col in (
            "approx_kl",
            "clip_fraction",
            "clip_range",
            "explained_variance",
            "policy_gradient_loss",
            "value_loss",
            "loss",
            "learning_rate",
        ):
            assert r[col] != "" and math.isfinite(float(r[col])), (col, r)
        assert float(r["approx_kl"]) >= 0 and 0 <= float(r["clip_fraction"]) <= 1
        # lin_ schedules reach 0 at the end of the run, so the last update may train with 0
        assert float(r["learning_rate"]) >= 0 and float(r["clip_range"]) >= 0
        assert float(r["wall_time"]) > 0 and int(r["fps"]) > 0
        if continuous:
            assert r["action_std"] != "" and float(r["action_std"]) > 0, r
        else:
            assert r["action_std"] == "", "discrete policies have no action std"
    assert float(diag[0]["learning_rate"]) > 0 and float(diag[0]["clip_range"]) > 0

    header, evals = _rows(out / "eval.csv")
    assert header == EVAL_COLUMNS
    assert len(evals) >= 1
    assert int(evals[-1]["timesteps"]) == total, "the run ends with an evaluation"
    n = spec.eval.during_training_episodes
    base = spec.eval.during_training_seed_base
    for e in evals:
        returns = [float(x) for x in e["returns"].split()]
        lengths = [int(x) for x in e["lengths"].split()]
        assert int(e["episodes"]) == n == len(returns) == len(lengths)
        assert e["seeds"] == f"{base}-{base + n - 1}"
        assert float(e["mean"]) == pytest.approx(sum(returns) / n)
        assert float(e["min"]) == min(returns) and float(e["max"]) == max(returns)
        assert all(length > 0 for length in lengths)
