"""A training run killed with SIGKILL continues from its last checkpoint with --resume, losing nothing."""

import csv
import json
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow  # trains in a subprocess and kills it

# acrobot: VecNormalize is on, so its statistics must survive the kill too
GAME, SEED, STEPS_PER_UPDATE, TOTAL = "acrobot", 7, 16 * 64, 24 * 16 * 64


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_resume_after_sigkill(tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "playground",
        "train",
        GAME,
        "--seed",
        str(SEED),
        "--timesteps",
        str(TOTAL),
        "--set",
        "n_steps=64",
        "--out",
        str(out),
        "--checkpoint-every",
        "4",
        "--checkpoint-seconds",
        "1e9",
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    # kill it mid-run: after a checkpoint, with more rows written since (those must not be duplicated)
    while time.time() < deadline:
        latest = out / "checkpoints" / "latest"
        diag = out / "diagnostics.csv"
        if latest.exists() and diag.exists() and len(diag.read_text().splitlines()) >= 11:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ckpt = json.loads((out / "checkpoints" / (out / "checkpoints" / "latest").read_text() / "state.json").read_text())
    rows_before = _rows(out / "diagnostics.csv")
    assert len(rows_before) > ckpt["iteration"], "the kill should land after rows the checkpoint has not seen"
    assert json.loads((out / "run.json").read_text())["status"] == "running"

    done = run_cli("train", GAME, "--seed", SEED, "--out", out, "--resume", "--quiet")
    assert done.returncode == 0, done.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "done" and len(run["segments"]) == 2
    assert run["segments"][1]["from_timesteps"] == ckpt["timesteps"]
    assert run["commands"][-1].endswith("--resume --quiet")

    rows = _rows(out / "diagnostics.csv")
    steps = [int(r["timesteps"]) for r in rows]
    assert steps == list(range(STEPS_PER_UPDATE, TOTAL + 1, STEPS_PER_UPDATE)), "gap or duplicate rows"
    assert [int(r["iteration"]) for r in rows] == list(range(1, len(rows) + 1))
    # rows up to the checkpoint are the killed segment's own, byte for byte
    assert rows[: ckpt["iteration"]] == rows_before[: ckpt["iteration"]]
    walls = [float(r["wall_time"]) for r in rows]
    assert walls == sorted(walls), "wall time continues across the resume"
    # the episode-stat window was restored, so the first resumed row is not empty
    assert rows[ckpt["iteration"]]["ep_rew_mean"] != ""
    # VecNormalize statistics continued: they saw every step of both segments (plus resets)
    norm = json.loads((out / "final" / "normalize.json").read_text())
    assert norm["obs_count"] >= TOTAL
    ev = [int(r["timesteps"]) for r in _rows(out / "eval.csv")]
    assert ev == sorted(set(ev)) and ev[-1] == TOTAL


def test_resume_refuses_finished_and_missing_runs(tmp_path):
    missing = run_cli("train", "cartpole", "--seed", 1, "--out", tmp_path / "nothing", "--resume")
    assert missing.returncode == 1
    assert "nothing to resume" in missing.stderr and "Traceback" not in missing.stderr

    out = tmp_path / "done"
    assert run_cli("train", "cartpole", "--seed", 1, "--timesteps", 512, "--out", out, "--quiet").returncode == 0
    again = run_cli("train", "cartpole", "--seed", 1, "--out", out, "--resume")
    assert again.returncode == 1 and "already complete" in again.stderr
    clash = run_cli("train", "cartpole", "--seed", 1, "--out", out)
    assert clash.returncode == 1 and "already holds a run" in clash.stderr
    other_seed = run_cli("train", "cartpole", "--seed", 2, "--out", out, "--resume")
    assert other_seed.returncode == 1 and "Traceback" not in other_seed.stderr
