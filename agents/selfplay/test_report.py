"""The evidence table names each run's training mix (seeds trained with different opponent mixes sit in one table)."""

from __future__ import annotations

from agents.selfplay.report import markdown


def _row(opponent: str, seat: int, wins: int) -> dict:
    return {
        "opponent": opponent,
        "seat": seat,
        "seat_name": f"player_{seat}",
        "games": 100,
        "wins": wins,
        "draws": 0,
        "losses": 100 - wins,
        "wins_ci95": [0.5, 0.6],
        "non_losses_ci95": [0.5, 0.6],
        "bar": 0.99,
        "bar_met": wins >= 99,
    }


def test_the_table_gives_each_runs_mix():
    old = {"training": {"seed": 4, "timesteps": 10, "minutes": 1.0}, "results": [_row("random", 0, 99)]}
    new = {
        "training": {"seed": 6, "timesteps": 10, "minutes": 1.0, "anchor_share": 0.5, "one_ply_share": 0.8},
        "results": [_row("random", 1, 96)],
    }
    lines = markdown([old, new], 100).splitlines()
    assert any(line.startswith("| seed 4 | 15 / 15 % |") for line in lines)  # seeds 1-5: 0.3 split evenly
    assert any(line.startswith("| seed 6 | 10 / 40 % |") and "**no**" in line for line in lines)
