"""The Lab page through Streamlit's AppTest (no workers run here: the page only queues jobs and reads run
folders): a knob out of range is refused with its message and nothing is queued; a preset queues its arms
together and opens them as a comparison; runs with diagnostics get curves, health and a reading; a finished
run gets its evaluation, Watch and Play links and Make a bundle."""

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from agents.bundle import Bundle
from agents.common.settings import models_dir
from playground.store.db import Database, sqlite_url
from playground.store.jobs import JobStore

pytestmark = pytest.mark.slow  # runs the app's script through AppTest

MAIN = str(Path(__file__).resolve().parent.parent / "main.py")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("PLAYGROUND_CACHE", str(tmp_path / "cache"))
    db = Database(sqlite_url(tmp_path / "data" / "playground.sqlite"))
    db.migrate()
    yield JobStore(db)
    db.dispose()


def lab(**params):
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["page"] = "lab"
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def texts(at) -> str:
    kinds = ("markdown", "caption", "title", "warning", "error", "info", "success")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def test_a_knob_out_of_range_is_refused_and_a_preset_queues_its_arms_together(store):
    at = lab()
    assert not at.exception and at.title[0].value == "Lab"
    game = at.selectbox(key="lab-game")
    assert game.value == "cartpole" and [o.split(" · ")[0] for o in game.options] == [
        "CartPole",
        "Acrobot",
        "Pendulum",
        "LunarLander",
    ]
    assert "Not offered here" in texts(at) and "Pong" in texts(at)
    at.number_input(key="lab-knob-cartpole-clip_range").set_value(0.0)
    at = at.button(key="lab-start").click().run()
    assert "clip_range must be 0.01 to 100" in texts(at)
    assert store.list() == []
    at.number_input(key="lab-knob-cartpole-clip_range").set_value(0.2)
    at.selectbox(key="lab-preset").set_value("clip")
    at = at.run()
    assert "Does PPO's clipped surrogate matter" in texts(at)
    at = at.button(key="lab-start").click().run()
    assert not at.exception, at.exception
    jobs = store.list()
    assert sorted(j.label for j in jobs) == ["clip 0.2", "clip off (ε = 100)"]
    assert len({j.group for j in jobs}) == 1 and jobs[0].group is not None
    assert {j.config["clip_range"] for j in jobs} == {0.2, 100}
    assert set(at.query_params["jobs"].split(",")) == {j.id for j in jobs}
    assert [p.value for p in at.get("progress")] == [0, 0]
    assert texts(at).count("queued") >= 2


def test_runs_with_diagnostics_show_curves_health_a_reading_and_the_finished_runs_links(store, tmp_path):
    shipped = Bundle.open(models_dir() / "cartpole")
    csv = shipped.diagnostics_text(shipped.shipped_seed())
    lines = csv.splitlines(keepends=True)
    jobs = []
    for label, n in (("clip 0.2", len(lines)), ("clip off (ε = 100)", len(lines) // 3)):
        run_dir = tmp_path / "data" / "lab" / label.split()[1] / "run"
        run_dir.mkdir(parents=True)
        (run_dir / "diagnostics.csv").write_text("".join(lines[:n]))
        cfg = {"timesteps": 100_000}
        jobs.append(store.submit("cartpole", label, cfg, "someone", str(run_dir), "g1", queue_cap=4))
    store.claim("w")
    store.claim("w")
    agent = tmp_path / "agent"
    shutil.copytree(models_dir() / "cartpole", agent)
    store.finish(jobs[0].id, {"eval": {"mean": 500.0, "std": 0.0, "episodes": 20}, "agent": f"lab:{jobs[0].id}"})
    at = lab(jobs=",".join(j.id for j in jobs))
    assert not at.exception, at.exception
    t = texts(at)
    assert "20-episode evaluation: **500.00 ± 0.00**" in t
    assert "Over the first" in t and "steps (all runs have them)" in t  # the reading, from the curves
    assert "Health:" in t
    charts = at.get("vega_lite_chart")
    assert len(charts) == 7  # reward, entropy, approx KL, clip fraction, explained variance, value loss, lr
    data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pylist() for d in charts[0].proto.datasets}
    assert {p["run"] for p in data["runs"]} == {"clip 0.2", "clip off (ε = 100)"}  # both runs
    assert data["ref"] and "runs" in json.dumps(json.loads(charts[0].proto.spec)["layer"])  # and the shipped run
    assert len([p for p in data["runs"] if p["run"] == "clip 0.2"]) <= 301  # at most ~300 points a curve
    links = {(e.proto.label, e.proto.page) for e in at.get("page_link")}
    assert {label for label, _ in links} >= {"Watch", "Play (Versus)"}
    assert at.button(key=f"lab-bundle-{jobs[0].id}")  # Make a bundle
    assert "playground publish" in "\n".join(c.value for c in at.code)
    # not this browser's runs: no Cancel button
    assert not [b for b in at.button if b.key and b.key.startswith("lab-cancel-")]


def test_a_bad_jobs_parameter_is_one_line(store):
    at = lab(jobs="nothex,../../etc")
    assert not at.exception
    assert "is not a lab job id" in texts(at)
