"""A run killed before its first checkpoint restarts cleanly with --resume; a full disk (a real one: a small tmpfs)
is one line naming the folder and leaves the last checkpoint as it was."""

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from agents.training.train import _save_checkpoint
from envs import PlaygroundError
from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow  # each test trains CartPole in a subprocess (or builds a PPO model)

STEPS_PER_UPDATE, TOTAL = 8 * 32, 24 * 8 * 32  # CartPole's config: 8 envs x 32 steps


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_run_killed_before_its_first_checkpoint_starts_over_with_resume(tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "playground",
        "train",
        "cartpole",
        "--seed",
        "3",
        "--timesteps",
        str(TOTAL),
        "--out",
        str(out),
        "--checkpoint-seconds",
        "1e9",
        "--quiet",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline:  # killed a few updates in, long before any checkpoint is due
        diag = out / "diagnostics.csv"
        if diag.exists() and len(diag.read_text().splitlines()) >= 4:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "checkpoints" / "latest").exists()
    killed_rows = len(_rows(out / "diagnostics.csv"))
    assert 3 <= killed_rows < TOTAL // STEPS_PER_UPDATE
    stray = out / "checkpoints" / ".tmp-768"  # what a kill during the first checkpoint's write leaves
    stray.mkdir(parents=True)
    (stray / "model.zip").write_bytes(b"PK\x03\x04 cut short")

    done = run_cli("train", "cartpole", "--seed", 3, "--out", out, "--resume", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "done" and run["timesteps"] == TOTAL
    assert [s["from_timesteps"] for s in run["segments"]] == [0, 0]  # the killed one, and the fresh start
    assert run["commands"][-1].endswith("--resume --quiet")
    rows = _rows(out / "diagnostics.csv")
    assert [int(r["timesteps"]) for r in rows] == list(range(STEPS_PER_UPDATE, TOTAL + 1, STEPS_PER_UPDATE)), (
        "the killed attempt's rows must be gone, not continued"
    )
    assert [int(r["iteration"]) for r in rows] == list(range(1, len(rows) + 1))
    walls = [float(r["wall_time"]) for r in rows]
    assert walls == sorted(walls) and walls[0] < 60
    evals = [int(r["timesteps"]) for r in _rows(out / "eval.csv")]
    assert evals == sorted(set(evals)) and evals[-1] == TOTAL
    assert not stray.exists()
    assert (out / "final" / "model.zip").exists()


@dataclass
class Disk:
    path: Path
    """the mount point"""

    def resize(self, size: str) -> None:
        """Set the filesystem's size; growing it frees space the way an operator would (tmpfs remounts in place)."""
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    """A real filesystem that fills up: a tmpfs of 240 KiB, room for one CartPole checkpoint (a 137 KB model.zip
    with Adam's state) and a run's small files but not for two checkpoints at once; mounted under tmp_path and
    unmounted after the test."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("the full-disk tests mount a small tmpfs, which needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=240k,mode=0755", "tmpfs", str(where)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield Disk(where)
    finally:  # lazily if a file is still open there (SB3 leaves the zip it failed to write to the GC)
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)


def test_a_full_disk_mid_checkpoint_keeps_the_last_one(small_disk):
    """_save_checkpoint on a tmpfs: the first fits, the second runs out of space part-way through model.zip."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    run_dir = small_disk.path / "run"
    run_dir.mkdir()
    model = PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_steps=32, n_epochs=1, seed=0, device="cpu")
    model.learn(64)  # one update
    _save_checkpoint(run_dir, model, {"wall_time": 1.0, "eval_next_at": 5000})
    ckdir = run_dir / "checkpoints"
    first = ckdir / "ckpt-000000000064"
    before = _digests(first)
    model.learn(64, reset_num_timesteps=False)
    with pytest.raises(PlaygroundError) as err:
        _save_checkpoint(run_dir, model, {"wall_time": 2.0, "eval_next_at": 5000})
    message = str(err.value)
    assert "\n" not in message and str(run_dir) in message and "no space left" in message, message
    assert f"its last checkpoint, {first}, is intact" in message
    assert sorted(p.name for p in ckdir.iterdir()) == [first.name, "latest"]  # nothing half-written left
    assert (ckdir / "latest").read_text() == first.name and _digests(first) == before
    assert PPO.load(first / "model.zip", device="cpu").num_timesteps == 64

    small_disk.resize("4m")  # space freed: the next checkpoint goes through and replaces the old one
    _save_checkpoint(run_dir, model, {"wall_time": 2.0, "eval_next_at": 5000})
    assert sorted(p.name for p in ckdir.iterdir()) == ["ckpt-000000000128", "latest"]


def test_a_run_that_fills_its_disk_stops_with_one_line_and_resumes(small_disk):
    """The CLI end to end: a checkpoint every update on a disk with room for one; one error line naming the run,
    exit status 1, the last checkpoint loadable; more space, and --resume finishes the run from it."""
    out = small_disk.path / "run"
    failed = run_cli(
        "train",
        "cartpole",
        "--seed",
        4,
        "--timesteps",
        8 * STEPS_PER_UPDATE,
        "--out",
        out,
        "--checkpoint-every",
        1,
        "--checkpoint-seconds",
        "1e9",
        "--quiet",
    )
    assert failed.returncode == 1, failed.stderr
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: no space left on the device holding {out}"), lines
    latest = out / "checkpoints" / "latest"
    assert latest.exists(), "the first checkpoint fits on the disk"
    ckpt = out / "checkpoints" / latest.read_text()
    assert sorted(p.name for p in ckpt.iterdir()) == ["model.zip", "state.json"]
    assert f"its last checkpoint, {ckpt}, is intact" in lines[0]
    saved = json.loads((ckpt / "state.json").read_text())["timesteps"]

    small_disk.resize("8m")
    done = run_cli("train", "cartpole", "--seed", 4, "--out", out, "--resume", "--quiet")
    assert done.returncode == 0, done.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "done" and run["segments"][-1]["from_timesteps"] == saved
    steps = [int(r["timesteps"]) for r in _rows(out / "diagnostics.csv")]
    assert steps == list(range(STEPS_PER_UPDATE, 8 * STEPS_PER_UPDATE + 1, STEPS_PER_UPDATE))
