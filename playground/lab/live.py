"""What the lab page reads off a job's run folder while it trains: the diagnostics rows so far, the progress,
the live health verdict and a one-line reading of a comparison, all computed from the curves.

No Streamlit here (the page, ``playground/views/lab.py``, draws what these return), so each is testable on
a CSV.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agents.metrics.health import assess
from agents.metrics.table import DIAGNOSTIC_COLUMNS, METRICS
from playground.lab.runner import run_status
from playground.store.jobs import Job

MAX_CSV_BYTES = 32 * 2**20
"""diagnostics of a capped lab run are a few hundred kB; anything larger is not read"""


def read_rows(run_dir: str | Path) -> list[dict[str, float]]:
    """The diagnostics rows written so far, numbers as floats (empty as NaN); a row still being written (no
    newline yet) is left for the next read."""
    path = Path(run_dir) / "diagnostics.csv"
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            return []
        text = path.read_text()
    except OSError:
        return []
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, float] = {}
        for k in DIAGNOSTIC_COLUMNS:
            try:
                row[k] = float(raw.get(k) or "nan")
            except ValueError:
                row[k] = math.nan
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Progress:
    timesteps: int
    total: int
    fps: float | None
    eta_seconds: float | None
    phase: str
    """``queued``, ``starting``, ``training``, ``evaluating`` or the job's end state"""

    @property
    def fraction(self) -> float:
        return min(1.0, self.timesteps / self.total) if self.total else 0.0

    def line(self) -> str:
        if self.phase in ("queued", "starting", "evaluating"):
            what = {
                "queued": "queued",
                "starting": "starting…",
                "evaluating": "trained; evaluating 20 episodes…",
            }[self.phase]
            return f"{self.timesteps:,} / {self.total:,} steps · {what}"
        text = f"{self.timesteps:,} / {self.total:,} steps"
        if self.fps:
            text += f" · {self.fps:,.0f} fps"
        if self.eta_seconds is not None and self.phase == "training":
            text += f" · ETA {_duration(self.eta_seconds)}"
        if self.phase not in ("training",):
            text += f" · {self.phase}"
        return text


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


def progress(job: Job, rows: list[dict[str, float]]) -> Progress:
    total = int(job.config.get("timesteps") or 0)
    steps = int(rows[-1]["timesteps"]) if rows else 0
    fps = rows[-1]["fps"] if rows and math.isfinite(rows[-1]["fps"]) and rows[-1]["fps"] > 0 else None
    if job.state == "running":
        phase = "evaluating" if run_status(Path(job.run_dir)) == "done" else "training" if rows else "starting"
    else:
        phase = job.state
    eta = (total - steps) / fps if fps and phase == "training" else None
    return Progress(steps, total, fps, eta, phase)


NAMES = {m.column: (m.chart.title if m.chart else m.column.replace("_", " ")) for m in METRICS}


def health_lines(rows: list[dict[str, float]], continuous: bool) -> tuple[str, list[str]]:
    """The verdict of the rows so far and one line per finding that is not ok, naming the metric, its band and
    the timesteps, e.g. "Clip fraction outside 0.10–0.40: 12 of 40 updates (30 %) ... (timesteps 30,720–…)"."""
    if not rows:
        return "no data", []
    verdict = assess(rows, continuous=continuous)
    lines = []
    for f in verdict["findings"]:
        if f["status"] == "ok":
            continue
        since = f" since {f['first_timesteps']:,} steps" if f.get("first_timesteps") is not None else ""
        lines.append(f"{f['status']}: {NAMES.get(f['metric'], f['metric'])} {f['band']}{since}: {f['message']}")
    lines.sort(key=lambda line: not line.startswith("alarm"))  # alarms first
    return verdict["verdict"], lines


def _first_reaching(rows: list[dict[str, float]], threshold: float) -> int | None:
    for r in rows:
        if math.isfinite(r["ep_rew_mean"]) and r["ep_rew_mean"] >= threshold:
            return int(r["timesteps"])
    return None


def _median(rows: list[dict[str, float]], column: str) -> float:
    values = np.array([r[column] for r in rows], dtype=float)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else math.nan


def comparison_line(runs: dict[str, list[dict[str, float]]], threshold: float) -> str:
    """What a comparison of 2–4 runs shows so far, in one line computed from their curves: which reached the
    solved threshold first (or leads in reward over the steps they all have), and the diagnostic that differs
    most between them (median over those steps)."""
    runs = {k: v for k, v in runs.items() if v}
    if len(runs) < 2:
        return "Waiting for at least two runs to write their first PPO update."
    common = min(int(v[-1]["timesteps"]) for v in runs.values())
    upto = {k: [r for r in v if r["timesteps"] <= common] for k, v in runs.items()}
    parts = []
    reached = {k: _first_reaching(v, threshold) for k, v in upto.items()}
    got = sorted((t, k) for k, t in reached.items() if t is not None)
    if got:
        parts.append(
            f"{got[0][1]} reached the solved threshold {threshold:g} first (at {got[0][0]:,} steps)"
            + (
                "; " + ", ".join(f"{k} at {t:,}" for t, k in got[1:])
                if len(got) > 1
                else "; " + ", ".join(k for k in upto if reached[k] is None) + " not yet"
            )
        )
    tail = {k: float(np.nanmean([r["ep_rew_mean"] for r in v[-max(1, len(v) // 10) :]])) for k, v in upto.items()}
    ranked = sorted(tail.items(), key=lambda kv: -kv[1] if math.isfinite(kv[1]) else math.inf)
    parts.append(
        "training reward at the last common step: " + ", ".join(f"{k} {v:.1f}" for k, v in ranked if math.isfinite(v))
    )
    best, ratio = None, 1.0
    for column in ("approx_kl", "clip_fraction", "entropy", "explained_variance", "value_loss"):
        med = {k: _median(v, column) for k, v in upto.items()}
        vals = [x for x in med.values() if math.isfinite(x) and x > 0]
        if len(vals) == len(med) and min(vals) > 0 and max(vals) / min(vals) > ratio:
            ratio = max(vals) / min(vals)
            hi = max(med, key=lambda k: med[k])
            lo = min(med, key=lambda k: med[k])
            best = f"{NAMES[column].lower()} differs most: median {med[hi]:.3g} for {hi} against {med[lo]:.3g} for {lo}"
    if best and ratio >= 1.5:
        parts.append(f"{best} ({ratio:.1f}×)")
    return f"Over the first {common:,} steps (all runs have them): " + "; ".join(parts) + "."
