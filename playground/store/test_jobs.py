"""Lab jobs: the state machine (every legal move, and the illegal ones refused), the per-session queue cap,
stale jobs and their requeue, and that workers racing for jobs (threads, then processes) never share one.
Each test runs on SQLite and on PostgreSQL (conftest.py)."""

from __future__ import annotations

import multiprocessing as mp
import re
import threading

import pytest

from playground.store.db import Database
from playground.store.errors import NotFound, StoreError
from playground.store.jobs import Job, JobStateError, JobStore, QueueFull


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db: Database, clock: Clock) -> JobStore:
    return JobStore(db, clock=clock)


def submit(store: JobStore, label: str = "clip 0.2", session: str = "s1", cap: int = 100, **kw) -> Job:
    return store.submit("cartpole", label, {"clip_range": 0.2}, session, f"/lab/{label}", queue_cap=cap, **kw)


def test_a_job_goes_from_queued_to_done_and_keeps_what_it_was_given(store, clock):
    job = submit(store, group="cmp1")
    assert re.fullmatch(r"[0-9a-f]{12}", job.id)
    assert (job.state, job.config, job.group, job.created_at, job.worker) == (
        "queued",
        {"clip_range": 0.2},
        "cmp1",
        1000.0,
        None,
    )
    clock.now = 1005.0
    running = store.claim("w1")
    assert running is not None and running.id == job.id
    assert (running.state, running.worker, running.started_at, running.heartbeat_at) == (
        "running",
        "w1",
        1005.0,
        1005.0,
    )
    clock.now = 1010.0
    assert store.heartbeat(job.id, "w1").heartbeat_at == 1010.0
    done = store.finish(job.id, {"mean_return": 500.0, "episodes": [500.0] * 20})
    assert (done.state, done.finished_at, done.result["mean_return"]) == ("done", 1010.0, 500.0)
    assert done.finished and store.get(job.id) == done
    store.delete(job.id)
    assert store.get(job.id) is None


def test_failure_and_both_kinds_of_cancel(store):
    failing, queued, running = submit(store, "a"), submit(store, "b"), submit(store, "c")
    assert store.claim("w").id == failing.id
    failed = store.fail(failing.id, "training crashed:\n  ValueError: nan in the loss\n" + "x" * 1000)
    assert failed.state == "failed" and "\n" not in failed.error and len(failed.error) <= 500
    assert failed.error.startswith("training crashed: ValueError: nan in the loss")

    cancelled = store.request_cancel(queued.id)  # a queued job is cancelled at once
    assert (cancelled.state, cancelled.cancel_requested) == ("cancelled", True)
    assert store.request_cancel(queued.id) == cancelled  # asking twice changes nothing

    assert store.claim("w").id == running.id  # the cancelled one is skipped
    asked = store.request_cancel(running.id)  # a running one is asked to stop...
    assert (asked.state, asked.cancel_requested) == ("running", True)
    assert store.heartbeat(running.id, "w").cancel_requested  # ...its worker learns it at the next heartbeat
    assert store.mark_cancelled(running.id).state == "cancelled"
    assert store.claim("w") is None


ILLEGAL = [
    ("queued", "finish", "only a running job"),
    ("queued", "fail", "only a running job"),
    ("queued", "mark_cancelled", "only a running job"),
    ("queued", "requeue", "only a running job"),
    ("queued", "heartbeat", "only a running job"),
    ("queued", "delete", "cancel it first"),
    ("running", "delete", "cancel it first"),
    ("running", "mark_cancelled", "nobody asked to cancel it"),
    ("running", "heartbeat_other", "worker 'w1' runs it, not 'w2'"),
    ("done", "finish", "it is done"),
    ("done", "fail", "it is done"),
    ("done", "request_cancel", "it is done"),
    ("done", "requeue", "it is done"),
    ("failed", "finish", "it is failed"),
    ("cancelled", "finish", "it is cancelled"),
    ("cancelled", "requeue", "it is cancelled"),
]


def _bring_to(store: JobStore, state: str) -> Job:
    job = submit(store)
    if state == "cancelled":
        return store.request_cancel(job.id)
    if state == "queued":
        return job
    claimed = store.claim("w1")
    assert claimed is not None and claimed.id == job.id
    if state == "done":
        return store.finish(job.id, {})
    if state == "failed":
        return store.fail(job.id, "boom")
    return claimed


@pytest.mark.parametrize(("state", "action", "message"), ILLEGAL)
def test_illegal_transitions_are_refused_and_change_nothing(store, state, action, message):
    job = _bring_to(store, state)
    assert job.state == state
    call = {
        "finish": lambda: store.finish(job.id, {}),
        "fail": lambda: store.fail(job.id, "x"),
        "mark_cancelled": lambda: store.mark_cancelled(job.id),
        "requeue": lambda: store.requeue(job.id),
        "heartbeat": lambda: store.heartbeat(job.id, "w1"),
        "heartbeat_other": lambda: store.heartbeat(job.id, "w2"),
        "request_cancel": lambda: store.request_cancel(job.id),
        "delete": lambda: store.delete(job.id),
    }[action]
    with pytest.raises(JobStateError, match=re.escape(message)) as err:
        call()
    assert job.id in str(err.value) and "\n" not in str(err.value)
    assert store.get(job.id) == job


def test_an_unknown_job_is_named(store):
    with pytest.raises(NotFound, match="no lab job 'feedfeedfeed'"):
        store.finish("feedfeedfeed", {})


def test_the_queue_cap_counts_a_sessions_queued_and_running_jobs(store):
    a = submit(store, "a", cap=2)
    submit(store, "b", cap=2)
    with pytest.raises(QueueFull, match=r"already has 2 lab job\(s\) queued or running.*QUEUE_PER_SESSION=2"):
        submit(store, "c", cap=2)
    submit(store, "other", session="s2", cap=2)  # another session has its own cap
    assert store.claim("w").id == a.id  # running still counts
    with pytest.raises(QueueFull):
        submit(store, "c", cap=2)
    store.finish(a.id, {})  # a finished job frees its place
    submit(store, "c", cap=2)
    assert [j.label for j in store.list(session="s1")] == ["c", "b", "a"]
    assert [j.label for j in store.list(session="s1", states=["queued"])] == ["c", "b"]
    assert len(store.list(limit=2)) == 2


def test_a_job_whose_worker_stopped_beating_is_stale_and_can_be_requeued(store, clock):
    job = submit(store)
    other = submit(store, "other")
    store.claim("w1")
    store.claim("w2")
    clock.now += 50
    store.heartbeat(other.id, "w2")
    clock.now += 40
    assert [j.id for j in store.stale(60)] == [job.id]  # 90 s silent; the other beat 40 s ago
    again = store.requeue(job.id)
    assert (again.state, again.worker, again.heartbeat_at) == ("queued", None, None)
    resumed = store.claim("w3")
    assert resumed.id == job.id and resumed.worker == "w3"
    with pytest.raises(JobStateError, match="worker 'w3' runs it, not 'w1'"):
        store.heartbeat(job.id, "w1")  # the dead worker, should it come back, may not touch it


def test_a_sweep_cannot_requeue_a_job_a_worker_claimed_since_it_looked(store, clock):
    job = submit(store)
    store.claim("w1")
    clock.now += 100
    assert [j.id for j in store.stale(60)] == [job.id]  # two replicas' sweeps both see it
    assert store.requeue(job.id, stale_after=60).state == "queued"  # the first requeues it
    store.claim("w2")  # a worker takes it at once
    with pytest.raises(JobStateError, match="its worker 'w2' beat 0.0 s ago, within 60 s"):
        store.requeue(job.id, stale_after=60)  # the second sweep must not take it from w2
    assert store.get(job.id).worker == "w2"


def test_requeue_of_a_job_someone_asked_to_cancel_cancels_it(store):
    job = submit(store)
    store.claim("w1")
    store.request_cancel(job.id)
    assert store.requeue(job.id).state == "cancelled"


def test_claim_takes_the_oldest_queued_job(store, clock):
    first = submit(store, "first")
    clock.now += 1
    submit(store, "second")
    assert store.claim("w").id == first.id


def test_values_that_cannot_be_stored_are_refused_in_one_line(store):
    with pytest.raises(StoreError, match="config is not plain JSON"):
        store.submit("cartpole", "a", {"x": float("nan")}, "s", "/r", queue_cap=4)
    with pytest.raises(StoreError, match="label must be text of 1 to 200 characters"):
        store.submit("cartpole", "x" * 201, {}, "s", "/r", queue_cap=4)
    with pytest.raises(StoreError, match="must be a dict"):
        store.submit("cartpole", "a", [1], "s", "/r", queue_cap=4)
    assert store.list() == []


def _claim_all(url: str, worker: str, out: list[str]) -> None:
    store = JobStore(Database(url))
    while (job := store.claim(worker)) is not None:
        out.append(job.id)


def test_workers_racing_in_threads_claim_each_job_once(db):
    store = JobStore(db)
    ids = {submit(store, f"j{i}").id for i in range(30)}
    got: list[list[str]] = [[], [], []]
    threads = [threading.Thread(target=_claim_all, args=(db.url, f"w{k}", got[k])) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    claimed = [i for g in got for i in g]
    assert sorted(claimed) == sorted(ids)  # every job once, none twice


def _claim_in_process(url: str, worker: str, queue: mp.Queue) -> None:
    out: list[str] = []
    _claim_all(url, worker, out)
    queue.put(out)


@pytest.mark.slow
def test_workers_racing_in_processes_claim_each_job_once(db):
    store = JobStore(db)
    ids = {submit(store, f"j{i}").id for i in range(40)}
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_in_process, args=(db.url, f"p{k}", queue)) for k in range(2)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    claimed = [i for g in got for i in g]
    assert sorted(claimed) == sorted(ids)
    assert all(j.state == "running" for j in store.list())
