"""The files a bundle carries for other tools (``agents/bundle/interop.py``): env ids, the Zoo's config.yml both
ways, vec_normalize.pkl from the JSON statistics, the ONNX export against the SB3 model, and the card's Usage."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import yaml

from agents.bundle import Bundle
from agents.bundle.interop import (
    VEC_NORMALIZE,
    hyperparameters,
    public_env_kwargs,
    registered_env_id,
    zoo_config,
    zoo_policy_kwargs,
)
from agents.bundle.usage import SNIPPETS, snippets
from agents.common.errors import BundleError
from agents.training.zoo import parse_policy_kwargs
from envs import GAMES, get_spec

SHIPPED = [slug for slug in GAMES if Bundle.is_bundle(f"models/{slug}")]


def test_registered_ids_are_what_gymnasium_registers():
    import gymnasium as gym

    lander = get_spec("lunarlander-continuous")
    assert registered_env_id(lander) == "LunarLanderContinuous-v3"
    assert public_env_kwargs(lander) == {}  # the registered id already sets continuous=True
    assert gym.spec("LunarLanderContinuous-v3").kwargs == {"continuous": True}
    assert registered_env_id(get_spec("lunarlander")) == "LunarLander-v3"
    pong = get_spec("pong")
    assert registered_env_id(pong) == "ALE/Pong-v5"
    assert public_env_kwargs(pong) == {"frameskip": 1, "repeat_action_probability": 0.0}


def test_zoo_config_round_trip():
    spec = get_spec("pong")
    ours = {
        "n_envs": 8,
        "policy": "CnnPolicy",
        "learning_rate": "lin_2.5e-4",
        "policy_kwargs": {"net_arch": {"pi": [64], "vf": [64]}, "activation_fn": "relu", "ortho_init": False},
    }
    zoo = zoo_config(spec, ours)
    assert zoo["normalize"] is False and zoo["frame_stack"] == 4
    assert zoo["env_wrapper"] == ["stable_baselines3.common.atari_wrappers.AtariWrapper"]
    assert zoo["policy_kwargs"] == "dict(net_arch=dict(pi=[64], vf=[64]), activation_fn=nn.ReLU, ortho_init=False)"
    assert parse_policy_kwargs(zoo["policy_kwargs"]) == ours["policy_kwargs"]
    assert hyperparameters(spec, yaml.safe_load(yaml.safe_dump(zoo)), "config.yml") == ours
    # a config whose Zoo keys contradict the game is refused, not silently trained otherwise
    with pytest.raises(BundleError, match="frame_stack"):
        hyperparameters(spec, {**zoo, "frame_stack": 2}, "config.yml")
    assert zoo_policy_kwargs({"log_std_init": -2}) == "dict(log_std_init=-2)"


@pytest.mark.shipped
@pytest.mark.parametrize("slug", SHIPPED)
def test_shipped_bundle_carries_the_zoo_files(slug):
    b = Bundle.open(slug)
    spec = b.spec
    files = b.manifest.files
    for rel in ("config.yml", "args.yml", "env_kwargs.yml", "train_eval_metrics.zip", VEC_NORMALIZE, "policy.onnx"):
        assert rel in files, rel
    raw = yaml.safe_load((b.path / "config.yml").read_text())
    assert raw["normalize"] is spec.normalize
    assert raw.get("frame_stack", 0) == spec.frame_stack
    args = yaml.safe_load((b.path / "args.yml").read_text())
    assert args["env"] == registered_env_id(spec) and (args["env_kwargs"] or {}) == public_env_kwargs(spec)
    assert yaml.safe_load((b.path / "env_kwargs.yml").read_text()) == public_env_kwargs(spec)
    assert b.manifest.registered_env_id == registered_env_id(spec)
    with zipfile.ZipFile(b.path / "train_eval_metrics.zip") as z:
        assert z.namelist() == [
            f"training-seed{b.shipped_seed()}.csv",
            f"eval-during-training-seed{b.shipped_seed()}.csv",
        ]
    card = b.card()
    assert set(snippets(card)) == set(SNIPPETS)
    assert f"- {registered_env_id(spec)}\n" in card  # the tag
    if spec.is_atari:
        assert "**stochastic**" in card and "**unclipped**" in card and "no episode end at a life loss" in card


@pytest.mark.shipped
@pytest.mark.parametrize("slug", SHIPPED)
def test_vec_normalize_pkl_holds_the_json_statistics(slug, tmp_path):
    """Our own pickle, written by SB3 from policy.json's statistics: loading it here (a file we made, in a test)
    gives SB3's VecNormalize with exactly those statistics, or an identity where the game is not normalised."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from envs.make import make_env

    b = Bundle.open(slug)
    vn = VecNormalize.load(str(b.path / VEC_NORMALIZE), DummyVecEnv([lambda: make_env(b.spec, "eval")]))
    norm = b.policy().normalizer
    assert not vn.training and not vn.norm_reward
    if norm is None:
        assert not vn.norm_obs
        return
    assert vn.norm_obs and vn.clip_obs == norm.clip and vn.epsilon == norm.epsilon
    np.testing.assert_array_equal(vn.obs_rms.mean, norm.mean)
    np.testing.assert_array_equal(vn.obs_rms.var, norm.var)
    obs = np.stack([make_env(b.spec, "eval").reset(seed=s)[0] for s in range(5)])
    np.testing.assert_allclose(vn.normalize_obs(obs), norm(obs), rtol=1e-6, atol=1e-6)


def _observations(b: Bundle, n: int) -> np.ndarray:
    """``n`` observations the agent meets: its own episodes on a few seeds, as the env gives them (Atari:
    uint8 frames stacked as in training)."""
    from envs.make import make_env

    env = make_env(b.spec, "eval")
    policy = b.policy()
    obs, _ = env.reset(seed=123)
    out = []
    for i in range(n):
        out.append(obs)
        obs, _, term, trunc, _ = env.step(policy.predict(obs[None], deterministic=False)[0])
        if term or trunc:
            obs, _ = env.reset(seed=124 + i)
    env.close()
    return np.stack(out)


@pytest.mark.shipped
@pytest.mark.parametrize("slug", SHIPPED)
def test_onnx_gives_the_sb3_models_actions(slug):
    """policy.onnx through onnxruntime gives the deterministic actions of SB3's own model (PPO.load of the
    bundle's zip, with the bundle's VecNormalize statistics) on many observations of the game."""
    from stable_baselines3 import PPO

    from agents.policy.onnx_export import OnnxPolicy

    b = Bundle.open(slug)
    obs = _observations(b, 200 if b.spec.is_atari else 500)
    model = PPO.load(b.path / f"ppo-{b.spec.hub_env_id}.zip", device="cpu")  # our shipped file, not a download
    norm = b.policy().normalizer
    expected, _ = model.predict(norm(obs) if norm else obs, deterministic=True)
    onnx = OnnxPolicy(b.path / "policy.onnx")
    got = onnx.predict(obs)
    if b.spec.is_atari:
        assert obs.dtype == np.uint8 and obs.shape[1:] == (84, 84, 4)
    if expected.dtype.kind in "iu":
        assert np.array_equal(got, expected)
        probs = onnx.probs(obs)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
        assert np.array_equal(probs.argmax(axis=1), expected)
    else:
        np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.shipped
@pytest.mark.parametrize("slug", SHIPPED)
def test_train_config_reads_the_bundles_zoo_config(slug):
    """``playground train --config models/<slug>/config.yml`` trains with the bundle's hyperparameters: the Zoo's
    keys agree with the game and are dropped."""
    from agents.training.config import load_config

    b = Bundle.open(slug, check=False)
    assert load_config(b.spec, b.path / "config.yml") == b.config()
