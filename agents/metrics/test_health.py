"""The health verdict on crafted diagnostics curves: each rule fires exactly where the data says it should.

The literal numbers below are the PPO texts' bands; the parametrised tests take every rule from the metrics
table, so a band changed there is one the verdict applies."""

import math

import pytest

from agents.metrics.health import assess
from agents.metrics.table import METRICS, SHARE, EndsAbove, Outside

N = 20  # updates per crafted run; the tail (last 10 %) is then 2 updates
STEP = 1000  # timesteps per update


def curve(n=N, approx_kl=0.01, clip_fraction=0.2, entropy=None, explained_variance=None):
    """A healthy run of ``n`` updates; pass a list (or a dict index -> value) to change one metric."""
    entropy = entropy if entropy is not None else [1.0 - 0.5 * i / max(n - 1, 1) for i in range(n)]  # 1.0 -> 0.5
    explained_variance = (
        explained_variance if explained_variance is not None else [0.1 + 0.8 * i / max(n - 1, 1) for i in range(n)]
    )  # 0.1 -> 0.9

    def values(v):
        if isinstance(v, dict):
            return [v.get(i, base) for i, base in enumerate(values(v.get("base", 0.0)))]
        return list(v) if isinstance(v, list) else [v] * n

    kl, cf, ent, ev = values(approx_kl), values(clip_fraction), values(entropy), values(explained_variance)
    return [
        {
            "timesteps": (i + 1) * STEP,
            "approx_kl": kl[i],
            "clip_fraction": cf[i],
            "entropy": ent[i],
            "explained_variance": ev[i],
        }
        for i in range(n)
    ]


def find(result, metric, band_start=""):
    hits = [f for f in result["findings"] if f["metric"] == metric and f["band"].startswith(band_start)]
    assert len(hits) == 1, (metric, band_start, result["findings"])
    return hits[0]


def statuses(result):
    return {(f["metric"], f["band"]): f["status"] for f in result["findings"]}


def test_final_is_the_mean_of_the_last_tenth_of_updates():
    # 30 updates: the last 3 decide; 0.9 elsewhere does not help
    ok = assess(curve(n=30, explained_variance=[0.9] * 27 + [0.2, 0.9, 0.9]))  # final 0.667
    assert find(ok, "explained_variance")["status"] == "ok"
    low = assess(curve(n=30, explained_variance=[0.9] * 27 + [0.2, 0.2, 0.9]))  # final 0.433
    assert find(low, "explained_variance")["status"] == "warn" and low["verdict"] == "watch"
    assert find(low, "explained_variance")["message"].endswith("to 0.433 (last 3 updates)")
    # 20 updates: the last 2, and the start of the entropy trend is the first 2
    assert find(assess(curve(explained_variance=[0.9] * 18 + [0.3, 0.3])), "explained_variance")["status"] == "warn"
    assert find(assess(curve(explained_variance=[0.1] * 18 + [0.6, 0.6])), "explained_variance")["status"] == "ok"
    rose_then_fell = assess(curve(entropy=[1.0, 1.0] + [2.0] * 16 + [0.9, 0.9]))
    assert find(rose_then_fell, "entropy")["status"] == "ok"  # 1.0 -> 0.9: it fell


PER_UPDATE = [(m.column, r) for m in METRICS for r in m.rules if isinstance(r, Outside)]


def _beyond(rule: Outside) -> list[float]:
    """Values just outside the rule's band, on each side it has."""
    return [x for x in (rule.below - 1e-4, rule.above + 1e-4) if math.isfinite(x)]


@pytest.mark.parametrize("column,rule", PER_UPDATE, ids=lambda v: v if isinstance(v, str) else v.band)
def test_each_table_band_flags_the_run_once_enough_updates_are_outside(column, rule):
    flagged = math.ceil(SHARE * N)  # 2 of 20
    for value in _beyond(rule):
        at = assess(curve(**{column: {i: value for i in range(flagged)} | {"base": curve()[0][column]}}))
        f = find(at, column, rule.band)
        assert f["status"] == rule.status and f["updates_outside"] == flagged, (value, f)
        assert at["verdict"] == ("unhealthy" if rule.status == "alarm" else "watch")
        below = assess(curve(**{column: {i: value for i in range(flagged - 1)} | {"base": curve()[0][column]}}))
        assert find(below, column, rule.band)["status"] == "ok"
    # on the band's edge the update is inside
    for edge in (rule.below, rule.above):
        if math.isfinite(edge):
            assert find(assess(curve(**{column: edge})), column, rule.band)["updates_outside"] == 0


@pytest.mark.parametrize("column,rule", [(m.column, r) for m in METRICS for r in m.rules if isinstance(r, EndsAbove)])
def test_each_table_final_value_rule_changes_the_verdict(column, rule):
    def ending(final):
        return assess(curve(**{column: [rule.warn + 0.3] * (N - 2) + [final, final]}))

    assert ending(rule.warn)["verdict"] == "healthy"
    assert ending(rule.warn - 1e-3)["verdict"] == "watch"
    assert ending(rule.alarm)["verdict"] == "watch"
    assert ending(rule.alarm - 1e-3)["verdict"] == "unhealthy"


def test_healthy_curve():
    result = assess(curve())
    assert result["verdict"] == "healthy"
    assert result["summary"] == "0 alarm(s), 0 warning(s) over 20 PPO updates"
    assert set(statuses(result).values()) == {"ok"}
    assert len(result["findings"]) == 7  # 2 KL bands, 3 clip-fraction bands, entropy, explained variance
    kl = find(result, "approx_kl", ">")
    assert kl["updates_outside"] == 0 and kl["updates"] == 20
    assert kl["first_timesteps"] is None and kl["last_timesteps"] is None and kl["ranges"] == []
    assert kl["message"] == "all 20 updates inside the band"
    ent = find(result, "entropy")
    assert ent["message"] == "entropy went from 0.987 (first 2 updates) to 0.513 (last 2)"
    assert (ent["first_timesteps"], ent["last_timesteps"]) == (1000, 20000)
    ev = find(result, "explained_variance")
    assert ev["status"] == "ok"
    assert (ev["first_timesteps"], ev["last_timesteps"]) == (19000, 20000)


def test_approx_kl_above_0_1_in_a_fifth_of_updates_is_an_alarm_with_when():
    # updates 6, 7, 8 (timesteps 6000-8000) and 16 (timestep 16000) are too aggressive: 4 of 20 = 20 %
    rows = curve(approx_kl={5: 0.15, 6: 0.2, 7: 0.12, 15: 0.5, "base": 0.01})
    result = assess(rows)
    assert result["verdict"] == "unhealthy"
    f = find(result, "approx_kl", "> 0.1")
    assert f["band"] == "> 0.1 (too aggressive)"
    assert f["status"] == "alarm"
    assert (f["updates_outside"], f["updates"]) == (4, 20)
    assert f["first_timesteps"] == 6000 and f["last_timesteps"] == 16000
    assert f["ranges"] == [[6000, 8000], [16000, 16000]]
    assert f["message"] == "4 of 20 updates (20%) had approx KL above 0.1 (timesteps 6,000–8,000, 16,000–16,000)"
    # the same updates are also above the 0.02 target
    warn = find(result, "approx_kl", "≤ 0.02")
    assert warn["status"] == "warn" and warn["updates_outside"] == 4
    assert result["summary"] == "1 alarm(s), 1 warning(s) over 20 PPO updates"
    # nothing else is wrong with this run
    assert [k for k, s in statuses(result).items() if s != "ok"] == [
        ("approx_kl", "> 0.1 (too aggressive)"),
        ("approx_kl", "≤ 0.02"),
    ]


def test_approx_kl_band_is_flagged_at_exactly_ten_percent():
    at = assess(curve(approx_kl={0: 0.11, 19: 0.11, "base": 0.01}))  # 2 of 20
    f = find(at, "approx_kl", ">")
    assert f["status"] == "alarm" and at["verdict"] == "unhealthy"
    assert f["ranges"] == [[1000, 1000], [20000, 20000]]
    below = assess(curve(approx_kl={0: 0.11, "base": 0.01}))  # 1 of 20
    assert find(below, "approx_kl", ">")["status"] == "ok"
    # 0.1 itself is inside the band (the rule is "above 0.1")
    edge = assess(curve(approx_kl={i: 0.1 for i in range(10)} | {"base": 0.01}))
    assert find(edge, "approx_kl", ">")["updates_outside"] == 0
    assert find(edge, "approx_kl", ">")["status"] == "ok"
    assert edge["verdict"] == "watch"  # half the run is above 0.02


def test_approx_kl_between_0_02_and_0_1_is_a_warning_only():
    result = assess(curve(approx_kl=0.05))
    assert result["verdict"] == "watch"
    assert find(result, "approx_kl", ">")["status"] == "ok"
    w = find(result, "approx_kl", "≤")
    assert w["status"] == "warn" and w["updates_outside"] == 20 and w["ranges"] == [[1000, 20000]]


def test_clip_fraction_above_0_6_is_an_alarm():
    result = assess(curve(clip_fraction={i: 0.7 for i in range(10, 20)} | {"base": 0.2}))
    assert result["verdict"] == "unhealthy"
    f = find(result, "clip_fraction", "> 0.6")
    assert f["status"] == "alarm"
    assert (f["updates_outside"], f["first_timesteps"], f["last_timesteps"]) == (10, 11000, 20000)
    assert f["ranges"] == [[11000, 20000]]
    assert f["message"].startswith("10 of 20 updates (50%) clipped more than 60 % of samples")
    assert find(result, "clip_fraction", "0.10–0.40")["status"] == "warn"
    assert find(result, "clip_fraction", "< 0.05")["status"] == "ok"


def test_clip_fraction_of_0_5_is_a_warning_not_an_alarm():
    result = assess(curve(clip_fraction=0.5))
    assert result["verdict"] == "watch"
    assert find(result, "clip_fraction", "> 0.6")["status"] == "ok"
    assert find(result, "clip_fraction", "0.10–0.40")["status"] == "warn"


def test_clip_fraction_under_5_percent_warns_that_clipping_does_not_constrain():
    result = assess(curve(clip_fraction=0.01))
    assert result["verdict"] == "watch"
    f = find(result, "clip_fraction", "< 0.05")
    assert f["status"] == "warn" and f["updates_outside"] == 20


COLLAPSE = [1.0] * 10 + [0.005] * 10


def test_entropy_collapsing_to_zero_is_an_alarm_for_discrete_actions():
    result = assess(curve(entropy=COLLAPSE))
    assert result["verdict"] == "unhealthy"
    f = find(result, "entropy")
    assert f["status"] == "alarm" and f["band"] == "falls, but not to zero"
    assert f["message"] == (
        "entropy went from 1.000 (first 2 updates) to 0.005 (last 2); it collapsed to under 1 % of its start"
    )
    assert (f["updates"], f["first_timesteps"], f["last_timesteps"]) == (20, 1000, 20000)


def test_entropy_falling_to_just_over_one_percent_is_not_a_collapse():
    result = assess(curve(entropy=[1.0] * 10 + [0.02] * 10))
    assert find(result, "entropy")["status"] == "ok"
    assert result["verdict"] == "healthy"


def test_entropy_that_does_not_fall_is_a_warning():
    result = assess(curve(entropy=0.7))
    assert find(result, "entropy")["status"] == "warn"
    assert find(result, "entropy")["message"].endswith("; it did not fall")
    assert result["verdict"] == "watch"


def test_negative_entropy_is_not_an_alarm_for_continuous_actions():
    # a Gaussian's differential entropy falls below zero as its std shrinks: that is normal
    falling_negative = [1.4 - 0.25 * i for i in range(N)]  # 1.4 -> -3.35
    result = assess(curve(entropy=falling_negative), continuous=True)
    f = find(result, "entropy")
    assert f["status"] == "ok" and f["band"] == "falls over training"
    assert f["message"] == "entropy went from 1.275 (first 2 updates) to -3.225 (last 2)"
    assert result["verdict"] == "healthy"
    # the same numbers from a discrete policy would be a collapse
    assert find(assess(curve(entropy=falling_negative)), "entropy")["status"] == "alarm"
    # and the collapse rule does not apply to continuous actions either
    assert find(assess(curve(entropy=COLLAPSE), continuous=True), "entropy")["status"] == "ok"


def test_continuous_entropy_that_rises_is_a_warning():
    result = assess(curve(entropy=[-1.0 + 0.1 * i for i in range(N)]), continuous=True)
    assert find(result, "entropy")["status"] == "warn"
    assert result["verdict"] == "watch"


def test_explained_variance_ending_negative_is_an_alarm():
    ev = [0.1 + 0.04 * i for i in range(18)] + [-0.1, -0.3]
    result = assess(curve(explained_variance=ev))
    assert result["verdict"] == "unhealthy"
    f = find(result, "explained_variance")
    assert f["status"] == "alarm"
    assert f["message"] == "explained variance went from 0.120 to -0.200 (last 2 updates)"
    assert (f["first_timesteps"], f["last_timesteps"]) == (19000, 20000)


def test_explained_variance_ending_low_but_positive_is_a_warning():
    result = assess(curve(explained_variance=[0.1] * 18 + [0.45, 0.45]))
    assert find(result, "explained_variance")["status"] == "warn"
    assert result["verdict"] == "watch"
    # negative early on does not matter once it has risen
    early = assess(curve(explained_variance=[-0.5] * 10 + [0.8] * 10))
    assert find(early, "explained_variance")["status"] == "ok"


def test_a_few_isolated_spikes_are_still_ok():
    n = 30  # 2 spikes per metric = 6.7 % of updates, under the 10 % share
    rows = curve(n=n, approx_kl={4: 0.3, 22: 0.25, "base": 0.01}, clip_fraction={9: 0.9, 27: 0.02, "base": 0.2})
    result = assess(rows)
    assert result["verdict"] == "healthy"
    assert set(statuses(result).values()) == {"ok"}
    kl = find(result, "approx_kl", ">")
    # not flagged, but still reported with when it happened
    assert (kl["updates_outside"], kl["updates"]) == (2, 30)
    assert kl["ranges"] == [[5000, 5000], [23000, 23000]]
    assert (kl["first_timesteps"], kl["last_timesteps"]) == (5000, 23000)
    assert kl["message"] == "2 of 30 updates (7%) had approx KL above 0.1 (timesteps 5,000–5,000, 23,000–23,000)"
    cf = find(result, "clip_fraction", "> 0.6")
    assert cf["updates_outside"] == 1 and cf["ranges"] == [[10000, 10000]]
    band = find(result, "clip_fraction", "0.10–0.40")
    assert band["updates_outside"] == 2 and band["ranges"] == [[10000, 10000], [28000, 28000]]
    # a third spike reaches 10 % and the band is flagged
    rows[14]["approx_kl"] = 0.2
    assert find(assess(rows), "approx_kl", ">")["status"] == "alarm"


def test_findings_read_csv_text_and_skip_missing_values():
    # diagnostics.csv rows come back as strings, with "" where a value was NaN
    rows = [
        {k: ("" if v is None else str(v)) for k, v in r.items()}
        for r in curve(approx_kl={3: 0.2, 4: 0.3, "base": 0.01})
    ]
    rows[0]["explained_variance"] = ""
    result = assess(rows)
    f = find(result, "approx_kl", ">")
    assert f["status"] == "alarm" and f["ranges"] == [[4000, 5000]]
    # the missing first value is left out of the mean of the first 2 updates: only 0.1 + 0.8/19 remains
    assert find(result, "explained_variance")["message"].startswith("explained variance went from 0.142 to 0.879")


def test_many_ranges_are_abbreviated_in_the_message():
    spikes = {i: 0.2 for i in range(0, N, 2)} | {"base": 0.01}  # every other update: 10 separate ranges
    f = find(assess(curve(approx_kl=spikes)), "approx_kl", ">")
    assert len(f["ranges"]) == 10 and f["ranges"][0] == [1000, 1000] and f["ranges"][-1] == [19000, 19000]
    assert f["message"].endswith("(timesteps 1,000–1,000, 3,000–3,000, 5,000–5,000, 7,000–7,000 …)")


@pytest.mark.parametrize("rows", [[], curve(n=1)])
def test_too_few_updates_give_no_trend_findings(rows):
    result = assess(rows)
    assert [f["metric"] for f in result["findings"]].count("entropy") == 0
    assert [f["metric"] for f in result["findings"]].count("explained_variance") == 0


def test_no_updates_is_no_data_not_healthy():
    assert assess([])["verdict"] == "no data"
