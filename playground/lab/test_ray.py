"""A lab job on a local Ray (PLAYGROUND_RAY_ADDRESS): the training and evaluation processes run as Ray tasks in
Ray's worker processes, and the job ends done with its evaluation, as with the local workers."""

import dataclasses
import os
import re
import time
from pathlib import Path

import pytest

from playground.lab import knobs, runner
from playground.lab.test_runner import lab, wait_for  # noqa: F401

pytestmark = pytest.mark.slow


def test_a_lab_job_runs_as_ray_tasks_on_a_local_ray(lab):  # noqa: F811
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install '.[ray]'")
    store, limits = lab
    limits = dataclasses.replace(limits, ray_address="local")
    (job,) = runner.submit(
        store, "cartpole", [("on ray", {**knobs.defaults("cartpole"), "timesteps": 2048})], "s", limits
    )
    pool = runner.LabRunner(store, limits).start()
    try:
        done = wait_for(lambda: (j := store.get(job.id)).finished and j, timeout=240, what="done")
    finally:
        pool.stop()
        ray.shutdown()
    assert done.state == "done", done.error
    assert done.result["eval"]["episodes"] == 20
    folder = Path(job.run_dir).parent
    for log in ("train.log", "evaluate.log"):
        pids = re.findall(r"\[lab\] Ray task on \S+, pid (\d+)", (folder / log).read_text())
        assert pids and all(int(p) != os.getpid() for p in pids), log
    assert time.time() - done.finished_at < 600
