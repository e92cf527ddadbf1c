"""The test opponents: one-ply and negamax win in 1, block, negamax wins in 3 plies, alpha-beta equals plain
minimax, and no bot ever picks an illegal column."""

import numpy as np
import pytest

from agents.selfplay.board import _BOTTOM, ROWS, Board
from agents.selfplay.bots import WIN, NegamaxBot, OnePlyBot, RandomBot, _heuristic, make_bot


def _board(moves):
    board = Board()
    for col in moves:
        board.play(col)
    return board


def _random_positions(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        board = Board()
        for _ in range(int(rng.integers(0, 36))):
            if board.over:
                break
            # a bias towards column 3 fills it, so positions with full columns come up
            legal = board.legal_moves()
            board.play(3 if 3 in legal and rng.random() < 0.3 else int(rng.choice(legal)))
        if not board.over:
            out.append(board)
    return out


BOTS = [OnePlyBot(), NegamaxBot(1), NegamaxBot(2), NegamaxBot(4)]


@pytest.mark.parametrize("bot", BOTS, ids=lambda b: b.name)
def test_takes_a_win_in_one_rather_than_blocking(bot):
    # player_0 has three on the bottom row (columns 0-2) and player_1 three in column 6: player_0 to move
    board = _board([0, 6, 1, 6, 2, 6])
    for seed in range(5):
        assert bot.move(board.copy(), np.random.default_rng(seed)) == 3


@pytest.mark.parametrize("bot", BOTS, ids=lambda b: b.name)
def test_blocks_a_three(bot):
    board = _board([0, 6, 1, 6, 2])  # player_1 to move; player_0 makes four at column 3 unless blocked
    for seed in range(5):
        assert bot.move(board.copy(), np.random.default_rng(seed)) == 3


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_negamax_finds_a_win_in_three_plies(depth):
    # player_0 on columns 2 and 3 of the bottom row, player_1 above them: column 1 or 4 makes an open three
    # (two threats on the bottom row), so player_0 wins on its next move whatever player_1 does
    board = _board([2, 2, 3, 3])
    bot = NegamaxBot(depth)
    assert {c for c, s in bot.scores(board).items() if s > WIN // 2} == {1, 4}
    for seed in range(10):
        assert bot.move(board.copy(), np.random.default_rng(seed)) in (1, 4)
    # and it really wins: play it out against a blocker
    rng = np.random.default_rng(0)
    game = board.copy()
    game.play(bot.move(game, rng))
    game.play(OnePlyBot().move(game, rng))
    game.play(bot.move(game, rng))
    assert game.winner == 0


def _minimax(board, depth):
    """Plain negamax without pruning, the same leaf rules: the reference for alpha-beta."""
    if board.moves == ROWS * 7:
        return 0
    legal = board.legal_moves()
    if any(board.is_winning_move(c) for c in legal):
        return WIN - 1
    best = -WIN
    for c in legal:
        if depth <= 1:
            mask = board.mask | (board.mask + _BOTTOM[c])
            score = -_heuristic(board.current ^ board.mask, mask)
        else:
            child = board.copy()
            child.play(c)
            score = -_minimax(child, depth - 1)
            score = score - 1 if score > WIN // 2 else score + 1 if score < -WIN // 2 else score
        best = max(best, score)
    return best


def test_alpha_beta_scores_equal_plain_minimax():
    for board in _random_positions(25, seed=3):
        for depth in (2, 3):
            bot = NegamaxBot(depth)
            for col, score in bot.scores(board).items():
                if board.is_winning_move(col):
                    continue
                child = board.copy()
                child.play(col)
                assert score == -_minimax(child, depth - 1), (col, depth)


@pytest.mark.parametrize("bot", [RandomBot(), *BOTS], ids=lambda b: b.name)
def test_never_plays_an_illegal_column(bot):
    rng = np.random.default_rng(11)
    for board in _random_positions(150, seed=7):
        col = bot.move(board, rng)
        assert board.can_play(col), (bot.name, col, board.legal_moves())


def test_make_bot_by_name():
    assert [make_bot(n).name for n in ("random", "one-ply", "negamax-4")] == ["random", "one-ply", "negamax-4"]
    with pytest.raises(ValueError, match="unknown opponent 'minimax'"):
        make_bot("minimax")
    with pytest.raises(ValueError, match="negamax depth 9 is outside 1..8"):
        make_bot("negamax-9")
