"""Run a matrix of independent tasks (one training run each): in this process, on a local process pool,
or as Ray tasks on a cluster. A task that fails is reported with its error; the others finish.

A task is ``fn(payload) -> dict`` with a module-level ``fn`` (pickled by reference) and a plain-data
payload, so the same call runs in a pool worker or on a Ray node. Results come back as data: a Ray
task on another machine returns its artifacts' contents, not paths on a disk the driver cannot see.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from envs.errors import PlaygroundError


class RayUnavailableError(PlaygroundError):
    """--ray-address was given but Ray is not installed (or cannot connect)."""


@dataclass
class TaskResult:
    key: str
    ok: bool
    value: dict[str, Any] | None = None
    error: str | None = None
    """the exception, one line"""
    traceback: str | None = None
    where: dict[str, Any] = field(default_factory=dict)


def _call(fn: Callable[[dict], dict], key: str, payload: dict) -> TaskResult:
    try:
        return TaskResult(key, True, value=fn(payload), where=_where())
    except BaseException as exc:  # a failed run is a result; KeyboardInterrupt stops the matrix
        if isinstance(exc, KeyboardInterrupt):
            raise
        return TaskResult(
            key, False, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(), where=_where()
        )


def _where() -> dict[str, Any]:
    import socket

    return {"host": socket.gethostname(), "pid": os.getpid()}


def _die_with_parent() -> None:
    """Pool workers get SIGKILL when the process that started them dies (Linux), so a killed
    reproduction leaves no orphan still writing into a run folder that the next attempt resumes."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def default_jobs(n_tasks: int) -> int:
    return max(1, min(os.cpu_count() or 1, n_tasks))


def run_matrix(
    fn: Callable[[dict], dict],
    tasks: dict[str, dict],
    jobs: int | None = None,
    ray_address: str | None = None,
    on_done: Callable[[TaskResult], None] | None = None,
) -> dict[str, TaskResult]:
    """Run ``fn(payload)`` for every ``key: payload`` in ``tasks``; returns a TaskResult per key.

    :param jobs: parallel local processes, at most the machine's core count (1: in this process)
    :param ray_address: run as Ray tasks instead: ``auto``, ``HOST:PORT``, or ``local`` (start Ray here)
    :param on_done: called with each result as it arrives (progress lines)
    """
    if not tasks:
        return {}
    if ray_address:
        return _run_ray(fn, tasks, ray_address, jobs, on_done)
    cores = os.cpu_count() or 1
    if jobs is not None and jobs < 1:
        raise PlaygroundError(f"--jobs must be at least 1, got {jobs}")
    jobs = min(jobs or default_jobs(len(tasks)), cores, len(tasks))
    results: dict[str, TaskResult] = {}
    if jobs == 1:
        for key, payload in tasks.items():
            results[key] = _call(fn, key, payload)
            if on_done:
                on_done(results[key])
        return results
    import multiprocessing as mp

    # spawn, not fork: torch and a forked parent's threads do not mix
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=mp.get_context("spawn"), initializer=_die_with_parent
    ) as pool:
        futures = {pool.submit(_call, fn, key, payload): key for key, payload in tasks.items()}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                key = futures[fut]
                try:
                    results[key] = fut.result()
                except Exception as exc:  # the worker process died (killed, out of memory)
                    results[key] = TaskResult(key, False, error=f"worker process failed: {type(exc).__name__}: {exc}")
                if on_done:
                    on_done(results[key])
    return {key: results[key] for key in tasks}


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(
            "--ray-address needs Ray, which is not installed: pip install 'ppo-playground[ray]' "
            "(or pip install ray), or leave out --ray-address to use local processes"
        ) from None
    return ray


def _run_ray(fn, tasks: dict[str, dict], address: str, jobs: int | None, on_done) -> dict[str, TaskResult]:
    ray = import_ray()
    started_here = False
    if not ray.is_initialized():
        try:
            if address == "local":
                ray.init(num_cpus=jobs or os.cpu_count(), include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise RayUnavailableError(
                f"could not connect to the Ray cluster at {address!r}: {exc}. Start one with "
                f"`ray start --head`, or pass --ray-address HOST:PORT of its head node"
            ) from None
        started_here = True
    try:
        # one CPU per task: a training run uses one torch thread
        remote = ray.remote(num_cpus=1, max_retries=0)(_call)
        refs = {remote.remote(fn, key, payload): key for key, payload in tasks.items()}
        results: dict[str, TaskResult] = {}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                key = refs[ref]
                try:
                    results[key] = ray.get(ref)
                except Exception as exc:  # the task's worker died, or its node left the cluster
                    results[key] = TaskResult(key, False, error=f"Ray task failed: {type(exc).__name__}: {exc}")
                if on_done:
                    on_done(results[key])
        return {key: results[key] for key in tasks}
    finally:
        if started_here:
            ray.shutdown()
