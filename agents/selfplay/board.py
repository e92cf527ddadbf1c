"""A fast Connect Four board that plays exactly by PettingZoo's ``connect_four_v3`` rules.

Bitboards in Pascal Pons's layout (column ``c`` holds bits ``7c .. 7c+5``, bottom row first, bit ``7c+6`` a
sentinel) make wins, legal moves and threats a handful of integer operations, so training and the negamax
opponent are not slowed by PettingZoo's per-move Python loops. A 6x7 grid in PettingZoo's own layout (row 0
at the top, 1 = ``player_0``, 2 = ``player_1``) is kept beside it for the observation planes.
``agents/selfplay/test_board.py`` proves the two agree move for move with PettingZoo on many random games.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ROWS, COLS = 6, 7
H1 = ROWS + 1  # bits per column, the sentinel included
_BOTTOM = [1 << (H1 * c) for c in range(COLS)]
_TOP = [1 << (ROWS - 1 + H1 * c) for c in range(COLS)]
_COLUMN = [((1 << ROWS) - 1) << (H1 * c) for c in range(COLS)]
BOTTOM_ROW = sum(_BOTTOM)
BOARD_MASK = BOTTOM_ROW * ((1 << ROWS) - 1)
CENTER_FIRST = (3, 2, 4, 1, 5, 0, 6)
"""columns in the order searches try them: central columns take part in more lines"""


def has_four(pos: int) -> bool:
    """Whether the stones ``pos`` hold four in a line (vertical, horizontal or either diagonal)."""
    for shift in (1, H1, H1 - 1, H1 + 1):
        m = pos & (pos >> shift)
        if m & (m >> (2 * shift)):
            return True
    return False


def winning_cells(pos: int, mask: int) -> int:
    """Empty cells (not necessarily playable yet) where one more stone of ``pos`` makes four (Pons)."""
    # vertical
    r = (pos << 1) & (pos << 2) & (pos << 3)
    for shift in (H1, H1 - 1, H1 + 1):  # horizontal, the two diagonals
        p = (pos << shift) & (pos << (2 * shift))
        r |= p & (pos << (3 * shift))
        r |= p & (pos >> shift)
        p = (pos >> shift) & (pos >> (2 * shift))
        r |= p & (pos << shift)
        r |= p & (pos >> (3 * shift))
    return r & (BOARD_MASK ^ mask)


@dataclass(slots=True)
class Board:
    """A position: the stones of the side to move (``current``), all stones (``mask``), the move count.

    ``grid`` mirrors PettingZoo's board (row 0 at the top, 1 = ``player_0``, 2 = ``player_1``).
    """

    current: int = 0
    mask: int = 0
    moves: int = 0
    grid: np.ndarray | None = None
    winner: int = -1
    """-1 while no one has four, else the seat (0 or 1) that made it"""

    def __post_init__(self) -> None:
        if self.grid is None:
            self.grid = np.zeros((ROWS, COLS), dtype=np.int8)

    def copy(self) -> Board:
        assert self.grid is not None
        return Board(self.current, self.mask, self.moves, self.grid.copy(), self.winner)

    @property
    def to_move(self) -> int:
        """The seat whose turn it is: 0 (``player_0``, moves first) or 1."""
        return self.moves & 1

    @property
    def over(self) -> bool:
        return self.winner >= 0 or self.moves == ROWS * COLS

    def can_play(self, col: int) -> bool:
        return 0 <= col < COLS and not self.mask & _TOP[col] and not self.over

    def legal_mask(self) -> np.ndarray:
        """Seven booleans, True where the side to move may drop a stone (all False once the game is over)."""
        if self.over:
            return np.zeros(COLS, dtype=bool)
        return np.array([not self.mask & t for t in _TOP], dtype=bool)

    def legal_moves(self) -> list[int]:
        return [c for c in range(COLS) if self.can_play(c)]

    def is_winning_move(self, col: int) -> bool:
        """Whether dropping in ``col`` (playable) makes four for the side to move."""
        return has_four(self.current | ((self.mask + _BOTTOM[col]) & _COLUMN[col]))

    def play(self, col: int) -> None:
        """Drop a stone for the side to move; an illegal column raises ValueError (the board is unchanged)."""
        if not self.can_play(col):
            raise ValueError(f"column {col} is not a legal move here (full, out of 0..6, or the game is over)")
        assert self.grid is not None
        height = ((self.mask >> (H1 * col)) & 0x7F).bit_length()  # stones already in the column
        self.grid[ROWS - 1 - height, col] = self.to_move + 1
        mover = self.to_move
        self.current ^= self.mask
        self.mask |= self.mask + _BOTTOM[col]
        self.moves += 1
        if has_four(self.current ^ self.mask):  # the stones of the side that just moved
            self.winner = mover

    def planes(self) -> np.ndarray:
        """PettingZoo's observation for the side to move: (6, 7, 2) int8, plane 0 its stones, plane 1 the other's."""
        me = self.to_move + 1
        return np.stack([self.grid == me, self.grid == 3 - me], axis=2).astype(np.int8)

    def threats(self) -> tuple[int, int]:
        """Cells where the side to move, and the other side, would complete four (counted, playable or not)."""
        other = self.current ^ self.mask
        return (
            winning_cells(self.current, self.mask).bit_count(),
            winning_cells(other, self.mask).bit_count(),
        )

    @classmethod
    def from_grid(cls, grid: np.ndarray) -> Board:
        """The position of a PettingZoo-layout grid (0 empty, 1 ``player_0``, 2 ``player_1``; row 0 at the top).

        Raises ValueError for a grid no game reaches: wrong shape or values, a floating stone, or stone
        counts that do not alternate from ``player_0``. A grid where both sides have four is refused too.
        """
        g = np.asarray(grid)
        if g.shape != (ROWS, COLS) or not np.isin(g, (0, 1, 2)).all():
            raise ValueError(f"a board is 6x7 of 0, 1, 2; got shape {g.shape}")
        board = cls(grid=g.astype(np.int8).copy())
        pos = [0, 0]
        for c in range(COLS):
            column = g[::-1, c]  # bottom first
            filled = int(np.count_nonzero(column))
            if column[filled:].any():
                raise ValueError(f"column {c + 1} has a stone above an empty cell")
            for h in range(filled):
                pos[int(column[h]) - 1] |= 1 << (H1 * c + h)
        n0, n1 = pos[0].bit_count(), pos[1].bit_count()
        if n0 - n1 not in (0, 1):
            raise ValueError(f"player_0 has {n0} stones and player_1 {n1}: they alternate from player_0")
        board.moves = n0 + n1
        board.mask = pos[0] | pos[1]
        board.current = pos[board.to_move]
        wins = [has_four(p) for p in pos]
        if all(wins):
            raise ValueError("both players have four in a row")
        board.winner = wins.index(True) if any(wins) else -1
        return board
