"""Two-player Pong: the agent's eye equals SB3's wrappers on the same frames, the agent decides every 4 frames
and the person every frame, a match replays exactly from its seed and the person's actions, a match ends at 21."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.atari_wrappers import MaxAndSkipEnv, WarpFrame

from agents.bundle import Bundle
from agents.play.pong_duel import (
    AGENT,
    DOWN,
    FIRE,
    FRAME_SKIP,
    LEFT_PADDLE_RGB,
    NOOP,
    PERSON,
    UP,
    AgentEye,
    PongDuel,
    Tracker,
    bots,
    play_bot,
    replay,
    rle,
    unrle,
)
from envs import get_spec
from envs.make import FrameStackLast, _register_ale


class FixedPolicy:
    """Always the same action distribution; it counts the observations it was shown."""

    def __init__(self, action: int = NOOP):
        self.action = action
        self.seen: list[np.ndarray] = []

    def forward_info(self, obs):
        self.seen.append(obs.copy())
        p = np.zeros((1, 6))
        p[0, self.action] = 1.0
        return {"probs": p}

    def predict(self, obs, deterministic=True):
        self.seen.append(obs.copy())
        return np.array([self.action])


def test_the_agents_eye_equals_sb3s_wrappers_on_the_same_frames():
    """MaxAndSkipEnv(4) + WarpFrame(84) + FrameStackLast(4), the eval pipeline's observation part, against
    AgentEye fed the raw frames of an identical env driven with the same actions."""
    _register_ale()
    kwargs = get_spec("pong").env_kwargs
    sb3 = FrameStackLast(WarpFrame(MaxAndSkipEnv(gym.make("ALE/Pong-v5", **kwargs), FRAME_SKIP)), 4)
    raw = gym.make("ALE/Pong-v5", **kwargs)
    expected, _ = sb3.reset(seed=11)
    frame, _ = raw.reset(seed=11)
    eye = AgentEye(4)
    assert np.array_equal(eye.reset(frame), expected)
    rng = np.random.default_rng(0)
    for _ in range(150):  # 600 frames: the ball in play, points scored
        action = int(rng.integers(6))
        expected, *_ = sb3.step(action)
        frames = [raw.step(action)[0] for _ in range(FRAME_SKIP)]
        assert np.array_equal(eye.block(frames[-2], frames[-1]), expected)
    assert expected.shape == (84, 84, 4) and expected[..., 0].any()


def test_the_agent_decides_every_fourth_frame_and_the_person_every_frame():
    policy = FixedPolicy(UP)
    duel = PongDuel(policy, seed=3)
    try:
        for i in range(41):
            duel.step(DOWN if i % 2 else NOOP)
        assert len(policy.seen) == len(duel.agent_actions) == 11  # frames 0, 4, …, 40
        assert duel.person_actions == [DOWN if i % 2 else NOOP for i in range(41)]
        assert duel.agent_actions == [UP] * 11
        assert policy.seen[0][..., :3].max() == 0 and policy.seen[0][..., 3].any()  # zero-filled after reset
        assert not np.array_equal(policy.seen[1], policy.seen[2])  # a new block image each decision
        with pytest.raises(ValueError, match="not one of 0-5"):
            duel.step(6)
    finally:
        duel.close()


@pytest.mark.slow
def test_a_tracker_beats_a_still_paddle_to_21_and_the_match_ends():
    result = play_bot(FixedPolicy(NOOP), Tracker("t", delay=0, dead_band=2.0), seed=5)
    assert result.done and result.person_points == 21 and result.agent_points < 21
    assert result.winner == "person"
    assert len(unrle(result.person_actions)) == result.frames


@pytest.mark.shipped
@pytest.mark.slow
def test_the_agents_side_replays_exactly_from_the_seed_and_the_persons_actions():
    """The shipped agent against random keys for 1,200 frames, then re-simulated from the record: the same
    agent actions (recomputed, not read) and the same score."""
    policy = Bundle.shipped("pong").policy()
    rng = np.random.default_rng(7)
    person = [int(a) for a in rng.integers(0, 6, size=1200)]
    duel = replay(policy, 9, person)
    record = duel.result()
    again = replay(policy, record.seed, unrle(record.person_actions))
    assert rle(again.agent_actions) == record.agent_actions and len(again.agent_actions) == 300
    assert (again.agent_points, again.person_points) == (record.agent_points, record.person_points)
    assert record.agent_points + record.person_points > 0  # points were played, not only the serve
    other = replay(policy, 10, person)  # another seed: another agent stream
    assert rle(other.agent_actions) != record.agent_actions


def test_rle_round_trips_and_refuses_what_is_not_an_action_run():
    actions = [0, 0, 0, 2, 2, 5, 1, 1]
    assert rle(actions) == "0*3 2*2 5*1 1*2" and unrle(rle(actions)) == actions
    assert rle([]) == "" and unrle("") == []
    for bad in ("7*2", "a*1", "2*", "2*-1", "2x3"):
        with pytest.raises(ValueError, match="not an action run"):
            unrle(bad)
    with pytest.raises(ValueError, match="more than 5"):
        unrle("1*6", limit=5)


def screen_with(ball_row: int | None, paddle_row: int) -> np.ndarray:
    screen = np.zeros((210, 160, 3), np.uint8)
    screen[paddle_row - 8 : paddle_row + 8, 16:20] = LEFT_PADDLE_RGB
    if ball_row is not None:
        screen[ball_row : ball_row + 4, 80:82] = 236
    return screen


def test_the_tracker_moves_toward_where_the_ball_was_and_serves():
    bot = Tracker("t", delay=2, dead_band=4.0)
    bot.reset(0)
    assert bot.act(screen_with(None, 100)) == FIRE  # no ball in play: serve
    assert bot.act(screen_with(50, 100)) == FIRE  # it still sees the ball as it was two frames ago
    assert bot.act(screen_with(150, 100)) == FIRE
    assert bot.act(screen_with(150, 100)) == UP  # the ball two frames ago was at row ~51
    assert bot.act(screen_with(150, 100)) == DOWN
    perfect = bots()["perfect-tracker"]()
    perfect.reset(0)
    assert perfect.act(screen_with(99, 100)) == NOOP  # within the dead band


def test_the_sides_are_the_right_and_left_paddles():
    assert (AGENT, PERSON) == ("first_0", "second_0")
    assert set(bots()) == {"random", "tracker-200ms", "perfect-tracker"}


@pytest.mark.shipped
@pytest.mark.slow
def test_matches_stepped_together_play_as_one_at_a_time():
    """The evidence batches the agent's forward passes across matches: the same matches, action for action."""
    from agents.play.pong_duel import play_bots

    policy = Bundle.shipped("pong").policy()
    together = play_bots(policy, bots()["tracker-200ms"], [3, 4], max_frames=400)
    alone = [play_bot(policy, bots()["tracker-200ms"](), seed, max_frames=400) for seed in (3, 4)]
    assert [r.agent_actions for r in together] == [r.agent_actions for r in alone]
    assert [(r.agent_points, r.person_points, r.frames) for r in together] == [
        (r.agent_points, r.person_points, r.frames) for r in alone
    ]
