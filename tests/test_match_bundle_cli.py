"""`playground bundle connect-four RUN_DIR` and `playground verify` on two-player bundles, in a subprocess as a
user runs them: the exit codes, the progress lines, one error line for each wrong use or tampered file."""

import json

import pytest

from agents.bundle.test_match import run_folder_from
from agents.common.files import sha256_file
from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow  # each command is a fresh Python process (about 2 s)


def _clean_error(proc, code=1):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc.stderr


def test_bundle_then_verify_then_tamper(tmp_path):
    run = run_folder_from(ROOT / "models" / "connect-four", tmp_path / "run")
    out = tmp_path / "c4"
    proc = run_cli("bundle", "connect-four", run, "--out", out, "--games", 4, "--replays", 1)
    assert proc.returncode == 0, proc.stderr
    assert "connect-four: evaluation vs random, one-ply, negamax-4" in proc.stdout and "24/24 games" in proc.stdout
    assert f"bundle written: {out}" in proc.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["commands"]["bundle"].startswith("playground bundle connect-four")
        and "--games 4" in (manifest["commands"]["bundle"])
    )

    proc = run_cli("verify", out)
    assert proc.returncode == 0 and "verify passed" in proc.stdout, proc.stdout + proc.stderr
    assert "[ok] replay negamax-4-player_1-0 re-simulates" in proc.stdout

    # a replay with a changed move whose checksum is updated too: only re-simulating catches it
    rel = "replays/random-player_1-0.json"
    record = json.loads((out / rel).read_text())
    record["moves"][-1] = (record["moves"][-1] + 1) % 7
    (out / rel).write_text(json.dumps(record))
    proc = run_cli("verify", out)
    assert "[FAIL] sha256 replays/random-player_1-0.json" in proc.stdout
    assert "verify FAILED" in _clean_error(proc)
    manifest["files"][rel] = sha256_file(out / rel)
    (out / "manifest.json").write_text(json.dumps(manifest))
    proc = run_cli("verify", out)
    assert "[FAIL] replay random-player_1-0 re-simulates" in proc.stdout
    assert "verify FAILED: 1 of" in _clean_error(proc)


def test_wrong_uses_get_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    err = _clean_error(run_cli("bundle", "connect-four", run, "--games", 3, "--out", tmp_path / "b"))
    assert "is not a finished self-play run: no final/agent.json" in err
    err = _clean_error(run_cli("bundle", "connect-four", run, run, "--out", tmp_path / "b"))
    assert "one self-play run folder; got 2" in err
    err = _clean_error(run_cli("bundle", "pong-duel", run, "--out", tmp_path / "b"))
    assert "is neither a single-player Pong bundle nor a finished fine-tuning run's final/ folder" in err
    err = _clean_error(run_cli("bundle", "pong-duel", run, run, "--out", tmp_path / "b"))
    assert "built from one source (models/pong or a fine-tuning run's final/); got 2" in err
    err = _clean_error(run_cli("bundle", "connect-four", run, "--max-frames", 10, "--out", tmp_path / "b"))
    assert "--evidence and --max-frames are for pong-duel" in err
    err = _clean_error(run_cli("bundle", "cartpole", run, "--games", 3, "--out", tmp_path / "b"))
    assert "--games is for two-player games" in err
    err = _clean_error(run_cli("evaluate", ROOT / "models" / "connect-four"))
    assert "is a two-player bundle" in err
    assert not (tmp_path / "b").exists()


def test_verify_the_shipped_bundle_by_its_slug():
    proc = run_cli("verify", "connect-four")
    assert proc.returncode == 0 and "verify passed" in proc.stdout, proc.stdout + proc.stderr


def test_pong_duel_bundle_then_verify_then_tamper(tmp_path):
    out = tmp_path / "pong-duel"
    proc = run_cli("bundle", "pong-duel", ROOT / "models" / "pong", "--games", 1, "--max-frames", 120, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert (
        "pong-duel: matches vs random, tracker-200ms, perfect-tracker" in proc.stdout and "3/3 matches" in proc.stdout
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert "--max-frames 120" in manifest["commands"]["bundle"] and manifest["seats"] == ["first_0", "second_0"]
    proc = run_cli("verify", out)
    assert proc.returncode == 0 and "[ok] replay perfect-tracker-first_0-0 re-simulates" in proc.stdout, proc.stdout

    # one agent action changed and the checksum updated: only re-simulating the match catches it
    rel = "replays/random-first_0-0.json"
    record = json.loads((out / rel).read_text())
    first, _, rest = record["agent_actions"].partition(" ")
    action, count = first.split("*")
    record["agent_actions"] = " ".join([f"{(int(action) + 1) % 6}*{count}", rest]).strip()
    (out / rel).write_text(json.dumps(record))
    manifest["files"][rel] = sha256_file(out / rel)
    (out / "manifest.json").write_text(json.dumps(manifest))
    proc = run_cli("verify", out)
    assert "[FAIL] replay random-first_0-0 re-simulates: frame 1: the agent plays" in proc.stdout
    assert "verify FAILED: 1 of" in _clean_error(proc)
