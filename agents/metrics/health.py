"""A health verdict for a training run, read off its diagnostics against the rules of the metrics table.

The rules and bands live in ``agents/metrics/table.py`` (the PPO texts' bands). Every finding names the
metric, the band, and when (which timesteps) the run was outside it. A few updates outside a band are
normal, so a per-update band is judged on the share of updates outside it; trends and final values on the
means of the first and last ``TAIL`` of updates.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from agents.metrics.table import METRICS, SHARE, TAIL, EndsAbove, Falls, Metric, Outside, pct


@dataclass
class Finding:
    metric: str
    band: str
    status: str  # "ok" | "warn" | "alarm"
    message: str
    updates_outside: int = 0
    updates: int = 0
    first_timesteps: int | None = None
    last_timesteps: int | None = None
    ranges: list[list[int]] = field(default_factory=list)


def _ranges(timesteps: np.ndarray, mask: np.ndarray) -> list[list[int]]:
    """Contiguous runs of updates where ``mask`` holds, as [first, last] timesteps."""
    out, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if not m and start is not None:
            out.append([int(timesteps[start]), int(timesteps[i - 1])])
            start = None
    if start is not None:
        out.append([int(timesteps[start]), int(timesteps[-1])])
    return out


def _outside(metric: Metric, rule: Outside, t: np.ndarray, values: np.ndarray) -> Finding:
    mask = rule.mask(values)
    n_out, n = int(mask.sum()), int(values.size)
    ranges = _ranges(t, mask)
    if n == 0:
        return Finding(metric.column, rule.band, "ok", "no updates recorded")
    flagged = n_out / n >= SHARE
    when = ", ".join(f"{a:,}–{b:,}" for a, b in ranges[:4]) + (" …" if len(ranges) > 4 else "")
    message = (
        f"{n_out} of {n} updates ({n_out / n:.0%}) {rule.finding} (timesteps {when})"
        if n_out
        else f"all {n} updates inside the band"
    )
    return Finding(
        metric.column,
        rule.band,
        rule.status if flagged else "ok",
        message,
        n_out,
        n,
        ranges[0][0] if ranges else None,
        ranges[-1][1] if ranges else None,
        ranges,
    )


def _falls(metric: Metric, rule: Falls, t: np.ndarray, values: np.ndarray, k: int, continuous: bool) -> Finding:
    first, last = float(np.nanmean(values[:k])), float(np.nanmean(values[-k:]))
    did_not_fall = last >= first  # False when either is NaN (no entropy logged, as with TRPO): nothing to judge
    # a Gaussian's differential entropy can be negative, so a continuous policy's is judged on its trend only
    collapsed = not continuous and first > 0 and last <= rule.collapse * first
    status = "alarm" if collapsed else "warn" if did_not_fall else "ok"
    message = f"{metric.column} went from {first:.3f} (first {k} updates) to {last:.3f} (last {k})" + (
        f"; it collapsed to under {pct(rule.collapse)} of its start"
        if collapsed
        else "; it did not fall"
        if did_not_fall
        else ""
    )
    return Finding(
        metric.column,
        rule.band_continuous if continuous else rule.band,
        status,
        message,
        updates=int(values.size),
        first_timesteps=int(t[0]),
        last_timesteps=int(t[-1]),
    )


def _ends_above(metric: Metric, rule: EndsAbove, t: np.ndarray, values: np.ndarray, k: int) -> Finding:
    first, last = float(np.nanmean(values[:k])), float(np.nanmean(values[-k:]))
    status = "alarm" if last < rule.alarm else "warn" if last < rule.warn else "ok"
    return Finding(
        metric.column,
        rule.band,
        status,
        f"{metric.column.replace('_', ' ')} went from {first:.3f} to {last:.3f} (last {k} updates)",
        updates=int(values.size),
        first_timesteps=int(t[-k]),
        last_timesteps=int(t[-1]),
    )


def assess(rows: list[dict], continuous: bool = False) -> dict:
    """The verdict for one run's diagnostics rows (dicts with the table's columns, numbers, NaN or CSV text).

    :param continuous: the policy's actions are continuous (Gaussian), so its entropy is judged on its trend
    """

    def col(name: str) -> np.ndarray:
        return np.array([_f(r.get(name)) for r in rows], dtype=np.float64)

    n = len(rows)
    t = col("timesteps").astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
    k = max(1, math.ceil(n * TAIL))
    findings: list[Finding] = []
    # per-update bands first, then the trends and final values, which need two updates or more
    for m in METRICS:
        findings += [_outside(m, r, t, col(m.column)) for r in m.rules if isinstance(r, Outside)]
    if n >= 2:
        for m in METRICS:
            for r in m.rules:
                if isinstance(r, Falls):
                    findings.append(_falls(m, r, t, col(m.column), k, continuous))
                elif isinstance(r, EndsAbove):
                    findings.append(_ends_above(m, r, t, col(m.column), k))

    alarms = [f for f in findings if f.status == "alarm"]
    warns = [f for f in findings if f.status == "warn"]
    verdict = "no data" if n == 0 else "unhealthy" if alarms else "watch" if warns else "healthy"
    return {
        "verdict": verdict,
        "summary": (f"{len(alarms)} alarm(s), {len(warns)} warning(s) over {n} PPO updates" if n else "no updates"),
        "rule": f"a band is flagged when ≥ {SHARE:.0%} of updates are outside it; final = mean of the last {TAIL:.0%}",
        "findings": [asdict(f) for f in findings],
    }


def _f(v) -> float:
    if v is None or v == "":
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan
