"""The bundle API: the typed manifest round-trips every shipped bundle, the writer leaves nothing behind on
failure, a catalog change under a bundle is noticed when it is opened, and an external bundle has no seed."""

import dataclasses
import json
import shutil

import pytest

import envs.catalog as catalog
from agents.bundle import EXTERNAL, MANIFEST, Bundle, Manifest
from agents.bundle.build import build_bundle
from agents.bundle.writer import BundleWriter
from agents.common.errors import BundleError
from agents.common.settings import models_dir
from agents.evaluation.evaluate import Protocol

SHIPPED = sorted(p.name for p in models_dir().iterdir() if Bundle.is_bundle(p))


@pytest.mark.shipped
@pytest.mark.parametrize("slug", SHIPPED)
def test_manifest_round_trips_every_shipped_bundle_key_for_key(slug):
    raw = json.loads((models_dir() / slug / MANIFEST).read_text())
    m = Manifest.from_json(raw)
    assert m.to_json() == raw and list(m.to_json()) == list(raw)
    assert m.origin == "trained" and m.shipped_seed in m.seeds


def test_manifest_refuses_what_is_not_one():
    raw = json.loads((models_dir() / "cartpole" / MANIFEST).read_text())
    for bad, message in [
        ({**raw, "format": "other@9"}, "format"),
        ({**raw, "files": {"../x": "0" * 64}}, "unsafe"),
        ({**raw, "files": {"a": "nothex"}}, "malformed"),
        ({**raw, "seeds": ["1"]}, "integers"),
        ({**raw, "shipped_seed": 99}, "shipped_seed"),
        ({**raw, "game": 3}, "wrong type"),
        ([], "not a JSON object"),
    ]:
        with pytest.raises(BundleError, match=message):
            Manifest.from_json(bad)


def test_external_manifest_has_no_shipped_seed(tmp_path):
    raw = json.loads((models_dir() / "cartpole" / MANIFEST).read_text())
    raw = {
        **raw,
        "origin": EXTERNAL,
        "seeds": [],
        "shipped_seed": None,
        "source": {"kind": "sb3-zip"},
        "commands": {"import": "playground import x.zip --game cartpole", "verify": "playground verify b"},
    }
    with pytest.raises(BundleError, match="needs its source's kind, zip and zip_sha256"):
        Manifest.from_json(raw)  # what the Evidence page shows of an external agent must be there
    raw["source"] = {"kind": "sb3 zip", "zip": "ppo-CartPole-v1.zip", "zip_sha256": "0" * 64}
    m = Manifest.from_json(raw)
    assert m.is_external and m.to_json()["origin"] == EXTERNAL
    b = Bundle(tmp_path, m)
    with pytest.raises(BundleError, match="external agent"):
        b.shipped_seed()


def test_writer_leaves_nothing_on_failure_and_keeps_the_old_bundle(tmp_path):
    out = tmp_path / "models" / "cartpole"
    shutil.copytree(models_dir() / "cartpole", out)
    before = sorted(p.name for p in (tmp_path / "models").iterdir())
    with pytest.raises(RuntimeError):
        with BundleWriter(out) as w:
            w.write_text("config.yml", "x: 1\n")
            raise RuntimeError("evaluation crashed")
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == before  # no .cartpole.writing left
    assert Bundle.open(out).eval_summary()["mean"] == 500.0
    with BundleWriter(tmp_path / "models" / "other") as w:
        w.write_text("config.yml", "x: 1\n")  # no finish(): nothing is installed
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == before


def test_a_failed_build_leaves_nothing(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(models_dir() / "cartpole" / "evidence", run)  # not a run folder
    (run / "run.json").write_text(
        json.dumps({"game": "cartpole", "status": "done", "seed": 1, "commands": [], "segments": [{"start": "x"}]})
    )
    (run / "eval.csv").write_text("timesteps,mean,std\n")
    (run / "diagnostics.csv").write_text("timesteps\n")
    with pytest.raises((BundleError, FileNotFoundError, OSError)):
        build_bundle("cartpole", [run], out=tmp_path / "models" / "cartpole")
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").iterdir()) == []


@pytest.fixture
def catalog_change(monkeypatch):
    """Change the catalog's cartpole under the shipped bundle, as a later edit of envs/catalog.py would."""

    def change(**fields):
        spec = catalog.GAMES["cartpole"]
        monkeypatch.setitem(catalog.GAMES, "cartpole", dataclasses.replace(spec, **fields))

    return change


@pytest.mark.slow
def test_a_changed_env_is_refused_with_the_difference_named(catalog_change):
    catalog_change(env_kwargs={"sutton_barto_reward": True})
    with pytest.raises(BundleError, match=r"env_kwargs recorded \{\}, catalog now \{'sutton_barto_reward': True\}"):
        Bundle.open(models_dir() / "cartpole")
    checks = Bundle.open(models_dir() / "cartpole", check=False).verify()
    assert [c.ok for c in checks if c.name == "recorded env is the catalog's"] == [False]


@pytest.mark.slow
def test_a_changed_evaluation_protocol_evaluates_with_the_recorded_one(catalog_change):
    spec = catalog.GAMES["cartpole"]
    catalog_change(eval=dataclasses.replace(spec.eval, seed_base=5, deterministic=False, episodes=7))
    b = Bundle.open(models_dir() / "cartpole")
    p = b.protocol()
    assert (p.seed_base, p.deterministic, p.episodes) == (1_000_000, True, 100)  # eval.json's, not today's
    again = b.evaluate(episodes=3)
    assert again.seeds == [1_000_000, 1_000_001, 1_000_002] and again.deterministic
    assert again.returns == b.eval_result().returns[:3]


def test_protocol_json_round_trip():
    p = Protocol.of_spec(catalog.GAMES["pong"])
    assert Protocol.from_json(p.to_json()) == p and "FrameStackLast(4)" in p.wrappers


def test_policy_id_changes_with_the_weights_or_policy_json(tmp_path):
    """The watch cache and the play server key on policy_id: a pulled bundle with the shipped weights but its
    own normaliser in policy.json must not share the shipped agent's cached trajectories."""
    raw = json.loads((models_dir() / "acrobot" / MANIFEST).read_text())
    base = Bundle(tmp_path, Manifest.from_json(raw)).policy_id
    other_json = {**raw, "files": {**raw["files"], "policy.json": "0" * 64}}
    other_weights = {**raw, "files": {**raw["files"], "policy.safetensors": "0" * 64}}
    assert (
        len(
            {
                base,
                Bundle(tmp_path, Manifest.from_json(other_json)).policy_id,
                Bundle(tmp_path, Manifest.from_json(other_weights)).policy_id,
            }
        )
        == 3
    )
