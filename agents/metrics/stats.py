"""Statistics for multi-seed claims, in the manner of rliable (Agarwal et al. 2021): the interquartile
mean (IQM) of per-seed final scores with a bootstrap CI, and the verdicts built on them
(``docs/reproduce.md`` gives the reasons).

A *run* is one training seed; its final score is the mean return of its final evaluation episodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

RESAMPLES = 10_000
SEED = 0
LEVEL = 0.95
TOLERANCE_SHARE = 0.05
"""the band around the published seeds is widened by at least this share of the published IQM"""


def iqm(scores: Sequence[float] | np.ndarray, axis: int = -1) -> np.ndarray | float:
    """Interquartile mean: the mean of the middle 50 %, trimming ``int(0.25 n)`` scores from each end
    (``scipy.stats.trim_mean(x, 0.25)``, which rliable uses). With 3 runs nothing is trimmed: the mean."""
    x = np.sort(np.asarray(scores, dtype=np.float64), axis=axis)
    n = x.shape[axis]
    k = int(0.25 * n)
    out = np.take(x, range(k, n - k), axis=axis).mean(axis=axis)
    return float(out) if np.ndim(out) == 0 else out


def _resampled_iqms(runs: list[Sequence[float]], rng: np.random.Generator, reps: int) -> np.ndarray:
    """IQM of ``reps`` two-level resamples: draw runs with replacement, and each drawn run's score
    from its own episodes drawn with replacement."""
    n = len(runs)
    # per run, ``reps`` resampled episode means; a run drawn twice in one resample shares its draw
    means = np.empty((n, reps))
    for r, eps in enumerate(runs):
        e = np.asarray(eps, dtype=np.float64)
        means[r] = e[rng.integers(0, e.size, size=(reps, e.size))].mean(axis=1)
    pick = rng.integers(0, n, size=(reps, n))
    return iqm(means[pick, np.arange(reps)[:, None]], axis=1)


def iqm_ci(runs: list[Sequence[float]], level: float = LEVEL, reps: int = RESAMPLES, seed: int = SEED) -> dict:
    """IQM of the runs' final scores and its percentile-bootstrap CI.

    :param runs: per run, its final evaluation returns (one list per seed)
    """
    if not runs or any(len(r) == 0 for r in runs):
        raise ValueError("every run needs at least one evaluation episode")
    scores = [float(np.mean(r)) for r in runs]
    boot = _resampled_iqms(runs, np.random.default_rng(seed), reps)
    a = (1 - level) / 2
    return {
        "iqm": iqm(scores),
        "ci": [float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a))],
        "runs": len(runs),
        "scores": scores,
    }


def difference_ci(
    a: list[Sequence[float]], b: list[Sequence[float]], level: float = LEVEL, reps: int = RESAMPLES, seed: int = SEED
) -> dict:
    """IQM(b) − IQM(a) with a percentile-bootstrap CI, resampling each group on its own (stratified)."""
    rng = np.random.default_rng(seed)
    da, db = _resampled_iqms(a, rng, reps), _resampled_iqms(b, rng, reps)
    diff = db - da
    q = (1 - level) / 2
    sa, sb = [float(np.mean(r)) for r in a], [float(np.mean(r)) for r in b]
    # probability of improvement (rliable): P(a random run of b scores higher than one of a), ties half
    pairs = [(x > y) + 0.5 * (x == y) for x in sb for y in sa]
    return {
        "difference": iqm(sb) - iqm(sa),
        "ci": [float(np.quantile(diff, q)), float(np.quantile(diff, 1 - q))],
        "probability_of_improvement": float(np.mean(pairs)),
    }


def wilson_ci(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a win rate, ``successes`` out of ``n`` (Wilson 1927; Agresti & Coull 1998).

    Unlike the normal approximation p ± z·√(p(1−p)/n) it stays inside [0, 1] and is not a zero-width point
    at 0 or n wins, which matters on a leaderboard where an agent may have won all of its first five games.
    With no games it is (0, 1): nothing is known.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 ≤ successes ≤ n, got {successes} out of {n}")
    if n == 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    # at 0 (n) successes the bound is exactly 0 (1); float rounding would leave 3e-17
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def published_band(scores: Sequence[float], published_iqm: float, share: float = TOLERANCE_SHARE) -> dict:
    """[min − tol, max + tol] of the published seeds' scores, tol = max(their range, share · |IQM|).

    The range, because a new seed from the same distribution falls inside the min–max of n = 3 earlier
    seeds only with probability (n − 1)/(n + 1) = 1/2; the share of the IQM, because seeds that happened
    to score the same (CartPole: 500, 500, 500) have no range at all.
    """
    lo, hi = float(min(scores)), float(max(scores))
    tol = max(hi - lo, share * abs(published_iqm))
    return {
        "low": lo - tol,
        "high": hi + tol,
        "tolerance": tol,
        "rule": f"published min − tol … max + tol, tol = max(published range, {share:.0%} of |published IQM|)",
    }


def reproduction_verdict(
    published: list[Sequence[float]], reproduced: list[Sequence[float]], comparable: bool = True, why_not: str = ""
) -> dict:
    """ "reproduced" when the reproduced IQM's CI overlaps the published IQM's CI and every reproduced
    seed's final score lies inside the published band; "not reproduced" otherwise."""
    pub, rep = iqm_ci(published), iqm_ci(reproduced)
    band = published_band(pub["scores"], pub["iqm"])
    overlap = rep["ci"][0] <= pub["ci"][1] and pub["ci"][0] <= rep["ci"][1]
    outside = [i for i, s in enumerate(rep["scores"]) if not band["low"] <= s <= band["high"]]
    reasons = [
        f"reproduced IQM {rep['iqm']:.2f} (95 % CI {rep['ci'][0]:.2f} … {rep['ci'][1]:.2f}) "
        + ("overlaps" if overlap else "does not overlap")
        + f" the published IQM {pub['iqm']:.2f} (95 % CI {pub['ci'][0]:.2f} … {pub['ci'][1]:.2f})",
        (
            f"every reproduced seed's final score lies in the published band {band['low']:.2f} … {band['high']:.2f}"
            if not outside
            else f"{len(outside)} of {len(rep['scores'])} reproduced seeds lie outside the published band "
            f"{band['low']:.2f} … {band['high']:.2f}: " + ", ".join(f"{rep['scores'][i]:.2f}" for i in outside)
        ),
    ]
    verdict = "reproduced" if overlap and not outside else "not reproduced"
    if not comparable:
        verdict = "not comparable"
        reasons.insert(0, why_not)
    return {
        "verdict": verdict,
        "published": pub,
        "reproduced": rep,
        "band": band,
        "ci_overlap": overlap,
        "seeds_outside_band": outside,
        "reasons": reasons,
        "method": METHOD,
    }


def ablation_verdict(baseline: list[Sequence[float]], variant: list[Sequence[float]], names: tuple[str, str]) -> dict:
    """Whether ``variant`` scores higher or lower than ``baseline``: the CI of the IQM difference excludes 0."""
    d = difference_ci(baseline, variant)
    lo, hi = d["ci"]
    if lo > 0:
        verdict = f"{names[1]} higher"
    elif hi < 0:
        verdict = f"{names[1]} lower"
    else:
        verdict = "no clear difference"
    return {
        "verdict": verdict,
        **d,
        "baseline": iqm_ci(baseline),
        "variant": iqm_ci(variant),
        "reason": f"IQM({names[1]}) − IQM({names[0]}) = {d['difference']:.2f}, 95 % CI {lo:.2f} … {hi:.2f}"
        + ("; the CI excludes 0" if verdict != "no clear difference" else "; the CI includes 0"),
        "method": METHOD,
    }


METHOD = (
    f"IQM of per-seed final scores (scipy.stats.trim_mean(x, 0.25), as rliable); {LEVEL:.0%} percentile "
    f"bootstrap CI, {RESAMPLES} resamples, numpy seed {SEED}, two-level: seeds drawn with replacement "
    f"(rliable's stratified bootstrap with one task) and each drawn seed's score re-drawn from its own "
    f"evaluation episodes"
)
