"""Keyboard maps: how a person's held keys become an action for a game.

Key names are the browser's ``KeyboardEvent.key`` values (``"ArrowLeft"``, ``" "``, ``"a"``), so the
play page can send exactly what the browser reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from gymnasium import spaces


@dataclass(frozen=True)
class DiscreteKeyMap:
    """Held keys → one discrete action; combos (e.g. Up+Space) map to combined actions.

    :param bindings: key combo (tuple of keys, order irrelevant) → action index
    :param default: action when no bound combo is held (usually NOOP)
    :param labels: action index → human name, for the on-screen legend
    """

    bindings: dict[tuple[str, ...], int]
    default: int
    labels: dict[int, str] = field(default_factory=dict)

    def resolve(self, held: set[str] | list[str] | tuple[str, ...]) -> int:
        """The action for the keys currently held: the largest bound combo wins."""
        held_set = set(held)
        best, best_size = self.default, 0
        for combo, action in self.bindings.items():
            if len(combo) > best_size and set(combo) <= held_set:
                best, best_size = action, len(combo)
        return best

    def keys(self) -> set[str]:
        """Every key this map reacts to."""
        return {k for combo in self.bindings for k in combo}

    def reachable_actions(self) -> set[int]:
        return {self.default, *self.bindings.values()}

    def legend(self) -> list[tuple[str, str]]:
        """(keys, what they do) rows for the screen."""
        rows = [
            (" + ".join(_pretty(k) for k in combo), self.labels.get(a, str(a))) for combo, a in self.bindings.items()
        ]
        rows.append(("(nothing held)", self.labels.get(self.default, str(self.default))))
        return rows


@dataclass(frozen=True)
class ContinuousKeyMap:
    """Held keys → a continuous action vector: each key pushes one dimension to a value.

    Keys on the same dimension add up and the result is clipped to the action bounds, so holding
    Left and Right together cancels out, as it does on a gamepad.

    :param bindings: key → (dimension index, value)
    :param default: action vector when nothing is held
    :param dim_names: dimension index → human name
    """

    bindings: dict[str, tuple[int, float]]
    default: tuple[float, ...]
    dim_names: tuple[str, ...] = ()

    def resolve(self, held: set[str] | list[str] | tuple[str, ...], low=None, high=None) -> np.ndarray:
        action = np.array(self.default, dtype=np.float32)
        for key in set(held):
            if key in self.bindings:
                dim, value = self.bindings[key]
                action[dim] += value
        if low is not None and high is not None:
            action = np.clip(action, low, high).astype(np.float32)
        return action

    def keys(self) -> set[str]:
        """Every key this map reacts to."""
        return set(self.bindings)

    def legend(self) -> list[tuple[str, str]]:
        rows = []
        for key, (dim, value) in self.bindings.items():
            name = self.dim_names[dim] if dim < len(self.dim_names) else f"dim {dim}"
            rows.append((_pretty(key), f"{name} {value:+g}"))
        return rows


KeyMap = DiscreteKeyMap | ContinuousKeyMap


def keymap_covers(keymap: KeyMap, action_space: spaces.Space) -> list[str]:
    """What part of the action space a person cannot reach with this map (empty list: all of it)."""
    problems: list[str] = []
    if isinstance(action_space, spaces.Discrete):
        if not isinstance(keymap, DiscreteKeyMap):
            return [f"discrete action space {action_space} needs a DiscreteKeyMap"]
        missing = set(range(int(action_space.n))) - keymap.reachable_actions()
        if missing:
            problems.append(f"actions {sorted(missing)} have no key")
        outside = {a for a in keymap.reachable_actions() if not action_space.contains(a)}
        if outside:
            problems.append(f"keys map to actions {sorted(outside)} outside {action_space}")
    elif isinstance(action_space, spaces.Box):
        if not isinstance(keymap, ContinuousKeyMap):
            return [f"continuous action space {action_space} needs a ContinuousKeyMap"]
        for dim in range(action_space.shape[0]):
            values = [v for d, v in keymap.bindings.values() if d == dim]
            if not any(v > 0 for v in values) or not any(v < 0 for v in values):
                problems.append(f"dimension {dim} cannot be pushed both ways")
            lo, hi = action_space.low[dim], action_space.high[dim]
            base = keymap.default[dim]
            if max([base + v for v in values] + [base]) < hi or min([base + v for v in values] + [base]) > lo:
                problems.append(f"dimension {dim} cannot reach its bounds [{lo}, {hi}]")
    else:
        problems.append(f"unsupported action space {action_space}")
    return problems


def _pretty(key: str) -> str:
    return {" ": "Space", "ArrowLeft": "←", "ArrowRight": "→", "ArrowUp": "↑", "ArrowDown": "↓"}.get(key, key.upper())
