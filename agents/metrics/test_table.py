"""The metrics table against everything it claims to describe: SB3's own logger, the shipped bundles' CSVs,
docs/training.md and the Evidence page. Each test fails when one of them drifts from the table."""

import csv
import json
import math

import numpy as np
import pyarrow as pa
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger

from agents.bundle.bundle import Bundle
from agents.common.settings import REPO_ROOT, models_dir
from agents.metrics.health import assess
from agents.metrics.table import (
    BY_COLUMN,
    DIAGNOSTIC_COLUMNS,
    METRICS,
    SB3_KEYS_NOT_RECORDED,
    SHARE,
    EndsAbove,
    Outside,
    charted,
    docs_block,
    pct,
)

SHIPPED = sorted(p for p in models_dir().iterdir() if Bundle.is_bundle(p))


class KeyRecorder(KVWriter):
    """An SB3 logger output that keeps every key SB3 dumps and the formats it keeps the key out of."""

    def __init__(self):
        self.excluded: dict[str, tuple[str, ...]] = {}

    def write(self, key_values, key_excluded, step=0):
        for key in key_values:
            self.excluded[key] = tuple(key_excluded.get(key) or ())

    def close(self):
        pass


class AfterUpdate(BaseCallback):
    """The keys in SB3's logger right after an update, where our diagnostics callback reads them."""

    def __init__(self):
        super().__init__()
        self.after_update: set[str] = set()

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        if self.model._n_updates:
            self.after_update |= set(self.model.logger.name_to_value)


@pytest.fixture(scope="module", params=["CartPole-v1", "Pendulum-v1"])
def sb3_run(request):
    """A tiny real SB3 PPO run (4 updates); Pendulum's Gaussian policy adds train/std."""
    model = PPO("MlpPolicy", request.param, n_steps=256, batch_size=64, n_epochs=2, seed=0, device="cpu")
    rec, hook = KeyRecorder(), AfterUpdate()
    model.set_logger(Logger(folder=None, output_formats=[rec]))
    model.learn(total_timesteps=1024, callback=hook)
    continuous = not hasattr(model.action_space, "n")
    return request.param, continuous, rec.excluded, hook.after_update


def _expected(continuous: bool) -> list:
    return [m for m in METRICS if m.sb3_key and (continuous or m.column != "action_std")]


def test_every_key_sb3_logs_is_a_column_or_listed_as_not_recorded(sb3_run):
    env_id, continuous, logged, _ = sb3_run
    ours = {m.sb3_key for m in _expected(continuous)}
    assert set(logged) - set(SB3_KEYS_NOT_RECORDED) == ours, env_id
    assert ("train/std" in logged) == continuous


def test_tensorboard_keys_are_the_ones_sb3_writes_to_tensorboard(sb3_run):
    env_id, continuous, logged, _ = sb3_run
    sb3_tb = {k for k, excluded in logged.items() if "tensorboard" not in excluded} - set(SB3_KEYS_NOT_RECORDED)
    assert {m.tb_key for m in _expected(continuous) if m.tb_key} == sb3_tb, env_id
    assert all(m.tb_key in (m.sb3_key, None) for m in METRICS)


def test_logger_columns_are_in_sb3s_logger_after_the_update_and_the_others_are_not(sb3_run):
    # the callback reads 'logger' columns from logger.name_to_value after train(); SB3 records the
    # 'rollout' and 'clock' ones only in dump_logs, so they must be computed
    env_id, continuous, _, after_update = sb3_run
    for m in _expected(continuous):
        assert (m.sb3_key in after_update) == (m.source == "logger"), (env_id, m.column)


@pytest.mark.slow
def test_the_trpo_aliases_are_keys_trpo_logs():
    from sb3_contrib import TRPO

    model = TRPO("MlpPolicy", "CartPole-v1", n_steps=256, batch_size=128, seed=0, device="cpu")
    rec = KeyRecorder()
    model.set_logger(Logger(folder=None, output_formats=[rec]))
    model.learn(total_timesteps=512)
    aliases = [a for m in METRICS for a in m.aliases]
    assert aliases and all(a in rec.excluded for a in aliases)


@pytest.mark.shipped
@pytest.mark.parametrize("bundle", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_bundles_csvs_have_the_tables_columns(bundle):
    # the columns must never change: these CSVs are checksummed in the bundles' manifests
    paths = sorted((bundle / "evidence").glob("training-seed*.csv"))
    assert paths
    for path in paths:
        with open(path, newline="") as f:
            assert next(csv.reader(f)) == DIAGNOSTIC_COLUMNS, path


def test_docs_training_md_holds_the_generated_tables():
    text = (REPO_ROOT / "docs" / "training.md").read_text()
    assert docs_block() in text, (
        "docs/training.md is stale: run python -m agents.metrics.table --update docs/training.md"
    )


def test_rule_texts_name_their_thresholds():
    # the band names and finding texts are words (the shipped verdicts hold them), so they are checked here
    def named(x: float, text: str) -> bool:
        return f"{x:g}" in text or pct(x) in text or f"{round(100 * x, 6):g}–" in text

    for m in METRICS:
        for r in m.rules:
            if isinstance(r, Outside):
                for x in (r.below, r.above):
                    if math.isfinite(x):
                        assert f"{x:g}" in r.band and named(x, r.finding), (m.column, r)
            elif isinstance(r, EndsAbove):
                assert f"{r.warn:g}" in r.band


def test_the_shaded_band_is_where_no_warning_fires():
    for m in METRICS:
        if m.healthy is None:
            continue
        lo, hi = m.healthy
        inside = np.array([lo, (lo + hi) / 2, hi])
        for r in m.rules:
            if isinstance(r, Outside):
                assert not r.mask(inside).any(), (m.column, r)
        # just outside an edge the rules set (not the metric's own bounds), a warning fires
        for edge, outside in ((lo, lo - 1e-6), (hi, hi + 1e-6)):
            if edge in m.bounds:
                continue
            fired = [
                r for r in m.rules if isinstance(r, Outside) and r.status == "warn" and r.mask(np.array([outside]))[0]
            ]
            fired += [r for r in m.rules if isinstance(r, EndsAbove) and outside < r.warn]
            assert fired, (m.column, edge)
    assert BY_COLUMN["clip_fraction"].healthy == (0.10, 0.40)


@pytest.mark.shipped
@pytest.mark.parametrize("bundle", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_verdicts_are_unchanged(bundle):
    """Re-assess every training seed of a shipped bundle: the verdict and every finding equal health.json."""
    b = Bundle.open(bundle)
    continuous = not hasattr(b.policy().action_space, "n")  # as the bundle builder decides it
    health = json.loads((bundle / "evidence" / "health.json").read_text())
    assert health["seeds"]
    for seed, expected in health["seeds"].items():
        with open(bundle / "evidence" / f"training-seed{seed}.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        got = json.loads(json.dumps(assess(rows, continuous=continuous)))  # as health.json stores it
        assert got == expected, (bundle.name, seed)
    assert health["verdict"] == health["seeds"][str(health["shipped_seed"])]["verdict"]


@pytest.mark.slow
def test_the_evidence_pages_charts_come_from_the_table(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PLAYGROUND_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path / "data"))
    at = AppTest.from_file(str(REPO_ROOT / "playground" / "main.py"), default_timeout=180)
    at.query_params["page"], at.query_params["game"] = "evidence", "cartpole"
    at.run()
    assert not at.exception
    charts = [c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec).get("height") == 220]
    assert [json.loads(c.proto.spec)["title"] for c in charts] == [m.chart.title for m in charted()]
    for chart, m in zip(charts, charted(), strict=True):
        spec = json.loads(chart.proto.spec)
        data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pylist() for d in chart.proto.datasets}
        lines = [layer for layer in spec["layer"] if layer["mark"]["type"] == "line"]
        assert {layer["encoding"]["y"]["field"] for layer in lines} == {m.column}
        shaded = [data[layer["data"]["name"]] for layer in spec["layer"] if layer["mark"]["type"] == "rect"]
        assert shaded == ([[{"lo": m.healthy[0], "hi": m.healthy[1]}]] if m.healthy else []), m.column
    captions = "\n".join(c.value for c in at.caption)
    for m in charted():
        if m.rules:
            assert m.rules_text() in captions
    assert f"≥ {pct(SHARE)} of updates are over 0.1" in captions  # approx KL's alarm, as the verdict applies it
