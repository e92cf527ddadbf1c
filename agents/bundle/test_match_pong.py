"""The two-player Pong bundle: built from the shipped Pong agent, verified, and tampering caught with one line.

Matches to 21 take seconds each, so the bundles built here cut every match after a few hundred frames
(``max_frames``, which the card then states); the code that plays, records and re-simulates is the same. The
shipped bundle's whole matches are re-simulated once, by the ``shipped`` test.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from agents.bundle.match import MatchBundle, is_match_bundle
from agents.bundle.match_pong import PongDuelGame, _adopted_evidence, bot_definition
from agents.bundle.match_pong_build import (
    PongDuelBundleOptions,
    _adopt,
    _cross_check,
    build_pong_duel_bundle,
    policy_id,
)
from agents.bundle.match_pong_card import headline
from agents.bundle.test_match import edit_json, failed, rehash
from agents.common.errors import BundleError
from agents.common.settings import models_dir

PONG = models_dir() / "pong"
FRAMES = 150
"""frames per match in the bundles built here: the first serve and rally, a fraction of a second"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("pong-duel") / "bundle"
    return build_pong_duel_bundle(PongDuelBundleOptions(PONG, out=out, games=2, replays=1, max_frames=FRAMES))


@pytest.fixture
def copy(built, tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(built, out)
    return out


@pytest.mark.slow
def test_a_built_bundle_verifies_with_the_agent_on_first_0_only(built):
    b = MatchBundle.open(built)
    checks = b.verify()
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = [c.name for c in checks]
    assert "replays are evaluation matches" in names and "replay tracker-200ms-first_0-0 re-simulates" in names
    assert isinstance(b.game, PongDuelGame) and is_match_bundle(built)
    ev = b.evaluation()
    assert [(r.opponent, r.seat_name) for r in ev.rows] == [
        ("random", "first_0"),
        ("tracker-200ms", "first_0"),
        ("perfect-tracker", "first_0"),
    ]
    assert [r.bar for r in ev.rows] == [None, 0.5, None]  # the catalog's one bar: beat the 200 ms tracker
    m = b.manifest
    assert m.opponents[1]["params"] == {"delay_frames": 12, "dead_band_pixels": 4.0}
    assert m.training["source"] == "single-player bundle" and m.training["seed"] == 1
    assert (
        b.weights_sha256() == json.loads((PONG / "evidence/manifest.json").read_text())["files"]["policy.safetensors"]
    )


@pytest.mark.slow
def test_the_card_says_what_was_cut_and_which_command_played(built):
    b = MatchBundle.open(built)
    card, ev = b.card(), b.evaluation()
    assert f"Every match was cut after {FRAMES} frames" in card
    assert headline(ev) in card and ("Below the bar" in card) == (ev.bars()[0] < ev.bars()[1])
    assert card.count("`playground bundle pong-duel") >= 3 and "issue 15 sets no number for Pong" in card
    raw = json.loads((built / "evaluation.json").read_text())
    assert all(
        len(r["matches"]) == 2 and r["source"]["command"].startswith("playground bundle") for r in raw["results"]
    )


@pytest.mark.slow
def test_a_tampered_file_fails_its_checksum_and_nothing_is_loaded(copy):
    (copy / "README.md").write_text((copy / "README.md").read_text() + "\n(better than it is)\n")
    bad = failed(copy)
    assert [c.name for c in bad] == ["sha256 README.md", "nothing loaded"]
    with pytest.raises(BundleError, match="failed its checksums"):
        MatchBundle.open(copy)


def _flip_run(text: str, index: int) -> str:
    """The run-length text with the action of run ``index`` changed (the frames stay the same)."""
    parts = text.split()
    action, count = parts[index].split("*")
    parts[index] = f"{(int(action) + 1) % 6}*{count}"
    return " ".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("agent_actions", "the agent plays"),
        ("opponent_actions", "tracker-200ms plays"),
    ],
)
def test_a_replay_with_a_changed_action_fails_with_one_line(copy, field, expected):
    rel = "replays/tracker-200ms-first_0-0.json"
    edit_json(copy, rel, lambda d: d.update({field: _flip_run(d[field], len(d[field].split()) // 2)}))
    bad = failed(copy)
    assert [c.name for c in bad] == ["replay tracker-200ms-first_0-0 re-simulates"]
    assert expected in bad[0].detail and "\n" not in bad[0].detail


@pytest.mark.slow
def test_a_replay_with_a_changed_score_fails(copy):
    rel = "replays/random-first_0-0.json"
    edit_json(copy, rel, lambda d: d["score"].update(agent=d["score"]["agent"] + 1))
    bad = {c.name: c.detail for c in failed(copy)}
    assert sorted(bad) == ["replay random-first_0-0 re-simulates", "replays are evaluation matches"]
    assert "the match ends" in bad["replay random-first_0-0 re-simulates"]
    assert "the evaluation's match of seed 2000000" in bad["replays are evaluation matches"]


def _count_change(d):
    """One game moved between outcomes, the total kept: only the intervals (and the matches) can tell."""
    row = d["results"][0]
    source = next((k for k in ("draws", "losses") if row[k] > 0), None)
    if source is None:
        row["wins"], row["losses"] = row["wins"] - 1, row["losses"] + 1
    else:
        row["wins"], row[source] = row["wins"] + 1, row[source] - 1


def _score_change(d):
    d["results"][2]["matches"][0]["agent"] += 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_count_change, "is not the Wilson interval"),
        (_score_change, "the matches' scores give|points_for is not the summary"),
        (lambda d: d["results"][1].update(bar=0.1), "the catalog says bar 0.5"),
        (lambda d: d["results"][0].pop("source"), "'source' must say which command"),
        (lambda d: d.update(policy_sha256="0" * 64), "of other weights"),
    ],
)
def test_an_evaluation_with_changed_counts_or_scores_fails(copy, change, reason):
    edit_json(copy, "evaluation.json", change)
    bad = failed(copy)
    assert bad and any(re.search(reason, c.detail) for c in bad), bad


@pytest.mark.slow
def test_an_opponent_recorded_otherwise_than_the_code_defines_it_fails(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["opponents"][1]["params"]["delay_frames"] = 6
    (copy / "manifest.json").write_text(json.dumps(manifest))
    bad = failed(copy)
    assert [c.name for c in bad] == ["opponents are this code's"] and "params differ" in bad[0].detail


@pytest.mark.slow
def test_a_policy_that_is_not_the_source_s_fails_the_training_check(copy):
    edit_json(copy, "evidence/source/manifest.json", lambda d: d["files"].update({"policy.safetensors": "0" * 64}))
    bad = failed(copy)
    assert [c.name for c in bad] == ["training evidence"] and "not that bundle's" in bad[0].detail


def _evidence_from(bundle, folder, bot, **override):
    """A duel_evidence file holding the bundle's own matches against ``bot``: what adoption reads."""
    from agents.play.duel_evidence import _definition
    from agents.play.pong_duel import bots

    row = next(r for r in json.loads((bundle / "evaluation.json").read_text())["results"] if r["opponent"] == bot)
    d = {
        "command": "python -m agents.play.duel_evidence --games 2",
        "agent": {"policy_sha256": policy_id(bundle)},
        "seeds": [row["seed"], row["seed"] + row["games"] - 1],
        "opponents": {
            bot: {"definition": _definition(bots()[bot]()), "games": row["games"], "matches": row["matches"]}
        },
        **override,
    }
    folder.mkdir(exist_ok=True)
    (folder / f"pong_duel_{bot}.json").write_text(json.dumps(d))


@pytest.mark.slow
def test_duel_evidence_is_adopted_only_when_of_these_weights_seeds_and_bots(built, tmp_path):
    pid = policy_id(built)
    _evidence_from(built, tmp_path / "ok", "random")
    adopted, _ = _adopt(tmp_path / "ok", "random", 2, 2_000_000, pid)
    assert [m["seed"] for m in adopted["matches"]] == [2_000_000, 2_000_001]
    matches = adopted["matches"]
    assert _cross_check(tmp_path / "ok", "random", 2, 2_000_000, pid, matches)["same"] == 2
    assert _cross_check(tmp_path / "none", "random", 2, 2_000_000, pid, matches) is None
    with pytest.raises(BundleError, match="is not of this policy"):
        _adopt(tmp_path / "ok", "random", 2, 2_000_000, "f" * 64)
    with pytest.raises(BundleError, match="not 3 from 2000000"):
        _adopt(tmp_path / "ok", "random", 3, 2_000_000, pid)
    _evidence_from(built, tmp_path / "other", "tracker-200ms")
    d = json.loads((tmp_path / "other" / "pong_duel_tracker-200ms.json").read_text())
    d["opponents"]["tracker-200ms"]["definition"]["delay"] = 6
    (tmp_path / "other" / "pong_duel_tracker-200ms.json").write_text(json.dumps(d))
    with pytest.raises(BundleError, match="defined otherwise"):
        _adopt(tmp_path / "other", "tracker-200ms", 2, 2_000_000, pid)


@pytest.mark.slow
def test_an_adopted_block_must_be_its_evidence_file_s_matches(copy):
    assert _adopted_evidence(MatchBundle.open(copy)) == "none adopted: the build played every match"
    _evidence_from(copy, copy / "evidence" / "duel", "random")
    rehash(copy, "evidence/duel/pong_duel_random.json")
    edit_json(
        copy, "evaluation.json", lambda d: d["results"][0]["source"].update(file="evidence/duel/pong_duel_random.json")
    )
    assert _adopted_evidence(MatchBundle.open(copy)).startswith("random: the duel_evidence files' matches")
    edit_json(
        copy, "evidence/duel/pong_duel_random.json", lambda d: d["opponents"]["random"]["matches"][0].update(agent=21)
    )
    with pytest.raises(BundleError, match="pong_duel_random.json's matches are not the evaluation's random matches"):
        _adopted_evidence(MatchBundle.open(copy))
    edit_json(copy, "evidence/duel/pong_duel_random.json", lambda d: d["agent"].update(policy_sha256="0" * 64))
    with pytest.raises(BundleError, match="is not of this policy"):
        _adopted_evidence(MatchBundle.open(copy))


def finetune_run_from(bundle_dir, run, status="done"):
    """A fine-tuning run's folder (``playground finetune``'s layout) around a policy: final/, run.json, ..."""
    (run / "final").mkdir(parents=True)
    for name in ("policy.json", "policy.safetensors"):
        shutil.copy(bundle_dir / name, run / "final" / name)
    (run / "config.yml").write_text("n_envs: 8\n")
    (run / "diagnostics.csv").write_text("timesteps,approx_kl\n1024,0.01\n")
    run_json = {
        "game": "pong-duel",
        "seed": 3,
        "timesteps": 1024,
        "wall_seconds": 60.0,
        "status": status,
        "commands": ["playground finetune pong-duel --seed 3 --timesteps 1024 --out RUN"],
        "hyperparams": {"n_envs": 8},
        "code": {"commit": "abc", "dirty": False},
        "finetune": {"start_policy_sha256": "e" * 64},
    }
    (run / "run.json").write_text(json.dumps(run_json))
    return run / "final"


@pytest.mark.slow
def test_a_bundle_from_a_fine_tuning_run_verifies(tmp_path):
    final = finetune_run_from(PONG, tmp_path / "run")
    out = build_pong_duel_bundle(PongDuelBundleOptions(final, out=tmp_path / "b", games=1, max_frames=120))
    b = MatchBundle.open(out)
    checks = {c.name: c for c in b.verify()}
    assert all(c.ok for c in checks.values()), [c for c in checks.values() if not c.ok]
    assert "fine-tuning run: seed 3, 1,024 steps" in checks["training evidence"].detail
    curve = b.curves()
    assert curve.file == "evidence/source/diagnostics.csv" and "fine-tuning run" in curve.what
    assert [r["timesteps"] for r in curve.rows] == [1024.0]
    assert "A fine-tuned Pong agent" in b.card()
    unfinished = finetune_run_from(PONG, tmp_path / "run2", status="running")
    with pytest.raises(BundleError, match="is not a finished pong-duel fine-tuning run"):
        build_pong_duel_bundle(PongDuelBundleOptions(unfinished, out=tmp_path / "c", games=1, max_frames=120))
    assert not (tmp_path / "c").exists()


def test_wrong_sources_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="neither a single-player Pong bundle nor a finished fine-tuning run"):
        build_pong_duel_bundle(PongDuelBundleOptions(tmp_path / "empty", out=tmp_path / "b", games=1))
    with pytest.raises(BundleError, match="is a bundle of cartpole"):
        build_pong_duel_bundle(PongDuelBundleOptions(models_dir() / "cartpole", out=tmp_path / "b", games=1))
    with pytest.raises(BundleError, match="cannot be combined with --max-frames"):
        build_pong_duel_bundle(PongDuelBundleOptions(PONG, out=tmp_path / "b", evidence=tmp_path, max_frames=10))
    assert not (tmp_path / "b").exists()


def test_bot_definitions_are_the_code_s():
    assert bot_definition("perfect-tracker")["params"] == {"delay_frames": 0, "dead_band_pixels": 2.0}
    with pytest.raises(ValueError, match="no left paddle named 'wall'"):
        bot_definition("wall")


@pytest.mark.shipped
@pytest.mark.slow
def test_the_shipped_pong_duel_bundle_verifies_its_whole_matches():
    b = MatchBundle.shipped("pong-duel")
    assert b is not None
    checks = b.verify()  # re-simulates its replays: one whole match per bot, about 25 s
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    ev = b.evaluation()
    assert ev.games_per_seat >= 30 and ev.seed == 2_000_000
    assert headline(ev) in b.card() and b.manifest.training["source"] == "single-player bundle"
    rows = json.loads((b.path / "evaluation.json").read_text())["results"]
    assert all(r["source"]["command"] == b.manifest.commands["bundle"] for r in rows)


@pytest.mark.shipped
def test_the_shipped_bundle_s_points_curve_and_replays_as_the_evidence_page_reads_them():
    """Points for and against with their intervals are evaluation.json's, formatted as the card formats them; the
    curve is the single-player source's training-seed<S>.csv; the replays' scores are their files'."""
    from agents.play.duel_evidence import mean_ci

    folder = models_dir() / "pong-duel"
    b = MatchBundle.open(folder)
    raw = {r["opponent"]: r for r in json.loads((folder / "evaluation.json").read_text())["results"]}
    summaries = b.point_summaries()
    assert list(summaries) == list(raw)
    for opponent, (pf, pa) in summaries.items():
        assert (pf.mean, list(pf.ci95)) == (raw[opponent]["points_for"]["mean"], raw[opponent]["points_for"]["ci95"])
        assert (pa.mean, list(pa.ci95)) == (
            raw[opponent]["points_against"]["mean"],
            raw[opponent]["points_against"]["ci95"],
        )
        assert (str(pf), str(pa)) == (mean_ci(raw[opponent]["points_for"]), mean_ci(raw[opponent]["points_against"]))
        assert b.points()[opponent] == (pf.mean, pa.mean)
    t = b.manifest.trained()
    assert (t.source, t.origin, t.seed) == ("single-player bundle", "models/pong", 1)
    curve = b.curves()
    assert curve.file == f"evidence/source/training-seed{t.seed}.csv" and "single-player ALE/Pong-v5" in curve.what
    assert curve.rows[-1]["timesteps"] == t.timesteps
    assert b.regenerate() == [b.manifest.commands["bundle"], b.manifest.commands["verify"]]
    assert b.pool_gates() is None  # no self-play run: no gates
    for r in b.replays():
        data = json.loads((folder / "replays" / f"{r.name}.json").read_text())
        assert r.score == f"{data['score']['agent']}-{data['score']['opponent']}"
        assert r.length == f"{data['frames']:,} frames"


def test_the_policy_digests_are_the_weights_the_evaluation_and_the_source_name(built):
    """What the play server keys its cache and the duel's rating by: the listed weights' sha256 (the file's, the
    evaluation's) and the policy's digest as the single-player source's ``Bundle.policy_id`` names it."""
    from agents.bundle import Bundle

    b = MatchBundle.open(built)
    assert b.policy_sha256 == b.weights_sha256() == b.evaluation().policy_sha256
    assert b.policy_id == policy_id(built) == Bundle.open(PONG).policy_id


def test_a_manifest_without_the_policy_files_has_no_digest(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"].pop("policy.json")
    manifest["policy"]["files"] = ["policy.safetensors"]  # the manifest's own check passes; the game's does not
    (copy / "manifest.json").write_text(json.dumps(manifest))
    b = MatchBundle.open(copy, check=False)
    with pytest.raises(BundleError, match="lists no policy.json"):
        _ = b.policy_id
