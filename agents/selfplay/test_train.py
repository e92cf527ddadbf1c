"""A tiny self-play run end to end: the run folder, the gates (at least 100 games each), the pool, the final
agent; then the evaluation report and the cross-play matrix on it."""

import json

import numpy as np
import pytest

from agents.selfplay import crossplay, report
from agents.selfplay.agent import ConnectFourAgent
from agents.selfplay.bots import NegamaxBot, OnePlyBot, RandomBot
from agents.selfplay.env import OpponentPool
from agents.selfplay.train import SelfPlayOptions, run_gate, train_selfplay

pytestmark = pytest.mark.slow


def test_a_tiny_run_writes_its_folder_gates_and_agent(tmp_path):
    run = tmp_path / "seed5"
    opts = SelfPlayOptions(
        seed=5, out=run, minutes=2, max_timesteps=4096, n_envs=4, n_steps=128, gate_every=1024, gate_games=100
    )
    train_selfplay(opts)
    for name in ("config.json", "diagnostics.csv", "gates.jsonl", "run.json", "final/agent.json", "final/model.zip"):
        assert (run / name).is_file(), name
    gates = [json.loads(line) for line in (run / "gates.jsonl").read_text().splitlines()]
    assert len(gates) >= 3
    for g in gates:
        assert g["games"] >= 100 and g["wins"] + g["draws"] + g["losses"] == g["games"]
        assert g["passed"] == (g["score"] >= 0.55)
        assert sum(sum(v.values()) for v in g["vs"].values()) == g["games"]
    joined = [g["joined_as"] for g in gates if g["passed"]]
    assert sorted(p.stem for p in (run / "pool").glob("*.json")) == joined
    summary = json.loads((run / "run.json").read_text())
    assert summary["timesteps"] >= 4096 and summary["gates"] == len(gates)
    rows = (run / "diagnostics.csv").read_text().splitlines()
    assert rows[0].startswith("timesteps,iteration,wall_time,fps,ep_rew_mean") and len(rows) >= 5
    assert ConnectFourAgent.load(run / "final" / "agent.json").meta["seed"] == 5
    with pytest.raises(FileExistsError, match="already holds a finished run"):
        train_selfplay(opts)

    out = tmp_path / "evidence"
    assert report.main([str(run), "--out", str(out), "--games", "20", "--opponents", "random,one-ply"]) == 0
    ev = json.loads((out / "evaluation.json").read_text())["evaluations"][0]
    assert [(r["opponent"], r["seat_name"]) for r in ev["results"]] == [
        ("random", "player_0"),
        ("random", "player_1"),
        ("one-ply", "player_0"),
        ("one-ply", "player_1"),
    ]
    assert all(r["games"] == 20 and r["bar"] is not None for r in ev["results"])
    # the same command gives the same numbers (seeded games, deterministic agent)
    report.main([str(run), "--out", str(tmp_path / "again"), "--games", "20", "--opponents", "random,one-ply"])
    assert (
        json.loads((tmp_path / "again" / "evaluation.json").read_text())["evaluations"][0]["results"] == ev["results"]
    )

    doc = tmp_path / "doc.md"
    doc.write_text(f"intro\n{report.BEGIN}\nold\n{report.END}\nmiddle\n{crossplay.BEGIN}\nold\n{report.END}\nend\n")
    report.main(["--merge", str(out), "--out", str(out), "--update", str(doc)])
    args = [str(run), "--out", str(out), "--openings", "2", "--bots", "random,one-ply", "--update", str(doc)]
    assert crossplay.main(args) == 0
    text = doc.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n") and "middle" in text
    assert (
        "| seed 5 | 15 / 15 % | 4,096" in text.split(crossplay.BEGIN)[0]
        and "OpenSkill" in text.split(crossplay.BEGIN)[1]
    )
    cp = json.loads((out / "crossplay.json").read_text())
    n = len(cp["players"])
    assert cp["players"][0] == "seed5/final" and {"random", "one-ply"} <= set(cp["players"])
    assert len(cp["games"]) == n * (n - 1) // 2 * 2 * 2
    assert {r["player"] for r in cp["ratings"]} == set(cp["players"])


def test_a_gate_admits_a_candidate_that_beats_the_pool_and_refuses_one_that_does_not():
    rng = np.random.default_rng(0)
    pool = OpponentPool(anchors=[RandomBot(), OnePlyBot()])
    strong = run_gate(NegamaxBot(3), pool, 100, 0.55, rng)
    assert strong["passed"] and strong["games"] == 100 and strong["score"] >= 0.55
    assert set(strong["vs"]) == {"random", "one-ply"}
    assert all(sum(v.values()) == 50 for v in strong["vs"].values())
    weak = run_gate(RandomBot(), pool, 100, 0.55, rng)
    assert not weak["passed"] and weak["score"] < 0.55
