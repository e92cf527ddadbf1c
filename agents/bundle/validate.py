"""The schemas of a bundle's files, checked where they are read (``docs/security.md``).

A bundle may come from anyone (a Hub repo, an imported checkpoint, a folder someone handed you). Each of
its files is read through ``agents.common.untrusted`` (bounded size and nesting, finite numbers) and then
checked here, field by field, before the app, ``verify`` or ``evaluate`` use it; a failure is one
``BundleError`` line naming the file and the field. After these checks, code may assume well-formed,
bounded data: a page that shows a bundle's evidence cannot fall over on it.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import PurePosixPath
from typing import Any

from agents.common.errors import BundleError
from agents.evaluation.evaluate import EvalResult
from envs import make_env

SAFE_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
"""one component of a path a bundle lists: plain names only, so that a name is never a pattern (``*``,
``[``), a flag, hidden, or a way out (``..``, ``/``, ``\\``)"""
MAX_PATH_PARTS = 6
MAX_EPISODES = 100_000
MAX_TEXT = 10_000
"""characters of one string field shown on a page (a command, a message)"""
MAX_SEED = 2**31 - 1


def check_rel(rel: Any, where: str) -> str:
    """A relative path a manifest lists: plain components, no ``..``, not absolute, not a pattern."""
    if not isinstance(rel, str) or not rel or len(rel) > 512:
        raise BundleError(f"{where} lists a malformed file entry {str(rel)[:80]!r}")
    parts = PurePosixPath(rel).parts
    if (
        rel.startswith("/")
        or len(parts) > MAX_PATH_PARTS
        or "/".join(parts) != rel
        or not all(SAFE_PART.fullmatch(p) and p not in (".", "..") for p in parts)
    ):
        raise BundleError(
            f"{where} lists an unsafe or malformed file entry {rel[:80]!r} (a relative path of plain "
            "names: letters, digits, '.', '_', '-')"
        )
    return rel


@functools.cache
def game_spaces(slug: str):
    """(observation space, action space) of a game's evaluation env, made once per process."""
    from envs import get_spec

    env = make_env(get_spec(slug), "eval")
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


# --- small type checks ---------------------------------------------------------------------------------


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def short_text(v: Any, limit: int = MAX_TEXT) -> bool:
    return isinstance(v, str) and len(v) <= limit


def _need(d: dict[str, Any], key: str, ok, what: str, where: str) -> Any:
    if key not in d:
        raise BundleError(f"{where} lacks {key!r}")
    if not ok(d[key]):
        raise BundleError(f"{where}: {key!r} is {str(d[key])[:60]!r}, not {what}")
    return d[key]


def _object(d: Any, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise BundleError(f"{where} is not a JSON object ({type(d).__name__})")
    return d


# --- evidence/eval.json ---------------------------------------------------------------------------------


def eval_result(d: Any, where: str = "evidence/eval.json") -> EvalResult:
    """eval.json as an :class:`EvalResult`, once every field the pages use is there and finite."""
    d = _object(d, where)
    for key in ("game", "env_id"):
        _need(d, key, lambda v: short_text(v, 200), "a short string", where)
    _need(d, "deterministic", lambda v: isinstance(v, bool), "true or false", where)
    if not isinstance(d.get("env_kwargs", {}) or {}, dict):
        raise BundleError(f"{where}: 'env_kwargs' is not an object")
    seeds = _need(d, "seeds", lambda v: isinstance(v, list) and 0 < len(v) <= MAX_EPISODES, "a list of seeds", where)
    returns = _need(d, "returns", lambda v: isinstance(v, list), "a list of returns", where)
    lengths = _need(d, "lengths", lambda v: isinstance(v, list), "a list of lengths", where)
    if not all(is_int(s) and 0 <= s <= MAX_SEED for s in seeds):
        raise BundleError(f"{where}: every seed must be an integer 0..{MAX_SEED}")
    if not all(is_number(r) for r in returns) or not all(is_int(n) and n >= 0 for n in lengths):
        raise BundleError(f"{where}: returns must be finite numbers and lengths non-negative integers")
    if not len(seeds) == len(returns) == len(lengths):
        raise BundleError(f"{where}: {len(seeds)} seeds, {len(returns)} returns and {len(lengths)} lengths")
    s = _need(d, "summary", lambda v: isinstance(v, dict), "an object", where)
    for key in ("mean", "std", "min", "max"):
        _need(s, key, is_number, "a finite number", f"{where}: summary")
    _need(
        s,
        "episodes",
        lambda v: is_int(v) and v == len(returns),
        f"the number of episodes ({len(returns)})",
        f"{where}: summary",
    )
    _need(
        s,
        "ci95",
        lambda v: isinstance(v, list) and len(v) == 2 and all(is_number(x) for x in v),
        "two finite numbers",
        f"{where}: summary",
    )
    _need(s, "ci_method", short_text, "a string", f"{where}: summary")
    if "mean_length" in s and not is_number(s["mean_length"]):
        raise BundleError(f"{where}: summary's 'mean_length' is not a finite number")
    for key in ("policy_sha256", "command", "evaluated_at"):
        if d.get(key) is not None and not short_text(d[key]):
            raise BundleError(f"{where}: {key!r} is not a short string")
    try:
        return EvalResult.from_json(d)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BundleError(f"{where} is malformed: {exc!r}") from None


# --- results.json -----------------------------------------------------------------------------------------


def results(d: Any, where: str = "results.json") -> dict[str, Any]:
    d = _object(d, where)
    for key in ("mean_reward", "std_reward"):
        _need(d, key, is_number, "a finite number", where)
    return d


# --- evidence/health.json -----------------------------------------------------------------------------------


def health(d: Any, seeds: list[int], where: str = "evidence/health.json") -> dict[str, Any]:
    """health.json: an overall verdict and, for every training seed, a verdict, a summary, the rule and
    findings (metric, band, status, message): what the Evidence page and the gallery show."""
    d = _object(d, where)
    _need(d, "verdict", lambda v: short_text(v, 100), "a verdict", where)
    per_seed = _need(d, "seeds", lambda v: isinstance(v, dict), "an object of seeds", where)
    missing = [s for s in seeds if str(s) not in per_seed]
    if missing:
        raise BundleError(f"{where} has no verdict for training seed(s) {missing}")
    for seed, h in per_seed.items():
        at = f"{where}: seed {str(seed)[:20]}"
        if not re.fullmatch(r"\d{1,10}", str(seed)):
            raise BundleError(f"{at} is not a seed")
        h = _object(h, at)
        for key in ("verdict", "summary", "rule"):
            _need(h, key, short_text, "a string", at)
        findings = _need(h, "findings", lambda v: isinstance(v, list) and len(v) <= 1000, "a list", at)
        for f in findings:
            f = _object(f, f"{at}: a finding")
            for key in ("metric", "band", "status", "message"):
                _need(f, key, short_text, "a string", f"{at}: a finding")
    return d


# --- the training CSVs -----------------------------------------------------------------------------------


def _numeric_column(rows: list[dict[str, Any]], column: str, where: str) -> None:
    for i, r in enumerate(rows):
        v = r.get(column)
        if not isinstance(v, float) or math.isinf(v):
            raise BundleError(f"{where}: row {i + 1}'s {column} is {str(v)[:40]!r}, not a finite number")


def training_rows(rows: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """training-seed<S>.csv: at least one row, with timesteps and every column the Evidence page charts,
    as numbers (an empty cell is NaN, drawn as a gap)."""
    from agents.metrics.table import charted

    if not rows:
        raise BundleError(f"{where} has no rows")
    needed = ["timesteps"] + [m.column for m in charted()]
    missing = [c for c in needed if c not in rows[0]]
    if missing:
        raise BundleError(f"{where} lacks the column(s) {', '.join(missing)}")
    for c in needed:
        _numeric_column(rows, c, where)
    if any(math.isnan(r["timesteps"]) for r in rows):
        raise BundleError(f"{where}: a row has no timesteps")
    return rows


def periodic_rows(rows: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """eval-during-training-seed<S>.csv: timesteps, mean and std of each periodic evaluation."""
    if rows:
        missing = [c for c in ("timesteps", "mean", "std") if c not in rows[0]]
        if missing:
            raise BundleError(f"{where} lacks the column(s) {', '.join(missing)}")
        for c in ("timesteps", "mean", "std"):
            _numeric_column(rows, c, where)
    return rows


# --- config.yml --------------------------------------------------------------------------------------------


def config(value: Any, where: str = "config.yml") -> dict[str, Any]:
    """config.yml: a mapping of hyperparameter names to plain values."""
    if not isinstance(value, dict):
        raise BundleError(f"{where} is not a mapping of hyperparameters ({type(value).__name__})")
    if not all(isinstance(k, str) and len(k) <= 200 for k in value):
        raise BundleError(f"{where} has a key that is not a short string")
    return value


# --- what a bundle must hold --------------------------------------------------------------------------------


def required_files(origin: str, seeds: list[int]) -> list[str]:
    """The files the app shows for a bundle of this origin (besides replays): a trained bundle's evidence of
    every training seed, an external one's evaluation."""
    common = ["policy.json", "policy.safetensors", "config.yml", "results.json", "README.md", "evidence/eval.json"]
    if origin == "external":
        return common
    return (
        common
        + ["evidence/health.json"]
        + [f"evidence/{kind}-seed{s}.csv" for s in seeds for kind in ("training", "eval-during-training")]
    )
