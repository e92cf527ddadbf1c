"""Two-player bundles: built from a self-play run, verified, and every kind of tampering caught with one line.

The run folder is made from the shipped Connect Four bundle's own files (its policy and its training
evidence are what a ``playground selfplay`` run leaves), so these tests build a real bundle in a second,
with a few games per seat instead of 1,000.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from agents.bundle import Bundle
from agents.bundle.bundle import MATCH_MANIFEST
from agents.bundle.match import MatchBundle, is_match_bundle
from agents.bundle.match_build import MatchBundleOptions, build_match_bundle
from agents.common.errors import BundleError
from agents.common.files import sha256_file
from agents.common.settings import REPO_ROOT, models_dir
from agents.selfplay.board import Board
from agents.selfplay.bots import definition
from agents.selfplay.report import OPPONENTS, evaluate_agent

SHIPPED = models_dir() / "connect-four"
GAMES = 6


def run_folder_from(bundle_dir, run):
    """A finished self-play run's folder from a two-player bundle's files (policy in final/, evidence at the top)."""
    (run / "final").mkdir(parents=True)
    for name in ("agent.json", "agent.safetensors"):
        shutil.copy(bundle_dir / name, run / "final" / name)
    for name in ("config.json", "run.json", "diagnostics.csv", "gates.jsonl"):
        shutil.copy(bundle_dir / "evidence" / name, run / name)
    return run


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("match")
    run = run_folder_from(SHIPPED, root / "run")
    out = build_match_bundle(MatchBundleOptions("connect-four", run, out=root / "bundle", games=GAMES, replays=1))
    return out


@pytest.fixture
def copy(built, tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(built, out)
    return out


def rehash(folder, rel):
    """Update the manifest's sha256 of ``rel``: the tampering a checksum alone does not catch."""
    manifest = json.loads((folder / MATCH_MANIFEST).read_text())
    manifest["files"][rel] = sha256_file(folder / rel)
    (folder / MATCH_MANIFEST).write_text(json.dumps(manifest))


def edit_json(folder, rel, change):
    data = json.loads((folder / rel).read_text())
    change(data)
    (folder / rel).write_text(json.dumps(data))
    rehash(folder, rel)


def failed(folder):
    return [c for c in MatchBundle.open(folder, check=False).verify() if not c.ok]


def test_a_built_bundle_verifies_and_holds_what_the_brief_lists(built):
    b = MatchBundle.open(built)
    checks = b.verify()
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = [c.name for c in checks]
    for name in ("evaluation.json consistent", "opponents are this code's", "training evidence"):
        assert name in names
    assert sum(n.endswith("re-simulates") for n in names) == len(OPPONENTS) * 2  # one replay per opponent and seat
    m = b.manifest
    assert m.game == "connect-four" and m.seats == ("player_0", "player_1") and m.kind == "two-player"
    assert m.opponents == [definition(o) for o in OPPONENTS] and m.opponents[2]["params"]["depth"] == 4
    assert m.training["seed"] == b.training_run()["seed"] and m.training["command"].startswith("playground selfplay")
    assert set(m.files) >= {"agent.json", "agent.safetensors", "evaluation.json", "README.md", "evidence/gates.jsonl"}
    ev = b.evaluation()
    assert ev.games_per_seat == GAMES and len(ev.rows) == 6
    assert all(r.wins + r.draws + r.losses == GAMES for r in ev.rows)
    assert ev.policy_sha256 == m.files["agent.safetensors"]
    replay = b.replay(b.replay_names()[0])
    assert replay.result in ("win", "draw", "loss") and len(replay.moves) >= 7


def test_the_evaluation_is_the_report_s_same_seeds_same_numbers(built):
    b = MatchBundle.open(built)
    again = evaluate_agent(b.agent(), GAMES, b.manifest.evaluation["seed"])
    assert [(r["wins"], r["draws"], r["losses"], r["seed"]) for r in again] == [
        (r.wins, r.draws, r.losses, r.seed) for r in b.evaluation().rows
    ]


def test_the_card_says_below_the_bar_exactly_when_a_bar_is_missed(built):
    b = MatchBundle.open(built)
    card, ev = b.card(), b.evaluation()
    met, barred = ev.bars()
    assert ("**Below the bar**" in card) == (met < barred)
    for r in ev.rows:
        seat = f"{'first' if r.seat == 0 else 'second'} ({r.seat_name})"
        assert f"| {r.opponent} | {seat} | {r.wins} / {r.draws} / {r.losses} |" in card
    assert b.manifest.commands["bundle"] in card and "ConnectFourAgent.load" in card


def test_a_tampered_file_fails_its_checksum_and_nothing_is_loaded(copy):
    data = bytearray((copy / "agent.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "agent.safetensors").write_bytes(bytes(data))
    bad = failed(copy)
    assert [c.name for c in bad] == ["sha256 agent.safetensors", "nothing loaded"]
    assert "agent.safetensors was changed" in bad[0].detail
    with pytest.raises(BundleError, match="failed its checksums: agent.safetensors was changed"):
        MatchBundle.open(copy)


def test_an_unlisted_file_fails(copy):
    (copy / "replays" / "extra.json").write_text("{}")
    assert [c.name for c in failed(copy)] == ["no unlisted files", "nothing loaded"]


def _changed_agent_move(moves, seat):
    """The replay's moves with the agent's first move replaced by another legal column."""
    board = Board()
    for i, col in enumerate(moves):
        if i % 2 == seat:
            other = next(c for c in board.legal_moves() if c != col)
            return [*moves[:i], other, *moves[i + 1 :]], i
        board.play(col)
    raise AssertionError("no agent move")


def test_a_replay_with_a_changed_move_fails_with_one_line(copy):
    name = "one-ply-player_1-0"
    rel = f"replays/{name}.json"
    record = json.loads((copy / rel).read_text())
    moves, i = _changed_agent_move(record["moves"], record["agent_seat"])
    edit_json(copy, rel, lambda d: d.update(moves=moves))
    bad = failed(copy)
    assert [c.name for c in bad] == [f"replay {name} re-simulates"]
    assert f"move {i + 1}: the agent plays column" in bad[0].detail and "\n" not in bad[0].detail


def test_a_replay_whose_game_is_not_its_seed_s_fails(copy):
    """A real game of the agent against random (every agent move the policy's, legal, the result right), but
    from another seed than the one recorded: only playing it again from the seed shows it."""
    from agents.selfplay.bots import RandomBot
    from agents.selfplay.evaluate import play_game

    b = MatchBundle.open(copy)
    name = "random-player_0-0"
    r = b.replay(name)
    for other in range(r.seed + 1, r.seed + 20):
        winner, moves = play_game((b.agent(), RandomBot()), np.random.default_rng(other))
        if tuple(moves) != r.moves:
            break
    result = "draw" if winner < 0 else "win" if winner == 0 else "loss"
    edit_json(copy, f"replays/{name}.json", lambda d: d.update(moves=moves, result=result))
    bad = failed(copy)
    assert [c.name for c in bad] == [f"replay {name} re-simulates"]
    assert f"played again from seed {r.seed}, the game differs from move" in bad[0].detail


def test_a_replay_with_a_wrong_result_fails(copy):
    name = "random-player_0-0"
    record = json.loads((copy / f"replays/{name}.json").read_text())
    wrong = "loss" if record["result"] != "loss" else "win"
    edit_json(copy, f"replays/{name}.json", lambda d: d.update(result=wrong))
    (bad,) = failed(copy)
    assert f"the replay says {wrong}" in bad.detail


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.update(wins=r["wins"] + 1), "is 7, not 6 games"),
        (lambda r: r.update(wins=r["wins"] - 1, draws=r["draws"] + 1), "is not the Wilson interval"),
        (lambda r: r.update(bar_met=not r["bar_met"]), "the catalog says bar 0.99"),
        (lambda r: r.update(bar=0.5), "the catalog says bar 0.99"),
        (lambda r: r.update(games=5), "5 games, but the evaluation says 6 per seat"),
    ],
)
def test_an_evaluation_with_a_changed_count_or_bar_fails(copy, change, reason):
    edit_json(copy, "evaluation.json", lambda d: change(d["results"][0]))  # random, player_0: a bar of 99 %
    bad = failed(copy)
    assert bad[0].name == "evaluation.json consistent"
    assert reason in bad[0].detail and "\n" not in bad[0].detail


def test_an_opponent_recorded_otherwise_than_the_code_defines_it_fails(copy):
    def edit(m):
        m["opponents"][2]["params"]["depth"] = 5

    manifest = json.loads((copy / MATCH_MANIFEST).read_text())
    edit(manifest)
    (copy / MATCH_MANIFEST).write_text(json.dumps(manifest))
    bad = failed(copy)
    assert [c.name for c in bad] == ["opponents are this code's"]
    assert "negamax-4 is recorded otherwise" in bad[0].detail and "params differ" in bad[0].detail


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(format="ppo-playground/bundle@1"), "this version reads ppo-playground/match-bundle@1"),
        (lambda m: m["files"].update({"../outside": "0" * 64}), "unsafe or malformed file entry"),
        (lambda m: m.update(game="pong"), "not a two-player game"),
        (lambda m: m["evaluation"].update(games_per_seat=10**9), "is not 1..100000"),
        (lambda m: m["opponents"].append({"name": "<script>", "kind": "x", "params": {}}), "no plain name"),
        (lambda m: m["training"].update(seed="4"), "training['seed']"),
    ],
)
def test_a_malformed_manifest_is_one_line(copy, change, message):
    manifest = json.loads((copy / MATCH_MANIFEST).read_text())
    change(manifest)
    (copy / MATCH_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        MatchBundle.open(copy, check=False)


def test_single_player_tools_name_a_two_player_folder_and_leave_it_alone(built):
    assert is_match_bundle(built) and not Bundle.is_bundle(built)
    with pytest.raises(BundleError, match="is a two-player bundle"):
        Bundle.open(built)
    assert not is_match_bundle(models_dir() / "cartpole")


def test_a_folder_with_another_manifest_json_is_not_called_two_player(tmp_path):
    (tmp_path / "manifest.json").write_text('{"files": {}}')  # e.g. a reproduction report's folder
    assert not is_match_bundle(tmp_path)
    with pytest.raises(BundleError, match="is not a bundle: evidence/manifest.json is missing"):
        Bundle.open(tmp_path)
    with pytest.raises(
        BundleError, match="has format 'None', kind 'None'; this version reads ppo-playground/match-bundle@1"
    ):
        MatchBundle.open(tmp_path)


def test_a_run_that_is_not_finished_is_named(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(BundleError, match="is not a finished self-play run: no final/agent.json"):
        build_match_bundle(MatchBundleOptions("connect-four", tmp_path / "run", out=tmp_path / "b", games=1))
    assert not (tmp_path / "b").exists()


def test_pong_duel_is_not_built_from_a_self_play_run(tmp_path):
    # its own builder and tests: agents/bundle/match_pong_build.py, test_match_pong.py
    with pytest.raises(BundleError, match="pong-duel's bundle is built from a Pong policy, not a self-play run"):
        build_match_bundle(MatchBundleOptions("pong-duel", tmp_path, games=1))


def test_games_lists_the_two_player_games(capsys):
    from playground.cli import main

    assert main(["games"]) == 0
    out = capsys.readouterr().out
    assert "connect_four_v3" in out and "Connect Four [two-player]" in out and "[two-player]" in out.split("pong_v3")[1]


@pytest.mark.shipped
def test_the_shipped_connect_four_bundle_verifies_with_1000_games_per_seat():
    b = MatchBundle.open(SHIPPED)
    checks = b.verify()
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert b.evaluation().games_per_seat == 1000 and b.manifest.commands["bundle"].startswith("playground bundle")


@pytest.mark.shipped
def test_the_shipped_card_s_usage_snippet_runs():
    card = MatchBundle.open(SHIPPED).card()
    code = card.split("```python\n", 1)[1].split("```", 1)[0]
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    column = int(out.stdout.split()[0])
    assert 0 <= column <= 6


def test_an_evaluation_of_other_weights_fails(copy):
    edit_json(copy, "evaluation.json", lambda d: d.update(policy_sha256="0" * 64))
    bad = failed(copy)
    assert [c.name for c in bad] == ["evaluation is of this policy"]
    assert "of other weights than this bundle's agent.safetensors" in bad[0].detail


def test_a_run_from_a_copy_of_the_code_records_its_code_commit_txt(tmp_path):
    """Runs trained from a `git archive` copy have no .git: config.json's commit is null and code-commit.txt
    says which commit the copy is of; the bundle keeps that file and the card names the commit."""
    run = run_folder_from(SHIPPED, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    config["git"] = {"commit": None, "dirty": False}
    (run / "config.json").write_text(json.dumps(config))
    (run / "code-commit.txt").write_text("9206b5a (frozen copy via git archive)\n")
    out = build_match_bundle(MatchBundleOptions("connect-four", run, out=tmp_path / "b", games=2, replays=1))
    b = MatchBundle.open(out)
    assert all(c.ok for c in b.verify())
    assert "evidence/code-commit.txt" in b.manifest.files
    assert b.manifest.training["code_commit"] == "9206b5a (frozen copy via git archive)"
    assert "at commit `9206b5a (frozen copy via git archive)`" in b.card()


# --- what the app's Evidence page reads (playground/views/match_evidence.py) ------------------------------------


def test_the_bundle_says_how_it_was_trained_which_curve_it_carries_and_how_to_rebuild_it(built):
    b = MatchBundle.open(built)
    run, t = b.training_run(), b.manifest.trained()
    assert (t.seed, t.timesteps, t.command) == (run["seed"], run["timesteps"], run["command"])
    assert t.source is None and t.algo.startswith("MaskablePPO") and t.origin == b.manifest.training["run"]
    curve = b.curves()
    assert curve.file == "evidence/diagnostics.csv" and "self-play run" in curve.what
    lines = (built / "evidence" / "diagnostics.csv").read_text().splitlines()
    assert len(curve.rows) == len(lines) - 1 and curve.rows[-1]["timesteps"] == float(lines[-1].split(",")[0])
    regenerate = b.card().split("## Regenerate", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert b.regenerate() == regenerate.splitlines() and b.regenerate()[0] == b.manifest.commands["train"]
    replays = b.replays()
    assert [r.name for r in replays] == b.replay_names()
    for r in replays:
        data = json.loads((built / "replays" / f"{r.name}.json").read_text())
        assert (r.opponent, r.agent_seat, r.seed, r.result) == (
            data["opponent"],
            data["agent_seat"],
            data["seed"],
            data["result"],
        )
        assert r.length == f"{len(data['moves'])} moves" and r.score is None
    assert b.point_summaries() == {} and b.points() == {}


def test_the_recorded_commit_is_code_commit_txt_s_when_the_run_had_no_git(copy):
    manifest = json.loads((copy / MATCH_MANIFEST).read_text())
    manifest["training"].update(code_commit="9206b5a (frozen copy)", git={"commit": None, "dirty": False})
    (copy / MATCH_MANIFEST).write_text(json.dumps(manifest))
    assert MatchBundle.open(copy).manifest.trained().commit == "9206b5a (frozen copy)"
    del manifest["training"]["code_commit"]
    manifest["training"]["git"] = {"commit": "a" * 40, "dirty": True}
    (copy / MATCH_MANIFEST).write_text(json.dumps(manifest))
    t = MatchBundle.open(copy).manifest.trained()
    assert (t.commit, t.dirty) == ("a" * 40, True)


def test_a_bundle_without_its_curve_says_so_and_a_malformed_one_is_one_line(copy):
    (copy / "evidence" / "diagnostics.csv").write_text("iteration,entropy\n1,1.9\n")
    rehash(copy, "evidence/diagnostics.csv")
    with pytest.raises(BundleError, match="evidence/diagnostics.csv has no rows with timesteps"):
        MatchBundle.open(copy).curves()
    manifest = json.loads((copy / MATCH_MANIFEST).read_text())
    del manifest["files"]["evidence/diagnostics.csv"]
    (copy / MATCH_MANIFEST).write_text(json.dumps(manifest))
    (copy / "evidence" / "diagnostics.csv").unlink()
    assert MatchBundle.open(copy).curves() is None


def test_the_pool_s_gates_are_gates_jsonl_s_and_a_malformed_gate_is_one_line(copy):
    b = MatchBundle.open(copy)
    lines = [json.loads(line) for line in (copy / "evidence" / "gates.jsonl").read_text().splitlines() if line]
    gates = b.pool_gates()
    assert [(g.timesteps, g.score, g.threshold, g.passed, g.pool) for g in gates] == [
        (d["timesteps"], d["score"], d["threshold"], d["passed"], len(d["pool_before"])) for d in lines
    ]
    lines[1]["passed"] = "yes"
    (copy / "evidence" / "gates.jsonl").write_text("\n".join(json.dumps(d) for d in lines) + "\n")
    rehash(copy, "evidence/gates.jsonl")
    with pytest.raises(BundleError, match="gates.jsonl, gate 2: needs timesteps"):
        MatchBundle.open(copy).pool_gates()
