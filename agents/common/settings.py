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
    limit: bool = False
    """a bound on what comes from outside (docs/security.md lists these)"""


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "PLAYGROUND_MODELS", "`models/` in the repository", "the shipped bundles the app and the CLI open by game slug"
    ),
    Setting(
        "PLAYGROUND_DATA",
        "`~/.local/share/ppo-playground`",
        "pulled and imported agents (`agents.json`, `imported/`) and the leaderboard database",
    ),
    Setting("PLAYGROUND_CACHE", "`~/.cache/ppo-playground`", "rendered replay videos (safe to delete)"),
    Setting(
        "PLAYGROUND_RUNS",
        "`runs/` in the repository",
        "training runs (`playground train`) and reproduction work folders (`runs/reproduce/`)",
    ),
    Setting("PLAYGROUND_MAX_GAMES", "8", "games the play server runs at once; one more socket is refused"),
    Setting("PLAYGROUND_IDLE_SECONDS", "120", "a play socket silent this long is closed and its games freed"),
    Setting(
        "PLAYGROUND_SEND_SECONDS",
        "10",
        "a play socket whose client takes no message for this long (it stopped reading) is closed, its game freed",
    ),
    Setting("PLAYGROUND_RESULTS_PER_SOCKET", "100", "play results one socket records; later episodes play unrecorded"),
    Setting(
        "PLAYGROUND_RESULTS_PER_MINUTE",
        "20",
        "play results one socket records per minute; the server records at most `PLAYGROUND_MAX_GAMES` times this",
    ),
    Setting(
        "PLAYGROUND_DATABASE_URL",
        "SQLite file `playground.sqlite` in `PLAYGROUND_DATA`",
        "the database of everything the app keeps (leaderboard, lab jobs, head-to-head ratings): a SQLAlchemy URL, "
        "e.g. `postgresql+psycopg://user@host/db` so several app replicas share it",
    ),
    Setting("PLAYGROUND_LAB_WORKERS", "1", "lab training jobs run at once by this app's local worker pool"),
    Setting("PLAYGROUND_LAB_MAX_TIMESTEPS", "300000", "the most timesteps one lab job may ask for", limit=True),
    Setting("PLAYGROUND_LAB_MAX_MINUTES", "20", "wall time one lab job may train before it is stopped", limit=True),
    Setting(
        "PLAYGROUND_LAB_QUEUE_PER_SESSION", "4", "lab jobs one browser session may have queued or running", limit=True
    ),
    Setting("PLAYGROUND_LAB_KEEP_DAYS", "7", "finished lab runs older than this are deleted"),
    Setting("PLAYGROUND_LAB_MAX_DISK_MB", "2048", "lab runs together; the oldest finished ones are deleted beyond it"),
    Setting(
        "PLAYGROUND_RAY_ADDRESS",
        "unset (local workers)",
        "a Ray cluster address (`auto`, `ray://host:10001`): lab jobs run there as Ray tasks instead of local workers",
    ),
    Setting("PLAYGROUND_WARM", "1", "0: the app does not pre-render replay videos in the background at start"),
    Setting(
        "PLAYGROUND_MAX_FILE_MB",
        "64",
        "largest file of a bundle, of a pulled agent (checked before downloading) or of an imported checkpoint, "
        "and largest archive member once inflated",
        limit=True,
    ),
    Setting(
        "PLAYGROUND_MAX_BUNDLE_MB",
        "256",
        "all files of a bundle or a pulled agent together (checked before downloading), and all members of "
        "an imported checkpoint inflated, nested archives included",
        limit=True,
    ),
    Setting(
        "PLAYGROUND_MAX_JSON_MB",
        "16",
        "a JSON, CSV or model-card file read into memory (manifest, policy.json, evidence, replays, a "
        "checkpoint's `data`)",
        limit=True,
    ),
    Setting(
        "PLAYGROUND_MAX_CONFIG_KB",
        "64",
        "a `config.yml` (a bundle's or an RL Zoo run's): hyperparameters end up in the model card",
        limit=True,
    ),
    Setting("PLAYGROUND_MAX_NESTING", "32", "nesting depth of JSON and YAML from outside", limit=True),
    Setting(
        "PLAYGROUND_MAX_PARAMETERS",
        "20000000",
        "policy parameters, counted from `policy.json` (or a checkpoint's `policy_kwargs`) and the spaces "
        "before any tensor is built",
        limit=True,
    ),
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
        raise SettingError(
            f"{name}={value!r} is not a number; unset it or give one between {low:g} and {high:g}"
        ) from None
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


def database_url() -> str:
    """The SQLAlchemy URL of the app's database; default a SQLite file in :func:`data_dir`."""
    value = _get("PLAYGROUND_DATABASE_URL")
    if value:
        return value
    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'playground.sqlite'}"


def lab_dir() -> Path:
    """Lab training runs, ``<data>/lab/<job id>`` (kept apart from shipped bundles and ``runs/``)."""
    return data_dir() / "lab"


def lab_workers() -> int:
    return int(_number("PLAYGROUND_LAB_WORKERS", 1, int, 0, 64))


def lab_max_timesteps() -> int:
    return int(_number("PLAYGROUND_LAB_MAX_TIMESTEPS", 300_000, int, 1000, 10**8))


def lab_max_seconds() -> float:
    return float(_number("PLAYGROUND_LAB_MAX_MINUTES", 20, float, 0.1, 10**5)) * 60


def lab_queue_per_session() -> int:
    return int(_number("PLAYGROUND_LAB_QUEUE_PER_SESSION", 4, int, 1, 1000))


def lab_keep_seconds() -> float:
    return float(_number("PLAYGROUND_LAB_KEEP_DAYS", 7, float, 0, 10**4)) * 86400


def lab_max_disk_bytes() -> int:
    return int(_number("PLAYGROUND_LAB_MAX_DISK_MB", 2048, float, 1, 10**8) * 2**20)


def ray_address() -> str | None:
    return _get("PLAYGROUND_RAY_ADDRESS")


# --- limits on what comes from outside (docs/security.md) ------------------------------------------------


def max_file_bytes() -> int:
    return int(_number("PLAYGROUND_MAX_FILE_MB", 64, float, 0.001, 10**6) * 2**20)


def max_bundle_bytes() -> int:
    return int(_number("PLAYGROUND_MAX_BUNDLE_MB", 256, float, 0.001, 10**6) * 2**20)


def max_json_bytes() -> int:
    return int(_number("PLAYGROUND_MAX_JSON_MB", 16, float, 0.001, 10**5) * 2**20)


def max_config_bytes() -> int:
    return int(_number("PLAYGROUND_MAX_CONFIG_KB", 64, float, 1, 10**6) * 2**10)


def max_nesting() -> int:
    return int(_number("PLAYGROUND_MAX_NESTING", 32, int, 4, 500))


def max_parameters() -> int:
    return int(_number("PLAYGROUND_MAX_PARAMETERS", 20_000_000, int, 1000, 10**10))


def settings_table() -> str:
    """The README's settings table, as markdown."""
    rows = ["| variable | default | what it sets |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {s.default} | {s.meaning} |" for s in SETTINGS]
    return "\n".join(rows)


def limits_table() -> str:
    """docs/security.md's table of limits, as markdown."""
    rows = ["| limit | default | what it bounds |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {s.default} | {s.meaning} |" for s in SETTINGS if s.limit]
    return "\n".join(rows)


class SettingError(PlaygroundError):
    """An environment variable holds a value the playground cannot use."""


TABLES = {
    "<!-- settings: generated by `python -m agents.common.settings --update README.md` -->": (
        "<!-- end settings -->",
        settings_table,
    ),
    "<!-- limits: generated by `python -m agents.common.settings --update docs/security.md` -->": (
        "<!-- end limits -->",
        limits_table,
    ),
}
"""the generated tables: start marker → (end marker, the function that makes the table)"""


def _update(path: Path) -> None:
    """Replace every generated table found between its markers in ``path`` (README.md, docs/security.md)."""
    text = path.read_text()
    found = False
    for start, (end, table) in TABLES.items():
        if start in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            text = f"{head}{start}\n{table()}\n{end}{tail}"
            found = True
    if not found:
        raise SystemExit(f"{path} has no generated-table markers")
    path.write_text(text)


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--update"] and len(sys.argv) == 3:
        _update(Path(sys.argv[2]))
    else:
        print(settings_table())
