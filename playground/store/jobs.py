"""Lab training jobs in the database, and the state machine they move through.

::

    submit ─► queued ──claim──► running ──finish──► done
                │                  │ │ └───fail───► failed
                │                  │ └─request_cancel, then mark_cancelled─► cancelled
                └─request_cancel───┼──────────────────────────────────────► cancelled
                                   └─requeue (its worker died) ─► queued

Every transition is one conditional ``UPDATE ... WHERE state = <expected>`` in a write transaction, so two
processes (or two app replicas on PostgreSQL) racing for the same job cannot both win; the loser gets a
:class:`JobStateError` naming the state it found.
"""

from __future__ import annotations

import builtins
import json
import math
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from sqlalchemy import Connection, Row, and_, delete, func, insert, select, update

from playground.store.db import Database
from playground.store.errors import JobStateError, NotFound, QueueFull, StoreError
from playground.store.schema import jobs

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
STATES: tuple[JobState, ...] = get_args(JobState)
FINISHED: tuple[JobState, ...] = ("done", "failed", "cancelled")
ACTIVE: tuple[JobState, ...] = ("queued", "running")
MAX_JSON_BYTES = 1_000_000
"""a job's config or result, serialised (a 20-episode summary is a few kB)"""
MAX_ERROR = 500


@dataclass(frozen=True)
class Job:
    """One lab training job, as stored."""

    id: str
    """12 hex characters"""
    game: str
    """catalog slug"""
    label: str
    """the arm's name shown on the page, e.g. ``clip 0.2``"""
    config: dict[str, Any]
    """validated knob values"""
    session: str
    """the browser session that queued it"""
    group: str | None
    """comparison id: arms queued together share it"""
    state: JobState
    run_dir: str
    """absolute path of its ``playground train`` run folder"""
    created_at: float
    started_at: float | None
    finished_at: float | None
    worker: str | None
    heartbeat_at: float | None
    cancel_requested: bool
    error: str | None
    """one line"""
    result: dict[str, Any] | None
    """e.g. the 20-episode evaluation summary"""

    @property
    def finished(self) -> bool:
        """done, failed or cancelled: nothing will change it any more."""
        return self.state in FINISHED


def _job(row: Row[Any]) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        game=m["game"],
        label=m["label"],
        config=dict(m["config"]),
        session=m["session"],
        group=m["group_id"],
        state=cast(JobState, m["state"]),
        run_dir=m["run_dir"],
        created_at=m["created_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        worker=m["worker"],
        heartbeat_at=m["heartbeat_at"],
        cancel_requested=bool(m["cancel_requested"]),
        error=m["error"],
        result=dict(m["result"]) if m["result"] is not None else None,
    )


def _text(what: str, value: Any, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise StoreError(f"a lab job's {what} must be text of 1 to {limit} characters, not {str(value)[:60]!r}")
    return value


def _json(what: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StoreError(f"a lab job's {what} must be a dict, not {type(value).__name__}")
    try:
        size = len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise StoreError(f"a lab job's {what} is not plain JSON ({e}); store numbers, text, lists and dicts") from None
    if size > MAX_JSON_BYTES:
        raise StoreError(f"a lab job's {what} is {size} bytes as JSON; the most is {MAX_JSON_BYTES}")
    return value


def _one_line(error: str) -> str:
    line = " ".join(str(error).split())
    return line[: MAX_ERROR - 1] + "…" if len(line) > MAX_ERROR else line


class JobStore:
    """The lab's jobs. Every method is one short transaction; the returned :class:`Job` is the row after it."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time):
        self.db = db
        self.clock = clock
        """seconds since the epoch; a test passes its own to age heartbeats"""

    def _get(self, conn: Connection, job_id: str, *, lock: bool = False) -> Job | None:
        query = select(jobs).where(jobs.c.id == job_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        return _job(row) if row else None

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        with self.db.read() as conn:
            return self._get(conn, str(job_id))

    def submit(
        self,
        game: str,
        label: str,
        config: dict[str, Any],
        session: str,
        run_dir: str,
        group: str | None = None,
        *,
        queue_cap: int,
    ) -> Job:
        """Queue a job. Raises :class:`QueueFull` when ``session`` already has ``queue_cap`` jobs queued or running."""
        job_id = secrets.token_hex(6)
        row: dict[str, Any] = {
            "id": job_id,
            "game": _text("game", game, 64),
            "label": _text("label", label, 200),
            "config": _json("config", config),
            "session": _text("session", session, 128),
            "group_id": None if group is None else _text("group", group, 64),
            "state": "queued",
            "run_dir": _text("run_dir", run_dir, 4096),
            "created_at": self.clock(),
            "cancel_requested": False,
        }
        with self.db.begin() as conn:
            # PostgreSQL: two submits of one session at once must not both pass the count
            self.db.lock(conn, f"lab session {session}")
            active = conn.execute(
                select(func.count()).where(jobs.c.session == session, jobs.c.state.in_(ACTIVE))
            ).scalar_one()
            if active >= queue_cap:
                raise QueueFull(
                    f"this browser session already has {active} lab job(s) queued or running, the most it may "
                    f"have (PLAYGROUND_LAB_QUEUE_PER_SESSION={queue_cap}); wait for one to finish or cancel one"
                )
            # strictly after the newest job, so jobs queued one after another keep their order for claim()
            # even when the clock gives them the same time
            newest = conn.execute(select(func.max(jobs.c.created_at))).scalar()
            if newest is not None and row["created_at"] <= newest:
                row["created_at"] = math.nextafter(newest, math.inf)
            conn.execute(insert(jobs).values(**row))
            job = self._get(conn, job_id)
        assert job is not None
        return job

    def list(
        self,
        *,
        session: str | None = None,
        group: str | None = None,
        states: Iterable[JobState] | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first, filtered by session, group and states."""
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(max(0, int(limit)))
        if session is not None:
            query = query.where(jobs.c.session == session)
        if group is not None:
            query = query.where(jobs.c.group_id == group)
        if states is not None:
            query = query.where(jobs.c.state.in_(list(states)))
        with self.db.read() as conn:
            return [_job(r) for r in conn.execute(query)]

    def claim(self, worker: str) -> Job | None:
        """Take the oldest queued job for ``worker`` (it becomes running), or None when none is queued.

        Two workers in different processes never get the same job: the row is locked (PostgreSQL
        ``FOR UPDATE SKIP LOCKED``; SQLite runs one write transaction at a time) and the update is conditional.
        """
        worker = _text("worker", worker, 200)
        for _ in range(100):  # another worker may take the row between the select and the update
            with self.db.begin() as conn:
                job_id = conn.execute(
                    select(jobs.c.id)
                    .where(jobs.c.state == "queued")
                    .order_by(jobs.c.created_at, jobs.c.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                ).scalar()
                if job_id is None:
                    return None
                now = self.clock()
                done = conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id, jobs.c.state == "queued")
                    .values(state="running", worker=worker, started_at=now, heartbeat_at=now)
                ).rowcount
                if done == 1:
                    return self._get(conn, job_id)
        return None

    def _move(
        self,
        job_id: str,
        verb: str,
        allowed: dict[str, dict[str, Any]],
        *,
        only_worker: str | None = None,
        need_cancel: bool = False,
        check: Callable[[Job], str | None] | None = None,
    ) -> Job:
        """Move ``job_id`` from one of ``allowed``'s states with that state's new values, atomically."""
        job_id = str(job_id)
        with self.db.begin() as conn:
            job = self._get(conn, job_id, lock=True)  # PostgreSQL: a second mover waits for this one
            if job is None:
                raise NotFound(f"no lab job {job_id!r}; it may have been cleaned up")
            values = allowed.get(job.state)
            if values is None:
                raise JobStateError(
                    f"cannot {verb} lab job {job_id}: it is {job.state}, and only a {' or '.join(allowed)} job can be"
                )
            if only_worker is not None and job.worker != only_worker:
                raise JobStateError(
                    f"cannot {verb} lab job {job_id}: worker {job.worker!r} runs it, not {only_worker!r}"
                )
            if need_cancel and not job.cancel_requested:
                raise JobStateError(f"cannot {verb} lab job {job_id}: nobody asked to cancel it")
            refusal = check(job) if check is not None else None
            if refusal:
                raise JobStateError(f"cannot {verb} lab job {job_id}: {refusal}")
            if values:
                changed = conn.execute(
                    update(jobs).where(and_(jobs.c.id == job_id, jobs.c.state == job.state)).values(**values)
                ).rowcount
                if changed != 1:  # a guard: the row lock above should make this impossible
                    raise JobStateError(f"cannot {verb} lab job {job_id}: it changed state meanwhile; try again")
            job = self._get(conn, job_id)
        assert job is not None
        return job

    def heartbeat(self, job_id: str, worker: str) -> Job:
        """The running job's worker is alive; returns the job, whose ``cancel_requested`` says whether to stop."""
        return self._move(job_id, "heartbeat", {"running": {"heartbeat_at": self.clock()}}, only_worker=worker)

    def request_cancel(self, job_id: str) -> Job:
        """Cancel: a queued job is cancelled at once, a running one gets ``cancel_requested`` (its worker
        stops it and calls :meth:`mark_cancelled`). Asking again for a cancelled job changes nothing."""
        now = self.clock()
        return self._move(
            job_id,
            "cancel",
            {
                "queued": {"state": "cancelled", "cancel_requested": True, "finished_at": now},
                "running": {"cancel_requested": True},
                "cancelled": {},
            },
        )

    def finish(self, job_id: str, result: dict[str, Any]) -> Job:
        """running → done, with its result (e.g. the evaluation summary)."""
        values = {"state": "done", "result": _json("result", result), "finished_at": self.clock()}
        return self._move(job_id, "finish", {"running": values})

    def fail(self, job_id: str, error: str) -> Job:
        """running → failed, with a one-line error (longer text is cut)."""
        values = {"state": "failed", "error": _one_line(error), "finished_at": self.clock()}
        return self._move(job_id, "fail", {"running": values})

    def mark_cancelled(self, job_id: str) -> Job:
        """running (cancel requested) → cancelled, once its worker has stopped it."""
        values = {"state": "cancelled", "finished_at": self.clock()}
        return self._move(job_id, "mark cancelled", {"running": values}, need_cancel=True)

    def stale(self, older_than_s: float) -> builtins.list[Job]:
        """Running jobs whose last heartbeat is older than ``older_than_s`` seconds: their worker died."""
        if not math.isfinite(older_than_s) or older_than_s < 0:
            raise StoreError(f"older_than_s must be a number of seconds ≥ 0, not {older_than_s!r}")
        cutoff = self.clock() - older_than_s
        query = (
            select(jobs)
            .where(jobs.c.state == "running", jobs.c.heartbeat_at < cutoff)
            .order_by(jobs.c.created_at, jobs.c.id)
        )
        with self.db.read() as conn:
            return [_job(r) for r in conn.execute(query)]

    def requeue(self, job_id: str, *, stale_after: float | None = None) -> Job:
        """running → queued, for a job whose worker died (it resumes from its checkpoint when claimed again).
        A job someone asked to cancel is cancelled instead: nobody wants it run again.

        :param stale_after: requeue only if the job's heartbeat is still older than this many seconds, checked
            in the same transaction: a sweep that found the job in :meth:`stale` cannot take it from a worker
            that claimed it since (another replica requeued it first and a worker picked it up)
        """
        now = self.clock()

        def check(job: Job) -> str | None:
            if stale_after is not None and job.heartbeat_at is not None and job.heartbeat_at >= now - stale_after:
                return f"its worker {job.worker!r} beat {now - job.heartbeat_at:.1f} s ago, within {stale_after:g} s"
            return None

        job = self.get(job_id)
        if job is not None and job.state == "running" and job.cancel_requested:
            values = {"state": "cancelled", "finished_at": now}
            return self._move(job_id, "requeue", {"running": values}, need_cancel=True, check=check)
        values = {"state": "queued", "worker": None, "heartbeat_at": None}
        return self._move(job_id, "requeue", {"running": values}, check=check)

    def delete(self, job_id: str) -> None:
        """Forget a finished (done, failed or cancelled) job; its run folder is the caller's to remove."""
        job_id = str(job_id)
        with self.db.begin() as conn:
            job = self._get(conn, job_id)
            if job is None:
                raise NotFound(f"no lab job {job_id!r}; it may have been cleaned up")
            if not job.finished:
                raise JobStateError(f"cannot delete lab job {job_id}: it is {job.state}; cancel it first")
            conn.execute(delete(jobs).where(jobs.c.id == job_id, jobs.c.state.in_(FINISHED)))


__all__ = ["ACTIVE", "FINISHED", "STATES", "Job", "JobState", "JobStateError", "JobStore", "QueueFull"]
