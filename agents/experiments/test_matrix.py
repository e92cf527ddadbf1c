"""The matrix runner: every task runs once, a failing task is reported while the others finish, and the
local pool never uses more processes than cores."""

import os

import pytest

from agents.experiments.matrix import RayUnavailableError, run_matrix


def square_or_fail(payload):
    if payload["x"] == 3:
        raise ValueError("three is not allowed")
    return {"y": payload["x"] ** 2, "pid": os.getpid()}


@pytest.mark.parametrize("jobs", [1, pytest.param(2, marks=pytest.mark.slow)])  # 2: spawns worker processes
def test_failure_is_reported_and_the_others_finish(jobs):
    seen = []
    tasks = {f"t{x}": {"x": x} for x in range(5)}
    out = run_matrix(square_or_fail, tasks, jobs=jobs, on_done=lambda r: seen.append(r.key))
    assert list(out) == list(tasks) and sorted(seen) == sorted(tasks)
    assert [out[f"t{x}"].value["y"] for x in (0, 1, 2, 4)] == [0, 1, 4, 16]
    bad = out["t3"]
    assert not bad.ok and bad.error == "ValueError: three is not allowed" and "square_or_fail" in bad.traceback
    pids = {r.value["pid"] for r in out.values() if r.ok}
    assert (pids == {os.getpid()}) if jobs == 1 else (os.getpid() not in pids)


def test_jobs_are_capped_at_the_core_count(monkeypatch):
    import agents.experiments.matrix as m

    made = {}

    class Pool:
        def __init__(self, max_workers, **kw):
            made["workers"] = max_workers
            raise RuntimeError("stop here")

    monkeypatch.setattr(m, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(m.os, "cpu_count", lambda: 2)
    with pytest.raises(RuntimeError):
        run_matrix(square_or_fail, {f"t{x}": {"x": x} for x in range(8)}, jobs=16)
    assert made["workers"] == 2


def test_ray_address_without_ray_is_a_clear_message(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(
        RayUnavailableError, match=r"needs Ray, which is not installed: pip install 'ppo-playground\[ray\]'"
    ):
        run_matrix(square_or_fail, {"t0": {"x": 0}}, ray_address="auto")
