"""Importing external SB3 PPO checkpoints: real SB3 zips and an RL Zoo-shaped run import and act like SB3;
hostile files (a cloudpickle payload in ``data``, a pickle in policy.pth or config.yml, path traversal, a
truncated zip, another game's spaces, an untrusted vecnormalize.pkl) are refused or ignored, and never run."""

import base64
import json
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import yaml

from agents.bundle import Bundle
from agents.bundle.importer import EXTERNAL, import_checkpoint, read_checkpoint
from agents.common.errors import ImportCheckpointError
from envs import get_spec, make_env


class _Touch:
    """A pickle that creates ``path`` when it is loaded (what a hostile checkpoint would do, harmlessly)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _train(tmp, normalize=False):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
    from torch import nn

    venv = DummyVecEnv([lambda: make_env(get_spec("cartpole"), "train")])
    if normalize:
        venv = VecNormalize(venv)
    # ReLU makes SB3 cloudpickle policy_kwargs: the importer must rebuild it from the readable fields
    model = PPO(
        "MlpPolicy",
        venv,
        n_steps=64,
        batch_size=64,
        n_epochs=1,
        seed=1,
        device="cpu",
        policy_kwargs={"net_arch": [16], "activation_fn": nn.ReLU},
    )
    model.learn(128)
    return model, venv


@pytest.fixture(scope="module")
def sb3_zip(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sb3")
    model, _ = _train(tmp)
    model.save(tmp / "ppo-CartPole-v1.zip")
    return tmp / "ppo-CartPole-v1.zip"


@pytest.fixture(scope="module")
def zoo_run(tmp_path_factory):
    """logs/ppo/CartPole-v1_1/ as RL Zoo 2.9 writes it: the model, and config.yml / args.yml (yaml.dump of an
    OrderedDict, so with python tags) and vecnormalize.pkl in CartPole-v1/."""
    root = tmp_path_factory.mktemp("zoo")
    run = root / "logs" / "ppo" / "CartPole-v1_1"
    params = run / "CartPole-v1"
    params.mkdir(parents=True)
    model, venv = _train(root, normalize=True)
    model.save(run / "CartPole-v1.zip")
    venv.save(str(params / "vecnormalize.pkl"))
    config = OrderedDict(
        [
            ("batch_size", 64),
            ("n_envs", 1),
            ("n_epochs", 1),
            ("n_steps", 64),
            ("n_timesteps", 128.0),
            ("normalize", True),
            ("policy", "MlpPolicy"),
            ("policy_kwargs", "dict(net_arch=[16], activation_fn=nn.ReLU)"),
        ]
    )
    (params / "config.yml").write_text(yaml.dump(config))
    (params / "args.yml").write_text(yaml.dump(OrderedDict([("algo", "ppo"), ("env", "CartPole-v1"), ("seed", 1)])))
    assert "!!python/object/apply:collections.OrderedDict" in (params / "config.yml").read_text()
    return run, venv


def _obs(n=200):
    env = make_env(get_spec("cartpole"), "eval")
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    out = []
    for _ in range(n):
        out.append(obs)
        obs, _, term, trunc, _ = env.step(int(rng.integers(2)))
        if term or trunc:
            obs, _ = env.reset()
    return np.stack(out)


def test_sb3_zip_imports_and_acts_like_sb3(sb3_zip, tmp_path):
    from stable_baselines3 import PPO

    out = import_checkpoint(sb3_zip, "cartpole", out=tmp_path / "b", episodes=5, register=False)
    bundle = Bundle.open(out)
    assert all(c.ok for c in bundle.verify()), [c for c in bundle.verify() if not c.ok]
    assert bundle.origin == EXTERNAL and bundle.is_external and bundle.training_seeds() == []
    src = bundle.manifest.source
    assert src["kind"] == "sb3 zip" and len(src["zip_sha256"]) == 64 and src["policy_class"] == "ActorCriticPolicy"
    assert EXTERNAL in (out / "README.md").read_text()
    obs = _obs()
    expected, _ = PPO.load(sb3_zip, device="cpu").predict(obs, deterministic=True)  # a file this test wrote
    np.testing.assert_array_equal(bundle.policy().predict(obs), expected)
    assert bundle.policy().description["policy_kwargs"]["activation_fn"] == "ReLU"
    # the bundle's SB3 zip is rebuilt from our own objects and opens with plain PPO.load
    again, _ = PPO.load(out / "ppo-CartPole-v1.zip", device="cpu").predict(obs, deterministic=True)
    np.testing.assert_array_equal(again, expected)


def test_zoo_run_needs_trust_for_its_pickle(zoo_run, tmp_path):
    from stable_baselines3 import PPO

    run, venv = zoo_run
    with pytest.raises(ImportCheckpointError, match="--trust-pickle"):
        import_checkpoint(run, "cartpole", out=tmp_path / "b", episodes=3, register=False)
    assert not (tmp_path / "b").exists(), "a refused import writes nothing"

    warnings = []
    out = import_checkpoint(
        run, "cartpole", out=tmp_path / "b", trust_pickle=True, episodes=3, register=False, warn=warnings.append
    )
    assert any("unpickling" in w and "vecnormalize.pkl" in w for w in warnings)
    bundle = Bundle.open(out)
    m = bundle.manifest
    assert m.source["kind"] == "rl zoo run" and m.source["vecnormalize"]["unpickled"] is True
    assert bundle.config()["policy_kwargs"] == "dict(net_arch=[16], activation_fn=nn.ReLU)", "strings stay strings"
    norm = bundle.policy().normalizer
    np.testing.assert_allclose(norm.mean, venv.obs_rms.mean)
    np.testing.assert_allclose(norm.var, venv.obs_rms.var)
    raw = _obs()
    expected, _ = PPO.load(run / "CartPole-v1.zip", device="cpu").predict(venv.normalize_obs(raw), deterministic=True)
    np.testing.assert_array_equal(bundle.policy().predict(raw), expected)


def _rewrite(src, dst, edit_data=None, extra=(), replace=None):
    """Copy an SB3 zip, editing its data JSON, adding members, or replacing one."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            content = zin.read(info)
            if info.filename == "data" and edit_data:
                d = json.loads(content)
                edit_data(d)
                content = json.dumps(d).encode()
            if replace and info.filename in replace:
                content = replace[info.filename]
            zout.writestr(info.filename, content)
        for name, content in extra:
            zout.writestr(name, content)
    return dst


@pytest.mark.slow
def test_cloudpickle_payload_in_data_never_runs(sb3_zip, tmp_path):
    marker = tmp_path / "pwned-by-data"
    payload = base64.b64encode(pickle.dumps(_Touch(marker))).decode()

    def arm(d):
        d["observation_space"][":serialized:"] = payload
        d["policy_kwargs"] = {
            ":type:": "<class 'dict'>",
            ":serialized:": payload,
            "net_arch": [16],
            "activation_fn": "<class 'torch.nn.modules.activation.ReLU'>",
        }

    evil = _rewrite(sb3_zip, tmp_path / "ppo-CartPole-v1.zip", arm)
    # the payload is armed: SB3's own loader runs it
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from stable_baselines3 import PPO\ntry: PPO.load({str(evil)!r})\nexcept Exception: pass",
        ],
        capture_output=True,
        timeout=120,
    )
    assert marker.exists(), "the test payload should fire under PPO.load"
    marker.unlink()

    out = import_checkpoint(evil, "cartpole", out=tmp_path / "b", episodes=2, register=False)
    assert not marker.exists(), "importing must never decode a :serialized: entry"
    assert Bundle.open(out).policy() is not None


def test_pickle_in_policy_pth_is_refused(sb3_zip, tmp_path):
    marker = tmp_path / "pwned-by-pth"
    evil = _rewrite(sb3_zip, tmp_path / "evil.zip", replace={"policy.pth": pickle.dumps(_Touch(marker))})
    with pytest.raises(ImportCheckpointError, match="weights_only=True"):
        read_checkpoint(evil)
    assert not marker.exists()


def test_python_tags_in_zoo_config_are_ignored(zoo_run, tmp_path):
    import shutil

    run = tmp_path / "CartPole-v1_2"
    shutil.copytree(zoo_run[0], run)
    marker = tmp_path / "pwned-by-yaml"
    cfg = run / "CartPole-v1" / "config.yml"
    cfg.write_text(
        yaml.dump(
            OrderedDict(
                [("n_envs", 1), ("normalize", "{'norm_obs': True, 'norm_reward': False}"), ("policy", "MlpPolicy")]
            )
        ).replace(
            "- - n_envs", f"- - callback\n    - !!python/object/apply:builtins.open ['{marker}', 'w']\n  - - n_envs"
        )
    )
    assert "builtins.open" in cfg.read_text()
    out = import_checkpoint(
        run, "cartpole", out=tmp_path / "b", trust_pickle=True, episodes=2, register=False, warn=lambda _: None
    )
    assert not marker.exists()
    assert Bundle.open(out).config()["callback"].startswith("<ignored YAML tag")


def test_path_traversal_member_is_refused(sb3_zip, tmp_path):
    evil = _rewrite(sb3_zip, tmp_path / "evil.zip", extra=[("../../escaped.txt", b"x")])
    with pytest.raises(ImportCheckpointError, match=r"unsafe path '\.\./\.\./escaped\.txt'"):
        import_checkpoint(evil, "cartpole", out=tmp_path / "b", episodes=2, register=False)
    assert not (tmp_path / "b").exists() and not (tmp_path.parent / "escaped.txt").exists()


def test_truncated_zip_is_a_clear_error(sb3_zip, tmp_path):
    data = sb3_zip.read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        (tmp_path / "cut.zip").write_bytes(data[:cut])
        with pytest.raises(ImportCheckpointError, match="not a readable zip|is not an SB3 checkpoint"):
            read_checkpoint(tmp_path / "cut.zip")


def test_oversized_member_is_refused(sb3_zip, tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MAX_BUNDLE_MB", "0.02")  # 20 KB: the members inflate to about 25 KB
    with pytest.raises(
        ImportCheckpointError,
        match=r"its members once inflated is .* over the limit .*"
        r"PLAYGROUND_MAX_BUNDLE_MB",
    ):
        read_checkpoint(sb3_zip)
    monkeypatch.setenv("PLAYGROUND_MAX_BUNDLE_MB", "1")
    deflated = tmp_path / "deflated.zip"
    with zipfile.ZipFile(sb3_zip) as zin, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
        zout.writestr("padding", b"\0" * 100_000)
    assert deflated.stat().st_size < 20_000
    monkeypatch.setenv("PLAYGROUND_MAX_FILE_MB", "0.05")  # 52 KB: the file is smaller, one member inflates to 100 KB
    with pytest.raises(
        ImportCheckpointError,
        match=r"member 'padding' once inflated is 100,000 bytes, "
        r"over the limit .*PLAYGROUND_MAX_FILE_MB",
    ):
        read_checkpoint(deflated)


def test_spaces_of_another_game_are_named(sb3_zip, tmp_path):
    with pytest.raises(ImportCheckpointError) as err:
        import_checkpoint(sb3_zip, "acrobot", out=tmp_path / "b", register=False)
    msg = str(err.value)
    assert "observation space is Box(shape=(4,))" in msg and "Acrobot (Acrobot-v1) has Box(shape=(6,))" in msg
    with pytest.raises(
        ImportCheckpointError,
        match=r"Box\(shape=\(4,\)\), but LunarLander \(LunarLander-v3\) has "
        r"Box\(shape=\(8,\)\)",
    ):
        import_checkpoint(sb3_zip, "lunarlander", out=tmp_path / "b", register=False)
    assert not (tmp_path / "b").exists()


@pytest.mark.slow
def test_zoo_run_imports_through_the_cli_and_plays_in_the_app(zoo_run, tmp_path, monkeypatch):
    """`playground import <zoo run> --game cartpole --trust-pickle`: a clean exit, the warning, and the app
    lists the agent as imported and external, shows its evidence and plays it."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT, run_cli

    env = {"PLAYGROUND_DATA": str(tmp_path / "data"), "PLAYGROUND_CACHE": str(tmp_path / "cache")}
    refused = run_cli("import", zoo_run[0], "--game", "cartpole", "--episodes", 2, env=env)
    assert refused.returncode == 1 and "--trust-pickle" in refused.stderr and "Traceback" not in refused.stderr
    out = run_cli("import", zoo_run[0], "--game", "cartpole", "--trust-pickle", "--episodes", 3, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "warning: --trust-pickle" in out.stderr and EXTERNAL in out.stdout
    (entry,) = json.loads((tmp_path / "data" / "agents.json").read_text())["agents"]
    assert entry["source"] == "imported from CartPole-v1_1" and entry["game"] == "cartpole"

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    main = str(ROOT / "playground" / "main.py")
    at = AppTest.from_file(main, default_timeout=180).run()
    assert not at.exception
    texts = "\n".join(str(e.value) for kind in ("markdown", "caption") for e in getattr(at, kind))
    assert "imported from CartPole-v1_1" in texts and EXTERNAL in texts

    at = AppTest.from_file(main, default_timeout=180)
    at.query_params.update({"page": "evidence", "game": "cartpole", "agent": entry["id"]})
    at.run()
    assert not at.exception and any(EXTERNAL in w.value for w in at.warning)
    at = at.button(key="verify").click().run()
    assert any("checks passed" in s.value for s in at.success), [e.value for e in at.error]

    at = AppTest.from_file(main, default_timeout=180)
    at.query_params.update({"page": "watch", "game": "cartpole", "agent": entry["id"]})
    at.run()
    assert not at.exception and at.selectbox(key="watch-agent-cartpole").value == entry["id"]
    assert {"Action", "Value estimate V(s)"} <= {m.label for m in at.metric}
