"""`train --config` takes an RL Zoo run's config.yml or a Zoo hyperparams/ppo.yml, read as data only."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import yaml

from agents.common.errors import ConfigError
from agents.training.config import HYPERPARAMS_DIR, load_config, ppo_kwargs
from agents.training.zoo import parse_policy_kwargs
from envs import GAMES
from tests.conftest import run_cli

# The Zoo's hyperparams/ppo.yml entries as the Zoo writes them (!!float budgets, quoted policy names)
ZOO_PPO_YML = """\
CartPole-v1:
  n_envs: 8
  n_timesteps: !!float 1e5
  policy: 'MlpPolicy'
  n_steps: 32
  batch_size: 256
  gae_lambda: 0.8
  gamma: 0.98
  n_epochs: 20
  ent_coef: 0.0
  learning_rate: lin_0.001
  clip_range: lin_0.2

LunarLander-v2:
  n_envs: 16
  n_timesteps: !!float 1e6
  policy: 'MlpPolicy'
  n_steps: 1024
  batch_size: 64
  gae_lambda: 0.98
  gamma: 0.999
  n_epochs: 4
  ent_coef: 0.01

BipedalWalker-v3:
  normalize: true
  n_envs: 32
  n_timesteps: !!float 5e6
  policy: 'MlpPolicy'
  n_steps: 2048
  batch_size: 64
  gae_lambda: 0.95
  gamma: 0.999
  n_epochs: 10
  ent_coef: 0.0
  learning_rate: !!float 3e-4
  clip_range: 0.18

atari:
  env_wrapper:
    - stable_baselines3.common.atari_wrappers.AtariWrapper
  frame_stack: 4
  policy: 'CnnPolicy'
  n_envs: 8
  n_steps: 128
  n_epochs: 4
  batch_size: 256
  n_timesteps: !!float 1e7
  learning_rate: lin_2.5e-4
  clip_range: lin_0.1
  vf_coef: 0.5
  ent_coef: 0.01
"""


def zoo_run_config(path, hp: dict) -> None:
    """Write ``hp`` as the Zoo's exp_manager does: yaml.dump of an OrderedDict of the sorted keys."""
    path.write_text(yaml.dump(OrderedDict([(key, hp[key]) for key in sorted(hp)])))


def ours(slug: str, name: str | None = None) -> dict:
    return load_config(GAMES[slug], HYPERPARAMS_DIR / f"{name or slug}.yml")


@pytest.fixture
def ppo_yml(tmp_path):
    path = tmp_path / "ppo.yml"
    path.write_text(ZOO_PPO_YML)
    return path


def test_a_ppo_yml_entry_is_chosen_by_the_games_env_id(ppo_yml):
    assert load_config(GAMES["cartpole"], ppo_yml) == ours("cartpole")
    # LunarLander-v2 is the entry the Zoo keeps for gymnasium's LunarLander-v3
    assert load_config(GAMES["lunarlander"], ppo_yml) == ours("lunarlander", "lunarlander-zoo")
    assert load_config(GAMES["bipedalwalker"], ppo_yml) == ours("bipedalwalker")
    # Atari games share the `atari` entry; only the budget differs from ours
    pong = load_config(GAMES["pong"], ppo_yml, ["n_timesteps=3000000"])
    assert pong == ours("pong")


def test_a_ppo_yml_without_the_games_entry_names_what_it_looked_for(ppo_yml):
    with pytest.raises(ConfigError, match=r"no entry for acrobot \(looked for Acrobot-v1; it has CartPole-v1"):
        load_config(GAMES["acrobot"], ppo_yml)


def test_a_zoo_run_config_gives_our_hyperparameters(tmp_path):
    path = tmp_path / "config.yml"
    zoo_run_config(
        path,
        {
            "batch_size": 256,
            "clip_range": "lin_0.2",
            "ent_coef": 0.0,
            "gae_lambda": 0.8,
            "gamma": 0.98,
            "learning_rate": "lin_0.001",
            "n_envs": 8,
            "n_epochs": 20,
            "n_steps": 32,
            "n_timesteps": 100000.0,
            "policy": "MlpPolicy",
        },
    )
    assert path.read_text().startswith("!!python/object/apply:collections.OrderedDict\n- - - batch_size\n")
    hp = load_config(GAMES["cartpole"], path)
    assert hp == ours("cartpole")
    assert isinstance(hp["n_timesteps"], int)


def test_a_zoo_run_config_with_wrappers_and_policy_kwargs(tmp_path):
    path = tmp_path / "config.yml"
    base = {**ours("bipedalwalker"), "normalize": True}
    base["policy_kwargs"] = (
        "dict(log_std_init=-2, ortho_init=False, activation_fn=nn.ReLU, net_arch=dict(pi=[256], vf=[256]))"
    )
    zoo_run_config(path, base)
    hp = load_config(GAMES["bipedalwalker"], path)
    assert "normalize" not in hp
    assert hp["policy_kwargs"] == {
        "log_std_init": -2,
        "ortho_init": False,
        "activation_fn": "relu",
        "net_arch": {"pi": [256], "vf": [256]},
    }
    import torch.nn as nn

    assert ppo_kwargs(hp)["policy_kwargs"]["activation_fn"] is nn.ReLU


@pytest.mark.parametrize(
    ("slug", "extra", "message"),
    [
        ("cartpole", {"normalize": True}, "normalize=True but cartpole trains with normalize=False"),
        ("bipedalwalker", {}, "normalize=False but bipedalwalker trains with normalize=True"),
        ("bipedalwalker", {"normalize": "{'norm_obs': True, 'norm_reward': False}"}, "is not supported"),
        ("cartpole", {"frame_stack": 4}, "frame_stack=4 but cartpole stacks 0 frames"),
        ("pong", {"frame_stack": 4}, r"env_wrapper=None but pong trains with \['stable_baselines3"),
        ("cartpole", {"env_wrapper": ["gymnasium.wrappers.TimeLimit"]}, "cartpole trains with no wrapper"),
    ],
)
def test_wrapper_keys_must_agree_with_the_game_spec(tmp_path, slug, extra, message):
    path = tmp_path / "config.yml"
    zoo_run_config(path, {**ours(slug), **extra})
    with pytest.raises(ConfigError, match=message) as err:
        load_config(GAMES[slug], path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "code",
    [
        "__import__('os').system('touch /tmp/pwned')",
        "dict(net_arch=__import__('os').getcwd())",
        "dict(activation_fn=nn.ReLU.__class__)",
        "dict(optimizer_class=th.optim.RMSprop)",
        "dict(**{'net_arch': [64]})",
        "dict(net_arch=[64] * 10**9)",
        "(lambda: 1)()",
        "dict(" * 300 + ")" * 300,
    ],
)
def test_hostile_policy_kwargs_are_refused_without_running(tmp_path, code):
    with pytest.raises(ConfigError, match="policy_kwargs") as err:
        parse_policy_kwargs(code)
    assert "\n" not in str(err.value)
    path = tmp_path / "config.yml"
    zoo_run_config(path, {**ours("cartpole"), "policy_kwargs": code})
    with pytest.raises(ConfigError, match="policy_kwargs"):
        load_config(GAMES["cartpole"], path)


def test_other_python_tags_are_still_refused(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("!!python/object/apply:os.system ['touch /tmp/pwned']\n")
    with pytest.raises(ConfigError, match="cannot be read as YAML safely"):
        load_config(GAMES["cartpole"], path)


def test_policy_kwargs_of_older_sb3_and_dict_literals():
    assert parse_policy_kwargs("dict(net_arch=[dict(pi=[64, 64], vf=[64, 64])], activation_fn=th.nn.Tanh)") == {
        "net_arch": {"pi": [64, 64], "vf": [64, 64]},
        "activation_fn": "tanh",
    }
    assert parse_policy_kwargs("{'log_std_init': -0.5, 'ortho_init': True}") == {
        "log_std_init": -0.5,
        "ortho_init": True,
    }


@pytest.mark.slow
def test_train_runs_from_a_zoo_config(tmp_path):
    config = tmp_path / "config.yml"
    zoo_run_config(
        config, {**ours("cartpole"), "n_envs": 2, "policy_kwargs": "dict(net_arch=[32], activation_fn=nn.ReLU)"}
    )
    out = tmp_path / "run"
    done = run_cli("train", "cartpole", "--seed", 1, "--config", config, "-n", 256, "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    used = yaml.safe_load((out / "config.yml").read_text())
    assert used["policy_kwargs"] == {"net_arch": [32], "activation_fn": "relu"}
    assert used["n_timesteps"] == 256 and used["n_steps"] == 32
