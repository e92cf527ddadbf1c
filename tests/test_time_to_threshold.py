"""bench/time_to_threshold.py's report: no headline ratio from the seeds a config was chosen on (no training)."""

import json
import math
from types import SimpleNamespace

import pytest

from bench import time_to_threshold as ttt

ZOO, FAST = "agents/hyperparams/lunarlander-zoo.yml", "agents/hyperparams/lunarlander.yml"
CHOSEN = {ZOO: set(), FAST: {1, 2, 3}}


def run(config, seed, seconds, steps, cpu=None):
    """One run's result as the bench records it; ``seconds=None``: the threshold was never reached."""
    reached = seconds is not None
    return {
        "config": config,
        "seed": seed,
        "reached": reached,
        "seconds": seconds,
        "steps": steps if reached else None,
        "cpu_seconds": (cpu or seconds) if reached else None,
        "trained_steps": steps,
        "trained_cpu_seconds": cpu or seconds or 100.0,
    }


def test_fresh_seeds_get_a_headline():
    assert ttt.headline_refusal([ZOO, FAST], [8, 9, 10, 11, 12], CHOSEN) is None


def test_seeds_that_chose_a_config_get_no_headline():
    why = ttt.headline_refusal([ZOO, FAST], [3, 4, 5], CHOSEN)
    assert why.startswith("no headline ratio: seed 3 chose agents/hyperparams/lunarlander.yml")
    assert "--first-seed 4" in why


def test_an_undeclared_config_gets_no_headline():
    why = ttt.headline_refusal([ZOO, "agents/hyperparams/new.yml"], [8, 9], CHOSEN)
    assert "agents/hyperparams/new.yml does not say which seeds chose it" in why
    assert "chosen_on_seeds.yml" in why


def test_report_on_choosing_seeds_prints_per_seed_figures_only():
    results = [run(ZOO, s, 200.0 + s, 500_000) for s in (1, 2, 3)]
    results += [run(FAST, s, 90.0 + s, 400_000) for s in (1, 2, 3)]
    text = ttt.report(results, [ZOO, FAST], [1, 2, 3], CHOSEN)
    assert "seed 2  (a seed that chose lunarlander.yml)" in text
    assert "ratio 0.45 / 0.45 / 0.80" in text  # seed 2 per seed: 92/202 in wall and CPU seconds, 400k/500k steps
    assert "No headline ratio: seeds 1, 2, 3 chose agents/hyperparams/lunarlander.yml" in text
    assert "ratio of medians" not in text and "median per-seed ratio" not in text


def test_report_on_fresh_seeds_gives_both_ratios_and_the_spread():
    base = [run(ZOO, 8, 100.0, 400_000), run(ZOO, 9, 200.0, 500_000), run(ZOO, 10, 300.0, 600_000)]
    other = [run(FAST, 8, 50.0, 400_000), run(FAST, 9, 300.0, 500_000), run(FAST, 10, 150.0, 300_000)]
    text = ttt.report(base + other, [ZOO, FAST], [8, 9, 10], CHOSEN)
    assert "lunarlander.yml against lunarlander-zoo.yml, seeds 8–10 (3 pairs):" in text
    # medians 150 / 200; per seed 0.5, 1.5, 0.5
    assert "wall seconds  ratio of medians  0.75; median per-seed ratio 0.50 (0.50..1.50)" in text
    # steps: medians 400k / 500k; per seed 1.0, 1.0, 0.5
    assert "steps         ratio of medians  0.80; median per-seed ratio 1.00 (0.50..1.00)" in text
    assert "No headline" not in text


def test_a_run_that_never_reached_counts_as_infinitely_slow():
    assert ttt.ratio(math.inf, 100.0) == math.inf
    assert ttt.ratio(100.0, math.inf) == 0.0
    assert math.isnan(ttt.ratio(math.inf, math.inf))
    results = [
        run(ZOO, 8, 100.0, 400_000),
        run(ZOO, 9, 200.0, 500_000),
        run(FAST, 8, None, 1_000_000),
        run(FAST, 9, 100.0, 300_000),
    ]
    rs = ttt.compare(results, ZOO, FAST, [8, 9], "seconds")
    assert rs.per_seed == [math.inf, 0.5]
    assert rs.spread == (0.5, math.inf)
    assert rs.of_medians == math.inf  # FAST's median over two seeds, one of them never, is never


def test_chosen_on_seeds_file_is_well_formed_and_names_real_configs():
    chosen = ttt.load_chosen_on_seeds()
    assert chosen["agents/hyperparams/lunarlander.yml"] == {1, 2, 3}
    assert chosen["agents/hyperparams/lunarlander-zoo.yml"] == set()
    for config in chosen:
        assert (ttt.ROOT / config).is_file(), f"{config} in chosen_on_seeds.yml does not exist"
    assert ttt.config_key(ttt.ROOT / "agents" / "hyperparams" / "lunarlander.yml") == FAST


@pytest.mark.parametrize("text", ["- 1\n- 2\n", "agents/x.yml: 3\n", "agents/x.yml: [1, two]\n"])
def test_malformed_chosen_on_seeds_is_refused(tmp_path, text):
    path = tmp_path / "chosen.yml"
    path.write_text(text)
    with pytest.raises(TypeError, match=r"chosen\.yml"):
        ttt.load_chosen_on_seeds(path)


def test_resume_keeps_other_seeds_in_the_json(tmp_path):
    settings = {"game": "lunarlander", "threshold": 200.0, "eval_every": 20000, "max_steps": 0}
    old = [{**run(c, s, 100.0, 400_000), **settings} for c in (ZOO, FAST) for s in (4, 8)]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(old))
    # the same config spelled as an absolute path still finds its kept runs
    args = SimpleNamespace(json=str(path), config=[str(ttt.ROOT / ZOO), FAST])
    kept, others = ttt.kept_pairs(args, settings, [8, 9])
    assert list(kept) == [8]
    assert [r["config"] for r in kept[8]] == [ZOO, FAST]
    assert sorted((r["config"], r["seed"]) for r in others) == [(ZOO, 4), (FAST, 4)]
