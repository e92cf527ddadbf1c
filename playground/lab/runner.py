"""The lab's job runner: a pool of workers that take jobs from the database and run each one as ordinary
``playground train`` and ``playground bundle`` processes (or as Ray tasks running them), with caps.

One job, in its folder ``<lab_dir>/<folder>/``::

    hyperparams.yml   the config the knobs make (playground.lab.knobs.hyperparams)
    run/              the `playground train` run folder (diagnostics.csv, checkpoints/, final/ ...)
    agent/            `playground bundle --episodes 20`: the 20-episode evaluation, replays, the policy
    bundle/           "Make a bundle": the ordinary build (100 episodes), never models/
    train.log, evaluate.log, bundle.log

A worker claims the oldest queued job, heartbeats it every second while its process runs, and stops the
process when someone asks to cancel it, when it passes the wall-time cap, or when the app shuts down (then
the job goes back to the queue and the next worker resumes it with ``--resume``). A worker that died without
a word leaves a running job whose heartbeat grows old: any worker requeues it. The workers are threads of the
app's process (started by its lifespan, ``playground/app.py``); they only wait on child processes, so the
app's own work (pages, the play route) keeps the interpreter.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from agents.common import settings
from agents.hub import registry
from envs import PlaygroundError
from playground.lab import knobs
from playground.store.errors import JobStateError, NotFound, QueueFull, StoreError
from playground.store.jobs import Job, JobStore

ROOT = Path(__file__).resolve().parent.parent.parent
EVAL_EPISODES = 20
WARM_AFTER_SECONDS = 3.0
"""a command's spare Python starts this long after the previous command did, not at once: its imports would
take CPU from the job's first update"""
AGENT_PREFIX = "lab:"
"""the registry id of a lab run's agent is ``lab:<job id>``: Watch and Play list it with the game's agents"""


@dataclass(frozen=True)
class LabLimits:
    """What the lab allows and how its workers behave; the defaults are the settings'."""

    lab_dir: Path
    workers: int = 1
    max_timesteps: int = 300_000
    max_seconds: float = 1200.0
    queue_per_session: int = 4
    keep_seconds: float = 7 * 86400
    max_disk_bytes: int = 2 * 2**30
    ray_address: str | None = None
    heartbeat_seconds: float = 1.0
    stale_seconds: float = 15.0
    """a running job whose heartbeat is older than this lost its worker, and is requeued"""
    poll_seconds: float = 0.25
    """how often an idle worker looks for a queued job"""
    cleanup_seconds: float = 300.0
    checkpoint_seconds: float = 10.0
    """lab runs are short: a checkpoint every 10 s keeps a resume close to where the run stopped"""
    warm: bool = True
    """keep one Python per worker with the training libraries imported (``playground.lab.warm``): ~2 s less
    from Start to the first update"""

    @classmethod
    def from_settings(cls) -> LabLimits:
        return cls(
            lab_dir=settings.lab_dir(),
            workers=settings.lab_workers(),
            max_timesteps=settings.lab_max_timesteps(),
            max_seconds=settings.lab_max_seconds(),
            queue_per_session=settings.lab_queue_per_session(),
            keep_seconds=settings.lab_keep_seconds(),
            max_disk_bytes=settings.lab_max_disk_bytes(),
            ray_address=settings.ray_address(),
        )


# --- submitting ------------------------------------------------------------------------------------------


def submit(
    store: JobStore, game: str, arms: list[tuple[str, dict[str, Any]]], session: str, limits: LabLimits
) -> list[Job]:
    """Queue one job per arm (arms of a comparison share a group), all or none; raises a one-line
    PlaygroundError for a game the lab does not run, a knob out of range, or a full queue."""
    if game not in knobs.LAB_GAMES:
        raise knobs.KnobError(f"the lab runs {', '.join(knobs.LAB_GAMES)}; {game!r} is not one of them")
    if not 1 <= len(arms) <= 4:
        raise knobs.KnobError(f"a comparison has 1 to 4 runs, not {len(arms)}")
    checked = []
    for label, values in arms:
        v = knobs.validate(values)
        if v["timesteps"] > limits.max_timesteps:
            raise knobs.KnobError(f"timesteps {v['timesteps']:,} is over the lab's cap of {limits.max_timesteps:,}")
        knobs.hyperparams(game, v)  # the whole config must validate before anything is queued
        checked.append((str(label)[:80], v))
    active = store.list(session=session, states=["queued", "running"], limit=1000)
    if len(active) + len(checked) > limits.queue_per_session:
        raise QueueFull(
            f"this browser session has {len(active)} lab job(s) queued or running and asks for {len(checked)} more; "
            f"the most is {limits.queue_per_session} (PLAYGROUND_LAB_QUEUE_PER_SESSION): wait or cancel one"
        )
    group = secrets.token_hex(6) if len(checked) > 1 else None
    jobs = []
    for label, v in checked:
        folder = limits.lab_dir / secrets.token_hex(6)
        jobs.append(
            store.submit(game, label, v, session, str(folder / "run"), group, queue_cap=limits.queue_per_session)
        )
    return jobs


def job_folder(job: Job) -> Path:
    return Path(job.run_dir).parent


def agent_id(job: Job) -> str:
    return f"{AGENT_PREFIX}{job.id}"


# --- a child process, local or on Ray ----------------------------------------------------------------------


class Process(Protocol):
    def poll(self) -> int | None: ...
    def stop(self) -> None: ...


def _child_setup() -> None:
    """In the child: die with the worker thread that started it (Linux PR_SET_PDEATHSIG, so an app killed
    with SIGKILL leaves no training writing on), and yield the CPU to the app's pages and play route."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.nice(10)  # as the app's replay pre-rendering: people playing come first


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


class WarmPython:
    """One spare ``python -m playground.lab.warm`` (training libraries imported, waiting for a command).

    Made and taken by one worker thread: the child dies with the thread that started it (PR_SET_PDEATHSIG).
    """

    def __init__(self) -> None:
        self.spare: subprocess.Popen[str] | None = None

    def prime(self) -> None:
        if self.spare is None or self.spare.poll() is not None:
            self.spare = subprocess.Popen(
                [sys.executable, "-m", "playground.lab.warm"],
                cwd=ROOT,
                env=_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_child_setup,
                text=True,
            )

    def take(self) -> subprocess.Popen[str] | None:
        """The spare if it is alive, else None; the next is primed between jobs (:meth:`LabRunner._serve`), not
        now, when it would take CPU from the job's first update."""
        spare, self.spare = self.spare, None
        return spare if spare is not None and spare.poll() is None else None

    def close(self) -> None:
        if self.spare is not None and self.spare.poll() is None:
            self.spare.kill()
            self.spare.wait()
        self.spare = None


class LocalProcess:
    """A command in a child process of this one, its output in ``log``; a ``playground`` command goes to the
    ``warm`` spare when there is one."""

    def __init__(self, argv: list[str], log: Path, warm: WarmPython | None = None):
        spare = warm.take() if warm is not None and argv[1:3] == ["-m", "playground"] else None
        if spare is not None and spare.stdin is not None:
            spare.stdin.write(json.dumps({"argv": argv[3:], "log": str(log)}) + "\n")
            spare.stdin.close()
            self.proc: subprocess.Popen = spare
            return
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                argv, cwd=ROOT, env=_env(), stdout=out, stderr=subprocess.STDOUT, preexec_fn=_child_setup
            )

    def poll(self) -> int | None:
        return self.proc.poll()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; the run's CSV rows are flushed per update, so what was written stays."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_command(argv: list[str], log: str) -> int:
    """Run ``argv`` to the end with its output in ``log``; its exit status (the body of a Ray task, which says
    in the log where it ran)."""
    with open(log, "a") as f:
        f.write(f"[lab] Ray task on {socket.gethostname()}, pid {os.getpid()}\n")
    p = LocalProcess(argv, Path(log))
    return p.proc.wait()


class RayProcess:
    """The same command as a Ray task (one CPU); the run folder must be on storage the node shares."""

    def __init__(self, argv: list[str], log: Path, address: str):
        ray = _ray(address)
        self.ray = ray
        self.ref = ray.remote(num_cpus=1, max_retries=0)(run_command).remote(argv, str(log))
        self.code: int | None = None

    def poll(self) -> int | None:
        if self.code is None:
            done, _ = self.ray.wait([self.ref], timeout=0)
            if done:
                try:
                    self.code = int(self.ray.get(self.ref))
                except Exception as exc:  # the task's worker died, or was cancelled
                    self.code = -1
                    self.error = (
                        f"Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    )
        return self.code

    def stop(self) -> None:
        if self.code is None:
            with contextlib.suppress(Exception):
                self.ray.cancel(self.ref, force=True)  # kills the task's worker; its child dies with it


_ray_lock = threading.Lock()


def _ray(address: str):
    """Ray, connected to ``address`` (``local`` starts one in this process, as ``playground reproduce`` does)."""
    from agents.experiments.matrix import RayUnavailableError, import_ray

    ray = import_ray()
    with _ray_lock:
        if not ray.is_initialized():
            try:
                if address == "local":  # workers import this module from the checkout
                    env = {"env_vars": {"PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}}
                    ray.init(include_dashboard=False, log_to_driver=False, runtime_env=env)
                else:
                    ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RayUnavailableError(
                    f"could not connect to the Ray cluster at {address!r} (PLAYGROUND_RAY_ADDRESS): {exc}"
                ) from None
    return ray


# --- one job -------------------------------------------------------------------------------------------------


class Stop(Exception):
    """The job's process was stopped: ``outcome`` is ``cancelled``, ``requeue`` or ``failed``."""

    def __init__(self, outcome: str, message: str = ""):
        super().__init__(message)
        self.outcome = outcome


def _last_line(log: Path) -> str:
    """The line a failed command ended with (the CLI prints one error line); bounded read of the log's tail."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 8192))
            lines = [x.strip() for x in f.read().decode(errors="replace").splitlines() if x.strip()]
    except OSError:
        return "no log"
    errors = [x for x in lines if x.lower().startswith("error") or "Error" in x.split(":")[0]]
    return (errors or lines or ["no output"])[-1][:400]


def last_wall_time(run_dir: Path) -> float:
    """The training seconds a run has behind it (diagnostics.csv's last wall_time), 0 for none."""
    path = run_dir / "diagnostics.csv"
    if not path.exists():
        return 0.0
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f)]
    try:
        return float(rows[-1]["wall_time"]) if rows else 0.0
    except (KeyError, ValueError):
        return 0.0


def run_status(run_dir: Path) -> str | None:
    """run.json's status (``running``, ``done``), or None before the run wrote it."""
    try:
        return json.loads((run_dir / "run.json").read_text()).get("status")
    except (OSError, ValueError, AttributeError):
        return None


class JobRun:
    """Runs one claimed job to its end state; every way out leaves the job done, failed, cancelled or queued."""

    def __init__(
        self,
        store: JobStore,
        job: Job,
        worker: str,
        limits: LabLimits,
        shutting_down: threading.Event,
        warm: WarmPython | None = None,
    ):
        self.store, self.job, self.worker, self.limits = store, job, worker, limits
        self.warm = warm
        self.shutting_down = shutting_down
        self.folder = job_folder(job)
        self.run_dir = Path(job.run_dir)

    def spawn(self, argv: list[str], log: Path) -> Process:
        if self.limits.ray_address:
            return RayProcess(argv, log, self.limits.ray_address)
        return LocalProcess(argv, log, self.warm)

    def run(self) -> Job:
        try:
            values = knobs.validate(self.job.config)  # again: the database is outside this process
            if values["timesteps"] > self.limits.max_timesteps:
                raise knobs.KnobError(
                    f"timesteps {values['timesteps']:,} is over the lab's cap of {self.limits.max_timesteps:,}"
                )
            self.folder.mkdir(parents=True, exist_ok=True)
            self.train(values)
            result = self.evaluate(values)
            return self.store.finish(self.job.id, result)
        except Stop as stop:
            if stop.outcome == "cancelled":
                return self.store.mark_cancelled(self.job.id)
            if stop.outcome == "requeue":
                return self.store.requeue(self.job.id)
            return self.store.fail(self.job.id, str(stop))
        except (JobStateError, NotFound):
            raise  # someone else moved the job (it was requeued as stale): leave it to them
        except PlaygroundError as exc:
            return self.store.fail(self.job.id, str(exc).strip().splitlines()[0] if str(exc).strip() else "failed")
        except Exception as exc:
            return self.store.fail(self.job.id, f"the lab's runner failed: {type(exc).__name__}: {exc}")

    def train(self, values: dict[str, Any]) -> None:
        status = run_status(self.run_dir)
        if status == "done":
            return  # trained before a restart; only the evaluation is left
        base = [sys.executable, "-m", "playground", "train", self.job.game, "--seed", str(values["seed"])]
        base += ["--out", str(self.run_dir), "--checkpoint-seconds", str(self.limits.checkpoint_seconds)]
        if status is None:
            if self.run_dir.exists():
                shutil.rmtree(self.run_dir)  # killed before run.json: nothing of it can be continued
            config = self.folder / "hyperparams.yml"
            config.write_text(yaml.safe_dump(knobs.hyperparams(self.job.game, values), sort_keys=False))
            argv = [*base, "--config", str(config)]
        else:
            argv = [*base, "--resume"]
        wall_before = last_wall_time(self.run_dir)
        self.supervise(argv, self.folder / "train.log", wall_before=wall_before)

    def evaluate(self, values: dict[str, Any]) -> dict[str, Any]:
        """``playground bundle --episodes 20`` into ``agent/``: the evaluation, replays for Watch, the policy
        for Play; then the agent is listed with the game's agents as ``lab:<job id>``."""
        agent = self.folder / "agent"
        shutil.rmtree(agent, ignore_errors=True)
        argv = [sys.executable, "-m", "playground", "bundle", self.job.game, str(self.run_dir)]
        argv += ["--out", str(agent), "--episodes", str(EVAL_EPISODES), "--replays", "3"]
        self.supervise(argv, self.folder / "evaluate.log", wall_before=None)
        from agents.bundle import Bundle

        b = Bundle.open(agent)
        summary = b.eval_summary() or {}
        run = json.loads((self.run_dir / "run.json").read_text())
        registry.add(agent_id(self.job), self.job.game, agent, source=f"lab run {self.job.label} · job {self.job.id}")
        return {
            "eval": {k: summary[k] for k in ("mean", "std", "episodes", "ci95", "min", "max") if k in summary},
            "agent": agent_id(self.job),
            "agent_path": str(agent),
            "timesteps": run.get("timesteps"),
            "wall_seconds": run.get("wall_seconds"),
        }

    def supervise(self, argv: list[str], log: Path, wall_before: float | None) -> None:
        """Run ``argv`` to its end, heartbeating; Stop when it must end early, PlaygroundError when it failed."""
        proc = self.spawn(argv, log)
        started = time.monotonic()
        try:
            while True:
                code = proc.poll()
                if code is not None:
                    break
                job = self.store.heartbeat(self.job.id, self.worker)
                if job.cancel_requested:
                    raise Stop("cancelled")
                if self.shutting_down.is_set():
                    raise Stop("requeue")
                if wall_before is not None and wall_before + time.monotonic() - started > self.limits.max_seconds:
                    raise Stop(
                        "failed",
                        f"stopped at the lab's wall-time cap of {self.limits.max_seconds:g} s "
                        "(PLAYGROUND_LAB_MAX_MINUTES); the partial run is kept",
                    )
                if self.warm is not None and time.monotonic() - started > WARM_AFTER_SECONDS:
                    self.warm.prime()  # the spare for the next command (the evaluation), on the other core
                self.shutting_down.wait(self.limits.heartbeat_seconds)
        except BaseException:
            proc.stop()
            raise
        if code != 0:
            why = getattr(proc, "error", None) or _last_line(log)
            raise PlaygroundError(f"{argv[3]} exited with status {code}: {why}")


# --- the pool ---------------------------------------------------------------------------------------------------


class LabRunner:
    """``workers`` threads taking jobs from ``store``; :meth:`start` and :meth:`stop` (which requeues the
    jobs it was running, so the next start resumes them)."""

    def __init__(self, store: JobStore, limits: LabLimits, name: str | None = None):
        self.store, self.limits = store, limits
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self._last_cleanup = 0.0
        self._cleanup_lock = threading.Lock()
        self.on_error: Callable[[BaseException], None] | None = None

    def start(self) -> LabRunner:
        for i in range(self.limits.workers):
            t = threading.Thread(target=self._loop, args=(f"{self.name}/{i}",), name=f"lab-worker-{i}", daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        for t in self.threads:
            t.join(timeout)

    def _loop(self, worker: str) -> None:
        warm = None if self.limits.ray_address or not self.limits.warm else WarmPython()
        try:
            self._serve(worker, warm)
        finally:
            if warm is not None:
                warm.close()

    def _serve(self, worker: str, warm: WarmPython | None) -> None:
        while not self.stopping.is_set():
            try:
                if warm is not None:
                    warm.prime()
                self.recover()
                self.maybe_cleanup()
                job = self.store.claim(worker)
                if job is None:
                    self.stopping.wait(self.limits.poll_seconds)
                    continue
                JobRun(self.store, job, worker, self.limits, self.stopping, warm).run()
            except (JobStateError, NotFound):
                continue  # another worker moved the job first
            except Exception as exc:  # the database went away for a moment: say so, wait, go on
                if self.on_error:
                    self.on_error(exc)
                print(f"lab worker {worker}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
                self.stopping.wait(5)

    def recover(self) -> list[Job]:
        """Requeue the running jobs whose worker stopped heartbeating (the app was killed, a machine left)."""
        out = []
        for job in self.store.stale(self.limits.stale_seconds):
            with contextlib.suppress(JobStateError, NotFound):
                out.append(self.store.requeue(job.id))
        return out

    def maybe_cleanup(self) -> None:
        if time.monotonic() - self._last_cleanup < self.limits.cleanup_seconds:
            return
        with self._cleanup_lock:
            self._last_cleanup = time.monotonic()
            cleanup(self.store, self.limits)


# --- cleanup ------------------------------------------------------------------------------------------------------


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def remove_job(store: JobStore, job: Job) -> None:
    """Delete a finished job: its row, its folder, its agent's listing."""
    store.delete(job.id)
    shutil.rmtree(job_folder(job), ignore_errors=True)
    with contextlib.suppress(Exception):
        registry.remove(agent_id(job))


def cleanup(store: JobStore, limits: LabLimits, now: float | None = None) -> list[str]:
    """Delete finished jobs older than ``keep_seconds``, then the oldest finished ones while the lab's folders
    together exceed ``max_disk_bytes``. Queued and running jobs are never touched. Returns the deleted ids."""
    now = time.time() if now is None else now
    finished = sorted(
        store.list(states=["done", "failed", "cancelled"], limit=100_000), key=lambda j: j.finished_at or j.created_at
    )
    removed = []
    keep = []
    for job in finished:
        if now - (job.finished_at or job.created_at) > limits.keep_seconds:
            with contextlib.suppress(StoreError):
                remove_job(store, job)
                removed.append(job.id)
        else:
            keep.append(job)
    if limits.lab_dir.exists():
        total = folder_bytes(limits.lab_dir)
        for job in keep:
            if total <= limits.max_disk_bytes:
                break
            size = folder_bytes(job_folder(job))
            with contextlib.suppress(StoreError):
                remove_job(store, job)
                removed.append(job.id)
                total -= size
    return removed


# --- "Make a bundle" -------------------------------------------------------------------------------------------------

BUNDLE_STALE_SECONDS = 1800.0
"""a build with no exit status after this long was cut off (the app restarted meanwhile)"""


def bundle_status(job: Job) -> str:
    """``none``, ``building…``, ``written and verified: <folder>`` or ``failed: <line>`` for the job's bundle."""
    folder = job_folder(job)
    started, rc = folder / "bundle.started", folder / "bundle.rc"
    if rc.exists():
        code = rc.read_text().strip()
        if code == "0":
            return f"written and verified: {folder / 'bundle'}"
        return f"failed: {_last_line(folder / 'bundle.log')}"
    if started.exists():
        if time.time() - started.stat().st_mtime > BUNDLE_STALE_SECONDS:
            return "failed: the build was cut off (the app restarted); press Make a bundle again"
        return "building… (the 100-episode evaluation, replays, then verify)"
    return "none"


def make_bundle(job: Job) -> threading.Thread:
    """Start the ordinary bundle build of a finished lab run into its own folder (``<job>/bundle``, never
    ``models/``): ``playground bundle`` (100-episode evaluation, replays) then ``playground verify``, in child
    processes watched by a thread; :func:`bundle_status` reads how it went."""
    if job.state != "done":
        raise JobStateError(f"lab job {job.id} is {job.state}; only a finished run can be bundled")
    folder = job_folder(job)
    out = folder / "bundle"
    models = settings.models_dir().resolve()
    if out.resolve().is_relative_to(models):
        raise PlaygroundError(f"refusing to build a lab bundle inside the shipped bundles' folder {models}")
    (folder / "bundle.rc").unlink(missing_ok=True)
    (folder / "bundle.started").write_text(str(time.time()))
    log = folder / "bundle.log"

    def build() -> None:
        shutil.rmtree(out, ignore_errors=True)
        code = 1
        try:
            code = LocalProcess(
                [sys.executable, "-m", "playground", "bundle", job.game, job.run_dir, "--out", str(out)], log
            ).proc.wait()
            if code == 0:
                code = LocalProcess([sys.executable, "-m", "playground", "verify", str(out)], log).proc.wait()
        finally:
            (folder / "bundle.rc").write_text(str(code))

    t = threading.Thread(target=build, name=f"lab-bundle-{job.id}", daemon=True)
    t.start()
    return t


def serve(workers: int | None = None, say: Callable[[str], None] = print) -> int:
    """``playground lab-worker``: a worker pool in this process until SIGINT or SIGTERM, which stop it and put
    its running jobs back in the queue (another worker, or this one restarted, resumes them)."""
    from playground.store.db import get_database

    limits = LabLimits.from_settings()
    if workers is not None:
        if workers < 1:
            raise PlaygroundError(f"--workers must be at least 1, got {workers}")
        limits = dataclasses.replace(limits, workers=workers)
    elif limits.workers < 1:
        limits = dataclasses.replace(limits, workers=1)
    pool = LabRunner(JobStore(get_database()), limits).start()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    say(f"lab worker {pool.name}: {limits.workers} worker(s), runs under {limits.lab_dir}; Ctrl-C stops it")
    done.wait()
    say("stopping: running jobs go back to the queue")
    pool.stop()
    return 0
