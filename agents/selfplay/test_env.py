"""The self-play env: one point of view per trajectory, each side's terminal reward to that side (checked against
PettingZoo's rewards on the same moves), seats alternating, and masked play that can never be illegal."""

import numpy as np
import pytest
from pettingzoo.classic import connect_four_v3

from agents.selfplay.board import Board
from agents.selfplay.bots import OnePlyBot, RandomBot
from agents.selfplay.env import OpponentPool, SelfPlayEnv


class Recording:
    """Wraps an opponent and appends its moves to a shared list (the learner's are appended by the test)."""

    def __init__(self, inner, log):
        self.inner, self.log, self.name = inner, log, inner.name

    def move(self, board, rng):
        col = self.inner.move(board, rng)
        self.log.append(col)
        return col


def _pettingzoo_rewards(moves):
    env = connect_four_v3.env()
    env.reset()
    for col in moves:
        env.step(col)
    assert all(env.terminations.values())
    return env.rewards


def test_each_side_gets_its_own_terminal_reward_as_pettingzoo_pays_it():
    log: list[int] = []
    pool = OpponentPool(anchors=[Recording(RandomBot(), log), Recording(OnePlyBot(), log)])
    env = SelfPlayEnv(pool, first_seat=0)
    rng = np.random.default_rng(0)
    seats, outcomes = [], set()
    for episode in range(60):
        log.clear()
        obs, info = env.reset(seed=episode)
        seats.append(info["seat"])
        pz = connect_four_v3.env()
        pz.reset()
        for col in log:
            pz.step(col)
        me = pz.possible_agents[info["seat"]]
        while True:
            assert pz.agent_selection == me, "the learner is only ever asked to move on its own turn"
            np.testing.assert_array_equal(obs, pz.observe(me)["observation"])
            action = int(rng.choice(np.flatnonzero(env.action_masks())))
            log.append(action)
            before = len(log)
            obs, reward, terminated, truncated, info = env.step(action)
            for col in log[before - 1 :]:
                pz.step(col)
            assert not truncated
            if terminated:
                break
            assert reward == 0.0, "only the last step pays"
        rewards = _pettingzoo_rewards(log)
        assert reward == rewards[me], (log, info)
        # the other side's terminal reward is the opposite (zero-sum), never credited to the learner's step
        other = pz.possible_agents[1 - info["seat"]]
        assert rewards[other] == -reward
        assert info["outcome"] == {1.0: "win", -1.0: "loss", 0.0: "draw"}[reward]
        outcomes.add((info["seat"], reward))
    assert seats[:4] == [0, 1, 0, 1], "the learner's seat alternates"
    # wins and losses from both seats were all checked
    assert {(0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)} <= outcomes, outcomes


def test_a_loss_on_the_opponents_move_is_the_learners_minus_one():
    # the learner (player_0) plays column 0 forever; one-ply as player_1 wins on its own move
    pool = OpponentPool(anchors=[OnePlyBot()])
    env = SelfPlayEnv(pool, first_seat=0)
    env.reset(seed=1)
    rewards = []
    terminated = False
    while not terminated:
        col = 0 if env.action_masks()[0] else int(np.flatnonzero(env.action_masks())[0])
        _, reward, terminated, _, info = env.step(col)
        rewards.append(reward)
    assert rewards[-1] == -1.0 and set(rewards[:-1]) <= {0.0}
    assert env.board.winner == 1 and info["outcome"] == "loss"


def test_an_illegal_action_raises_instead_of_being_replaced():
    env = SelfPlayEnv(OpponentPool(anchors=[RandomBot()]), first_seat=0)
    env.reset(seed=0)
    env.board = Board()
    for _ in range(6):
        env.board.play(2)
    assert not env.action_masks()[2]
    with pytest.raises(ValueError, match="column 2 is not a legal move"):
        env.step(2)


def _positions(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        board = Board()
        for _ in range(int(rng.integers(0, 40))):
            legal = board.legal_moves()
            if board.over or not legal:
                break
            board.play(int(rng.choice(legal)) if rng.random() < 0.6 else legal[0])  # column 0 fills up first
        if not board.over:
            out.append(board)
    return out


@pytest.mark.slow
def test_masked_maskableppo_never_plays_an_illegal_move():
    from sb3_contrib import MaskablePPO

    env = SelfPlayEnv(OpponentPool(), first_seat=0)
    model = MaskablePPO("MlpPolicy", env, seed=0, device="cpu", n_steps=64, batch_size=64, n_epochs=2)
    model.learn(64)  # one update, so the weights are not only the initial ones
    positions = _positions(2000, seed=1)
    obs = np.stack([b.planes() for b in positions])
    masks = np.stack([b.legal_mask() for b in positions])
    for _ in range(3):  # sampled moves: three draws per position, then the most probable move
        for deterministic in (False, False, True):
            actions, _ = model.predict(obs, action_masks=masks, deterministic=deterministic)
            assert masks[np.arange(len(positions)), actions].all(), np.flatnonzero(
                ~masks[np.arange(len(positions)), actions]
            )
    # one position at a time too, as a server calls it
    for board in positions[:200]:
        action, _ = model.predict(board.planes(), action_masks=board.legal_mask())
        assert board.can_play(int(action))
    # the positions do exercise the mask: without it the same policy picks full columns
    assert (~masks).any(axis=1).sum() > 600
    unmasked, _ = model.predict(obs, deterministic=False)
    assert (~masks[np.arange(len(positions)), unmasked]).sum() > 20


def test_the_vectorised_env_hands_maskableppo_the_boards_masks():
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    pool = OpponentPool()
    venv = DummyVecEnv([lambda i=i: Monitor(SelfPlayEnv(pool, first_seat=i % 2)) for i in range(3)])
    venv.seed(0)
    venv.reset()
    for _ in range(30):
        masks = get_action_masks(venv)
        boards = [e.unwrapped.board for e in venv.envs]
        np.testing.assert_array_equal(masks, np.stack([b.legal_mask() for b in boards]))
        rng = np.random.default_rng(0)
        venv.step(np.array([rng.choice(np.flatnonzero(m)) for m in masks]))


def test_pool_draws_anchors_by_weight():
    """anchor_weights splits the anchor episodes: 0.8 of them against one-ply here, not half."""
    pool = OpponentPool(anchors=[RandomBot(), OnePlyBot()], anchor_share=1.0, anchor_weights=(0.2, 0.8))
    rng = np.random.default_rng(0)
    draws = [type(pool.draw(rng)).__name__ for _ in range(4000)]
    assert abs(draws.count("OnePlyBot") / 4000 - 0.8) < 0.03
    even = OpponentPool(anchors=[RandomBot(), OnePlyBot()], anchor_share=1.0)
    draws = [type(even.draw(rng)).__name__ for _ in range(4000)]
    assert abs(draws.count("OnePlyBot") / 4000 - 0.5) < 0.03
    with pytest.raises(ValueError, match="anchor_weights"):
        OpponentPool(anchors=[RandomBot(), OnePlyBot()], anchor_weights=(1.0,))
