"""Reproduction end to end on a tiny CartPole bundle built here: the same seed gives the identical curve,
a different seed a different one; the report lands in the bundle's evidence and keeps it verifiable;
a failed run is reported while the others finish."""

import json
import shutil

import pytest

from agents.bundle import Bundle, Manifest
from agents.bundle.build import build_bundle
from agents.experiments.ablations import ABLATIONS, get_ablation
from agents.experiments.reproduce import (
    ReproduceError,
    ReproduceOptions,
    plan_reproduction,
    reproduce,
    same_curve,
    version_check,
)
from agents.training.train import TrainOptions, train

pytestmark = pytest.mark.slow  # trains: a bundle in the module fixture, then reproductions

STEPS = 2048  # 8 PPO updates of CartPole's 8 x 32 steps: about a second each


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """A CartPole bundle of two 2048-step seeds, built by the real build_bundle (5 evaluation episodes)."""
    d = tmp_path_factory.mktemp("tiny")
    runs = [train(TrainOptions("cartpole", seed=s, timesteps=STEPS, out=d / f"seed{s}", progress=None)) for s in (1, 2)]
    return build_bundle("cartpole", runs, out=d / "models" / "cartpole", episodes=5)


@pytest.fixture
def bundle(tiny_bundle, tmp_path):
    b = tmp_path / "cartpole"
    shutil.copytree(tiny_bundle, b)
    return b


def test_same_seed_same_curve_other_seed_another(tmp_path):
    a = train(TrainOptions("cartpole", seed=7, timesteps=STEPS, out=tmp_path / "a", progress=None))
    b = train(TrainOptions("cartpole", seed=7, timesteps=STEPS, out=tmp_path / "b", progress=None))
    c = train(TrainOptions("cartpole", seed=8, timesteps=STEPS, out=tmp_path / "c", progress=None))

    def text(run):
        return (run / "diagnostics.csv").read_text()

    same = same_curve(text(a), text(b))
    assert same["identical"], same["detail"]
    assert same["detail"].startswith("all 8 updates identical (ignoring wall_time, fps")
    other = same_curve(text(a), text(c))
    assert not other["identical"] and "first difference at update 1" in other["detail"]
    assert (a / "eval.csv").read_text() == (b / "eval.csv").read_text()


def test_reproduction_report_in_the_bundle(bundle, tmp_path):
    lines = []
    out = reproduce(
        ReproduceOptions(bundle, seeds=[1, 9], out=tmp_path / "work", jobs=1, command="test"), say=lines.append
    )
    report = out["report"]
    assert out["failed"] == 0 and out["path"].parent == bundle / "evidence" / "reproductions"
    assert lines[0].startswith("versions: ") and "the same as the bundle's" in lines[0]
    seeds = {s["seed"]: s for s in report["variants"][0]["seeds"]}
    # seed 1 is a published seed with the bundle's own config: the curve is the published one, exactly
    assert seeds[1]["same_seed_as_published"]["identical"], seeds[1]["same_seed_as_published"]
    assert "same_seed_as_published" not in seeds[9]
    # the final evaluation is the bundle's protocol: its seeds and episode count
    ev = json.loads((out["path"] / "shipped" / "final-eval-seed9.json").read_text())
    assert ev["seeds"] == Bundle.open(bundle).eval_result().seeds
    # the shipped seed's policy, retrained from the same seed, scores exactly what eval.json says
    b = Bundle.open(bundle)
    if b.shipped_seed() == 1:
        assert seeds[1]["score"] == b.eval_summary()["mean"]
    assert report["verdict"] in ("reproduced", "not reproduced")
    assert report["reasons"] and report["variants"][0]["vs_published"]["band"]["rule"]
    for name in (
        "report.json",
        "report.md",
        "manifest.json",
        "shipped/config.yml",
        "shipped/training-seed9.csv",
        "shipped/eval-during-training-seed9.csv",
        "shipped/epochs-seed9.csv",
    ):
        assert (out["path"] / name).is_file(), name
    assert "Verdict:" in (out["path"] / "report.md").read_text()
    manifest = json.loads((out["path"] / "manifest.json").read_text())
    assert {"versions", "hardware", "code", "runs", "files"} <= set(manifest)
    assert manifest["runs"]["shipped/seed9"]["commands"][0].startswith("playground train cartpole --seed 9")

    # the bundle still verifies, the reproduction's own checksums included; the app lists it
    b = Bundle.open(bundle)
    checks = {c.name: c for c in b.verify()}
    assert all(c.ok for c in checks.values()), [c for c in checks.values() if not c.ok]
    assert checks[f"reproduction {out['path'].name} checksums"].ok
    assert [r["id"] for r in b.reproductions()] == [out["path"].name]
    assert b.reproduction_rows(out["path"].name, "shipped/training-seed9.csv")[-1]["timesteps"] == STEPS
    # tampering with a report is caught, and only the reproduction's check fails
    (out["path"] / "shipped" / "final-eval-seed9.json").write_text("{}")
    (out["path"] / "extra.txt").write_text("x")
    failed = [c for c in Bundle.open(bundle).verify() if not c.ok]
    assert (
        len(failed) == 1
        and "final-eval-seed9.json was changed" in failed[0].detail
        and "extra.txt is not in its manifest" in failed[0].detail
    )

    # the same command again: complete, nothing re-run
    again = reproduce(
        ReproduceOptions(bundle, seeds=[1, 9], out=tmp_path / "work", jobs=1, command="test"), say=lines.append
    )
    assert again["path"] == out["path"] and "this reproduction is complete" in lines[-1]


def test_a_failed_run_is_reported_and_the_others_finish(bundle, tmp_path):
    work = tmp_path / "work"
    plan = plan_reproduction(Bundle.open(bundle), seeds=[3, 4], out=work)
    # seed 4's folder holds a run whose checkpoint is broken: resuming it fails with a ResumeError
    broken = work / "shipped" / "seed4"
    (broken / "checkpoints").mkdir(parents=True)
    (broken / "run.json").write_text(json.dumps({"game": "cartpole", "seed": 4, "status": "running"}))
    (broken / "checkpoints" / "latest").write_text("ckpt-000000000256")
    assert plan.work_dir == str(work)
    out = reproduce(ReproduceOptions(bundle, seeds=[3, 4], out=work, jobs=1), say=lambda _: None)
    assert out["failed"] == 1
    report = out["report"]
    seeds = {s["seed"]: s for s in report["variants"][0]["seeds"]}
    assert seeds[3]["ok"] and not seeds[4]["ok"] and "checkpoint" in seeds[4]["error"]
    assert report["failed_runs"] == [f"shipped/seed4: {seeds[4]['error']}"]
    assert report["variants"][0]["vs_published"]["reproduced"]["runs"] == 1
    assert not (work / "reported.json").exists(), "a reproduction with a failed run is not complete"


def test_ablation_variants_and_the_trpo_config(bundle, tmp_path):
    b = Bundle.open(bundle)
    plan = plan_reproduction(b, n_seeds=3, out=tmp_path / "w", ablation=get_ablation("clip-off"))
    assert plan.seeds == [1, 2, 3] and [v["key"] for v in plan.variants] == ["clip0.2", "clip100"]
    assert plan.variants[0]["config"] == b.config() and plan.variants[1]["config"]["clip_range"] == 100
    assert len(plan.tasks()) == 6
    # a reproduction's default seeds are new ones, after the published
    assert plan_reproduction(b, n_seeds=3, out=tmp_path / "x").seeds == [3, 4, 5]
    trpo = (
        ABLATIONS["ppo-vs-trpo"]
        .variants[1]
        .config(
            {"n_envs": 16, "n_steps": 1024, "n_epochs": 4, "ent_coef": 0.01, "n_timesteps": 1000000, "gamma": 0.999}
        )
    )
    assert trpo == {
        "n_envs": 16,
        "n_steps": 1024,
        "n_timesteps": 1000000,
        "gamma": 0.999,
        "algo": "TRPO",
        "batch_size": 128,
    }
    with pytest.raises(ReproduceError, match="defined on lunarlander, not cartpole"):
        reproduce(ReproduceOptions(bundle, ablation=get_ablation("target-kl")), say=lambda _: None)
    with pytest.raises(ReproduceError, match="--seeds or --n-seeds, not both"):
        plan_reproduction(b, seeds=[1], n_seeds=2)


def test_version_mismatch_is_reported_up_front(bundle):
    m = json.loads((bundle / "evidence" / "manifest.json").read_text())
    b = Bundle(bundle, Manifest.from_json({**m, "versions": {**m["versions"], "torch": "1.0.0", "numpy": "0.1"}}))
    check = version_check(b)
    assert not check["ok"] and [r["package"] for r in check["mismatches"]] == ["torch"]  # numpy is not checked
    with pytest.raises(ReproduceError, match="versions differ"):
        import agents.experiments.reproduce as r

        orig = r.Bundle.open
        try:
            r.Bundle.open = classmethod(lambda cls, where, check=True: b)
            reproduce(ReproduceOptions(bundle, seeds=[5], strict_versions=True), say=lambda _: None)
        finally:
            r.Bundle.open = orig
