"""The game catalog: every spec makes working envs for every purpose, keymaps cover the action spaces,
Atari specs are wired like the Zoo's NoFrameskip-v4 setup, and envs replay deterministically."""

import itertools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.atari_wrappers import AtariWrapper, ClipRewardEnv, EpisodicLifeEnv

import envs
from envs import GAMES, ContinuousKeyMap, DiscreteKeyMap, get_spec, keymap_covers, make_env
from envs.catalog import game_ids
from envs.make import PURPOSES, FrameStackLast

SLUGS = list(GAMES)
ATARI = [s for s, spec in GAMES.items() if spec.is_atari]
NON_ATARI = [s for s, spec in GAMES.items() if not spec.is_atari]


def _wrappers(env):
    """The env and every env it wraps, outermost first."""
    chain = [env]
    while hasattr(chain[-1], "env"):
        chain.append(chain[-1].env)
    return chain


def _has(env, cls):
    return any(isinstance(e, cls) for e in _wrappers(env))


# --- every game, every purpose --------------------------------------------------------------------


def test_catalog_is_what_the_project_ships():
    assert SLUGS == [
        "cartpole",
        "acrobot",
        "pendulum",
        "lunarlander",
        "lunarlander-continuous",
        "bipedalwalker",
        "pong",
        "breakout",
    ]
    assert all(spec.slug == slug for slug, spec in GAMES.items())
    assert tuple(PURPOSES) == ("train", "eval", "human", "replay", "preview")


@pytest.mark.parametrize("slug", SLUGS)
def test_every_purpose_makes_a_working_env(slug):
    spec = GAMES[slug]
    for purpose in PURPOSES:
        env = make_env(spec, purpose)
        try:
            obs, info = env.reset(seed=123)
            assert isinstance(info, dict)
            assert env.observation_space.contains(obs), (purpose, obs)
            env.action_space.seed(0)
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs), (purpose, obs)
            assert np.isfinite(float(reward))
            assert isinstance(terminated, bool) and isinstance(truncated, bool)
            if purpose in ("human", "replay", "preview"):
                frame = env.render()
                assert isinstance(frame, np.ndarray), purpose
                assert frame.ndim == 3 and frame.shape[2] == 3 and frame.shape[0] > 0 and frame.shape[1] > 0
                assert frame.dtype == np.uint8
                assert frame.any(), "a rendered frame is not all black"
            else:
                assert env.render_mode is None, f"{purpose} envs do not render"
        finally:
            env.close()


def test_make_env_accepts_a_slug_and_rejects_an_unknown_purpose():
    env = make_env("cartpole", "eval")
    try:
        assert env.spec.id == "CartPole-v1"
    finally:
        env.close()
    with pytest.raises(ValueError, match="unknown purpose 'play'"):
        make_env("cartpole", "play")


# --- Atari wiring ---------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", ATARI)
def test_atari_spec_does_not_skip_or_repeat_in_ale(slug):
    spec = GAMES[slug]
    assert spec.env_kwargs["frameskip"] == 1
    assert spec.env_kwargs["repeat_action_probability"] == 0.0
    assert spec.frame_stack == 4
    # and the ALE env that make_env builds really runs with those settings
    for purpose in ("train", "eval"):
        env = make_env(spec, purpose)
        try:
            ale_env = env.unwrapped
            assert ale_env._frameskip == 1
            assert ale_env.ale.getFloat("repeat_action_probability") == 0.0
            assert _has(env, AtariWrapper) and isinstance(env, FrameStackLast)
        finally:
            env.close()


@pytest.mark.parametrize("slug", ATARI)
@pytest.mark.parametrize("purpose", [p for p in PURPOSES if p != "preview"])
def test_atari_observation_is_four_stacked_84x84_frames(slug, purpose):
    env = make_env(slug, purpose)
    try:
        assert env.observation_space.shape == (84, 84, 4)
        assert env.observation_space.dtype == np.uint8
        obs, _ = env.reset(seed=0)
        assert obs.shape == (84, 84, 4) and obs.dtype == np.uint8
    finally:
        env.close()


class _InjectReward(gym.Wrapper):
    """Placed right above the ALE env: every emulator frame pays ``reward``."""

    def __init__(self, env, reward):
        super().__init__(env)
        self._reward = reward

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        return obs, self._reward, terminated, truncated, info


def _inject_below_skip(env, reward):
    """Insert _InjectReward under NoopResetEnv (the innermost AtariWrapper piece)."""
    chain = _wrappers(env)
    for outer, inner in itertools.pairwise(chain):
        if type(outer).__name__ == "NoopResetEnv":
            outer.env = _InjectReward(inner, reward)
            return
    raise AssertionError(f"no NoopResetEnv in {[type(e).__name__ for e in chain]}")


@pytest.mark.parametrize("slug", ATARI)
def test_atari_train_env_clips_rewards_and_eval_env_does_not(slug):
    train_env, eval_env = make_env(slug, "train"), make_env(slug, "eval")
    try:
        assert _has(train_env, ClipRewardEnv)
        for purpose in ("eval", "human", "replay"):
            env = eval_env if purpose == "eval" else make_env(slug, purpose)
            assert not _has(env, ClipRewardEnv), purpose
            assert not _has(env, EpisodicLifeEnv), purpose
            if env is not eval_env:
                env.close()
        # behaviour, not only wrapper names: 4 skipped frames paying 7 each make 28, which training clips
        for env in (train_env, eval_env):
            env.reset(seed=0)
            _inject_below_skip(env, 7.0)
        _, train_reward, *_ = train_env.step(0)
        _, eval_reward, *_ = eval_env.step(0)
        assert train_reward == 1.0
        assert eval_reward == 28.0
    finally:
        train_env.close()
        eval_env.close()


def test_breakout_train_episode_ends_on_life_loss_eval_episode_does_not():
    results = {}
    for purpose in ("train", "eval"):
        env = make_env("breakout", purpose)
        try:
            env.reset(seed=0)
            ale = env.unwrapped.ale
            lives0 = ale.lives()
            for _ in range(2000):
                _, _, terminated, truncated, _ = env.step(0)  # NOOP: the launched ball gets past the paddle
                if terminated or truncated or ale.lives() < lives0:
                    break
            results[purpose] = (lives0, ale.lives(), terminated, truncated)
        finally:
            env.close()
    assert results["train"] == (5, 4, True, False)
    assert results["eval"] == (5, 4, False, False)


# --- FrameStackLast -------------------------------------------------------------------------------


class _CountingImages(gym.Env):
    """2x2x1 uint8 frames filled with 1, 2, 3, ... (reset restarts at 1)."""

    observation_space = spaces.Box(0, 255, (2, 2, 1), np.uint8)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 1
        return self._frame(), {}

    def step(self, action):
        self.t += 1
        return self._frame(), 0.0, False, False, {}

    def _frame(self):
        return np.full((2, 2, 1), self.t, dtype=np.uint8)


def _channels(obs):
    """The value of each stacked frame (each is constant)."""
    assert (obs == obs[:1, :1, :]).all()
    return obs[0, 0, :].tolist()


def test_frame_stack_last_zero_fills_after_reset_and_shifts_on_step():
    env = FrameStackLast(_CountingImages(), 4)
    assert env.observation_space.shape == (2, 2, 4) and env.observation_space.dtype == np.uint8
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 2, 4)
    assert _channels(obs) == [0, 0, 0, 1]
    obs, *_ = env.step(0)
    assert _channels(obs) == [0, 0, 1, 2]
    for _ in range(3):
        obs, *_ = env.step(0)
    assert _channels(obs) == [2, 3, 4, 5]
    assert env.observation_space.contains(obs)
    obs, _ = env.reset()
    assert _channels(obs) == [0, 0, 0, 1], "a reset forgets the previous episode's frames"


class _Recording(gym.Wrapper):
    """Remembers the last observation its env returned."""

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.last = obs
        return obs, info

    def step(self, action):
        out = self.env.step(action)
        self.last = out[0]
        return out


def test_frame_stack_last_on_pong():
    env = make_env("pong", "eval")
    try:
        assert isinstance(env, FrameStackLast)
        env.env = rec = _Recording(env.env)
        obs, _ = env.reset(seed=0)
        assert rec.last.shape == (84, 84, 1)
        assert not obs[..., :3].any()
        assert np.array_equal(obs[..., 3], rec.last[..., 0]) and obs[..., 3].any()
        first = rec.last[..., 0].copy()
        obs, *_ = env.step(0)
        assert not obs[..., :2].any()
        assert np.array_equal(obs[..., 2], first)
        assert np.array_equal(obs[..., 3], rec.last[..., 0])
    finally:
        env.close()


# --- keymaps --------------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_keymap_covers_the_action_space(slug):
    spec = GAMES[slug]
    env = make_env(spec, "human")
    try:
        assert keymap_covers(spec.keymap, env.action_space) == []
        kind = DiscreteKeyMap if isinstance(env.action_space, spaces.Discrete) else ContinuousKeyMap
        assert isinstance(spec.keymap, kind)
    finally:
        env.close()


def test_keymap_covers_reports_a_missing_discrete_action():
    km = DiscreteKeyMap({("ArrowLeft",): 0, ("ArrowRight",): 2}, default=0)
    assert keymap_covers(km, spaces.Discrete(4)) == ["actions [1, 3] have no key"]
    # the Pong map without its DOWN+FIRE combo cannot reach action 5
    pong = GAMES["pong"].keymap
    short = DiscreteKeyMap({c: a for c, a in pong.bindings.items() if a != 5}, default=pong.default)
    assert keymap_covers(short, spaces.Discrete(6)) == ["actions [5] have no key"]


def test_keymap_covers_reports_actions_outside_the_space_and_wrong_kinds():
    km = DiscreteKeyMap({("a",): 0, ("b",): 1, ("c",): 2}, default=0)
    assert keymap_covers(km, spaces.Discrete(2)) == ["keys map to actions [2] outside Discrete(2)"]
    box = spaces.Box(-1.0, 1.0, (1,), np.float32)
    assert keymap_covers(km, box) == [f"continuous action space {box} needs a ContinuousKeyMap"]
    ckm = ContinuousKeyMap({"a": (0, 1.0), "b": (0, -1.0)}, default=(0.0,))
    assert keymap_covers(ckm, spaces.Discrete(2)) == ["discrete action space Discrete(2) needs a DiscreteKeyMap"]


def test_keymap_covers_reports_a_dimension_that_cannot_be_pushed_both_ways():
    box = spaces.Box(-1.0, 1.0, (2,), np.float32)
    ok = ContinuousKeyMap({"a": (0, 1.0), "z": (0, -1.0), "s": (1, 1.0), "x": (1, -1.0)}, default=(0.0, 0.0))
    assert keymap_covers(ok, box) == []
    # dimension 1 only goes up: it can neither be pushed down nor reach its low bound
    one_way = ContinuousKeyMap({"a": (0, 1.0), "z": (0, -1.0), "s": (1, 1.0)}, default=(0.0, 0.0))
    assert keymap_covers(one_way, box) == [
        "dimension 1 cannot be pushed both ways",
        "dimension 1 cannot reach its bounds [-1.0, 1.0]",
    ]
    # both ways, but too weakly to reach the bounds
    weak = ContinuousKeyMap({"a": (0, 0.5), "z": (0, -0.5), "s": (1, 1.0), "x": (1, -1.0)}, default=(0.0, 0.0))
    assert keymap_covers(weak, box) == ["dimension 0 cannot reach its bounds [-1.0, 1.0]"]


def test_discrete_resolve_largest_held_combo_wins():
    pong = GAMES["pong"].keymap
    assert pong.resolve(set()) == pong.default == 0
    assert pong.resolve(["ArrowUp"]) == 2
    assert pong.resolve({" "}) == 1
    assert pong.resolve({"ArrowUp", " "}) == 4
    assert pong.resolve((" ", "ArrowUp")) == 4, "order of keys is irrelevant"
    assert pong.resolve({"ArrowDown", " "}) == 5
    assert pong.resolve({"ArrowUp", " ", "Shift"}) == 4, "unbound keys are ignored"
    assert pong.resolve({"Shift"}) == 0
    acrobot = GAMES["acrobot"].keymap
    assert acrobot.resolve([]) == 1, "nothing held is the map's default, not action 0"
    assert acrobot.resolve(["ArrowRight"]) == 2


def test_continuous_resolve_clips_to_bounds_and_opposite_keys_cancel():
    spec = GAMES["lunarlander-continuous"]
    env = make_env(spec, "human")
    try:
        low, high = env.action_space.low, env.action_space.high
    finally:
        env.close()
    km = spec.keymap
    np.testing.assert_array_equal(km.resolve(set(), low, high), [-1.0, 0.0])
    np.testing.assert_array_equal(km.resolve({"ArrowUp"}, low, high), [1.0, 0.0])  # -1 + 2
    np.testing.assert_array_equal(km.resolve({"ArrowDown"}, low, high), [-1.0, 0.0])  # -1 - 1, clipped
    np.testing.assert_array_equal(km.resolve({"ArrowDown"}), [-2.0, 0.0])  # no bounds: no clipping
    np.testing.assert_array_equal(km.resolve({"ArrowLeft", "ArrowRight"}, low, high), [-1.0, 0.0])
    np.testing.assert_array_equal(km.resolve({"ArrowUp", "ArrowRight"}, low, high), [1.0, 1.0])
    assert km.resolve({"ArrowUp"}, low, high).dtype == np.float32
    pendulum = GAMES["pendulum"].keymap
    np.testing.assert_array_equal(pendulum.resolve({"ArrowLeft", "ArrowRight"}, -2.0, 2.0), [0.0])
    np.testing.assert_array_equal(pendulum.resolve({"ArrowLeft"}, -2.0, 2.0), [-2.0])
    strong = ContinuousKeyMap({"a": (0, 5.0), "b": (0, -5.0)}, default=(0.0,))
    np.testing.assert_array_equal(strong.resolve({"a"}, np.float32([-1]), np.float32([1])), [1.0])
    np.testing.assert_array_equal(strong.resolve({"b"}, np.float32([-1]), np.float32([1])), [-1.0])
    np.testing.assert_array_equal(strong.resolve({"a", "b"}, np.float32([-1]), np.float32([1])), [0.0])


def test_keymap_legends_name_every_binding():
    for spec in GAMES.values():
        rows = spec.keymap.legend()
        assert len(rows) >= len(spec.keymap.bindings)
        assert all(keys and what for keys, what in rows)
    assert ("↑ + Space", "UP+FIRE") in GAMES["pong"].keymap.legend()


# --- get_spec -------------------------------------------------------------------------------------


def test_get_spec_unknown_slug_lists_known_games():
    with pytest.raises(envs.UnknownGameError) as info:
        get_spec("nope")
    message = str(info.value)
    assert "unknown game 'nope'" in message
    for slug in SLUGS:
        assert slug in message
    assert isinstance(info.value, envs.PlaygroundError) and isinstance(info.value, KeyError)


def test_get_spec_suggests_the_closest_slug():
    with pytest.raises(envs.UnknownGameError, match="Did you mean 'cartpole'"):
        get_spec("cartpol")


def test_get_spec_by_env_id():
    assert get_spec("CartPole-v1") is GAMES["cartpole"]
    assert get_spec("ALE/Pong-v5") is GAMES["pong"]
    # the discrete game owns the env id; the continuous one answers to the id gymnasium registers for it
    assert get_spec("LunarLander-v3") is GAMES["lunarlander"]
    assert get_spec("LunarLanderContinuous-v3") is GAMES["lunarlander-continuous"]
    assert get_spec("lunarlander-continuous").env_kwargs == {"continuous": True}
    # the Zoo's Atari ids
    assert get_spec("PongNoFrameskip-v4") is GAMES["pong"]
    assert get_spec("BreakoutNoFrameskip-v4") is GAMES["breakout"]


def _registered_as(env_id, kwargs):
    """What gymnasium makes for ``gym.make(env_id, **kwargs)``: entry point, keyword arguments, step limit."""
    entry = gym.spec(env_id)
    return entry.entry_point, {**entry.kwargs, **kwargs}, entry.max_episode_steps


def test_aliases_are_every_other_registered_id_of_the_same_game():
    """A spec's aliases are exactly the registry's other ids that make the same env (same entry point,
    kwargs and step limit), so an id a Zoo user types maps to the game it names, and only to it."""
    import ale_py

    gym.register_envs(ale_py)  # the Atari ids, as make_env registers them
    made = {}
    for spec in GAMES.values():
        made[spec.slug] = _registered_as(spec.env_id, spec.env_kwargs)
        same = {i for i, e in gym.registry.items() if (e.entry_point, e.kwargs, e.max_episode_steps) == made[spec.slug]}
        assert set(spec.aliases) == same - {spec.env_id}, spec.slug
    assert made["lunarlander-continuous"] == _registered_as("LunarLanderContinuous-v3", {})
    assert made["pong"] == _registered_as("PongNoFrameskip-v4", {})


def test_every_game_id_names_one_game():
    names = [n for spec in GAMES.values() for n in (spec.slug, *game_ids(spec))]
    assert len(names) == len(set(names))
    for spec in GAMES.values():
        assert all(get_spec(n) is spec for n in (spec.slug, *game_ids(spec)))


def test_unknown_name_lists_slugs_and_ids():
    with pytest.raises(envs.UnknownGameError) as info:
        get_spec("ALE/Pacman-v5")
    message = str(info.value)
    assert "unknown game 'ALE/Pacman-v5'" in message
    for spec in GAMES.values():
        assert f"{spec.slug} ({', '.join(game_ids(spec))})" in message
    assert "lunarlander-continuous (LunarLanderContinuous-v3)" in message


# --- determinism ----------------------------------------------------------------------------------


def _play(slug, purpose, seed, steps):
    """Rewards and observations of ``steps`` random actions from a seeded numpy RNG."""
    env = make_env(slug, purpose)
    rng = np.random.default_rng(seed)
    rewards, observations, ends = [], [], []
    try:
        obs, _ = env.reset(seed=seed)
        observations.append(obs)
        space = env.action_space
        for i in range(steps):
            if isinstance(space, spaces.Discrete):
                action = int(rng.integers(space.n))
            else:
                action = rng.uniform(space.low, space.high).astype(space.dtype)
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(float(reward))
            observations.append(obs)
            if terminated or truncated:
                ends.append(i)
                obs, _ = env.reset()
                observations.append(obs)
    finally:
        env.close()
    return rewards, observations, ends


@pytest.mark.parametrize("slug", [*NON_ATARI, "pong"])
def test_same_seed_and_actions_replay_identically(slug):
    steps = 200
    a_rewards, a_obs, a_ends = _play(slug, "eval", seed=42, steps=steps)
    b_rewards, b_obs, b_ends = _play(slug, "eval", seed=42, steps=steps)
    c_rewards, c_obs, c_ends = _play(slug, "replay", seed=42, steps=steps)  # rendering changes nothing
    assert len(a_rewards) == steps
    assert a_rewards == b_rewards == c_rewards
    assert a_ends == b_ends == c_ends
    assert len(a_obs) == len(b_obs) == len(c_obs)
    for x, y, z in zip(a_obs, b_obs, c_obs, strict=True):
        assert np.array_equal(x, y) and np.array_equal(x, z)
    # and the test has teeth: another seed gives another trajectory
    d_rewards, d_obs, _ = _play(slug, "eval", seed=43, steps=steps)
    assert (
        d_rewards != a_rewards
        or len(d_obs) != len(a_obs)
        or not all(np.array_equal(x, y) for x, y in zip(a_obs, d_obs, strict=True))
    )


def test_preview_is_the_bare_game_for_a_still_picture():
    env = make_env("pong", "preview")
    try:
        assert env.observation_space.shape == (210, 160, 3)  # no AtariWrapper, no frame stack
        env.reset(seed=0)
        assert env.render().shape == (210, 160, 3)
    finally:
        env.close()


# --- two-player games -----------------------------------------------------------------------------

TWO_PLAYER = list(envs.catalog.TWO_PLAYER_GAMES)


def test_two_player_games_are_apart_from_the_single_player_ones():
    from envs.catalog import TWO_PLAYER_GAMES

    assert TWO_PLAYER[0] == "connect-four"
    assert not set(TWO_PLAYER_GAMES) & set(GAMES)
    assert all(spec.players == 1 and spec.seats == () and not spec.is_two_player for spec in GAMES.values())
    for slug, spec in TWO_PLAYER_GAMES.items():
        assert spec.slug == slug and spec.is_two_player and len(spec.seats) == 2
        assert {bar.seat for bar in spec.match_bars} <= set(spec.seats)


@pytest.mark.parametrize("slug", TWO_PLAYER)
def test_two_player_every_purpose_makes_a_working_env(slug):
    from envs.match import make_match_env

    spec = envs.catalog.get_two_player_spec(slug)
    for purpose in PURPOSES:
        env = make_match_env(spec, purpose)
        try:
            env.reset(seed=123)
            assert env.possible_agents == list(spec.seats)
            assert env.agent_selection == spec.seats[0], "seats[0] moves first"
            rng = np.random.default_rng(0)
            for _ in range(6):  # legal moves (from the action mask, if the game has one), seats alternating
                mover = env.agent_selection
                obs, _, terminated, truncated, _ = env.last()
                assert env.observation_space(mover).contains(obs)
                assert not (terminated or truncated)
                legal = (
                    np.flatnonzero(obs["action_mask"]) if isinstance(obs, dict) else range(env.action_space(mover).n)
                )
                env.step(int(rng.choice(legal)))
                assert env.agent_selection != mover
            assert keymap_covers(spec.keymap, env.action_space(spec.seats[0])) == []
            if purpose in ("human", "replay", "preview"):
                frame = env.render()
                assert isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3
                assert frame.dtype == np.uint8 and frame.any()
            else:
                assert env.unwrapped.render_mode is None, f"{purpose} envs do not render"
        finally:
            env.close()


def test_a_two_player_game_is_refused_by_the_single_player_lookup_with_a_pointer():
    with pytest.raises(envs.UnknownGameError, match="'connect-four' is a two-player game.*playground selfplay"):
        get_spec("connect-four")
    assert envs.catalog.get_two_player_spec("connect_four_v3").slug == "connect-four"
    with pytest.raises(envs.UnknownGameError, match="unknown two-player game 'chess'.*connect-four"):
        envs.catalog.get_two_player_spec("chess")
    with pytest.raises(ValueError, match="cartpole is a single-player game"):
        from envs.match import make_match_env

        make_match_env(GAMES["cartpole"], "eval")
