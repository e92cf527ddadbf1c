"""The lab's job runner on the real job store (a SQLite file) with real `playground train` processes and tiny
budgets: the caps, cancel (the partial run stays readable), a training process that fails, a wall-time cap,
an app killed with a running job (requeued, resumed from its checkpoint), cleanup by age and disk size."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from playground.lab import knobs, live, runner
from playground.lab.knobs import KnobError
from playground.store.db import Database, sqlite_url
from playground.store.errors import QueueFull
from playground.store.jobs import JobStore

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    db = Database(sqlite_url(tmp_path / "data" / "playground.sqlite"))
    db.migrate()
    limits = runner.LabLimits(lab_dir=tmp_path / "data" / "lab", poll_seconds=0.1, heartbeat_seconds=0.2)
    yield JobStore(db), limits
    db.dispose()


def tiny(**changes):
    return {**knobs.defaults("cartpole"), "timesteps": 2048, **changes}


def wait_for(predicate, timeout=60.0, what="the condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_submit_checks_game_knobs_and_the_queue_cap_before_queueing(lab):
    store, limits = lab
    limits = dataclasses.replace(limits, queue_per_session=3, max_timesteps=50_000)
    with pytest.raises(KnobError, match="the lab runs cartpole, acrobot, pendulum, lunarlander; 'pong'"):
        runner.submit(store, "pong", [("x", tiny())], "s", limits)
    with pytest.raises(KnobError, match="clip_range must be 0.01 to 100"):
        runner.submit(store, "cartpole", [("x", tiny(clip_range=0))], "s", limits)
    with pytest.raises(KnobError, match="over the lab's cap of 50,000"):
        runner.submit(store, "cartpole", [("x", tiny(timesteps=60_000))], "s", limits)
    assert store.list() == []  # nothing was queued by a refused submit
    two = runner.submit(store, "cartpole", [("a", tiny()), ("b", tiny(seed=2))], "s", limits)
    assert two[0].group is not None and two[0].group == two[1].group and two[0].run_dir != two[1].run_dir
    with pytest.raises(QueueFull, match="has 2 lab job"):  # all arms or none
        runner.submit(store, "cartpole", [("c", tiny()), ("d", tiny())], "s", limits)
    assert len(store.list(session="s")) == 2
    runner.submit(store, "cartpole", [("c", tiny())], "other session", limits)
    store.request_cancel(two[0].id)  # a cancelled job no longer counts
    runner.submit(store, "cartpole", [("c", tiny())], "s", limits)


@pytest.mark.slow
def test_cancel_a_running_job_keeps_its_partial_run(lab):
    store, limits = lab
    (job,) = runner.submit(store, "cartpole", [("long", tiny(timesteps=200_000))], "s", limits)
    pool = runner.LabRunner(store, limits).start()
    try:
        rows = wait_for(lambda: len(live.read_rows(job.run_dir)) >= 3 and live.read_rows(job.run_dir), what="rows")
        store.request_cancel(job.id)
        done = wait_for(lambda: (j := store.get(job.id)).finished and j, what="cancelled")
    finally:
        pool.stop()
    assert done.state == "cancelled" and done.error is None
    after = live.read_rows(job.run_dir)
    steps = [r["timesteps"] for r in rows]
    assert [r["timesteps"] for r in after][: len(steps)] == steps  # the partial run stays readable
    assert live.progress(done, after).timesteps < 200_000


@pytest.mark.slow
def test_a_failing_training_process_fails_the_job_with_its_one_line_error(lab):
    store, limits = lab
    (job,) = runner.submit(store, "cartpole", [("broken", tiny())], "s", limits)
    run_dir = Path(job.run_dir)
    run_dir.mkdir(parents=True)  # a run folder someone else's run already holds: `train --resume` refuses it
    (run_dir / "run.json").write_text(json.dumps({"status": "running", "game": "acrobot", "seed": 1}))
    (run_dir / "config.yml").write_text("n_envs: 1\n")
    pool = runner.LabRunner(store, limits).start()
    try:
        failed = wait_for(lambda: (j := store.get(job.id)).finished and j, what="failed")
    finally:
        pool.stop()
    assert failed.state == "failed"
    assert failed.error.startswith("train exited with status 1: ") and "\n" not in failed.error
    assert "holds a run of acrobot seed 1, not cartpole seed 1" in failed.error


@pytest.mark.slow
def test_the_wall_time_cap_stops_a_job(lab):
    store, limits = lab
    limits = dataclasses.replace(limits, max_seconds=1.0)
    (job,) = runner.submit(store, "cartpole", [("slow", tiny(timesteps=100_000))], "s", limits)
    pool = runner.LabRunner(store, limits).start()
    try:
        failed = wait_for(lambda: (j := store.get(job.id)).finished and j, what="failed")
    finally:
        pool.stop()
    assert failed.state == "failed" and "wall-time cap of 1 s" in failed.error


WORKER = textwrap.dedent(
    """
    import dataclasses, sys, time
    from pathlib import Path
    from playground.lab import runner
    from playground.store.db import Database, sqlite_url
    from playground.store.jobs import JobStore
    store = JobStore(Database(sqlite_url(sys.argv[1])))
    limits = runner.LabLimits(lab_dir=Path(sys.argv[2]), poll_seconds=0.1, heartbeat_seconds=0.2,
                              checkpoint_seconds=0.5)
    runner.LabRunner(store, limits, name="doomed").start()
    time.sleep(600)
    """
)


@pytest.mark.slow
def test_a_killed_app_leaves_a_running_job_that_the_next_one_resumes_from_its_checkpoint(lab, tmp_path):
    store, limits = lab
    (job,) = runner.submit(store, "cartpole", [("survivor", tiny(timesteps=8192))], "s", limits)
    run_dir = Path(job.run_dir)
    app = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(tmp_path / "data" / "playground.sqlite"), str(limits.lab_dir)], cwd=ROOT
    )
    try:
        wait_for(lambda: (run_dir / "checkpoints" / "latest").exists(), timeout=180, what="a checkpoint")
    finally:
        os.kill(app.pid, signal.SIGKILL)  # the app dies without a word; its training child dies with it
        app.wait()
    killed_at = store.get(job.id)
    assert killed_at.state == "running" and killed_at.worker.startswith("doomed")
    time.sleep(0.5)
    limits = dataclasses.replace(limits, stale_seconds=0.5)
    pool = runner.LabRunner(store, limits).start()
    try:
        done = wait_for(lambda: (j := store.get(job.id)).finished and j, timeout=120, what="done")
    finally:
        pool.stop()
    assert done.state == "done", done.error
    run = json.loads((run_dir / "run.json").read_text())
    assert run["commands"][-1].endswith("--resume") and len(run["segments"]) == 2
    assert run["segments"][1]["from_timesteps"] > 0  # resumed from the checkpoint, not from step 0
    steps = [r["timesteps"] for r in live.read_rows(run_dir)]
    assert steps == sorted(set(steps)) and steps[-1] == 8192  # no update twice, none missing at the end
    assert done.result["eval"]["episodes"] == 20 and done.result["agent"] == f"lab:{job.id}"
    from agents.hub import registry

    assert registry.get(f"lab:{job.id}").path == done.result["agent_path"]

    # "Make a bundle": the ordinary build (100 episodes, replays) and verify, into the job's folder, never models/
    runner.make_bundle(done).join(timeout=300)
    status = runner.bundle_status(done)
    assert status == f"written and verified: {runner.job_folder(done) / 'bundle'}", status
    from agents.bundle import Bundle

    built = Bundle.open(runner.job_folder(done) / "bundle")
    assert built.eval_result().summary["episodes"] == 100 and all(c.ok for c in built.verify())


def _finished(store, limits, label, size):
    (job,) = runner.submit(store, "cartpole", [(label, tiny())], label, limits)
    assert store.claim("w").id == job.id
    store.finish(job.id, {"eval": {}})
    folder = runner.job_folder(job)
    folder.mkdir(parents=True)
    (folder / "blob").write_bytes(b"x" * size)
    return job


def test_cleanup_by_age_then_by_disk_size_and_never_an_active_job(lab):
    from agents.hub import registry

    store, limits = lab
    limits = dataclasses.replace(limits, keep_seconds=100, max_disk_bytes=10**9)
    finished = [_finished(store, limits, label, 10_000) for label in "abc"]
    (queued,) = runner.submit(store, "cartpole", [("running", tiny())], "q", limits)
    assert store.claim("w").id == queued.id  # a running job: never cleaned up, whatever its folder's size
    runner.job_folder(queued).mkdir(parents=True)
    (runner.job_folder(queued) / "blob").write_bytes(b"x" * 50_000)
    registry.add(runner.agent_id(finished[0]), "cartpole", runner.job_folder(finished[0]), "lab")
    assert runner.cleanup(store, limits) == [] and len(store.list()) == 4
    removed = runner.cleanup(store, limits, now=time.time() + 150)  # all finished more than 100 s ago by then
    assert sorted(removed) == sorted(j.id for j in finished)
    assert [j.id for j in store.list()] == [queued.id] and runner.job_folder(queued).exists()
    assert not any(runner.job_folder(j).exists() for j in finished)
    assert registry.get(runner.agent_id(finished[0])) is None
    d, e = _finished(store, limits, "d", 10_000), _finished(store, limits, "e", 10_000)
    removed = runner.cleanup(store, dataclasses.replace(limits, max_disk_bytes=65_000))  # 70 kB in the lab
    assert removed == [d.id]  # the oldest finished one goes first, until the lab is under the size
    assert not runner.job_folder(d).exists() and runner.job_folder(e).exists() and runner.job_folder(queued).exists()


@pytest.mark.slow
def test_the_lab_worker_command_runs_jobs_and_requeues_them_on_sigterm(lab, tmp_path):
    store, limits = lab
    (job,) = runner.submit(store, "cartpole", [("cli", tiny(timesteps=200_000))], "s", limits)
    env = {**os.environ, "PLAYGROUND_DATA": str(tmp_path / "data")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "playground", "lab-worker"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: store.get(job.id).state == "running", what="the job claimed")
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, out
    assert "lab worker" in out and "running jobs go back to the queue" in out
    assert store.get(job.id).state == "queued"  # the next worker resumes it
