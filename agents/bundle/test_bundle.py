"""Bundles: round trip against SB3, replay determinism, verification, and tampered or hostile files."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from agents.bundle import MANIFEST, Bundle
from agents.bundle.build import build_bundle
from agents.common.errors import BundleError
from agents.evaluation.replay import resimulate
from agents.policy.network import load_policy
from agents.training.train import TrainOptions, train
from envs import get_spec, make_env

pytestmark = pytest.mark.slow  # every test needs a bundle trained by the module's fixtures


@pytest.fixture(scope="module")
def cartpole_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("cartpole")
    runs = [
        train(TrainOptions("cartpole", seed=s, timesteps=2048, out=root / f"seed{s}", progress=None)) for s in (1, 2)
    ]
    return build_bundle("cartpole", runs, out=root / "bundle", episodes=20)


@pytest.fixture(scope="module")
def continuous_bundle(tmp_path_factory):
    """Continuous actions with VecNormalize: the normalisation statistics must travel in policy.json."""
    root = tmp_path_factory.mktemp("llc")
    run = train(
        TrainOptions(
            "lunarlander-continuous",
            seed=1,
            timesteps=2048,
            overrides=["n_steps=64"],
            out=root / "seed1",
            progress=None,
        )
    )
    return build_bundle("lunarlander-continuous", [run], out=root / "bundle", episodes=10)


def _observations(slug, n=300):
    env = make_env(get_spec(slug), "eval")
    obs, _ = env.reset(seed=0)
    env.action_space.seed(0)
    out = []
    for _ in range(n):
        out.append(obs)
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset()
    return np.stack(out)


@pytest.mark.parametrize("which", ["cartpole_bundle", "continuous_bundle"])
def test_round_trip_same_actions_as_sb3(which, request):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    path = request.getfixturevalue(which)
    bundle = Bundle.open(path)
    policy = bundle.policy()
    obs = _observations(bundle.spec.slug)
    zip_path = next(path.glob("ppo-*.zip"))
    model = PPO.load(zip_path, device="cpu")  # a file this test just wrote itself
    raw = obs
    if bundle.spec.normalize:
        norm = json.loads((path / "policy.json").read_text())["normalization"]
        vn = VecNormalize(DummyVecEnv([lambda: make_env(bundle.spec, "eval")]))
        vn.obs_rms.mean, vn.obs_rms.var = np.array(norm["obs_mean"]), np.array(norm["obs_var"])
        obs = vn.normalize_obs(obs)
        assert not np.allclose(obs, raw), "normalisation should change the observations"
    expected, _ = model.predict(obs, deterministic=True)
    np.testing.assert_array_equal(policy.predict(raw, deterministic=True), expected)


def test_policy_loads_without_the_sb3_zip(cartpole_bundle, tmp_path):
    """The app's loader reads safetensors + JSON only; the pickled SB3 zip is never opened."""
    copy = tmp_path / "b"
    shutil.copytree(cartpole_bundle, copy)
    next(copy.glob("ppo-*.zip")).unlink()
    assert load_policy(copy).predict(_observations("cartpole", 5)).shape == (5,)


def test_replays_resimulate_exactly(cartpole_bundle, continuous_bundle):
    for path in (cartpole_bundle, continuous_bundle):
        bundle = Bundle.open(path)
        names = bundle.replay_names()
        assert {"best", "worst", "median"} <= set(names) and len(names) == 5
        ev = bundle.eval_result()
        for name in names:
            rep = bundle.replay(name)
            assert resimulate(rep, bundle.spec)["ok"]
            i = ev.seeds.index(rep["seed"])
            assert rep["return"] == ev.returns[i] and rep["length"] == ev.lengths[i]
        assert bundle.replay("best")["return"] == max(ev.returns)
        assert bundle.replay("worst")["return"] == min(ev.returns)


def test_evaluate_repeats_the_recorded_evaluation(cartpole_bundle):
    bundle = Bundle.open(cartpole_bundle)
    again = bundle.evaluate(episodes=20)
    assert again.returns == bundle.eval_result().returns


def test_verify_passes_and_bundle_contents(cartpole_bundle):
    bundle = Bundle.open(cartpole_bundle)
    checks = bundle.verify()
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    m = bundle.manifest
    assert m.seeds == [1, 2] and m.shipped_seed in (1, 2) and "periodic evaluation" in m.shipped_because
    for f in (
        "policy.safetensors",
        "policy.json",
        "ppo-CartPole-v1.zip",
        "config.yml",
        "results.json",
        "README.md",
        "evidence/training-seed1.csv",
        "evidence/training-seed2.csv",
        "evidence/eval.json",
        "evidence/health.json",
    ):
        assert f in m.files, f
    assert m.versions["stable-baselines3"].startswith("2.9")
    assert all(m.commands["train"][str(s)][0].startswith("playground train cartpole --seed") for s in (1, 2))
    card = (cartpole_bundle / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: stable-baselines3" in card
    s = bundle.eval_summary()
    assert f"{s['mean']:.2f} +/- {s['std']:.2f}" in card
    res = json.loads((cartpole_bundle / "results.json").read_text())
    assert res["mean_reward"] == s["mean"] and res["n_eval_episodes"] == 20


# --- tampering --------------------------------------------------------------------------------------


def _copy(src, tmp_path):
    dst = tmp_path / "bundle"
    shutil.copytree(src, dst)
    return dst


def _rehash(path, rel):
    """Update the manifest after an edit, as a careful forger would."""
    m = json.loads((path / MANIFEST).read_text())
    m["files"][rel] = hashlib.sha256((path / rel).read_bytes()).hexdigest()
    (path / MANIFEST).write_text(json.dumps(m))


def _failed(path):
    return [c for c in Bundle.open(path, check=False).verify() if not c.ok]


def test_changed_weights_fail_checksum(cartpole_bundle, tmp_path):
    b = _copy(cartpole_bundle, tmp_path)
    data = bytearray((b / "policy.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (b / "policy.safetensors").write_bytes(bytes(data))
    failed = _failed(b)
    assert [c.name for c in failed] == ["sha256 policy.safetensors", "nothing loaded"], "verify stops there"
    assert "was changed" in failed[0].detail
    with pytest.raises(BundleError, match="failed its checksums: policy.safetensors was changed"):
        Bundle.open(b)


def test_forged_eval_is_caught_even_with_a_fixed_manifest(cartpole_bundle, tmp_path):
    b = _copy(cartpole_bundle, tmp_path)
    ev = json.loads((b / "evidence/eval.json").read_text())
    ev["summary"]["mean"] += 100
    (b / "evidence/eval.json").write_text(json.dumps(ev))
    _rehash(b, "evidence/eval.json")
    assert {c.name for c in _failed(b)} == {"eval.json summary matches its episodes", "results.json matches eval.json"}


def test_forged_replay_does_not_resimulate(cartpole_bundle, tmp_path):
    b = _copy(cartpole_bundle, tmp_path)
    rep = json.loads((b / "evidence/replays/best.json").read_text())
    rep["actions"][3] = 1 - rep["actions"][3]
    rep["actions"][4] = 1 - rep["actions"][4]
    (b / "evidence/replays/best.json").write_text(json.dumps(rep))
    _rehash(b, "evidence/replays/best.json")
    failed = _failed(b)
    assert [c.name for c in failed] == ["replay best re-simulates"]


def test_unlisted_and_missing_files(cartpole_bundle, tmp_path):
    b = _copy(cartpole_bundle, tmp_path)
    (b / "evil.py").write_text("print('hi')")
    (b / "config.yml").unlink()
    details = " ".join(c.detail for c in _failed(b))
    assert "evil.py" in details and "config.yml is missing" in details


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda d: d.update(policy_class="os.system"), "policy class 'os.system'"),
        (lambda d: d["policy_kwargs"].update(activation_fn="__import__"), "activation '__import__'"),
        (lambda d: d.update(format="pickle"), "is not a ppo-playground/policy@1 file"),
        (lambda d: d["action_space"].update(n=3), "does not match policy.json"),
        (lambda d: d["observation_space"].update(shape=[3]), "malformed space"),
    ],
)
def test_hostile_policy_json_is_refused(cartpole_bundle, tmp_path, edit, message):
    b = _copy(cartpole_bundle, tmp_path)
    desc = json.loads((b / "policy.json").read_text())
    edit(desc)
    (b / "policy.json").write_text(json.dumps(desc))
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_policy(b)


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, b"not a safetensors file at all", b"\xff" * 64])
def test_corrupt_weights_give_a_clear_error(cartpole_bundle, tmp_path, content):
    b = _copy(cartpole_bundle, tmp_path)
    (b / "policy.safetensors").write_bytes(content)
    with pytest.raises(BundleError, match="cannot be read as the policy's weights"):
        load_policy(b)


def test_malformed_replay(cartpole_bundle):
    with pytest.raises(BundleError):
        resimulate({"format": "nope"})
    rep = Bundle.open(cartpole_bundle).replay("best")
    bad = dict(rep, actions=rep["actions"] + [0], rewards=rep["rewards"] + [1.0], length=rep["length"] + 1)
    assert not resimulate(bad)["ok"]
    with pytest.raises(BundleError, match="length .* but .* actions"):
        resimulate(dict(rep, actions=rep["actions"] + [0]))
    with pytest.raises(BundleError, match="action 0 is 7, outside CartPole's actions"):
        resimulate(dict(rep, actions=[7, *rep["actions"][1:]]))


def test_every_evaluation_episode_replays_on_a_fresh_env():
    """Episodes that share an env slot (BipedalWalker keeps state across reset) still re-simulate alone."""
    from agents.evaluation.evaluate import run_episodes
    from agents.evaluation.replay import replay_record

    spec = get_spec("bipedalwalker")
    rng = np.random.default_rng(0)
    eps = run_episodes(
        spec, lambda obs: rng.uniform(-1, 1, size=(len(obs), 4)).astype(np.float32), [5, 6, 7], record=True, parallel=1
    )
    for ep in eps:
        assert resimulate(replay_record(spec, ep, "t", False), spec)["ok"], ep.seed


# --- Atari -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pong_bundle(tmp_path_factory):
    """A tiny Pong run, bundled: the CNN's weights are what makes Atari bundles big."""
    root = tmp_path_factory.mktemp("pong")
    run = train(
        TrainOptions(
            "pong",
            seed=1,
            timesteps=128,
            overrides=["n_envs=2", "n_steps=64", "batch_size=64"],
            out=root / "seed1",
            threads=1,
            progress=None,
        )
    )
    return build_bundle("pong", [run], out=root / "bundle", episodes=2, replays=2)


def test_atari_zip_has_no_optimizer_moments_and_still_loads(pong_bundle):
    import io
    import zipfile

    import torch
    from stable_baselines3 import PPO

    bundle = Bundle.open(pong_bundle)
    assert all(c.ok for c in bundle.verify())
    zip_path = pong_bundle / "ppo-ALE-Pong-v5.zip"
    with zipfile.ZipFile(zip_path) as z:
        opt = torch.load(io.BytesIO(z.read("policy.optimizer.pth")), weights_only=True)
        weights = z.getinfo("policy.pth").file_size
        assert z.getinfo("policy.optimizer.pth").file_size < 10_000
    assert opt["state"] == {}, "Adam's moment estimates should not be shipped"
    # the trained run's own zip carries them: that is what the bundle leaves out
    run_zip = pong_bundle.parent / "seed1" / "final" / "model.zip"
    with zipfile.ZipFile(run_zip) as z:
        assert z.getinfo("policy.optimizer.pth").file_size > weights
    assert zip_path.stat().st_size < 0.6 * run_zip.stat().st_size

    model = PPO.load(zip_path, device="cpu")  # a file this test just wrote itself
    obs = _observations("pong", n=20)
    np.testing.assert_array_equal(
        bundle.policy().predict(obs, deterministic=True), model.predict(obs, deterministic=True)[0]
    )
    total = sum(p.stat().st_size for p in pong_bundle.rglob("*") if p.is_file())
    assert total < 25 * 2**20


def test_refuse_failed_files_names_the_first_failure_and_counts_the_rest(tmp_path):
    from agents.bundle.bundle import refuse_failed_files
    from agents.bundle.manifest import Check

    ok = Check("sha256 a.json", True, "matches")
    changed = Check("sha256 b.json", False, "b.json was changed: sha256 0123… but the manifest says 4567…")
    unlisted = Check("no unlisted files", False, "files not in the manifest: c.json")
    refuse_failed_files(tmp_path, [ok])  # every file passed: nothing to refuse
    with pytest.raises(BundleError) as info:
        refuse_failed_files(tmp_path, [ok, changed, unlisted])
    assert str(info.value) == f"bundle {tmp_path} failed its checksums: {changed.detail} (and 1 more)"
