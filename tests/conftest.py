"""Shared fixtures: run the real CLI in a subprocess, as a user would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, env=None, timeout=300, cwd=None):
    """`python -m playground ARGS` in a subprocess; returns the CompletedProcess (text output)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "playground", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd or ROOT,
    )


@pytest.fixture
def cli():
    return run_cli
