"""The playground app: ``streamlit run playground/app.py`` (what ``make play`` does) serves it on one port.

``st.App`` runs the Streamlit script ``main.py`` (pages under ``views/``) and one more route on the same
port: the play page's WebSocket, ``/api/play`` (``playground.play_server``), and the head-to-head board's,
``/api/board`` (``playground.board_server``). Its lifespan makes what the
play sockets share (a :class:`PlayServer`), starts the lab's workers (``playground.lab.runner``: they take
training jobs from the database; at shutdown their running jobs go back to the queue and resume at the next
start) and, at start, pre-renders the bundled replays in a background process, so picking one shows it at once.
"""

import asyncio
import contextlib
import os
import subprocess
import sys
from pathlib import Path

import streamlit as st

from agents.common.settings import models_dir, warm_videos
from envs import PlaygroundError
from playground.board_server import BoardServer, board_route
from playground.play_server import Limits, PlayServer, play_route


@contextlib.asynccontextmanager
async def lifespan(app):
    warm = None
    if warm_videos():
        warm = subprocess.Popen(
            [sys.executable, "-m", "agents.media.watch", str(models_dir())],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: os.nice(10),
        )
    lab = _start_lab()
    try:
        yield {"play": PlayServer(Limits.from_settings()), "board": BoardServer()}
    finally:
        if warm is not None and warm.poll() is None:
            warm.terminate()
        if lab is not None:
            await asyncio.to_thread(lab.stop)


def _start_lab():
    """The lab's worker pool (PLAYGROUND_LAB_WORKERS threads, 0 for none: e.g. replicas that leave training to
    others); a database that cannot be opened costs the lab, not the app."""
    from playground.lab.runner import LabLimits, LabRunner
    from playground.store.db import get_database
    from playground.store.jobs import JobStore

    limits = LabLimits.from_settings()
    if limits.workers < 1:
        return None
    try:
        return LabRunner(JobStore(get_database()), limits).start()
    except PlaygroundError as exc:
        print(f"the lab's workers did not start: {exc}", file=sys.stderr, flush=True)
        return None


# the route is built before the lifespan runs, so it reaches the play server through the app's state
app = st.App(
    "main.py",
    lifespan=lifespan,
    routes=[play_route(lambda: app.state["play"]), board_route(lambda: app.state["board"])],
)
