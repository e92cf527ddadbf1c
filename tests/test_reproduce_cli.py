"""`playground reproduce` as a user meets it: killed with SIGKILL mid-matrix, the same command resumes
(finished runs are kept, a half-done run continues from its checkpoint) and completes; clear messages."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow  # reproductions through the CLI in subprocesses

STEPS = 16384  # 64 updates of 8 x 32 steps: a few seconds per run


def _rows(path):
    return path.read_text().splitlines()[1:]


def test_killed_reproduction_resumes(tmp_path):
    bundle = tmp_path / "cartpole"
    shutil.copytree(ROOT / "models" / "cartpole", bundle)
    reports = bundle / "evidence" / "reproductions"
    shipped_reports = set(reports.glob("*"))  # the shipped bundle carries its own reports
    work = tmp_path / "work"
    args = [
        "reproduce",
        str(bundle),
        "--seeds",
        "11,12",
        "--timesteps",
        str(STEPS),
        "--episodes",
        "5",
        "--out",
        str(work),
        "--jobs",
        "1",
        "--checkpoint-every",
        "8",
        "--checkpoint-seconds",
        "1e9",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "playground", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    first, second = work / "shipped" / "seed11", work / "shipped" / "seed12"
    deadline = time.time() + 300
    while time.time() < deadline:  # kill during seed 12, after a checkpoint and more rows
        latest = second / "checkpoints" / "latest"
        if (first / "final-eval.json").exists() and latest.exists() and len(_rows(second / "diagnostics.csv")) >= 20:
            break
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads((second / "run.json").read_text())["status"] == "running"
    ckpt = json.loads(
        (second / "checkpoints" / (second / "checkpoints" / "latest").read_text() / "state.json").read_text()
    )
    first_run = (first / "diagnostics.csv").read_text()
    assert set(reports.glob("*")) == shipped_reports, "no report from a killed reproduction"

    done = run_cli(*args, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "shipped/seed11: already done" in done.stdout and "shipped/seed12: resumed" in done.stdout
    assert (first / "diagnostics.csv").read_text() == first_run, "a finished run is not re-run"
    run = json.loads((second / "run.json").read_text())
    assert run["status"] == "done" and [s["from_timesteps"] for s in run["segments"]] == [0, ckpt["timesteps"]]
    steps = [int(r.split(",")[0]) for r in _rows(second / "diagnostics.csv")]
    assert steps == list(range(256, STEPS + 1, 256)), "gap or duplicate rows after the resume"
    (report_dir,) = set(reports.glob("*-reproduction")) - shipped_reports
    report = json.loads((report_dir / "report.json").read_text())
    assert [s["trained"] for s in report["variants"][0]["seeds"]] == ["already done", "resumed"]
    assert report["verdict"] == "not comparable"  # a 16k-step budget is not the published 100k
    assert run_cli("verify", bundle).returncode == 0


def test_reproduce_messages(tmp_path):
    bad = run_cli("reproduce", "pacman")
    assert bad.returncode == 2 and "unknown game 'pacman'" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli("reproduce", "cartpole", "--seeds", "1,x")
    assert bad.returncode == 2 and "comma-separated integers" in bad.stderr
    bad = run_cli("ablate", "no-such")
    assert bad.returncode == 2 and "unknown ablation 'no-such'; known: clip-off, target-kl, ppo-vs-trpo" in bad.stderr
    listing = run_cli("ablate", "--list")
    assert listing.returncode == 0 and "ppo-vs-trpo" in listing.stdout
    help_ = run_cli("--help")
    assert "reproduce" in help_.stdout and "ablate" in help_.stdout
