"""The duel evidence's arithmetic and its table (the games themselves: test_pong_duel.py)."""

import json
import math

import pytest

from agents.evaluation.evaluate import summarise
from agents.play.duel_evidence import mean_ci, table, wilson


def test_wilson_interval():
    lo, hi = wilson(15, 30)
    assert lo == pytest.approx(0.3313, abs=1e-3) and hi == pytest.approx(0.6687, abs=1e-3)
    assert wilson(30, 30)[1] == 1.0 and wilson(30, 30)[0] == pytest.approx(0.8865, abs=1e-3)
    assert wilson(0, 30)[0] == 0.0
    assert all(math.isnan(x) for x in wilson(0, 0))


def test_the_table_reads_the_files_and_names_the_missing_ones(tmp_path):
    opponent = {
        "games": 2,
        "agent_wins": 1,
        "agent_win_ci95": list(wilson(1, 2)),
        "points_for": summarise([21, 10]),
        "points_against": summarise([8, 21]),
    }
    (tmp_path / "pong_duel_random.json").write_text(json.dumps({"opponents": {"random": opponent}}))
    rows = table(tmp_path).splitlines()
    assert rows[2].startswith("| random | 2 | 1 (9%–91%) | 15.5 [") and "| 14.5 [" in rows[2]
    assert rows[3] == "| tracker-200ms | not run | | | |"


def test_part_files_merge_into_one_opponent_file(tmp_path):
    from agents.play.duel_evidence import merge, opponent

    def row(seed, agent, other):
        return {"seed": seed, "agent": agent, "opponent": other, "frames": 5000, "done": True}

    for i, rows in enumerate([[row(0, 21, 3), row(2, 5, 21)], [row(1, 21, 20)]]):
        piece = {
            "command": f"part {i}",
            "code": {"commit": "c"},
            "finished": f"2026-11-23T05:0{i}",
            "opponents": {"random": opponent({"class": "RandomPaddle"}, rows, 10.0 + i)},
        }
        (tmp_path / f"pong_duel_random.part{i}of2.json").write_text(json.dumps(piece))
    merged = merge(tmp_path, "random", 2)
    o = merged["opponents"]["random"]
    assert o["games"] == 3 and o["agent_wins"] == 2 and [m["seed"] for m in o["matches"]] == [0, 1, 2]
    assert o["points_for"]["mean"] == pytest.approx(47 / 3) and merged["command"] == ["part 0", "part 1"]
    assert not list(tmp_path.glob("*.part*"))
    with pytest.raises(SystemExit, match="missing pong_duel_random.part0of2.json"):
        merge(tmp_path, "random", 2)


def test_mean_ci_is_the_mean_and_interval_to_one_decimal():
    assert mean_ci({"mean": 20.66, "ci95": [20.31, 21.0]}) == "20.7 [20.3, 21.0]"
    assert mean_ci(summarise([3, 3, 3])) == "3.0 [3.0, 3.0]"
