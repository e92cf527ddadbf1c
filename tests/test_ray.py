"""The Ray path: a tiny matrix (CartPole, 2 seeds) as Ray tasks on a local Ray (``ray.init`` here), with
results and artifacts gathered back into the bundle's evidence; without Ray, a clear message."""

import json
import os
import shutil
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_reproduction_on_ray(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install '.[ray]'")
    from agents.bundle import Bundle
    from agents.experiments.reproduce import ReproduceOptions, reproduce

    bundle = tmp_path / "cartpole"
    shutil.copytree(ROOT / "models" / "cartpole", bundle)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}},
    )
    try:
        out = reproduce(
            ReproduceOptions(
                bundle,
                seeds=[21, 22],
                timesteps=2048,
                episodes=5,
                out=tmp_path / "work",
                ray_address="auto",
                command="test",
            ),
            say=lambda _: None,
        )
    finally:
        ray.shutdown()
    assert out["failed"] == 0
    report = out["report"]
    seeds = report["variants"][0]["seeds"]
    assert [s["seed"] for s in seeds] == [21, 22] and all(s["ok"] for s in seeds)
    # each run was a Ray task in a worker process, not this one
    assert all(s["where"]["pid"] != os.getpid() for s in seeds)
    for s in (21, 22):  # artifacts came back as data and are in the report folder
        rows = (out["path"] / "shipped" / f"training-seed{s}.csv").read_text().splitlines()
        assert len(rows) == 1 + 8
        assert (
            json.loads((out["path"] / "shipped" / f"final-eval-seed{s}.json").read_text())["summary"]["episodes"] == 5
        )
    assert all(c.ok for c in Bundle.open(bundle).verify())


def test_ray_address_without_ray(tmp_path, monkeypatch, capsys):
    from playground.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    bundle = tmp_path / "cartpole"
    shutil.copytree(ROOT / "models" / "cartpole", bundle)
    code = main(
        [
            "reproduce",
            str(bundle),
            "--seeds",
            "1",
            "--timesteps",
            "512",
            "--out",
            str(tmp_path / "w"),
            "--ray-address",
            "auto",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "--ray-address needs Ray, which is not installed" in err and "pip install" in err
