"""The playground app: ``streamlit run playground/app.py`` (what ``make play`` does) serves it on one port.

``st.App`` runs the Streamlit script ``main.py`` (pages under ``views/``) and one more route on the same
port: the play page's WebSocket, ``/api/play`` (``playground.play_server``), and the head-to-head board's,
``/api/board`` (``playground.board_server``). Its lifespan makes what the
play sockets share (a :class:`PlayServer`) and, at start, pre-renders the bundled replays in a background
process, so picking one shows it at once.
"""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import streamlit as st

from agents.common.settings import models_dir, warm_videos
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
    try:
        yield {"play": PlayServer(Limits.from_settings()), "board": BoardServer()}
    finally:
        if warm is not None and warm.poll() is None:
            warm.terminate()


# the route is built before the lifespan runs, so it reaches the play server through the app's state
app = st.App(
    "main.py",
    lifespan=lifespan,
    routes=[play_route(lambda: app.state["play"]), board_route(lambda: app.state["board"])],
)
