"""The README's head-to-head figures are the evidence files' (a claim that drifts from its evidence fails here)."""

from __future__ import annotations

import json

from agents.common.settings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def test_connect_four_figures_are_the_shipped_agents_evaluation():
    from agents.bundle.match import MatchBundle

    bundle = MatchBundle.open(REPO_ROOT / "models" / "connect-four")
    seed = bundle.manifest.training["seed"]
    rate = {(r.opponent, r.seat): 100 * r.win_rate for r in bundle.evaluation().rows}
    config = json.loads((REPO_ROOT / "models" / "connect-four" / "evidence" / "config.json").read_text())
    share, one_ply = config["anchor_share"], config["one_ply_share"]
    assert f"self-play seed {seed} of seven" in README
    assert f"{100 * share * one_ply:.0f} % of its\ngames against the one-ply bot" in README
    assert f"{100 * share * (1 - one_ply):.0f} % against random play" in README
    met, barred = bundle.evaluation().bars()
    assert f"meets {met} of its {barred} bars" in README
    assert ("**below the bar**" in README.split("The shipped\nConnect Four agent")[1][:400]) == (met < barred)
    assert f"one-ply bot {rate['one-ply', 0]:.1f} % of the time moving first and {rate['one-ply', 1]:.1f} % moving" in (
        README.replace("\n", " ")
    )
    assert f"random play {rate['random', 0]:.1f} % moving first but only {rate['random', 1]:.1f} % moving second" in (
        README.replace("\n", " ")
    )
    assert f"negamax depth 4 it wins {rate['negamax-4', 0]:.1f} %" in README.replace("\n", " ")


def test_pong_duel_figures_are_the_evidence_files():
    evidence = REPO_ROOT / "agents" / "play" / "evidence"
    wins = {}
    for name in ("random", "tracker-200ms", "perfect-tracker"):
        o = json.loads((evidence / f"pong_duel_{name}.json").read_text())["opponents"][name]
        wins[name] = (o["agent_wins"], o["games"])
    assert "beats a random paddle {} of {} matches".format(*wins["random"]) in README
    assert (
        "({} of {} against a 200 ms tracker, {} of {} against a perfect one".format(
            *wins["tracker-200ms"], *wins["perfect-tracker"]
        )
        in README
    )


def test_pong_duel_figures_are_the_shipped_bundle_s_too():
    from agents.bundle.match import MatchBundle

    ev = MatchBundle.open(REPO_ROOT / "models" / "pong-duel").evaluation()
    row = {r.opponent: r for r in ev.rows}
    assert "beats a random paddle {} of {} matches".format(row["random"].wins, row["random"].games) in README
    t, p = row["tracker-200ms"], row["perfect-tracker"]
    assert f"({t.wins} of {t.games} against a 200 ms tracker, {p.wins} of {p.games} against a perfect one" in README
    assert ("**below the bar**" in README.split("Two-player Pong")[1][:900]) == (ev.bars()[0] < ev.bars()[1])
