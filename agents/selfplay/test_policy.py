"""The NumPy policy and the agent API equal the trained MaskablePPO policy, load without unpickling, refuse bad
files, and only ever pick legal columns."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.selfplay.agent import ConnectFourAgent, Decision, board_from_moves
from agents.selfplay.board import Board
from agents.selfplay.env import OpponentPool
from agents.selfplay.policy import NumpyPolicy, PolicyFileError
from agents.selfplay.train import SelfPlayOptions, make_model

pytestmark = pytest.mark.slow  # builds a MaskablePPO model (~5 s here)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    opts = SelfPlayOptions(seed=3, out=tmp_path_factory.mktemp("run"), n_envs=2, n_steps=32, batch_size=64)
    m = make_model(opts, OpponentPool())
    m.learn(64)  # one update: weights that are not the initial ones
    return m


def _positions(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        board = Board()
        for _ in range(int(rng.integers(0, 40))):
            if board.over:
                break
            legal = board.legal_moves()
            board.play(legal[0] if rng.random() < 0.4 else int(rng.choice(legal)))
        if not board.over:
            out.append(board)
    return out


def test_numpy_policy_equals_the_torch_policy(model):
    policy = NumpyPolicy.from_sb3(model.policy)
    boards = _positions(300, seed=0)
    obs = np.stack([b.planes() for b in boards])
    masks = np.stack([b.legal_mask() for b in boards])
    with torch.no_grad():
        t_obs, _ = model.policy.obs_to_tensor(obs)
        dist = model.policy.get_distribution(t_obs, action_masks=masks)
        t_probs = dist.distribution.probs.numpy()
        t_values = model.policy.predict_values(t_obs).numpy()[:, 0]
    np.testing.assert_allclose(policy.probabilities(obs, masks), t_probs, atol=1e-5)
    np.testing.assert_allclose(policy.value(obs), t_values, atol=1e-5)
    actions, _ = model.predict(obs, action_masks=masks, deterministic=True)
    np.testing.assert_array_equal(np.argmax(policy.probabilities(obs, masks), axis=1), actions)


def test_agent_api_saves_loads_and_decides_like_maskableppo(model, tmp_path):
    NumpyPolicy.from_sb3(model.policy).save(tmp_path / "agent", {"name": "test agent"})
    agent = ConnectFourAgent.load(tmp_path / "agent.json")
    assert agent.name == "test agent"
    for board in _positions(200, seed=1):
        d = agent.decide(board)
        assert isinstance(d, Decision) and board.can_play(d.column)
        probs = np.array(d.probabilities)
        assert probs.shape == (7,) and abs(probs.sum() - 1) < 1e-6
        assert (probs[~board.legal_mask()] == 0).all()
        action, _ = model.predict(board.planes(), action_masks=board.legal_mask(), deterministic=True)
        assert d.column == int(action)
        with torch.no_grad():
            v = model.policy.predict_values(model.policy.obs_to_tensor(board.planes())[0]).item()
        assert d.value == pytest.approx(v, abs=1e-5)
        # a grid in PettingZoo's layout is the same position
        assert agent.decide(board.grid).column == d.column
        sampled = agent.decide(board, deterministic=False, rng=np.random.default_rng(0))
        assert board.can_play(sampled.column)


def test_a_sampling_snapshot_only_plays_legal_columns_with_the_policys_frequencies(model):
    from agents.selfplay.policy import PolicyOpponent

    policy = NumpyPolicy.from_sb3(model.policy)
    snapshot = PolicyOpponent(policy, "snapshot")
    rng = np.random.default_rng(0)
    for board in _positions(300, seed=2):
        assert board.can_play(snapshot.move(board, rng))
    board = board_from_moves([0] * 6 + [1] * 6)  # two full columns
    probs = policy.probabilities(board.planes(), board.legal_mask())[0]
    counts = np.bincount([snapshot.move(board, rng) for _ in range(4000)], minlength=7) / 4000
    assert counts[0] == counts[1] == 0
    np.testing.assert_allclose(counts, probs, atol=0.03)


def test_board_from_moves_and_decide_refuse_bad_positions(model, tmp_path):
    agent = ConnectFourAgent(NumpyPolicy.from_sb3(model.policy))
    assert board_from_moves([3, 3, 2]).moves == 3
    with pytest.raises(ValueError, match=r"move 7 \(3\) is not a legal column"):
        board_from_moves([3] * 7)
    with pytest.raises(ValueError, match=r"move 1 \('3'\) is not a legal column"):
        board_from_moves(["3"])
    with pytest.raises(ValueError, match="43 moves: a game has at most 42"):
        board_from_moves([0] * 43)
    won = board_from_moves([0, 1, 0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match="the game is over"):
        agent.decide(won)
    with pytest.raises(ValueError, match="stone above an empty cell"):
        agent.decide(np.eye(6, 7, dtype=int))


def test_load_refuses_files_that_are_not_this_format(model, tmp_path):
    policy = NumpyPolicy.from_sb3(model.policy)
    policy.save(tmp_path / "a")
    info = json.loads((tmp_path / "a.json").read_text())

    def broken(name, change):
        from safetensors.numpy import load_file, save_file

        (tmp_path / f"{name}.json").write_text(json.dumps({**info, **change.get("json", {})}))
        tensors = load_file(str(tmp_path / "a.safetensors"))
        tensors.update(change.get("tensors", {}))
        for key in change.get("drop", ()):
            del tensors[key]
        save_file(tensors, str(tmp_path / f"{name}.safetensors"))
        return Path(tmp_path / name)

    cases = {
        "format": ({"json": {"format": "pickle"}}, "is not a connect-four-mlp/1 policy file"),
        "activation": ({"json": {"activation": "os.system"}}, "activation 'os.system'"),
        "layers": ({"json": {"layers": {"pi": 99, "vf": 3}}}, "pi has 99 layers"),
        "missing": ({"drop": ["vf.0.bias"]}, "vf.0 is missing or has the wrong shape"),
        "nan": ({"tensors": {"pi.0.bias": np.full(256, np.nan, np.float32)}}, "not finite"),
        "shape": (
            {"tensors": {"pi.2.weight": np.zeros((5, 256), np.float32), "pi.2.bias": np.zeros(5, np.float32)}},
            "pi ends with 5 outputs",
        ),
    }
    for name, (change, message) in cases.items():
        with pytest.raises(PolicyFileError, match=message):
            NumpyPolicy.load(broken(name, change))
    (tmp_path / "b.json").write_text("[1, 2")
    with pytest.raises(PolicyFileError):
        NumpyPolicy.load(tmp_path / "b")
    with pytest.raises(PolicyFileError):
        NumpyPolicy.load(tmp_path / "nothing")
