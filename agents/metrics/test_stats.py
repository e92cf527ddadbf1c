"""IQM, its bootstrap CI, and the reproduction and ablation verdicts, including the cases that fail."""

import numpy as np
import pytest

from agents.metrics.stats import ablation_verdict, iqm, iqm_ci, published_band, reproduction_verdict, wilson_ci


def test_iqm_trims_a_quarter_from_each_end():
    assert iqm([1, 2, 3]) == 2  # n=3: nothing trimmed
    assert iqm([0, 10, 20, 1000]) == 15  # n=4: one from each end
    assert iqm([-100, 1, 2, 3, 4, 5, 6, 7, 1000]) == 4  # n=9: two from each end
    assert np.allclose(iqm(np.array([[1, 2, 3, 100], [0, 0, 1, 1]]), axis=1), [2.5, 0.5])


def test_ci_is_deterministic_and_contains_the_iqm():
    rng = np.random.default_rng(1)
    runs = [rng.normal(200 + 10 * i, 30, 100) for i in range(5)]
    a, b = iqm_ci(runs), iqm_ci(runs)
    assert a == b
    assert a["ci"][0] < a["iqm"] < a["ci"][1]


def test_identical_perfect_runs_have_a_point_ci():
    ci = iqm_ci([[500.0] * 100] * 3)
    assert ci["iqm"] == 500 and ci["ci"] == [500.0, 500.0]


def test_band_has_a_floor_when_the_published_seeds_coincide():
    band = published_band([500, 500, 500], 500)
    assert (band["low"], band["high"]) == (475, 525)  # CartPole: 475 is gymnasium's solved threshold
    band = published_band([230, 250, 260], 250)
    assert band["tolerance"] == 30 and (band["low"], band["high"]) == (200, 290)


def _runs(scores, n=100, sd=20.0, seed=0):
    rng = np.random.default_rng(seed)
    return [list(s + sd * rng.standard_normal(n)) for s in scores]


def test_same_distribution_is_reproduced():
    v = reproduction_verdict(_runs([240, 250, 260]), _runs([245, 255, 250], seed=1))
    assert v["verdict"] == "reproduced", v["reasons"]


def test_cartpole_all_perfect_is_reproduced():
    v = reproduction_verdict([[500.0] * 100] * 3, [[500.0] * 100] * 3)
    assert v["verdict"] == "reproduced" and v["ci_overlap"] and not v["seeds_outside_band"]


def test_a_seed_outside_the_band_fails_even_when_the_cis_overlap():
    # 3 good seeds and one collapsed one: the IQM barely moves but the outlier is named
    v = reproduction_verdict(_runs([240, 250, 260]), _runs([250, 255, 245, 120], seed=2))
    assert v["ci_overlap"]
    assert v["verdict"] == "not reproduced" and v["seeds_outside_band"] == [3]
    assert "1 of 4 reproduced seeds lie outside" in v["reasons"][1]


def test_a_shifted_population_fails_on_the_cis():
    # every seed inside the wide band, but all of them at its bottom: the IQMs' CIs do not overlap
    v = reproduction_verdict(_runs([240, 250, 260], sd=5), _runs([223, 224, 225, 226, 224], sd=5, seed=3))
    assert not v["seeds_outside_band"]
    assert not v["ci_overlap"] and v["verdict"] == "not reproduced"


def test_cartpole_one_weak_seed_fails():
    v = reproduction_verdict([[500.0] * 100] * 3, [[500.0] * 100, [500.0] * 100, [430.0] * 100])
    assert v["verdict"] == "not reproduced" and v["seeds_outside_band"] == [2]


def test_other_budget_is_not_comparable():
    v = reproduction_verdict([[500.0] * 10] * 3, [[500.0] * 10] * 3, comparable=False, why_not="budget differs")
    assert v["verdict"] == "not comparable" and v["reasons"][0] == "budget differs"


def test_ablation_verdicts():
    base = _runs([480, 490, 500], sd=5)
    assert ablation_verdict(base, _runs([150, 200, 250], sd=5, seed=4), ("a", "b"))["verdict"] == "b lower"
    assert ablation_verdict(base, _runs([600, 610, 620], sd=5, seed=4), ("a", "b"))["verdict"] == "b higher"
    same = ablation_verdict(base, _runs([485, 495, 490], sd=5, seed=5), ("a", "b"))
    assert same["verdict"] == "no clear difference" and same["ci"][0] < 0 < same["ci"][1]
    assert ablation_verdict(base, _runs([150, 200, 250], sd=5, seed=4), ("a", "b"))["probability_of_improvement"] == 0


def test_empty_runs_are_refused():
    with pytest.raises(ValueError):
        iqm_ci([[1.0], []])


def test_wilson_ci_matches_published_values_and_stays_inside_0_1():
    # Newcombe (1998), Table I, method 3 (Wilson score): 81/263 -> 0.2553 … 0.3662; 15/148 -> 0.0624 … 0.1605
    assert wilson_ci(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_ci(15, 148) == pytest.approx((0.0624, 0.1605), abs=1e-4)
    lo, hi = wilson_ci(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)  # not the normal approximation's (0, 0)
    assert wilson_ci(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_ci(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_ci(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="3 out of 2"):
        wilson_ci(3, 2)
