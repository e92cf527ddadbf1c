"""Every page through Streamlit's AppTest, including the bad inputs: unknown game or page, broken bundle."""

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from agents.bundle import Bundle
from agents.common.settings import models_dir
from envs import GAMES

pytestmark = pytest.mark.slow  # every test runs the app's script through Streamlit's AppTest

MAIN = "main.py"
BUNDLED = sorted(p.name for p in models_dir().iterdir() if (p / "evidence" / "manifest.json").exists())


@pytest.fixture(autouse=True)
def _no_warmup(monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))  # no pulled or imported agents of the user's


def run(page=None, game=None, **extra):
    at = AppTest.from_file(MAIN, default_timeout=180)
    if page:
        at.query_params["page"] = page
    if game:
        at.query_params["game"] = game
    for k, v in extra.items():
        at.query_params[k] = v
    return at.run()


def text(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "subheader", "title", "header", "warning", "error", "info")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.shipped
def test_gallery_shows_every_game_and_the_bundled_scores():
    at = run()
    assert not at.exception
    t = text(at)
    for spec in GAMES.values():
        assert spec.name in t and spec.env_id in t
    for slug in BUNDLED:
        s = Bundle.open(models_dir() / slug).eval_summary()
        assert f"{s['mean']:.2f} ± {s['std']:.2f}" in t
    assert t.count("No agent bundled yet") == len(GAMES) - len(BUNDLED)


@pytest.mark.shipped
@pytest.mark.parametrize("slug", BUNDLED)
def test_watch_recorded_replay_and_scrub(slug):
    at = run("watch", slug)
    assert not at.exception and at.title[0].value == "Watch"
    assert at.selectbox(key="watch-game").value == slug
    b = Bundle.open(models_dir() / slug)
    assert at.selectbox(key="watch-replay").options  # the bundle's replays
    first = at.selectbox(key="watch-replay").value
    rep = b.replay("best" if "best" in first else first.split(" ")[0])
    slider = at.slider(key="watch-step")
    assert slider.max == rep["length"] - 1
    at = slider.set_value(min(5, slider.max)).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert {"Action", "Reward", "Return so far", "Value estimate V(s)"} <= set(metrics)


def test_watch_fresh_episode_of_a_game_without_agent(tmp_path, monkeypatch):
    """Every shipped game has an agent, so the case is built: a models folder holding CartPole only."""
    models = tmp_path / "models"
    shutil.copytree(models_dir() / "cartpole", models / "cartpole")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    at = run("watch", "acrobot")
    assert not at.exception
    assert at.radio(key="watch-source").options == ["Fresh episode"]
    assert "random policy" in text(at)
    at = at.number_input(key="watch-seed").set_value(3).run()
    assert not at.exception and "seed 3" in text(at)


@pytest.mark.shipped
@pytest.mark.parametrize("slug", BUNDLED)
def test_evidence_page(slug):
    at = run("evidence", slug)
    assert not at.exception and at.title[0].value == "Evidence"
    b = Bundle.open(models_dir() / slug)
    t = text(at)
    assert b.manifest.commands["bundle"] in "\n".join(c.value for c in at.code)
    for seed in b.training_seeds():
        assert any(f"seed {seed}" in m.label for m in at.metric)
    assert f"Ships seed {b.shipped_seed()}" in t
    at = at.button(key="verify").click().run()
    assert not at.exception
    assert any("checks passed" in s.value for s in at.success), [e.value for e in at.error]


@pytest.mark.parametrize("slug", GAMES)
def test_play_page_for_every_game(slug, monkeypatch, tmp_path):
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    at = run("play", slug)
    assert not at.exception and at.title[0].value == "Play"
    modes = [o.split(":")[0] for o in at.radio(key="play-mode").options]
    assert modes == (["Versus", "Solo", "Live watch"] if slug in BUNDLED else ["Solo"])
    assert any(c.value.startswith("**Keys:**") for c in at.caption)
    assert "Leaderboard: " in text(at)


def test_play_page_shows_the_leaderboard(monkeypatch, tmp_path):
    from playground import leaderboard

    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    for human in (120.0, 260.0):
        leaderboard.record({"game": "lunarlander", "mode": "versus", "seed": 4, "human_return": human,
                            "human_steps": 300, "agent_return": 250.0, "agent_steps": 280}, "ada")
    at = run("play", "lunarlander")
    assert not at.exception
    assert "People beat the agent in 1 of 2 Versus games (50%)" in text(at)
    assert list(at.dataframe[0].value["score"]) == [260.0, 120.0]


def test_unknown_game_shows_a_message_and_the_gallery():
    for page in ("watch", "evidence", "play", None):
        at = run(page, "pacman")
        assert not at.exception
        assert any("unknown game 'pacman'" in w.value for w in at.warning), page
        assert at.title[0].value == "PPO Playground", page


def test_unknown_page_is_explained():
    at = run("scores", "cartpole")
    assert not at.exception and any("unknown page 'scores'" in w.value for w in at.warning)


def test_a_tampered_bundle_shows_an_error_and_the_rest_still_works(tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(models_dir(), models)
    broken, intact = BUNDLED[0], BUNDLED[1]
    (models / broken / "policy.safetensors").write_bytes(b"tampered")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    at = run()
    assert not at.exception
    assert len(at.error) == 1 and "policy.safetensors was changed" in at.error[0].value
    s = Bundle.open(models / intact).eval_summary()
    assert f"{s['mean']:.2f} ± {s['std']:.2f}" in text(at)
    for page in ("watch", "evidence"):
        at = run(page, broken)
        assert not at.exception and "cannot be used" in at.error[0].value
        at = run(page, intact)
        assert not at.exception and not at.error


def test_a_corrupt_manifest_is_an_error_not_a_traceback(tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(models_dir(), models)
    (models / BUNDLED[0] / "evidence" / "manifest.json").write_text("{")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    at = run("evidence", BUNDLED[0])
    assert not at.exception and "not valid JSON" in at.error[0].value


def test_evidence_page_lists_every_saved_reproduction(tmp_path, monkeypatch):
    """A reproduction and an ablation report (the real writer, fabricated runs) appear with their verdicts."""
    from agents.experiments.ablations import get_ablation
    from agents.experiments.matrix import TaskResult
    from agents.experiments.reproduce import build_report, plan_reproduction, version_check

    models = tmp_path / "models"
    shutil.copytree(models_dir() / "cartpole", models / "cartpole")
    b = Bundle.open(models / "cartpole")
    diag = (models / "cartpole" / "evidence" / "training-seed1.csv").read_text()
    ev = b.eval_result()
    for ablation in (None, get_ablation("clip-off")):
        plan = plan_reproduction(b, seeds=[7, 8], out=tmp_path / "w", ablation=ablation)
        results = {}
        for key in plan.tasks():
            results[key] = TaskResult(key, True, value={
                "final_eval": ev, "diagnostics_csv": diag, "eval_csv": "timesteps\n", "epochs_csv": None,
                "timesteps": 100096, "wall_seconds": 30.0, "trained": "trained", "commands": ["x"]}, where={"pid": 1})
        key = next(iter(results))
        results[key] = TaskResult(key, False, error="ValueError: boom")
        _, files = build_report(plan, b, results, version_check(b))
        b.add_reproduction(plan.name, files, {"test": True})
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    at = run("evidence", "cartpole")
    assert not at.exception
    assert any(h.value == "Reproductions and ablations" for h in at.header)
    labels = [e.label for e in at.expander]
    assert any(lbl.startswith("Reproduction ·") and lbl.endswith("reproduced") for lbl in labels), labels
    assert any(lbl.startswith("Ablation clip-off ·") for lbl in labels), labels
    t = text(at)
    assert "Clipping off (ε = 100) against ε = 0.2" in t and "Verdict: reproduced" in "\n".join(s.value for s in at.success)
    seeds = next(d.value for d in at.dataframe if "same seed as published" in d.value.columns and len(d.value) == 2)
    assert list(seeds["seed"]) == [7, 8] and "FAILED: ValueError: boom" in list(seeds["run"])
    assert all(c.ok for c in Bundle.open(models / "cartpole").verify())
