"""Where a run or a bundle came from: time stamps, the code's git commit, the hardware.

Kept apart from training so that reading a bundle (the app's gallery) does not import torch.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def git_state() -> dict[str, Any]:
    """The commit of the code doing the work, and whether the work tree had uncommitted changes."""
    import subprocess

    from agents.common.settings import REPO_ROOT as root

    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or None
        )
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def hardware() -> dict[str, Any]:
    import platform

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_gib, "gpu": None, "platform": platform.platform()}


PACKAGES = [
    "stable-baselines3",
    "sb3-contrib",
    "gymnasium",
    "ale-py",
    "box2d",
    "torch",
    "numpy",
    "safetensors",
    "huggingface_hub",
    "streamlit",
]
"""the packages whose versions a bundle and a reproduction record"""


def package_versions() -> dict[str, str | None]:
    import platform
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
