"""A health verdict for a training run, read off its diagnostics against the PPO texts' bands.

Bands (../shared/reference/benchmarks.md, last paragraph): approx KL per update below ~0.02, above 0.1
too aggressive; clip fraction roughly 10–40 %, above 60 % epsilon is too small, below 5 % clipping
does not constrain; entropy falls over training but not to zero; explained variance rises towards 1.

Every finding names the metric, the band, and when (which timesteps) the run was outside it. A few
updates outside a band are normal, so a band is judged on the share of updates outside it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

SHARE = 0.10
"""a band is flagged when at least this share of updates is outside it"""

TAIL = 0.10
"""'final' values are the mean over the last 10 % of updates"""


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


def _outside(metric: str, band: str, t: np.ndarray, values: np.ndarray, mask: np.ndarray, status: str,
             what: str) -> Finding:
    n_out, n = int(mask.sum()), int(values.size)
    ranges = _ranges(t, mask)
    if n == 0:
        return Finding(metric, band, "ok", "no updates recorded")
    flagged = n_out / n >= SHARE
    when = ", ".join(f"{a:,}–{b:,}" for a, b in ranges[:4]) + (" …" if len(ranges) > 4 else "")
    message = (f"{n_out} of {n} updates ({n_out / n:.0%}) {what} (timesteps {when})" if n_out
               else f"all {n} updates inside the band")
    return Finding(metric, band, status if flagged else "ok", message, n_out, n,
                   ranges[0][0] if ranges else None, ranges[-1][1] if ranges else None, ranges)


def assess(rows: list[dict], continuous: bool = False) -> dict:
    """The verdict for one run's diagnostics rows (dicts with DIAGNOSTIC_COLUMNS, numbers or NaN)."""

    def col(name: str) -> np.ndarray:
        return np.array([_f(r.get(name)) for r in rows], dtype=np.float64)

    t = col("timesteps").astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
    findings: list[Finding] = []

    kl = col("approx_kl")
    findings.append(_outside("approx_kl", "> 0.1 (too aggressive)", t, kl, kl > 0.1, "alarm", "had approx KL above 0.1"))
    findings.append(_outside("approx_kl", "≤ 0.02", t, kl, kl > 0.02, "warn", "had approx KL above 0.02"))

    cf = col("clip_fraction")
    findings.append(_outside("clip_fraction", "> 0.6 (clip range too small)", t, cf, cf > 0.6, "alarm",
                             "clipped more than 60 % of samples"))
    findings.append(_outside("clip_fraction", "0.10–0.40", t, cf, (cf < 0.10) | (cf > 0.40), "warn",
                             "were outside 10–40 % clipped"))
    findings.append(_outside("clip_fraction", "< 0.05 (clipping does not constrain)", t, cf, cf < 0.05, "warn",
                             "clipped under 5 % of samples"))

    n = len(rows)
    k = max(1, int(math.ceil(n * TAIL)))
    ent = col("entropy")
    if n >= 2:
        first, last = float(np.nanmean(ent[:k])), float(np.nanmean(ent[-k:]))
        if not continuous:
            collapsed = last <= 0.01 * first if first > 0 else False
            findings.append(Finding("entropy", "falls, but not to zero", "alarm" if collapsed else
                                    ("warn" if last >= first else "ok"),
                                    f"entropy went from {first:.3f} (first {k} updates) to {last:.3f} (last {k})"
                                    + ("; it collapsed to under 1 % of its start" if collapsed else
                                       "; it did not fall" if last >= first else ""),
                                    updates=n, first_timesteps=int(t[0]), last_timesteps=int(t[-1])))
        else:
            # a Gaussian's differential entropy can be negative, so only its trend is judged
            findings.append(Finding("entropy", "falls over training", "warn" if last >= first else "ok",
                                    f"entropy went from {first:.3f} (first {k} updates) to {last:.3f} (last {k})"
                                    + ("; it did not fall" if last >= first else ""),
                                    updates=n, first_timesteps=int(t[0]), last_timesteps=int(t[-1])))

        ev = col("explained_variance")
        ev_first, ev_last = float(np.nanmean(ev[:k])), float(np.nanmean(ev[-k:]))
        status = "alarm" if ev_last < 0 else "warn" if ev_last < 0.5 else "ok"
        findings.append(Finding("explained_variance", "rising towards 1 (final ≥ 0.5)", status,
                                f"explained variance went from {ev_first:.3f} to {ev_last:.3f} (last {k} updates)",
                                updates=n, first_timesteps=int(t[-k]), last_timesteps=int(t[-1])))

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
