"""Every page through Streamlit's AppTest, including the bad inputs: unknown game or page, broken bundle."""

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from agents.bundle import MANIFEST, Bundle
from agents.common.files import sha256_file
from agents.common.settings import models_dir
from envs import GAMES

pytestmark = pytest.mark.slow  # every test runs the app's script through Streamlit's AppTest

MAIN = "main.py"
MODELS = models_dir()  # the shipped agents, whatever a test sets PLAYGROUND_MODELS to
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
    parts = [
        e.value
        for kind in ("markdown", "caption", "subheader", "title", "header", "warning", "error", "info")
        for e in getattr(at, kind)
    ]
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
    duel = ["Head to head"] if slug == "pong" else []  # one court against the agent: two-player Pong
    assert modes == ([*duel, "Versus", "Solo", "Live watch"] if slug in BUNDLED else ["Solo"])
    assert any(c.value.startswith("**Keys:**") for c in at.caption)
    assert ("The agent against people" if duel else "Leaderboard: ") in text(at)


def test_play_page_shows_the_leaderboard(monkeypatch, tmp_path):
    from playground import leaderboard

    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    for human in (120.0, 260.0):
        leaderboard.record(
            {
                "game": "lunarlander",
                "mode": "versus",
                "seed": 4,
                "human_return": human,
                "human_steps": 300,
                "agent_return": 250.0,
                "agent_steps": 280,
            },
            "ada",
        )
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
    assert not at.exception and any("unknown page ` scores `" in w.value for w in at.warning)


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
    ev = b.eval_result().to_json()  # a task's final evaluation, as the training task returns it
    for ablation in (None, get_ablation("clip-off")):
        plan = plan_reproduction(b, seeds=[7, 8], out=tmp_path / "w", ablation=ablation)
        results = {}
        for key in plan.tasks():
            results[key] = TaskResult(
                key,
                True,
                value={
                    "final_eval": ev,
                    "diagnostics_csv": diag,
                    "eval_csv": "timesteps\n",
                    "epochs_csv": None,
                    "timesteps": 100096,
                    "wall_seconds": 30.0,
                    "trained": "trained",
                    "commands": ["x"],
                },
                where={"pid": 1},
            )
        key = next(iter(results))
        results[key] = TaskResult(key, False, error="ValueError: boom")
        _, files = build_report(plan, b, results, version_check(b))
        b.add_reproduction(plan.name, files, {"test": True})
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    at = run("evidence", "cartpole")
    assert not at.exception
    assert any(h.value == "Reproductions and ablations" for h in at.header)
    labels = [e.label for e in at.expander]
    assert any(lbl.startswith("Reproduction · ` ") and lbl.endswith(" · reproduced `") for lbl in labels), labels
    assert any(lbl.startswith("Ablation ` clip-off ·") for lbl in labels), labels
    t = text(at)
    assert "Clipping off (ε = 100) against ε = 0.2" in t
    assert "Verdict: ` reproduced `" in "\n".join(s.value for s in at.success)
    seeds = next(d.value for d in at.dataframe if "same seed as published" in d.value.columns and len(d.value) == 2)
    assert list(seeds["seed"]) == [7, 8] and "FAILED: ValueError: boom" in list(seeds["run"])
    assert all(c.ok for c in Bundle.open(models / "cartpole").verify())


# --- hostile input: agents from anywhere, links from anyone (issue 18) ---------------------------------------

HOSTILE = (
    "eval-without-summary",
    "nan-weights",
    "other-game-policy",
    "wrong-normaliser",
    "malformed-normaliser",
    "no-health",
)


def hostile_bundle(kind: str, where: Path, base: str = "cartpole") -> Path:
    """A copy of a shipped agent with one defect, its manifest re-sealed: what the author of a hostile repo
    publishes (the checksums match, the content is bad)."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(MODELS / base, where)
    ev = where / "evidence" / "eval.json"
    if kind == "eval-without-summary":
        data = json.loads(ev.read_text())
        del data["summary"]
        ev.write_text(json.dumps(data))
    elif kind == "nan-weights":
        tensors = load_file(where / "policy.safetensors")
        save_file({k: t.clone().fill_(float("nan")) for k, t in tensors.items()}, where / "policy.safetensors")
    elif kind == "other-game-policy":  # Acrobot's policy (6 observations, 3 actions) as CartPole's
        assert base == "cartpole"
        for name in ("policy.json", "policy.safetensors"):
            shutil.copy(MODELS / "acrobot" / name, where / name)
    elif kind == "wrong-normaliser":  # statistics for 3 observations; CartPole has 4, Acrobot 6
        desc = json.loads((where / "policy.json").read_text())
        desc["normalization"] = {
            "obs_mean": [0.0] * 3,
            "obs_var": [1.0] * 3,
            "clip_obs": 10.0,
            "epsilon": 1e-8,
            "count": 1.0,
        }
        (where / "policy.json").write_text(json.dumps(desc))
    elif kind == "malformed-normaliser":  # the policy cannot even be built
        desc = json.loads((where / "policy.json").read_text())
        desc["normalization"] = {"obs_mean": "zero", "obs_var": [1.0] * 4, "clip_obs": 10.0, "epsilon": 1e-8}
        (where / "policy.json").write_text(json.dumps(desc))
    elif kind == "no-health":
        (where / "evidence" / "health.json").unlink()
    else:
        raise ValueError(kind)
    manifest = where / MANIFEST
    m = json.loads(manifest.read_text())
    m["files"] = {rel: sha256_file(where / rel) for rel in m["files"] if (where / rel).exists()}
    manifest.write_text(json.dumps(m, indent=1))
    return where


def register_hostile(tmp_path: Path, kinds=HOSTILE) -> dict[str, str]:
    """Each kind as a CartPole agent pulled from ``hub evil/<kind>``; returns {kind: agent id}."""
    from agents.hub import registry

    ids = {}
    for kind in kinds:
        path = hostile_bundle(kind, tmp_path / "pulled" / kind)
        ids[kind] = registry.add(f"hub:evil/{kind}", "cartpole", path, f"hub evil/{kind}@0000000").id
    return ids


def test_the_gallery_survives_every_bad_agent(tmp_path, monkeypatch):
    """Bad agents bundled (CartPole's, Acrobot's) and pulled (five for CartPole): the ones the gallery reads get one
    error line each, naming them; every other card, score and agent is still drawn."""
    models = tmp_path / "models"
    hostile_bundle("eval-without-summary", models / "cartpole")
    hostile_bundle("no-health", models / "acrobot", base="acrobot")
    shutil.copytree(MODELS / "pendulum", models / "pendulum")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    register_hostile(tmp_path)
    at = run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    s = Bundle.open(models / "pendulum").eval_summary()
    assert f"{s['mean']:.2f} ± {s['std']:.2f}" in text(at)  # an intact agent beside them
    errors = [e.value for e in at.error]
    assert all("\n" not in e and "Traceback" not in e for e in errors), errors
    bundled = [e for e in errors if "evil/" not in e]
    assert len(bundled) == 2, errors
    assert any("eval.json" in e for e in bundled) and any("health.json" in e for e in bundled), errors
    # the gallery reads a pulled agent's eval.json: that one gets its line; each other is listed with its score,
    # or (when opening it already refuses it) has its one line, and what is wrong shows where it is used
    assert sum("evil/eval-without-summary" in e for e in errors) == 1, errors
    for kind in HOSTILE:
        lines = sum(f"evil/{kind}" in e for e in errors)
        listed = any(f"evil/{kind}" in m.value for m in at.markdown)
        assert lines + listed == 1, (kind, errors)


@pytest.mark.parametrize("kind", HOSTILE)
def test_watch_and_evidence_show_a_bad_agent_as_a_message(kind, tmp_path):
    """A pulled agent that passed its checksums but cannot be used: a one-line error naming it on the Watch page
    (recorded replay and fresh episode) and the Evidence page, never a traceback; the picker stays."""
    agent = register_hostile(tmp_path, [kind])[kind]
    failing = 0
    for page, source in (("watch", "Recorded replay"), ("watch", "Fresh episode"), ("evidence", None)):
        at = run(page, "cartpole", agent=agent)
        radios = [r for r in at.radio if r.key == "watch-source"]
        if source == "Fresh episode" and radios and not at.exception:
            at = radios[0].set_value(source).run()
        assert not at.exception, (page, source, at.exception[0].value if at.exception else "")
        assert at.selectbox(key=f"{page}-agent-cartpole").value == agent  # the picker is still there
        bad = [e.value for e in at.error]
        assert all(f"evil/{kind}" in e for e in bad), bad
        assert all("\n" not in e and "Traceback" not in e for e in bad), bad
        failing += bool(bad)
    assert failing, f"{kind}: no page said anything is wrong with this agent"


def test_play_offers_solo_only_when_the_policy_cannot_be_built(tmp_path, monkeypatch):
    """The page says so before a game starts, rather than the play route once it has."""
    models = tmp_path / "models"
    hostile_bundle("malformed-normaliser", models / "cartpole")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    at = run("play", "cartpole")
    assert not at.exception
    assert [o.split(":")[0] for o in at.radio(key="play-mode").options] == ["Solo"]
    assert len(at.error) == 1 and "only Solo" in at.error[0].value and "\n" not in at.error[0].value


ATTACKER = "attacker.invalid"
PAYLOAD = (
    f"`` ![x](http://{ATTACKER}/pixel.png) [Session expired – sign in again](https://{ATTACKER}/login)"
    f"\n\n<img src=http://{ATTACKER}/raw.png> www.{ATTACKER} **bold** :red[red] $x$"
)
"""A crafted query parameter: an image the browser would fetch, a phishing link, a blank line that would end a
code span, raw HTML, a bare URL (GFM autolinks those), emphasis, a colour directive and LaTeX."""

MARKDOWN_PLAIN = {"Text", "Code", "Json", "Arrow", "Selectbox"}
"""elements whose strings Streamlit never renders as Markdown (st.selectbox's options are plain; its label is not,
but a label is ours)"""


def markdown_strings(at) -> list[str]:
    """Every string of the page that Streamlit renders as Markdown: alert and markdown bodies, captions, headings,
    labels of widgets, expanders and page links, metric values and deltas, radio options."""
    out = []

    def visit(node):
        proto = getattr(node, "proto", None)
        if proto is not None and type(proto).__name__ not in MARKDOWN_PLAIN:
            for field, value in proto.ListFields():
                if field.name in ("body", "label", "delta") and isinstance(value, str):
                    out.append(value)
                elif field.name == "options" and type(proto).__name__ == "Radio":
                    out.extend(value)
        for child in getattr(node, "children", {}).values():
            visit(child)

    visit(at._tree)
    return out


def outside_markdown(body: str) -> list[str]:
    """Where ``ATTACKER`` reaches the page as something other than literal text: link targets, image sources,
    raw HTML, or text outside a code span (where GFM would autolink it)."""
    from markdown_it import MarkdownIt

    found = []

    def visit(tokens):
        for t in tokens:
            if t.type == "code_inline":
                continue
            # an inline token's content is its raw source; what it renders to is in its children
            values = [t.content if t.type != "inline" else "", *(str(v) for v in (t.attrs or {}).values())]
            if any(ATTACKER in v for v in values):
                found.append(f"{t.type}: {t.content or t.attrs}")
            visit(t.children or [])

    visit(MarkdownIt("commonmark").enable("strikethrough").parse(body))
    return found


@pytest.mark.parametrize(
    "view, param",
    [
        (None, "game"),
        ("watch", "game"),
        ("evidence", "game"),
        ("play", "game"),
        (None, "page"),
        ("watch", "agent"),
        ("evidence", "agent"),
    ],
)
def test_query_parameters_are_shown_as_text(view, param):
    """A crafted link's parameter is echoed in the page's message, as text: nothing of it becomes a link, an image,
    HTML or an autolinked URL (checked on every Markdown string of the page, parsed as CommonMark)."""
    params = {"game": "cartpole", param: PAYLOAD}
    at = run(params.pop("page", view), params.pop("game"), **params)
    assert not at.exception
    bodies = markdown_strings(at)
    leaks = [(b, where) for b in bodies for where in outside_markdown(b) if where]
    assert not leaks, leaks
    shown = [b for b in bodies if ATTACKER in b]
    assert shown, "the page should still say what the link asked for"


def test_player_names_on_the_leaderboard_are_text(monkeypatch, tmp_path):
    """A name a player typed reaches other players only in the leaderboard's table, whose cells are plain text."""
    from playground import leaderboard

    name = f"![x](http://{ATTACKER}/p.png)"
    leaderboard.record({"game": "cartpole", "mode": "solo", "seed": 1, "human_return": 30.0, "human_steps": 30}, name)
    at = run("play", "cartpole")
    assert not at.exception
    assert list(at.dataframe[0].value["player"]) == [name]
    leaks = [(b, where) for b in markdown_strings(at) for where in outside_markdown(b)]
    assert not leaks, leaks


@pytest.mark.shipped
def test_gallery_shows_the_two_player_games_with_their_evidence():
    """Connect Four's card: W/D/L against each opponent in each seat and the bars missed, from its verified bundle;
    two-player Pong has its card too; Head to head shows the same evaluation."""
    from agents.bundle.match import MatchBundle
    from envs.catalog import TWO_PLAYER_GAMES

    at = run()
    assert not at.exception and not at.error
    t = text(at)
    assert "Two-player games" in t and all(spec.name in t for spec in TWO_PLAYER_GAMES.values())
    ev = MatchBundle.open(MODELS / "connect-four").evaluation()
    met, barred = ev.bars()
    assert f"{barred - met} of {barred} not met" in t if met < barred else "every bar met" in t
    for r in ev.rows:
        assert f"{'first' if r.seat == 0 else 'second'} {r.wins}/{r.draws}/{r.losses} W/D/L" in t
    at = run("duel")
    assert not at.exception
    (label,) = [e.label for e in at.expander if e.label.startswith("How good is it?")]
    assert f"{ev.games_per_seat:,} games per seat" in label and (f"{barred - met} of {barred} bars not met" in label)


@pytest.mark.shipped
def test_pong_duel_card_and_play_page_show_the_verified_bundle_s_results():
    """Two-player Pong's card: W/D/L and points against each bot from models/pong-duel, below the bar (it loses
    to the tracking bots), a link to the Play page; Head to head on Pong's Play page shows the same table."""
    from agents.bundle.match import MatchBundle

    b = MatchBundle.open(MODELS / "pong-duel")
    ev, points = b.evaluation(), b.points()
    at = run()
    assert not at.exception and not at.error
    t = text(at)
    met, barred = ev.bars()
    assert met < barred and f"**below the bar**: {barred - met} of {barred} not met" in t
    for r in ev.rows:
        assert f"vs **{r.opponent}**: {r.wins}/{r.draws}/{r.losses} W/D/L ({r.win_rate:.1%} wins" in t
        assert "mean score {:.1f} : {:.1f} (agent : bot)".format(*points[r.opponent]) in t
    assert "the agent plays first_0 (right paddle)" in t
    assert any(link.label == "Head to head (Play page)" for link in at.get("page_link"))
    at = run("play", "pong")
    assert not at.exception
    (label,) = [e.label for e in at.expander if e.label.startswith("How good is it?")]
    assert "Below the bar: it loses to tracker-200ms and perfect-tracker" in label
    (table,) = [d.value for d in at.dataframe if "left paddle" in d.value.columns]
    assert list(table["left paddle"]) == list(ev.opponents)
    assert list(table["wins / draws / losses"]) == [f"{r.wins} / {r.draws} / {r.losses}" for r in ev.rows]


@pytest.mark.slow
def test_the_play_page_s_duel_shows_the_evidence_and_board_of_the_weights_it_plays(tmp_path, monkeypatch):
    """models/pong-duel holds other weights than models/pong (as a fine-tuned agent will): the page still shows
    that bundle's evaluation, names its weights, and shows the board of the name they are rated under."""
    from agents.bundle.match import MatchBundle
    from agents.bundle.match_pong_card import headline
    from playground.test_play_server import build_other_weights

    models = build_other_weights(tmp_path)
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    bundle = MatchBundle.open(models / "pong-duel")
    at = run("play", "pong")
    assert not at.exception and not at.error, [e.value for e in at.error]
    (label,) = [e.label for e in at.expander if e.label.startswith("How good is it?")]
    assert label == f"How good is it? {headline(bundle.evaluation()).replace('**', '')}"
    (table,) = [d.value for d in at.dataframe if "left paddle" in d.value.columns]
    assert list(table["wins / draws / losses"]) == [
        f"{r.wins} / {r.draws} / {r.losses}" for r in bundle.evaluation().rows
    ]
    name = f"pong-duel@{bundle.policy_sha256[:12]}"
    assert f"`models/pong-duel`'s (weights `{bundle.policy_sha256[:12]}`), rated as `{name}`" in text(at)
    assert "Nobody has finished a game against this agent yet" in text(at)


def test_a_tampered_two_player_bundle_is_one_error_on_its_card(tmp_path, monkeypatch):
    models = tmp_path / "models"
    shutil.copytree(models_dir(), models)
    (models / "connect-four" / "evaluation.json").write_text("{}")
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    at = run()
    assert not at.exception
    assert len(at.error) == 1 and "evaluation.json was changed" in at.error[0].value
    s = Bundle.open(models / "cartpole").eval_summary()
    assert f"{s['mean']:.2f} ± {s['std']:.2f}" in text(at)


# --- the Evidence page of the two-player games (views/match_evidence.py) ----------------------------------------

TWO_PLAYER = ("connect-four", "pong-duel")


def evaluation_rows(at) -> list[dict]:
    (table,) = [d.value for d in at.dataframe if "wins" in d.value.columns]
    return table.to_dict("records")


@pytest.mark.shipped
@pytest.mark.parametrize("slug", TWO_PLAYER)
def test_evidence_page_of_a_two_player_game_shows_its_bundle(slug):
    """W/D/L per opponent and seat as evaluation.json has them (read here as JSON, not through the bundle), the
    bars, Pong's points, the opponents' definitions, the curve, the replays and the card's rebuild commands."""
    from agents.bundle.match import MatchBundle

    at = run("evidence", slug)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="evidence-game").value == slug
    raw = json.loads((MODELS / slug / "evaluation.json").read_text())
    rows = evaluation_rows(at)
    assert [(r["opponent"], r["games"], r["wins"], r["draws"], r["losses"]) for r in rows] == [
        (r["opponent"], r["games"], r["wins"], r["draws"], r["losses"]) for r in raw["results"]
    ]
    for shown, r in zip(rows, raw["results"], strict=True):
        lo, hi = r["wins_ci95"]
        assert shown["seat"] == r["seat_name"] and shown["Wilson 95 %"] == f"{lo:.1%} – {hi:.1%}"
        assert shown["met"] == ("" if r["bar"] is None else "met" if r["bar_met"] else "not met")
        if "points_for" in r:
            assert shown["points for"].startswith(f"{r['points_for']['mean']:.1f} [")
    b = MatchBundle.open(MODELS / slug)
    t = text(at)
    met, barred = b.evaluation().bars()
    assert (f"below the bar**: {barred - met} of {barred} not met" in t) == (met < barred)
    assert f"seed {b.manifest.training['seed']} · {b.manifest.training['timesteps']:,} steps" in t
    (opponents,) = [d.value for d in at.dataframe if "plays" in d.value.columns]
    assert list(opponents["opponent"]) == b.manifest.opponent_names()
    assert [json.loads(j.value) for j in at.json] == [b.manifest.opponents]
    (replays,) = [d.value for d in at.dataframe if "replay" in d.value.columns]
    assert list(replays["replay"]) == b.replay_names()
    assert "\n".join(b.regenerate()) in [c.value for c in at.code]
    assert {"Evaluation", "Opponents", "Training curves", "Replays", "Verify", "Rebuild"} <= {
        h.value for h in at.header
    }
    gates = b.pool_gates()
    assert (gates is None) == (slug == "pong-duel")
    if gates:
        assert f"The self-play run's {len(gates)} gates" in t and f"{sum(g.passed for g in gates)} joined" in t


@pytest.mark.shipped
def test_two_player_evidence_verifies_the_bundle_on_a_click():
    at = run("evidence", "connect-four")
    at = at.button(key="match-verify").click().run()
    assert not at.exception
    assert any("checks passed" in s.value for s in at.success), [e.value for e in at.error]
    (checks,) = [d.value for d in at.dataframe if "check" in d.value.columns]
    assert "replay negamax-4-player_0-0 re-simulates" in list(checks["check"]) and set(checks[""]) == {"ok"}


def _two_player_models(tmp_path, monkeypatch, slug="connect-four"):
    models = tmp_path / "models"
    shutil.copytree(MODELS / slug, models / slug)
    monkeypatch.setenv("PLAYGROUND_MODELS", str(models))
    return models / slug


def _reseal(folder: Path, rel: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][rel] = sha256_file(folder / rel)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_broken_evaluation_json_is_one_line_and_the_other_sections_are_drawn(tmp_path, monkeypatch):
    """evaluation.json re-sealed in the manifest (its checksum passes) but with a count that does not add up."""
    folder = _two_player_models(tmp_path, monkeypatch)
    data = json.loads((folder / "evaluation.json").read_text())
    data["results"][0]["wins"] += 1
    (folder / "evaluation.json").write_text(json.dumps(data))
    _reseal(folder, "evaluation.json")
    at = run("evidence", "connect-four")
    assert not at.exception
    assert len(at.error) == 1, [e.value for e in at.error]
    assert "(evaluation)" in at.error[0].value and "evaluation.json: random as player_0" in at.error[0].value
    assert not [d for d in at.dataframe if "wins" in d.value.columns]
    assert {"Opponents", "Training curves", "Replays", "Verify", "Rebuild"} <= {h.value for h in at.header}
    assert "**Trained**" in text(at)


def test_a_two_player_bundle_without_a_curve_says_so(tmp_path, monkeypatch):
    folder = _two_player_models(tmp_path, monkeypatch)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["evidence/diagnostics.csv"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "evidence" / "diagnostics.csv").unlink()
    at = run("evidence", "connect-four")
    assert not at.exception and not at.error
    assert any(i.value == "This bundle carries no training curve." for i in at.info)


def test_a_two_player_bundle_s_text_reaches_the_page_as_text(tmp_path, monkeypatch):
    """A crafted training command, algorithm and source in the manifest: nothing of them becomes a link, an image
    or HTML on the Evidence page."""
    folder = _two_player_models(tmp_path, monkeypatch)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["training"].update(command=PAYLOAD, algo=PAYLOAD, run=PAYLOAD, code_commit=PAYLOAD)
    manifest["policy"]["plays"] = PAYLOAD
    (folder / "manifest.json").write_text(json.dumps(manifest))
    at = run("evidence", "connect-four")
    assert not at.exception
    bodies = markdown_strings(at)
    assert [b for b in bodies if ATTACKER in b]
    leaks = [(b, where) for b in bodies for where in outside_markdown(b) if where]
    assert not leaks, leaks


@pytest.mark.shipped
def test_the_gallery_s_two_player_cards_link_to_their_evidence():
    at = run()
    assert not at.exception
    links = [link for link in at.get("page_link") if link.label == "Evidence"]
    assert len(links) == len(BUNDLED) + len(TWO_PLAYER)
