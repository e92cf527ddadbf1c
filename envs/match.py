"""Make a two-player game's env (a PettingZoo AEC env) for a purpose.

Every purpose gets PettingZoo's own env with its wrappers (illegal moves end the game, out-of-bounds actions
assert, order enforced), so it is the reference for the rules:

- ``train`` / ``eval``: no rendering. An agent is trained from one seat at a time: the single-agent view with
  the opponent inside is built on top by the agents (``agents.selfplay.env`` for Connect Four), because it
  needs an opponent the catalog does not choose.
- ``human`` / ``replay`` / ``preview``: rendering RGB frames.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from envs.catalog import GameSpec, get_two_player_spec
from envs.errors import GameUnavailableError
from envs.make import PURPOSES, Purpose


def make_match_env(game: GameSpec | str, purpose: Purpose, render_mode: str | None = None) -> Any:
    """Make two-player ``game``'s PettingZoo AEC env for ``purpose`` (see the module docstring)."""
    spec = get_two_player_spec(game) if isinstance(game, str) else game
    if not spec.is_two_player:
        raise ValueError(f"{spec.slug} is a single-player game: use envs.make_env")
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose '{purpose}'; use one of {', '.join(PURPOSES)}")
    if render_mode is None and purpose in ("human", "replay", "preview"):
        render_mode = "rgb_array"
    try:
        module = importlib.import_module(spec.pettingzoo_env)
    except ImportError as exc:
        raise GameUnavailableError(f"{spec.name} needs PettingZoo ({spec.pettingzoo_env}): {exc}") from exc
    kwargs = dict(spec.env_kwargs)
    if spec.is_atari:  # the ale-py wheel ships the ROMs (roms/pong.bin); AutoROM needs the internet
        import ale_py

        kwargs["auto_rom_install_path"] = os.path.dirname(ale_py.__file__)
    return module.env(render_mode=render_mode, **kwargs)
