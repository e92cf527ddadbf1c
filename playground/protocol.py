"""The play WebSocket's messages: what a browser may send, checked once here, and what the server answers.

Pure: no sockets, envs or files, so every rule is unit-tested without a server (``test_protocol.py``).
The protocol is described once, for people, in docs/play.md; the server is ``playground.play_server``
and the browser's side ``playground/play_component.js``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from agents.play.match import MODES as SINGLE_MODES
from envs import GAMES, GameSpec
from envs.catalog import TWO_PLAYER_GAMES
from playground.leaderboard import clean_player

PATH = "/api/play"
MAX_MESSAGE = 4096
"""Characters in one message from the browser; a step is about 60."""
MAX_KEYS = 8
MAX_SEED = 2**31 - 1
FPS_CAP = 60
TYPES = ("start", "go", "step", "pause", "reset")
DUEL = "duel"
"""the mode of a two-player game: the person and the agent on one board"""
MODES = (*SINGLE_MODES, DUEL)
DUEL_GAMES = ("pong-duel",)
"""the two-player games the play server can host (a game's engine must exist to be listed)"""
MAX_AGENT = 512
"""characters in a ``start``'s ``agent``: a registry id (``lab:<job id>``, ``hub:ORG/NAME``, ``import:<folder>``)"""
AGENT_ID = re.compile(r"(lab|hub|import):[^\x00-\x1f\x7f]+")
"""the form of a registry id; whether it is registered (for that game) is the server's check"""


class ProtocolError(Exception):
    """A message the server refuses; it becomes an ``error`` reply and changes nothing."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Start:
    """Open a game (closing the socket's previous one)."""

    game: str
    mode: str
    seed: int
    player: str
    agent: str | None = None
    """a registered agent's id (``agents.hub.registry``) to play instead of the shipped one; None: the shipped"""


@dataclass(frozen=True)
class Step:
    """One tick with the keys held; ``seq`` counts 1, 2, 3… from each start or reset."""

    seq: int
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Reset:
    """Restart the game; ``seed`` None keeps the current one."""

    seed: int | None


@dataclass(frozen=True)
class Go:
    """The player is ready (the countdown is over): steps are accepted from now on."""


@dataclass(frozen=True)
class Pause:
    """The player paused or hid the tab: steps are refused until the next ``go``."""


Message = Start | Step | Reset | Go | Pause


def _seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ProtocolError("bad_seed", f"seed must be an integer from 0 to {MAX_SEED}, got {value!r}")
    return value


def _keys(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_KEYS or not all(isinstance(k, str) for k in value):
        raise ProtocolError("bad_keys", f'"keys" is a list of at most {MAX_KEYS} key names')
    return tuple(value)


def _agent(value: Any) -> str | None:
    if value is None or value == "bundled":
        return None
    if not isinstance(value, str) or len(value) > MAX_AGENT or not AGENT_ID.fullmatch(value):
        shown = value[:80] if isinstance(value, str) else value
        raise ProtocolError(
            "bad_agent",
            f'"agent" is a registered agent\'s id (lab:…, hub:…, import:…, at most {MAX_AGENT} characters) '
            f"or absent for the shipped agent; got {shown!r}",
        )
    return value


def parse(text: str | None) -> Message:
    """A browser's message, validated; ``None`` stands for a binary frame."""
    if text is None:
        raise ProtocolError("bad_message", "send JSON text messages")
    if len(text) > MAX_MESSAGE:
        raise ProtocolError("too_large", f"messages are at most {MAX_MESSAGE} characters")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise ProtocolError("bad_json", "the message is not valid JSON") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("bad_message", 'a message is a JSON object with a "type"')
    kind = msg["type"]
    if kind == "start":
        game = msg.get("game")
        if not isinstance(game, str) or (game not in GAMES and game not in DUEL_GAMES):
            raise ProtocolError("unknown_game", f"unknown game {game!r}; games: {', '.join((*GAMES, *DUEL_GAMES))}")
        mode = msg.get("mode", DUEL if game in DUEL_GAMES else "versus")
        if not isinstance(mode, str) or mode not in MODES:
            raise ProtocolError("bad_mode", f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
        if (mode == DUEL) != (game in DUEL_GAMES):
            two = mode == DUEL
            raise ProtocolError(
                "bad_mode",
                f"{game} is {'not ' if two else ''}a two-player game: "
                + (f"duel games: {', '.join(DUEL_GAMES)}" if two else f"modes: {', '.join(SINGLE_MODES)}"),
            )
        return Start(game, mode, _seed(msg.get("seed", 0)), clean_player(msg.get("player")), _agent(msg.get("agent")))
    if kind == "step":
        seq = msg.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise ProtocolError("bad_seq", f'"seq" is the step number, 1, 2, 3… from each start or reset; got {seq!r}')
        return Step(seq, _keys(msg.get("keys", [])))
    if kind == "reset":
        return Reset(_seed(msg["seed"]) if "seed" in msg else None)
    if kind == "go":
        return Go()
    if kind == "pause":
        return Pause()
    raise ProtocolError("unknown_type", f"unknown message type {kind!r}; types: {', '.join(TYPES)}")


def check_keys(keys: tuple[str, ...], spec: GameSpec) -> tuple[str, ...]:
    """``keys`` if every one belongs to the game's key map."""
    known = spec.keymap.keys()
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise ProtocolError(
            "unknown_action", f"{unknown[0]!r} is not a key of {spec.name}; keys: {', '.join(sorted(known))}"
        )
    return keys


# --- the server's replies ----------------------------------------------------------------------------


def _b64(frames: dict[str, bytes]) -> dict[str, str]:
    return {side: base64.b64encode(jpeg).decode("ascii") for side, jpeg in frames.items()}


def ready(spec: GameSpec, mode: str, seed: int, state: dict[str, Any], frames: dict[str, bytes]) -> dict[str, Any]:
    return {
        "type": "ready",
        "game": spec.slug,
        "mode": mode,
        "seed": seed,
        "fps": min(spec.render_fps, FPS_CAP),
        "keys": sorted(spec.keymap.keys()),
        "legend": spec.keymap.legend(),
        "state": state,
        "frames": _b64(frames),
    }


def game_spec(slug: str) -> GameSpec:
    """The spec of a game a ``start`` may name (single-player or a duel game)."""
    return TWO_PLAYER_GAMES[slug] if slug in DUEL_GAMES else GAMES[slug]


def running() -> dict[str, Any]:
    return {"type": "running"}


def paused() -> dict[str, Any]:
    return {"type": "paused"}


def frame(seq: int, state: dict[str, Any], frames: dict[str, bytes]) -> dict[str, Any]:
    return {"type": "frame", "seq": seq, "state": state, "frames": _b64(frames)}


def end(
    result: dict[str, Any],
    result_id: int | None,
    winner: str | None,
    note: str | None = None,
    rating: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The episode is over; ``result_id`` is None when it was not recorded (Live watch, or ``note`` says why).
    A duel's ``rating`` is the agent's rating and record after it (when it was recorded)."""
    msg: dict[str, Any] = {"type": "end", "result_id": result_id, "result": result, "winner": winner}
    if note:
        msg["note"] = note
    if rating is not None:
        msg["rating"] = rating
    return msg


def error(exc: ProtocolError) -> dict[str, Any]:
    return {"type": "error", "code": exc.code, "message": exc.message}


def busy(max_games: int) -> dict[str, Any]:
    return {"type": "busy", "message": f"all {max_games} game slots are in use; try again shortly"}


def closed(message: str) -> dict[str, Any]:
    return {"type": "closed", "message": message}


def encode(msg: dict[str, Any]) -> str:
    return json.dumps(msg)
