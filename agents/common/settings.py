"""Every setting of the playground, read here and nowhere else (the README's "Settings" table is made from
:data:`SETTINGS`; ``tests`` fail if the two drift or if another module reads a ``PLAYGROUND_*`` variable).

Defaults never depend on the working directory: folders are absolute, under the repository or the user's
home. Values are read when asked for, so a test (or a user) may change the environment at any time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from envs.errors import PlaygroundError

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The checkout (or installed source tree) this code runs from."""


@dataclass(frozen=True)
class Setting:
    """One environment variable: its name, the default as the README shows it, and what it sets."""

    name: str
    default: str
    meaning: str


SETTINGS: tuple[Setting, ...] = (
    Setting("PLAYGROUND_MODELS", "`models/` in the repository", "the shipped bundles the app and the CLI open by game slug"),
    Setting("PLAYGROUND_DATA", "`~/.local/share/ppo-playground`",
            "pulled and imported agents (`agents.json`, `imported/`) and the leaderboard database"),
    Setting("PLAYGROUND_CACHE", "`~/.cache/ppo-playground`", "rendered replay videos (safe to delete)"),
    Setting("PLAYGROUND_RUNS", "`runs/` in the repository",
            "training runs (`playground train`) and reproduction work folders (`runs/reproduce/`)"),
    Setting("PLAYGROUND_MAX_GAMES", "8", "games the play server runs at once; one more socket is refused"),
    Setting("PLAYGROUND_IDLE_SECONDS", "120", "a play socket silent this long is closed and its games freed"),
    Setting("PLAYGROUND_SEND_SECONDS", "10",
            "a play socket whose client takes no message for this long (it stopped reading) is closed, its game freed"),
    Setting("PLAYGROUND_RESULTS_PER_SOCKET", "100", "play results one socket records; later episodes play unrecorded"),
    Setting("PLAYGROUND_RESULTS_PER_MINUTE", "20",
            "play results one socket records per minute; the server records at most `PLAYGROUND_MAX_GAMES` times this"),
    Setting("PLAYGROUND_WARM", "1", "0: the app does not pre-render replay videos in the background at start"),
)
_NAMES = {s.name for s in SETTINGS}


def _get(name: str) -> str | None:
    assert name in _NAMES, f"{name} is not in SETTINGS"
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def _folder(name: str, default: Path) -> Path:
    value = _get(name)
    return Path(value).expanduser().resolve() if value else default


def models_dir() -> Path:
    """Where the shipped bundles live."""
    return _folder("PLAYGROUND_MODELS", REPO_ROOT / "models")


def data_dir() -> Path:
    """The user's data: pulled and imported agents, the leaderboard database."""
    return _folder("PLAYGROUND_DATA", Path.home() / ".local" / "share" / "ppo-playground")


def cache_dir() -> Path:
    """Re-creatable files (replay videos)."""
    return _folder("PLAYGROUND_CACHE", Path.home() / ".cache" / "ppo-playground")


def runs_dir() -> Path:
    """Training runs, ``<runs>/<slug>/seed<S>``, and reproduction work folders, ``<runs>/reproduce``."""
    return _folder("PLAYGROUND_RUNS", REPO_ROOT / "runs")


def _number(name: str, default: float, kind: type, low: float, high: float) -> float:
    value = _get(name)
    if value is None:
        return default
    try:
        number = kind(value)
    except ValueError:
        raise SettingError(f"{name}={value!r} is not a number; unset it or give one between {low:g} and {high:g}") from None
    if not low <= number <= high:
        raise SettingError(f"{name}={value!r} is out of range; give one between {low:g} and {high:g}")
    return number


def max_games() -> int:
    return int(_number("PLAYGROUND_MAX_GAMES", 8, int, 1, 1000))


def idle_seconds() -> float:
    return float(_number("PLAYGROUND_IDLE_SECONDS", 120.0, float, 0.1, 86400))


def send_seconds() -> float:
    return float(_number("PLAYGROUND_SEND_SECONDS", 10.0, float, 0.1, 3600))


def results_per_socket() -> int:
    return int(_number("PLAYGROUND_RESULTS_PER_SOCKET", 100, int, 0, 10**6))


def results_per_minute() -> int:
    return int(_number("PLAYGROUND_RESULTS_PER_MINUTE", 20, int, 0, 10**4))


def warm_videos() -> bool:
    return _get("PLAYGROUND_WARM") != "0"


def settings_table() -> str:
    """The README's settings table, as markdown."""
    rows = ["| variable | default | what it sets |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {s.default} | {s.meaning} |" for s in SETTINGS]
    return "\n".join(rows)


class SettingError(PlaygroundError):
    """An environment variable holds a value the playground cannot use."""
