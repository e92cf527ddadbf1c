"""The fast board agrees move for move with PettingZoo's connect_four_v3, the reference for the rules."""

import numpy as np
import pytest
from pettingzoo.classic import connect_four_v3

from agents.selfplay.board import Board


def _pz_step_all(env, board, rng, bias_col=None):
    """Play one random game on both; compare everything PettingZoo exposes after every move."""
    env.reset(seed=int(rng.integers(1 << 30)))
    board_seq: list[int] = []
    while True:
        mover = env.agent_selection
        obs, _, terminated, truncated, _ = env.last()
        if terminated or truncated:
            break
        seat = env.possible_agents.index(mover)
        assert board.to_move == seat
        np.testing.assert_array_equal(obs["observation"], board.planes())
        np.testing.assert_array_equal(obs["action_mask"].astype(bool), board.legal_mask())
        np.testing.assert_array_equal(np.array(env.unwrapped.board).reshape(6, 7), board.grid)
        legal = np.flatnonzero(obs["action_mask"])
        # a bias towards one column fills columns up, so full-column masks are exercised too
        col = bias_col if bias_col in legal and rng.random() < 0.5 else int(rng.choice(legal))
        board_seq.append(col)
        env.step(col)
        board.play(col)
        assert board.over == all(env.terminations.values())
    rewards = {a: env.rewards[a] for a in env.possible_agents}
    expected = {-1: (0, 0), 0: (1, -1), 1: (-1, 1)}[board.winner]
    assert (rewards["player_0"], rewards["player_1"]) == expected, (board_seq, rewards, board.winner)
    assert not board.legal_mask().any()
    return board.winner


@pytest.mark.parametrize("games", [50, pytest.param(500, marks=pytest.mark.slow)])
def test_agrees_with_pettingzoo_on_many_random_games(games):
    env = connect_four_v3.env()
    rng = np.random.default_rng(games)
    outcomes = [_pz_step_all(env, Board(), rng, bias_col=int(rng.integers(7))) for _ in range(games)]
    # the random games reach every kind of ending
    assert {0, 1} <= set(outcomes), outcomes
    env.close()


def test_agrees_on_draws():
    # a known full-board draw: columns filled in this order with no four anywhere
    draw = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 3, 2, 4, 5, 4, 5, 4, 5, 5, 4, 5, 4]
    draw += [5, 4, 6, 6, 6, 6, 6, 6]
    env = connect_four_v3.env()
    env.reset()
    board = Board()
    for col in draw:
        env.step(col)
        board.play(col)
    assert board.over and board.winner == -1 and board.moves == 42
    assert all(env.terminations.values()) and env.rewards == {"player_0": 0, "player_1": 0}


def test_illegal_moves_are_refused_and_leave_the_board_unchanged():
    board = Board()
    for _ in range(6):
        board.play(3)
    before = board.copy()
    for col in (3, -1, 7):
        with pytest.raises(ValueError, match=f"column {col} is not a legal move"):
            board.play(col)
    assert (board.current, board.mask, board.moves) == (before.current, before.mask, before.moves)
    np.testing.assert_array_equal(board.grid, before.grid)


def test_from_grid_round_trips_and_refuses_unreachable_grids():
    rng = np.random.default_rng(5)
    for _ in range(50):
        board = Board()
        for _ in range(int(rng.integers(0, 30))):
            if board.over:
                break
            board.play(int(rng.choice(board.legal_moves())))
        again = Board.from_grid(board.grid)
        assert (again.current, again.mask, again.moves, again.winner) == (
            board.current,
            board.mask,
            board.moves,
            board.winner,
        )
    floating = np.zeros((6, 7), int)
    floating[0, 0] = 1
    with pytest.raises(ValueError, match="column 1 has a stone above an empty cell"):
        Board.from_grid(floating)
    too_many = np.zeros((6, 7), int)
    too_many[5, :2] = 1
    with pytest.raises(ValueError, match="player_0 has 2 stones and player_1 0"):
        Board.from_grid(too_many)
    with pytest.raises(ValueError, match="a board is 6x7"):
        Board.from_grid(np.zeros((7, 6), int))
    with pytest.raises(ValueError, match="a board is 6x7"):
        Board.from_grid(np.full((6, 7), 3))
