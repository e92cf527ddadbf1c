"""The lab's knobs: every knob's range and type enforced with a one-line message, the shipped defaults of every
lab game valid, every preset's arms valid on every lab game, and nothing outside the table settable."""

import math

import pytest

from agents.training.config import load_config
from envs import get_spec
from playground.lab import knobs, presets
from playground.lab.knobs import KNOBS, KnobError


@pytest.fixture
def base():
    return knobs.defaults("cartpole")


def _out_of_range(k: knobs.Knob) -> list:
    lo, hi = k.bounds
    if k.kind == "bool":
        return [1, "true", None]
    if k.kind == "choice":
        return ["A2C", "ppo", None, 1]
    bad = [lo - (1 if k.kind == "int" else lo * 0.5 + 1e-9), hi + 1, math.nan, math.inf, "0.1", True]
    if not k.optional:
        bad.append(None)
    if k.kind == "int":
        bad.append(lo + 0.5)
    if k.schedule:
        bad += ["lin_", "lin_x", f"lin_{hi * 2}", "exp_0.1"]
    return bad


@pytest.mark.parametrize("knob", KNOBS, ids=lambda k: k.name)
def test_every_knob_refuses_values_out_of_its_range_in_one_line(knob, base):
    for value in _out_of_range(knob):
        with pytest.raises(KnobError) as err:
            knobs.validate({**base, knob.name: value})
        message = str(err.value)
        assert "\n" not in message and knob.name in message and len(message) < 300, message


@pytest.mark.parametrize("knob", KNOBS, ids=lambda k: k.name)
def test_every_knob_accepts_its_bounds(knob, base):
    if knob.kind in ("bool", "choice"):
        values = [True, False] if knob.kind == "bool" else list(knob.choices)
    else:
        lo, hi = knob.bounds
        values = [lo, hi] + ([None] if knob.optional else []) + ([f"lin_{hi:g}"] if knob.schedule else [])
    for value in values:
        other = {}
        if knob.name in ("n_steps", "n_envs"):  # keep batch_size within one rollout, timesteps over one
            other = {"batch_size": 8, "n_steps": 512, "n_envs": 16, "timesteps": 300_000}
        if knob.name == "batch_size":
            other = {"n_steps": 4096, "n_envs": 1, "timesteps": 300_000}
        if knob.name == "timesteps":
            other = {"n_steps": 8, "n_envs": 1, "batch_size": 8}
        checked = knobs.validate({**base, **other, knob.name: value})
        assert checked[knob.name] == (int(value) if knob.kind == "int" else value)


def test_the_timestep_cap_is_the_setting(base, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_LAB_MAX_TIMESTEPS", "5000")
    knobs.validate({**base, "timesteps": 5000})
    with pytest.raises(KnobError, match="timesteps must be 1,000 to 5,000"):
        knobs.validate({**base, "timesteps": 5001})


def test_nothing_else_of_the_config_can_be_set(base):
    for key in ("vf_coef", "policy_kwargs", "n_timesteps", "policy", "max_grad_norm", "use_sde"):
        with pytest.raises(KnobError, match=f"cannot set '{key}'"):
            knobs.validate({**base, key: 1})
    missing = dict(base)
    del missing["gamma"]
    with pytest.raises(KnobError, match="knob gamma is missing"):
        knobs.validate(missing)
    with pytest.raises(KnobError):
        knobs.validate(["gamma", 0.9])


def test_knobs_that_do_not_fit_together(base):
    with pytest.raises(KnobError, match=r"batch_size 512 is larger than a rollout \(n_steps × n_envs = 32 × 8 = 256\)"):
        knobs.validate({**base, "batch_size": 512})
    with pytest.raises(KnobError, match="less than one rollout"):
        knobs.validate({**base, "n_steps": 4096, "n_envs": 16, "batch_size": 64, "timesteps": 2000})


@pytest.mark.parametrize("game", knobs.LAB_GAMES)
def test_defaults_are_the_shipped_config_and_every_preset_arm_trains(game):
    hp = load_config(get_spec(game))
    d = knobs.defaults(game)
    for k in KNOBS:
        if k.name in hp:
            assert d[k.name] == hp[k.name], k.name
    assert d["timesteps"] == min(hp["n_timesteps"], 300_000)
    shipped = knobs.hyperparams(game, d)
    assert {k: v for k, v in shipped.items() if k in hp} == {**hp, "n_timesteps": d["timesteps"]}
    for p in presets.PRESETS.values():
        arms = p.arm_values(d)
        assert 2 <= len(arms) <= presets.MAX_ARMS and len({label for label, _ in arms}) == len(arms)
        configs = [knobs.hyperparams(game, v) for _, v in arms]
        assert configs[0] != configs[1], p.key


def test_presets_reuse_the_ablations_and_trpo_drops_ppo_only_keys():
    from agents.experiments.ablations import ABLATIONS

    assert presets.PRESETS["clip"].arms[1].set == ABLATIONS["clip-off"].variants[1].set == {"clip_range": 100}
    assert presets.PRESETS["target-kl"].question == ABLATIONS["target-kl"].question
    assert [a.set["gae_lambda"] for a in presets.PRESETS["gae-lambda"].arms] == [0.0, 0.95, 1.0]
    assert [a.set["n_epochs"] for a in presets.PRESETS["epochs"].arms] == [4, 30]
    trpo = knobs.hyperparams("cartpole", {**knobs.defaults("cartpole"), "algo": "TRPO"})
    assert trpo["algo"] == "TRPO" and not {"n_epochs", "ent_coef", "clip_range", "target_kl"} & set(trpo)
