"""The fine-tuning env (the learner's view equals the engine's, points go to the side that won them, the mirrored
view), the fine-tuning run (starts from the shipped weights, writes diagnostics, resumes) and duel_evidence's
``--agent``."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from agents.play.pong_duel import (
    AGENT,
    FRAME_SKIP,
    LEFT_PADDLE_RGB,
    PERSON,
    PongDuel,
    RandomPaddle,
    Tracker,
)
from agents.play.pong_duel_env import RIGHT_PADDLE_RGB, DuelPool, PongDuelEnv, SnapshotPaddle, mirror


class Script:
    """A policy that plays a fixed list of actions (for PongDuel's own agent slot)."""

    def __init__(self, actions):
        self.actions, self.i = list(actions), 0

    def forward_info(self, obs):
        probs = np.zeros((1, 6))
        probs[0, self.actions[self.i]] = 1.0
        self.i += 1
        return {"probs": probs}

    def predict(self, obs, deterministic=True):
        raise NotImplementedError


def only(name: str, factory) -> DuelPool:
    return DuelPool(scripted={name: factory}, weights={name: 1.0})


@pytest.mark.slow
def test_the_learners_observation_is_the_engines_for_the_same_seed_and_actions():
    actions = [int(a) for a in np.random.default_rng(5).integers(6, size=300)]
    env = PongDuelEnv(only("random", RandomPaddle))
    obs, info = env.reset(seed=3)
    duel = PongDuel(Script(actions), info["seed"])
    bot = RandomPaddle()
    bot.reset(info["seed"])
    try:
        assert np.array_equal(obs, duel.eye.obs)
        for a in actions:
            obs, _, term, trunc, info = env.step(a)
            for _ in range(FRAME_SKIP):
                duel.step(bot.act(duel.screen))
            assert np.array_equal(obs, duel.eye.obs), f"observations differ at frame {duel.frame}"
            assert info["score"] == {"agent": duel.agent_points, "opponent": duel.person_points}
            assert not (term or trunc)
        assert duel.agent_actions == actions  # the engine's agent played what the env was given
    finally:
        env.close()
        duel.close()


@pytest.mark.slow
def test_the_opponents_points_go_to_the_opponent():
    # a learner that never moves against the perfect tracker: the tracker scores, every point is a -1
    env = PongDuelEnv(only("perfect-tracker", lambda: Tracker("perfect-tracker", delay=0, dead_band=2.0)))
    env.reset(seed=0)
    total = 0.0
    try:
        for _ in range(1500):
            _, reward, _, _, info = env.step(0)
            total += reward
            if info["score"]["opponent"] >= 2:
                break
        assert info["opponent"] == "perfect-tracker"
        assert info["score"]["opponent"] >= 2 and info["score"]["agent"] == 0, info
        assert total == -(info["score"]["opponent"] + info["serve_penalties"]["agent"])
    finally:
        env.close()


def test_mirror_puts_the_left_paddle_on_the_right_in_the_right_paddles_colour():
    screen = np.full((210, 160, 3), (144, 72, 17), np.uint8)
    screen[100:116, 16:20] = LEFT_PADDLE_RGB
    screen[40:56, 140:144] = RIGHT_PADDLE_RGB
    screen[80:82, 60:62] = 236
    m = mirror(screen)
    assert (m[100:116, 140:144] == RIGHT_PADDLE_RGB).all() and (m[40:56, 16:20] == LEFT_PADDLE_RGB).all()
    assert (m[80:82, 98:100] == 236).all()
    assert np.array_equal(mirror(m), screen)


def test_a_snapshot_on_the_left_moves_the_left_paddle():
    # a snapshot whose policy always says UP (2) must move second_0's paddle: the seat and actions are wired
    up = SnapshotPaddle("up", Script([2] * 10_000))
    env = PongDuelEnv(DuelPool(snapshots=[up], snapshot_share=1.0))
    env.reset(seed=1)
    try:
        from agents.play.pong_duel import left_paddle_y

        start = left_paddle_y(env.duel.screen)
        for _ in range(10):
            env.step(0)
        assert env.opponent is up and up.frame == 10 * FRAME_SKIP
        now = left_paddle_y(env.duel.screen)
        assert start is not None and (now is None or now < start - 5), (start, now)
    finally:
        env.close()


def test_the_pool_draws_snapshots_at_their_share():
    snap = SnapshotPaddle("s", Script([0]))
    pool = DuelPool(snapshots=[snap], snapshot_share=0.25)
    rng = np.random.default_rng(0)
    names = [pool.draw(rng).name for _ in range(2000)]
    assert 0.2 < names.count("s") / 2000 < 0.3 and {"random", "perfect-tracker"} <= set(names)


@pytest.mark.slow
def test_a_finetune_run_starts_from_the_shipped_weights_writes_diagnostics_and_resumes(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from agents.bundle import Bundle
    from agents.play import finetune as ft

    opts = dict(out=tmp_path / "run", timesteps=192, n_envs=2, n_steps=32, checkpoint_seconds=0.0, progress=None)
    shipped = Bundle.shipped("pong").policy().policy.state_dict()

    # 1. killed in its third update, before that update's checkpoint (the snapshot callback runs first)
    calls = {"n": 0}

    def crash(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(ft.SnapshotCallback, "_on_update_end", crash)
    with pytest.raises(KeyboardInterrupt):
        ft.finetune(ft.FinetuneOptions(**opts))
    run = tmp_path / "run"
    start = load_file(run / "snapshots" / "snap-000000000000.safetensors")
    # safetensors keeps one name per shared tensor (the policy shares its features extractor)
    assert set(start) <= set(shipped) and {"action_net.weight", "value_net.weight"} <= set(start)
    assert all(np.array_equal(start[k].numpy(), shipped[k].numpy()) for k in start)  # started from the bundle
    assert (run / "checkpoints" / "latest").read_text().strip() == "ckpt-000000000128"
    monkeypatch.undo()

    # 2. resumed: continues from 128 to 192, the diagnostics once per update, the final policy exported
    ft.finetune(ft.FinetuneOptions(out=run, resume=True, checkpoint_seconds=0.0, progress=None))
    with open(run / "diagnostics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["timesteps"]) for r in rows] == [64, 128, 192]
    assert float(rows[0]["approx_kl"]) < 0.05  # the first update moved the shipped policy a little, not a lot
    meta = json.loads((run / "run.json").read_text())
    assert meta["status"] == "done" and meta["timesteps"] == 192 and len(meta["segments"]) == 2
    assert meta["finetune"]["start_policy_sha256"] == Bundle.shipped("pong").policy_id
    final = load_file(run / "final" / "policy.safetensors")
    assert any(not np.array_equal(final[k].numpy(), shipped[k].numpy()) for k in final)  # it did learn
    with pytest.raises(Exception, match="already complete"):
        ft.finetune(ft.FinetuneOptions(out=run, resume=True, progress=None))


@pytest.mark.slow
def test_duel_evidence_evaluates_the_agent_it_is_given(tmp_path, monkeypatch):
    from agents.bundle import Bundle
    from agents.play import duel_evidence
    from agents.play.pong_duel import DuelResult
    from agents.policy.network import export_policy

    shipped = Bundle.shipped("pong").policy()
    folder = tmp_path / "final"
    folder.mkdir()
    export_policy(shipped.policy, None, folder)
    played = []

    def fake_play(policy, bot, seeds, **kwargs):
        played.append(policy)
        return [DuelResult(s, 21, 3, 1000, True, {AGENT: 0, PERSON: 0}, "0*1000", "0*250") for s in seeds]

    monkeypatch.setattr(duel_evidence, "play_bots", fake_play)
    assert duel_evidence.main(["--agent", str(folder), "--games", "2", "--bots", "random"]) == 0
    out = json.loads((folder / "evidence" / "pong_duel_random.json").read_text())
    assert out["agent"]["policy_folder"] == str(folder) and out["agent"]["policy_sha256"] == shipped_id(folder)
    assert out["opponents"]["random"]["agent_wins"] == 2
    params = dict(played[0].policy.named_parameters())
    assert all(
        np.array_equal(params[k].detach().numpy(), v.detach().numpy()) for k, v in shipped.policy.named_parameters()
    )
    with pytest.raises(SystemExit, match="neither a bundle nor a folder"):
        duel_evidence.main(["--agent", str(tmp_path), "--games", "1", "--bots", "random"])


def shipped_id(folder):
    import hashlib

    from agents.common.files import sha256_file

    digests = f"{sha256_file(folder / 'policy.safetensors')} {sha256_file(folder / 'policy.json')}"
    return hashlib.sha256(digests.encode()).hexdigest()


def test_a_snapshot_of_a_policy_mid_training_is_a_frozen_copy_with_the_same_weights():
    """During training SB3's distribution object keeps the last forward pass's tensors (with their graph);
    copy.deepcopy refuses those, which killed the first real fine-tuning run at its first snapshot."""
    import torch
    from stable_baselines3 import PPO

    from agents.play.finetune import _loaded

    model = PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32, device="cpu", seed=0)
    obs = torch.zeros((4, 4))
    model.policy.evaluate_actions(obs, torch.zeros(4))  # as in a PPO epoch: leaves graph tensors behind
    frozen = _loaded(model.policy)
    with torch.no_grad():
        for param in model.policy.parameters():
            param.add_(1.0)  # the learner moves on; the snapshot must not
    snap = frozen.policy
    assert snap is not model.policy
    assert all(not p.requires_grad for p in snap.parameters())
    before = {k: v for k, v in snap.state_dict().items()}
    after = model.policy.state_dict()
    assert all(torch.equal(before[k] + 1.0, after[k]) for k in before if before[k].is_floating_point())
